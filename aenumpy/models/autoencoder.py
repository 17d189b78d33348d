"""The autoencoder of the lecture, stacked, tied or untied.

Encoder ``z = σ(Wx + b)``, decoder ``x̂ = σ'(W'z + b')``, loss
``E = ½ Σ (x − x̂)²`` or the binary cross-entropy, plus whatever regularizers
are plugged in (:mod:`aenumpy.regularizers.base`). ``hidden=[h1, …, hL]``
stacks L encoder layers ``enc0 … enc{L-1}`` (input to code) and L decoder layers
``dec0 … dec{L-1}`` (code to output). With ``tied=True`` decoder layer ``dec{i}``
uses ``W' = Wᵀ`` of ``enc{L-1-i}`` and owns only its bias.

One training step, as :meth:`Autoencoder.loss_and_grads` runs it::

    x̃ = corrupt(x)                          denoising (the loss still compares with x)
    h_i = f(W_i h_{i−1} + b_i) ⊙ M_i        each encoder layer, times its mask (dropout, top-k)
    x̂ = decoder(z)                          z = h_L, the code
    E = loss(x, x̂) + Σ penalties            KL sparsity, L1, contractive, weight decay
    backward: δ_out = ∂E/∂a_out, then each layer's backward, from the output to enc0,
    adding each penalty's gradient where it enters.

The regularizers act through four small methods (:meth:`~Autoencoder._corrupt`,
:meth:`~Autoencoder._mask`, :meth:`~Autoencoder._penalty`,
:meth:`~Autoencoder._output_error`): the places where the fast twin of this class
(:mod:`aenumpy.fast.models`) runs compiled kernels instead.
"""
from __future__ import annotations

import numpy as np

from .. import activations, losses
from ..backend import build_exactly
from .._validate import check_bool, check_data, check_dtype, check_hidden, check_int
from ..layers import AffineLayer, Dense
from ..regularizers import (HiddenMask, HiddenPenalty, InputCorruption, LayerView, WeightPenalty,
                            check_regularizer_list, from_config)
from .base import Model


def rows(a):
    """``a`` as one row per sample, ``(B, everything else)`` (a view; 2-D arrays as they are)."""
    return a.reshape(len(a), -1)


#: output activations whose values are not probabilities in (0, 1)
NOT_PROBABILITIES = ("identity", "tanh", "relu")


def check_bce_output(loss, output_activation):
    """Binary cross-entropy needs outputs in (0, 1): refuse the built-in activations that
    do not give them, saying what to use instead."""
    if loss.name == "bce" and getattr(output_activation, "name", None) in NOT_PROBABILITIES:
        raise ValueError(
            f"loss='bce' (binary cross-entropy) needs outputs x̂ in (0, 1), and the output "
            f"activation {output_activation.name!r} does not give them; use "
            f"output_activation='sigmoid', or loss='mse' for outputs outside (0, 1)")


