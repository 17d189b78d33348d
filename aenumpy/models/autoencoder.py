"""The autoencoder of the lecture, stacked, tied or untied.

Encoder ``z = σ(Wx + b)``, decoder ``x̂ = σ'(W'z + b')``, loss
``E = ½ Σ (x − x̂)²`` or the binary cross-entropy, plus whatever regularizers
are plugged in (:mod:`aenumpy.regularizers.base`). ``hidden=[h1, …, hL]``
stacks L encoder layers ``enc0 … enc{L-1}`` (input to code) and L decoder layers
``dec0 … dec{L-1}`` (code to output). With ``tied=True`` decoder layer ``dec{i}``
uses ``W' = Wᵀ`` of ``enc{L-1-i}`` and owns only its bias.
"""
from __future__ import annotations

import numpy as np

from .. import activations, losses
from .._validate import (check_bool, check_data, check_dtype, check_int,
                         check_regularizer_list)
from ..fast.loss import output_loss
from ..layers import Dense
from .base import Model
from ..regularizers import (HiddenMask, HiddenPenalty, InputCorruption, LayerView, Regularizer,
                            WeightPenalty, from_config)


class Autoencoder(Model):
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
    loss : 'mse' (``½ Σ (x − x̂)²``) or 'bce' (binary cross-entropy); both averaged
        over the batch.
    regularizers : list of :mod:`aenumpy.regularizers` objects.
    seed : seeds the initialisation and, through :attr:`rng`, every noise draw.
    dtype : 'float32' (train) or 'float64' (check).
    """

    kind = "autoencoder"

    def __init__(self, n_in, hidden, activation="sigmoid", output_activation="sigmoid",
                 tied=False, loss="mse", regularizers=(), seed=0, dtype="float32",
                 decoder_activation=None):
        self.n_in = check_int("n_in", n_in, 1)
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = [int(hidden)]
        if not isinstance(hidden, (list, tuple)) or len(hidden) == 0:
            raise ValueError(f"hidden must be a non-empty list of layer sizes, e.g. [256]; got {hidden!r}")
        self.hidden = [check_int(f"hidden[{i}]", h, 1) for i, h in enumerate(hidden)]
        self.dtype = check_dtype(dtype)
        self.tied = check_bool("tied", tied)
        regularizers = check_regularizer_list(regularizers)
        self.seed = check_int("seed", seed, 0)
        self.loss_fn = losses.get(loss)
        self.activation = activations.get(activation)
        self.decoder_activation = activations.get(
            activation if decoder_activation is None else decoder_activation)
        self.output_activation = activations.get(output_activation)
        self._names = {"activation": activations.config_name(activation),
                       "decoder_activation": activations.config_name(activation if decoder_activation is None
                                                       else decoder_activation),
                       "output_activation": activations.config_name(output_activation),
                       "loss": self.loss_fn.name}
        init_rng = np.random.default_rng(self.seed)
        sizes = [self.n_in] + self.hidden
        L = len(self.hidden)
        self.encoder = [Dense(sizes[i], sizes[i + 1], self.activation, rng=init_rng,
                              dtype=self.dtype, name=f"enc{i}") for i in range(L)]
        self.decoder = []
        for i in range(L):
            d_in, d_out = sizes[L - i], sizes[L - i - 1]
            act = self.output_activation if i == L - 1 else self.decoder_activation
            partner = self.encoder[L - 1 - i] if self.tied else None
            self.decoder.append(Dense(d_in, d_out, act, rng=init_rng, dtype=self.dtype,
                                      name=f"dec{i}", tied_to=partner))
        self._collect_params()
        #: the Generator every noise draw uses when no ``rng`` is passed (principle 4)
        self._seed_rng()
        self.regularizers = []
        for r in regularizers or ():
            if not isinstance(r, Regularizer):
                raise TypeError(f"regularizers must be aenumpy.regularizers objects, got {r!r}")
            r.bind(self)
            self.regularizers.append(r)
        self.unit_range = (self.output_activation.name == "sigmoid" or self.loss_fn.name == "bce")
        self._fused = (self.output_activation.name in activations.ACTIVATIONS
                       and type(self.output_activation) is activations.ACTIVATIONS[
                           self.output_activation.name]
                       and (self.loss_fn.name == "mse" and type(self.loss_fn) is losses.SquaredError
                            or self.loss_fn.name == "bce" and self.output_activation.name == "sigmoid"
                            and type(self.loss_fn) is losses.BinaryCrossEntropy))

    # ------------------------------------------------------------------ info
    @property
    def n_code(self):
        """Size of the code (the last encoder layer)."""
        return self.hidden[-1]

    @property
    def layers(self):
        """Every Dense layer, encoder then decoder (``enc0 … dec{L-1}``)."""
        return self.encoder + self.decoder

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable (used by save/load and astype)."""
        for k in ("activation", "decoder_activation", "output_activation"):
            if not isinstance(self._names[k], str):
                raise ValueError(f"{k} is a custom Activation object and cannot be saved by name")
        if type(self.loss_fn) is not losses.LOSSES.get(self.loss_fn.name):
            raise ValueError("loss is a custom Loss object and cannot be saved by name")
        return {"n_in": self.n_in, "hidden": list(self.hidden), **self._names,
                "tied": self.tied, "seed": self.seed, "dtype": self.dtype.name,
                "regularizers": [{"name": type(r).__name__, **r.get_config()}
                                 for r in self.regularizers]}

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
        twin = type(self)(self.n_in, self.hidden, activation=self.activation,
                          output_activation=self.output_activation,
                          decoder_activation=self.decoder_activation, tied=self.tied,
                          loss=self.loss_fn, seed=self.seed, dtype=np.dtype(dtype).name)
        twin.regularizers = self.regularizers  # same objects, so schedules stay in step
        twin.unit_range = self.unit_range
        return self._with_weights(twin)

    def __repr__(self):
        sizes = " → ".join(str(s) for s in [self.n_in] + self.hidden + self.hidden[-2::-1] + [self.n_in])
        regs = f", regularizers={self.regularizers}" if self.regularizers else ""
        return (f"Autoencoder({sizes}, {self.activation.name}/{self.output_activation.name}, "
                f"{'tied' if self.tied else 'untied'}, loss={self.loss_fn.name}, "
                f"{self.dtype.name}{regs})")

    # ---------------------------------------------------------- validation
    def _check_X(self, X, name="X", targets=True):
        why = ("(the targets of a sigmoid output / binary cross-entropy)" if targets else "")
        return check_data(X, self.n_in, self.dtype, name, unit_range=targets and self.unit_range,
                          why=why)

    def _regs(self, kind, layer=None):
        out = [r for r in self.regularizers if isinstance(r, kind)]
        if layer is not None:
            out = [r for r in out if r.layer_index(self) == layer]
        return out

    # ------------------------------------------------------------- forward
    def _encode(self, X, rng, training, keep):
        h = X
        for r in self._regs(InputCorruption):
            if training or r.at_eval:
                h = r.corrupt(h, rng)
        self._x_tilde = h
        for i, layer in enumerate(self.encoder):
            h = layer.forward(h, keep=keep)
            M = None
            for r in self._regs(HiddenMask, i):
                m = r.mask(h, rng, training)
                if m is not None:
                    M = m if M is None else M * m
            if M is not None:
                h = h * M
            if keep:
                layer.cache["M"] = M
                layer.cache["H"] = h
        return h

    def _decode(self, Z, keep):
        h = Z
        for layer in self.decoder:
            h = layer.forward(h, keep=keep)
        return h

    def encode(self, X, rng=None):
        """The code ``z`` of each row of X (evaluation mode: no dropout, no noise
        unless a corruption has ``at_eval``, k-sparse keeps ``alpha·k``)."""
        X = self._check_X(X, targets=False)
        return self._encode(X, self._rng(rng), training=False, keep=False)

    def decode(self, Z):
        """``x̂`` from codes Z of shape ``(B, n_code)``."""
        Z = check_data(Z, self.n_code, self.dtype, "Z")
        return self._decode(Z, keep=False)

    def reconstruct(self, X, rng=None):
        """``x̂ = decode(encode(X))`` in evaluation mode."""
        X = self._check_X(X, targets=False)
        return self._decode(self._encode(X, self._rng(rng), training=False, keep=False), keep=False)

    # ---------------------------------------------------------------- loss
    def loss_and_grads(self, X, rng=None):
        """The training objective on batch X and its gradient for every parameter.

        Returns ``(loss, grads)`` with ``grads`` keyed like :attr:`params`.
        Noise (corruption, dropout) is drawn from ``rng`` or, if None, from
        :attr:`rng`; pass a fresh ``np.random.default_rng(s)`` to fix it.
        """
        X = self._check_X(X)
        return self._loss_and_grads(X, self._rng(rng))

    def loss(self, X, rng=None) -> float:
        """The same objective as :meth:`loss_and_grads`, without the gradients."""
        X = self._check_X(X)
        return self._objective(X, self._rng(rng), need_grad=False)[0]

    def reconstruction_error(self, X, rng=None) -> float:
        """The reconstruction loss alone, in evaluation mode (no penalty, no dropout)."""
        X = self._check_X(X)
        Xhat = self._decode(self._encode(X, self._rng(rng), training=False, keep=False), keep=False)
        return self.loss_fn.value(X, Xhat)

    def _objective_value(self, X, rng) -> float:
        return self._objective(X, rng, need_grad=False)[0]

    def _objective(self, X, rng, need_grad):
        """Forward pass with caches, loss (reconstruction + penalties) and, when
        ``need_grad``, the output error ``δ_out`` and the penalties' gradients."""
        code = self._encode(X, rng, training=True, keep=True)
        Xhat = self._decode(code, keep=True)
        out = self.decoder[-1]
        if self._fused:
            dA = np.empty_like(Xhat)
            E = output_loss(X, out.cache["A"], Xhat, self.loss_fn.code, out.code, dA)
        else:
            E = self.loss_fn.value(X, Xhat)
            dA = out.activation_backward(self.loss_fn.grad(X, Xhat)) if need_grad else None
        self._last_terms = {"reconstruction": E}
        extras = {}
        for r in self._regs(HiddenPenalty):
            i = r.layer_index(self)
            c = self.encoder[i].cache
            p = r.penalty(LayerView(c["X"], c["A"], c["H"], self.encoder[i].W,
                                    self.encoder[i].activation), need_grad)
            E += p.value
            self._last_terms[type(r).__name__] = p.value
            extras.setdefault(i, []).append(p)
        wgrads = []
        for r in self._regs(WeightPenalty):
            names = [k for k in self.params if k.endswith(".W")]
            v, g = r.penalty(self.params, names, need_grad)
            E += v
            self._last_terms[type(r).__name__] = v
            wgrads.append(g)
        return float(E), dA, extras, wgrads

    def _loss_and_grads(self, X, rng):
        E, dA, extras, wgrads = self._objective(X, rng, need_grad=True)
        # decoder, output first
        d = self.decoder[-1].backward_linear(dA)
        for layer in reversed(self.decoder[:-1]):
            d = layer.backward(d)
        # encoder, code first, with the masks and the penalties of each layer
        for i in reversed(range(len(self.encoder))):
            layer = self.encoder[i]
            pens = extras.get(i, [])
            for p in pens:
                if p.dZ is not None:
                    d = d + p.dZ
            layer.cache["dH"] = d
            M = layer.cache.get("M")
            if M is not None:
                d = d * M
            dA_i = layer.activation_backward(d)
            for p in pens:
                if p.dA is not None:
                    dA_i = dA_i + p.dA
            d = layer.backward_linear(dA_i, need_dX=i > 0)
            for p in pens:
                if p.dW is not None:
                    layer.grads["W"] = layer.grads["W"] + p.dW
        grads = {}
        for layer in self.encoder + self.decoder:
            for k in layer.params:
                grads[f"{layer.name}.{k}"] = layer.grads[k]
        if self.tied:
            L = len(self.encoder)
            for i, layer in enumerate(self.decoder):
                key = f"enc{L - 1 - i}.W"
                grads[key] = grads[key] + layer.grads["W"].T
        for g in wgrads:
            for k, v in g.items():
                grads[k] = grads[k] + v
        return E, grads
