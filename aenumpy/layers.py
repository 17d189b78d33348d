"""The dense layer, with its forward and backward pass written out.

Lecture: ``z = σ(Wx + b)``. Rows are samples (principle 1), so for a batch
``X`` of shape ``(B, d_in)`` the layer computes ``A = X Wᵀ + b`` and
``Z = f(A)``, with ``W`` of shape ``(d_out, d_in)`` exactly as in the lecture.

Backward, given ``dZ = ∂E/∂Z``::

    dA = dZ ⊙ f'(A)          δ, the error at the pre-activation
    dW = dAᵀ X               ∂E/∂W  (d_out, d_in)
    db = Σ_batch dA          ∂E/∂b
    dX = dA W                ∂E/∂X, handed to the layer below

A layer of your own needs the same four things: ``params`` and ``grads``
dicts with the same keys, ``forward(X)`` and ``backward(dY) -> dX``; then
:func:`aenumpy.gradcheck.check_layer` checks it.
"""
from __future__ import annotations

import numpy as np

from . import activations
from .fast.layout import is_column_major, weight_layout
from ._validate import (check_dtype, check_int, check_layer_input, check_name, check_rng,
                        check_upstream)
from .fast.activation import CODES, act_backward, bias_act
from .fast.blas import matmul


def glorot_uniform(n_in, n_out, rng, dtype):
    """Glorot & Bengio (2010): ``W ~ U(−r, r)``, ``r = √(6 / (n_in + n_out))``.

    Shape ``(n_out, n_in)``; stored column-major when ``n_in > n_out`` (the same
    values: see :mod:`aenumpy._layout`, the BLAS is faster so)."""
    r = np.sqrt(6.0 / (n_in + n_out))
    W = rng.uniform(-r, r, size=(n_out, n_in))
    return np.array(W, dtype=dtype, order=weight_layout(n_in, n_out))


class Dense:
    """Fully connected layer ``Z = f(X Wᵀ + b)``.

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
    (``Wx + b``) and ``Z`` (output); after ``backward``, ``grads`` holds
    ``W`` and ``b`` gradients and ``cache['dA']`` the error δ.
    """

    def __init__(self, n_in, n_out, activation="sigmoid", *, rng=None, dtype="float32",
                 name="dense", tied_to=None):
        self.n_in = check_int("n_in", n_in, 1)
        self.n_out = check_int("n_out", n_out, 1)
        self.dtype = check_dtype(dtype)
        self.activation = activations.get(activation)
        self.code = CODES.get(self.activation.name) if type(self.activation) in (
            activations.Sigmoid, activations.Tanh, activations.ReLU, activations.Identity) else None
        self.name = check_name("name", name, "a string such as 'enc0'")
        if tied_to is not None and not isinstance(tied_to, Dense):
            raise TypeError(f"tied_to must be a Dense layer or None, got {type(tied_to).__name__}")
        self.tied_to = tied_to
        rng = np.random.default_rng(0) if check_rng(rng) is None else rng
        if tied_to is not None:
            if (tied_to.n_in, tied_to.n_out) != (self.n_out, self.n_in):
                raise ValueError(f"a tied layer {n_in}->{n_out} needs a partner {n_out}->{n_in}, "
                                 f"got {tied_to.n_in}->{tied_to.n_out}")
            self.params = {"b": np.zeros(self.n_out, dtype=self.dtype)}
        else:
            self.params = {"W": glorot_uniform(self.n_in, self.n_out, rng, self.dtype),
                           "b": np.zeros(self.n_out, dtype=self.dtype)}
        self.grads = {}
        self.cache = {}

    @property
    def W(self):
        """The weight matrix ``(n_out, n_in)``; for a tied layer the partner's ``W`` transposed."""
        return self.tied_to.params["W"].T if self.tied_to is not None else self.params["W"]

    @property
    def b(self):
        return self.params["b"]

    # ------------------------------------------------------------- forward
    def preactivation(self, X):
        """``A = X Wᵀ + b`` (a fresh array)."""
        return X @ self.W.T + self.b

    def forward(self, X, keep=True):
        """``Z = f(X Wᵀ + b)``; with ``keep`` the cache keeps X, A, Z for backward."""
        check_layer_input(self, X)
        A = matmul(X, self.W.T)  # X @ W.T, on the kernels' threads (kernels/blas.py)
        if self.code is not None:
            Z = np.empty_like(A)
            bias_act(A, self.b, self.code, Z)
        else:
            A += self.b
            Z = np.asarray(self.activation(A), dtype=A.dtype)
        if keep:
            self.cache = {"X": X, "A": A, "Z": Z}
        return Z

    # ------------------------------------------------------------ backward
    def activation_backward(self, dZ):
        """``δ = dZ ⊙ f'(A)`` from the cached forward."""
        A, Z = self.cache["A"], self.cache["Z"]
        if self.code is not None:
            dA = np.empty_like(dZ)
            return act_backward(dZ, Z, self.code, dA)
        return dZ * self.activation.grad(A, Z)

    def backward(self, dZ, need_dX=True):
        """Backprop ``dZ = ∂E/∂Z``: fills ``grads`` and returns ``∂E/∂X`` (or None)."""
        check_upstream(self, dZ)
        self.cache["dZ"] = dZ
        return self.backward_linear(self.activation_backward(dZ), need_dX)

    def backward_linear(self, dA, need_dX=True):
        """Backprop from the pre-activation error ``dA = ∂E/∂A``: ``dW = dAᵀX``,
        ``db = Σ dA``, returns ``dX = dA W``."""
        X = self.cache["X"]
        self.cache["dA"] = dA
        # the same product either way; computed in W's memory layout (_layout.py)
        gW = matmul(X.T, dA).T if is_column_major(self.W) else matmul(dA.T, X)
        self.grads = {"W": gW, "b": dA.sum(axis=0)}
        dX = matmul(dA, self.W) if need_dX else None
        self.cache["dX"] = dX
        return dX

    def __repr__(self):
        tied = f", tied to {self.tied_to.name}" if self.tied_to is not None else ""
        return f"Dense({self.name}: {self.n_in} -> {self.n_out}, {self.activation.name}{tied})"