class AutoencoderBase(Model):
    """The training step every autoencoder of the lecture shares, whatever its layers:
    encoder layers ``self.encoder`` (input to code), decoder layers ``self.decoder`` (code
    to output), a loss ``self.loss_fn`` and ``self.regularizers`` (see the module docstring).

    A hidden regularizer sees a layer's output as one row per sample (``(B, units)``), so
    the same masks and penalties serve dense codes and feature maps.
    """

    def _regs(self, cls, layer=None):
        """The regularizers of class ``cls`` (and acting on encoder layer ``layer``)."""
        return [r for r in self.regularizers if isinstance(r, cls)
                and (layer is None or r.layer_index(self) == layer)]

    def units_of(self, i):
        """How many units encoder layer ``enc{i}`` outputs per sample."""
        raise NotImplementedError

    def activation_of(self, i):
        """The activation that last shaped encoder layer ``enc{i}``'s output (None if none)."""
        raise NotImplementedError

    def _bind(self, regularizers):
        """Each regularizer checked against this model (sizes, layer index) and kept."""
        self.regularizers = []
        for r in regularizers:
            r.bind(self)
            self.regularizers.append(r)

    # ------------------------------------------- where the regularizers act
    def _corrupt(self, r, X, rng):
        """The input corruption ``x̃ = r.corrupt(x)``."""
        return r.corrupt(X, rng)

    def _mask(self, r, Z, rng, training):
        """A hidden layer's mask ``M = r.mask(z)`` (or None)."""
        return r.mask(Z, rng, training)

    def _penalty(self, r, view, need_grad):
        """A hidden penalty's value and gradient pieces, ``r.penalty(view)``."""
        return r.penalty(view, need_grad)

    def _output_error(self, X, need_grad):
        """``E = loss(x, x̂)`` and ``δ_out = ∂E/∂a_out``, the error at the output layer's
        pre-activation (:meth:`aenumpy.losses.Loss.value_and_delta`, on one row per sample);
        for an output layer without an activation, ``∂E/∂x̂`` itself."""
        out = self.decoder[-1]
        Xr, Z = rows(X), rows(out.cache["Z"])
        if not isinstance(out, AffineLayer):
            E = self.loss_fn.value(Xr, Z)
            return E, (self.loss_fn.grad(Xr, Z).reshape(out.cache["Z"].shape) if need_grad
                       else None)
        E, dA = self.loss_fn.value_and_delta(Xr, rows(out.cache["A"]), Z, out.activation,
                                             need_grad)
        return E, (dA.reshape(out.cache["A"].shape) if need_grad else None)

    # ------------------------------------------------------------- forward
    def _encode(self, X, rng, training, corrupt=None):
        """``x → x̃ → h₁ → … → z``: the input corruption (when ``corrupt``, which defaults to
        ``training``, or for a corruption made with ``at_eval``), then each encoder layer and
        its masks (dropout and top-k in their evaluation form unless ``training``)."""
        corrupt = training if corrupt is None else corrupt
        h = X
        for r in self._regs(InputCorruption):
            if corrupt or r.at_eval:
                h = self._corrupt(r, h, rng)
        self.cache = {"x": X, "x_tilde": h}
        for i, layer in enumerate(self.encoder):
            h = layer.forward(h)
            M = self.hidden_mask(i, rows(h), rng, training)
            if M is not None:
                h = h * M.reshape(h.shape)
            layer.cache.update(M=M, H=h)
        return h

    def hidden_mask(self, i, Z, rng, training):
        """The mask of encoder layer ``enc{i}`` for its output ``Z`` (one row per sample):
        the product ``M = Π m`` of its masks (dropout, top-k), None when it has none. The
        error passes back only through the units M keeps."""
        M = None
        for r in self._regs(HiddenMask, i):
            m = self._mask(r, Z, rng, training)
            if m is not None:
                M = m if M is None else M * m
        return M

    def _decode(self, Z):
        """``z → g₁ → … → x̂`` through the decoder layers."""
        for layer in self.decoder:
            Z = layer.forward(Z)
        return Z

    def encode(self, X, rng=None):
        """The code ``z`` of each row of X (evaluation mode: no dropout, no noise
        unless a corruption has ``at_eval``, k-sparse keeps ``alpha·k``)."""
        X = self.validate(X, targets=False)
        return self._encode(X, self._rng(rng), training=False)

    def reconstruct(self, X, rng=None):
        """``x̂ = decode(encode(X))`` in evaluation mode."""
        X = self.validate(X, targets=False)
        return self._decode(self._encode(X, self._rng(rng), training=False))

    # ---------------------------------------------------------------- loss
    def loss_and_grads(self, X, rng=None, checked=False, Y=None):
        """The training objective on batch X and its gradient for every parameter.

        Returns ``(loss, grads)`` with ``grads`` keyed like :attr:`params`.
        Noise (corruption, dropout) is drawn from ``rng`` or, if None, from
        :attr:`rng`; pass a fresh ``np.random.default_rng(s)`` to fix it.
        ``Y``, one target per row of X (clean or completed images, masks), replaces X as
        what the output is compared with; without it the model reconstructs X.
        ``checked=True`` skips the checks of X and Y (they went through :meth:`validate`).
        """
        X, T = self._inputs_and_targets(X, Y, checked)
        E, dA, extras, wgrads = self._objective(X, self._rng(rng), need_grad=True, target=T)
        return E, self._backward(dA, extras, wgrads)

    def loss(self, X, rng=None, checked=False, training=True, Y=None) -> float:
        """The same objective as :meth:`loss_and_grads`, without the gradients.

        ``training=False`` gives it in evaluation mode, as :func:`aenumpy.fit` reports the
        validation loss: no dropout, top-k keeping its evaluation ``α·k`` units. The input
        corruption stays: it defines the denoising objective (reconstruct x from x̃), which
        the lecture measures in the test phase too."""
        X, T = self._inputs_and_targets(X, Y, checked)
        return self._objective(X, self._rng(rng), need_grad=False, training=training,
                               target=T)[0]

    def reconstruction_error(self, X, rng=None) -> float:
        """The reconstruction loss alone, in evaluation mode (no penalty, no dropout)."""
        X = self.validate(X)
        return self.loss_fn.value(rows(X), rows(self.reconstruct(X, rng)))

    def _objective(self, X, rng, need_grad, training=True, target=None):
        """Forward pass, ``E`` = reconstruction (of ``target``, X by default) + penalties and,
        when ``need_grad``, the output error ``δ_out``, the hidden penalties by layer and the
        weight penalties' gradients. ``training=False``: the masks in their evaluation form
        (:meth:`loss`)."""
        self._decode(self._encode(X, rng, training, corrupt=True))
        E, dA = self._output_error(X if target is None else target, need_grad)
        terms = {"reconstruction": E}
        extras = {}
        for r in self._regs(HiddenPenalty):
            i = r.layer_index(self)
            layer = self.encoder[i]
            c = layer.cache
            view = LayerView(c["X"], c.get("A"), rows(c["H"]), getattr(layer, "W", None),
                             getattr(layer, "activation", None))
            p = self._penalty(r, view, need_grad)
            terms[r.name] = p.value
            extras.setdefault(i, []).append(p)
        wgrads = []
        for r in self._regs(WeightPenalty):
            v, g = r.penalty(self.params, [k for k in self.params if k.endswith(".W")], need_grad)
            terms[r.name] = v
            wgrads.append(g)
        E = float(sum(terms.values()))
        self.cache.update(terms=terms, E=E)
        return E, dA, extras, wgrads

    def _backward(self, dA, extras, wgrads):
        """Backprop from ``δ_out``: the decoder from the output down, then each encoder
        layer from the code down, with its mask and its penalties; returns the grads."""
        out = self.decoder[-1]
        d = out.backward_from_delta(dA) if isinstance(out, AffineLayer) else out.backward(dA)
        for layer in reversed(self.decoder[:-1]):
            d = layer.backward(d)
        for i in reversed(range(len(self.encoder))):
            layer = self.encoder[i]
            pens = extras.get(i, [])
            for p in pens:                         # a penalty on h adds ∂Ω/∂h
                if p.dZ is not None:
                    d = d + p.dZ.reshape(d.shape)
            layer.cache["dH"] = d
            if layer.cache["M"] is not None:       # the error passes through the kept units
                d = d * layer.cache["M"].reshape(d.shape)
            if not isinstance(layer, AffineLayer):  # pooling, reshaping: no δ of their own
                d = layer.backward(d)
                continue
            dA_i = layer.delta(d)                  # δ = ∂E/∂h ⊙ f'(a)
            for p in pens:                         # a penalty on a adds ∂Ω/∂a
                if p.dA is not None:
                    dA_i = dA_i + p.dA
            d = layer.backward_from_delta(dA_i)
            for p in pens:                         # a penalty on W adds ∂Ω/∂W
                if p.dW is not None:
                    layer.grads["W"] = layer.grads["W"] + p.dW
        grads = self._collect_grads()
        for g in wgrads:
            for k, v in g.items():
                grads[k] = grads[k] + v
        return grads


