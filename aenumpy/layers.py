"""Layers, each with its forward and backward pass written out in plain NumPy.

Every layer has the same small interface, so :func:`aenumpy.check_layer` checks any
of them (a student's own layer too):

* ``params`` and ``grads``: dicts with the same keys (empty for a layer without weights);
* ``forward(X) -> Z``, which keeps in ``cache`` what the backward pass needs;
* ``backward(dZ) -> dX``: given ``dZ = ∂E/∂Z``, fills ``grads`` and returns ``∂E/∂X``;
* ``init_params(rng)``: draws the weights again from a ``numpy.random.Generator``.

The dense layer is the lecture's ``z = σ(Wx + b)``. Rows are samples, so for a
batch ``X`` of shape ``(B, d_in)`` it computes ``A = X Wᵀ + b`` and ``Z = f(A)``,
with ``W`` of shape ``(d_out, d_in)`` exactly as in the lecture. Its backward,
given ``dZ = ∂E/∂Z``::

    dA = dZ ⊙ f'(A)          δ, the error at the pre-activation
    dW = dAᵀ X               ∂E/∂W  (d_out, d_in)
    db = Σ_batch dA          ∂E/∂b
    dX = dA W                ∂E/∂X, handed to the layer below
"""
from __future__ import annotations

import numpy as np

from . import activations
from ._validate import (check_dtype, check_int, check_layer_input, check_name, check_rng,
                        check_upstream)


class Layer:
    """The interface every layer follows (see the module docstring). Subclass it to
    write your own: set ``params`` in ``__init__``, fill ``grads`` in ``backward``."""

    name = "layer"

    def __init__(self):
        self.params, self.grads, self.cache = {}, {}, {}

    def init_params(self, rng):
        """Draw the weights again from ``rng`` (nothing to draw for a layer without weights)."""

    def forward(self, X):
        raise NotImplementedError

    def backward(self, dZ):
        raise NotImplementedError


def glorot_uniform(n_in, n_out, rng, dtype):
    """Glorot & Bengio (2010): ``W ~ U(−r, r)``, ``r = √(6 / (n_in + n_out))``, shape ``(n_out, n_in)``."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_out, n_in)).astype(dtype)


class Dense(Layer):
    """Fully connected layer ``Z = f(X Wᵀ + b)``, the lecture's ``z = σ(Wx + b)``.

    Parameters
    ----------
    n_in, n_out : sizes; ``W`` has shape ``(n_out, n_in)``, ``b`` shape ``(n_out,)``.
    activation : 'sigmoid', 'tanh', 'relu', 'identity' or an
        :class:`aenumpy.activations.Activation`.
    rng : ``numpy.random.Generator`` for the Glorot initialisation.
    tied_to : another Dense whose ``W`` this layer uses transposed (a tied
        decoder, ``W' = Wᵀ``). The layer then owns only ``b``; ``grads['W']``
        still holds ∂E/∂W' (shape ``(n_out, n_in)``), which the model adds,
        transposed, into the other layer's gradient.

    After ``forward`` the attribute ``cache`` holds ``X`` (input), ``A``
    (``Wx + b``) and ``Z`` (output); after ``backward``, ``grads`` holds the
    ``W`` and ``b`` gradients and ``cache`` also ``dZ``, ``dA`` (the error δ) and ``dX``.
    """

    def __init__(self, n_in, n_out, activation="sigmoid", *, rng=None, dtype="float32",
                 name="dense", tied_to=None):
        super().__init__()
        self.n_in = check_int("n_in", n_in, 1)
        self.n_out = check_int("n_out", n_out, 1)
        self.dtype = check_dtype(dtype)
        self.activation = activations.get(activation)
        self.name = check_name("name", name, "a string such as 'enc0'")
        if tied_to is not None and not isinstance(tied_to, Dense):
            raise TypeError(f"tied_to must be a Dense layer or None, got {type(tied_to).__name__}")
        if tied_to is not None and (tied_to.n_in, tied_to.n_out) != (self.n_out, self.n_in):
            raise ValueError(f"a tied layer {n_in}->{n_out} needs a partner {n_out}->{n_in}, "
                             f"got {tied_to.n_in}->{tied_to.n_out}")
        self.tied_to = tied_to
        self.init_params(np.random.default_rng(0) if check_rng(rng) is None else rng)

    def init_params(self, rng):
        """``W`` by Glorot's uniform rule (not for a tied layer: it has no W of its own), ``b = 0``."""
        self.params = {} if self.tied_to is not None else {
            "W": glorot_uniform(self.n_in, self.n_out, rng, self.dtype)}
        self.params["b"] = np.zeros(self.n_out, dtype=self.dtype)

    @property
    def W(self):
        """The weight matrix ``(n_out, n_in)``; for a tied layer the partner's ``W`` transposed."""
        return self.tied_to.params["W"].T if self.tied_to is not None else self.params["W"]

    @property
    def b(self):
        return self.params["b"]

    def forward(self, X):
        """``A = X Wᵀ + b``, ``Z = f(A)``; the cache keeps X, A and Z for the backward pass."""
        check_layer_input(self, X)
        A = X @ self.W.T + self.b
        Z = self.activation(A)
        self.cache = {"X": X, "A": A, "Z": Z}
        return Z

    def backward(self, dZ, need_dX=True):
        """Backprop ``dZ = ∂E/∂Z``: ``δ = dZ ⊙ f'(A)`` (:meth:`delta`), then ``dW = δᵀX``,
        ``db = Σ δ``, ``dX = δ W`` (:meth:`backward_delta`). Fills ``grads``; returns
        ``∂E/∂X`` (None when ``need_dX`` is False: the first layer's input is the data,
        which has no use for its gradient)."""
        return self.backward_delta(self.delta(dZ), need_dX)

    def delta(self, dZ):
        """``δ = dZ ⊙ f'(A)``, the error at the pre-activation, from the cached forward."""
        check_upstream(self, dZ)
        self.cache["dZ"] = dZ
        return dZ * self.activation.grad(self.cache["A"], self.cache["Z"])

    def backward_delta(self, dA, need_dX=True):
        """Backprop from the error at the pre-activation ``δ = dA = ∂E/∂A``:
        ``dW = δᵀX``, ``db = Σ δ``, and returns ``dX = δ W``."""
        X = self.cache["X"]
        self.grads = {"W": dA.T @ X, "b": dA.sum(axis=0)}   # ∂E/∂W = δᵀX, ∂E/∂b = Σ δ
        dX = dA @ self.W if need_dX else None                # ∂E/∂X = δ W
        self.cache.update(dA=dA, dX=dX)
        return dX

    def __repr__(self):
        tied = f", tied to {self.tied_to.name}" if self.tied_to is not None else ""
        return f"Dense({self.name}: {self.n_in} -> {self.n_out}, {self.activation.name}{tied})"