class Autoencoder(AutoencoderBase):
    """A (stacked) autoencoder with hand-written backprop.

    Parameters
    ----------
    n_in : input size (784 for MNIST, 64 for the embedded digits).
    hidden : list of hidden sizes from the input to the code, e.g. ``[256]`` or
        ``[512, 256, 64]``; an int means one layer.
    activation : encoder activation (every encoder layer).
    output_activation : activation of the last decoder layer (x̂).
    decoder_activation : activation of the other decoder layers (default: ``activation``).
    tied : decoder weights are the encoder weights transposed (``W' = Wᵀ``).
    loss : 'mse' (the lecture's ``E = ½ Σ (x − x̂)²``, summed over the features: not a
        per-feature mean) or 'bce' (binary cross-entropy, which needs a sigmoid output);
        both averaged over the batch.
    regularizers : list of :mod:`aenumpy.regularizers` objects.
    seed : seeds the initialisation and, through :attr:`rng`, every noise draw.
    dtype : 'float32' (train) or 'float64' (check).

    After a training step, :attr:`cache` holds ``x``, ``x_tilde`` (the encoder's input),
    ``terms`` (each term of E) and ``E``; each layer's own ``cache`` holds its forward
    and backward quantities, and an encoder layer's also ``M`` (its mask, or None)
    and ``H`` (its output times the mask).
    """

    family = "autoencoder"

    def __init__(self, n_in, hidden, activation="sigmoid", output_activation="sigmoid",
                 tied=False, loss="mse", regularizers=(), seed=0, dtype="float32",
                 decoder_activation=None):
        self.n_in = check_int("n_in", n_in, 1)
        self.hidden = check_hidden(hidden)
        self.dtype = check_dtype(dtype)
        self.tied = check_bool("tied", tied)
        regularizers = check_regularizer_list(regularizers)
        self.seed = check_int("seed", seed, 0)
        self.loss_fn = losses.get(loss)
        self.activation = activations.get(activation)
        decoder_activation = activation if decoder_activation is None else decoder_activation
        self.decoder_activation = activations.get(decoder_activation)
        self.output_activation = activations.get(output_activation)
        check_bce_output(self.loss_fn, self.output_activation)
        self._names = {"activation": activations.config_name(activation),
                       "decoder_activation": activations.config_name(decoder_activation),
                       "output_activation": activations.config_name(output_activation),
                       "loss": self.loss_fn.name}
        init_rng = np.random.default_rng(self.seed)
        sizes = [self.n_in] + self.hidden
        L = len(self.hidden)
        self.encoder = [Dense(sizes[i], sizes[i + 1], self.activation, rng=init_rng,
                              dtype=self.dtype, name=f"enc{i}") for i in range(L)]
        self.decoder = []
        for i in range(L):
            act = self.output_activation if i == L - 1 else self.decoder_activation
            partner = self.encoder[L - 1 - i] if self.tied else None
            self.decoder.append(Dense(sizes[L - i], sizes[L - i - 1], act, rng=init_rng,
                                      dtype=self.dtype, name=f"dec{i}", tied_to=partner))
        self.encoder[0].needs_dX = False       # its input is the data
        self._collect_params()
        self._seed_rng()
        self._bind(regularizers)
        #: the targets must lie in [0, 1]: a sigmoid output or the cross-entropy
        self.unit_range = (self.output_activation.name == "sigmoid" or self.loss_fn.name == "bce")
        self.cache = {}

    # ------------------------------------------------------------------ info
    @property
    def n_code(self):
        """Size of the code (the last encoder layer)."""
        return self.hidden[-1]

    @property
    def layers(self):
        """Every Dense layer, encoder then decoder (``enc0 … dec{L-1}``)."""
        return self.encoder + self.decoder

    def units_of(self, i):
        return self.encoder[i].n_out

    def activation_of(self, i):
        return self.encoder[i].activation

    def _collect_grads(self):
        """Every layer's gradients; with ``tied=True`` each ``dec{i}``'s ∂E/∂W' (W' = Wᵀ) is
        added, transposed, into the gradient of the encoder weight it uses."""
        grads = super()._collect_grads()
        if self.tied:
            L = len(self.encoder)
            for i, layer in enumerate(self.decoder):
                key = f"enc{L - 1 - i}.W"
                grads[key] = grads[key] + layer.grads["W"].T
        return grads

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable (used by save/load and astype)."""
        for k in ("activation", "decoder_activation", "output_activation"):
            if not isinstance(self._names[k], str):
                raise ValueError(f"{k} is a custom Activation object and cannot be saved by name")
        if type(self.loss_fn) is not losses.LOSSES.get(self.loss_fn.name):
            raise ValueError("loss is a custom Loss object and cannot be saved by name")
        return {"n_in": self.n_in, "hidden": list(self.hidden), **self._names,
                "tied": self.tied, "seed": self.seed, "dtype": self.dtype.name,
                "regularizers": [r.config() for r in self.regularizers]}

    @classmethod
    def from_config(cls, cfg: dict):
        """Rebuild a model from :meth:`get_config` (fresh weights; ``load`` fills them)."""
        cfg = dict(cfg)
        cfg["regularizers"] = [from_config(r) for r in cfg.get("regularizers", [])]
        return cls(**cfg)

    def astype(self, dtype):
        """A copy of the model in another dtype (gradcheck uses a float64 copy)."""
        # built from the objects, not the saved config, so a custom Activation or Loss
        # (a student's own) survives the copy and can be gradient-checked
        clone = build_exactly(type(self), self.n_in, self.hidden, activation=self.activation,
                              output_activation=self.output_activation,
                              decoder_activation=self.decoder_activation, tied=self.tied,
                              loss=self.loss_fn, seed=self.seed, dtype=np.dtype(dtype).name)
        clone.regularizers = self.regularizers  # same objects, so schedules stay in step
        clone.unit_range = self.unit_range
        return self._with_weights(clone)

    def __repr__(self):
        sizes = " → ".join(str(s) for s in [self.n_in] + self.hidden + self.hidden[-2::-1] + [self.n_in])
        regs = f", regularizers={self.regularizers}" if self.regularizers else ""
        return (f"Autoencoder({sizes}, {self.activation.name}/{self.output_activation.name}, "
                f"{'tied' if self.tied else 'untied'}, loss={self.loss_fn.name}, "
                f"{self.dtype.name}{regs}, {self.runs_on})")

    def validate(self, X, name="X", targets=True):
        """X as a batch ``(B, n_in)`` in the model's dtype; as targets it must lie in
        [0, 1] when the output is a sigmoid or the loss the cross-entropy."""
        why = "(the targets of a sigmoid output / binary cross-entropy)" if targets else ""
        return check_data(X, self.n_in, self.dtype, name, unit_range=targets and self.unit_range,
                          why=why)

    def decode(self, Z):
        """``x̂`` from codes Z of shape ``(B, n_code)``."""
        return self._decode(check_data(Z, self.n_code, self.dtype, "Z"))
