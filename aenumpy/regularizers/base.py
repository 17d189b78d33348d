"""The one small interface every regularizer plugs into.

An autoencoder's regularizers act at one of four places, and a regularizer is
a subclass of exactly one of these bases:

``InputCorruption``  ``corrupt(X, rng) -> X̃``: the encoder sees X̃, the loss is
                     still against the clean X (denoising).
``HiddenMask``       ``mask(Z, rng, training) -> M``: a hidden layer's output
                     becomes ``Z ⊙ M`` and the gradient flows through ``M`` only
                     (dropout, k-sparse).
``HiddenPenalty``    ``penalty(view, need_grad) -> Penalty``: a term added to the
                     loss that depends on one hidden layer; it returns its value
                     and its gradient with respect to that layer's output ``Z``,
                     pre-activation ``A`` and/or weight ``W`` (KL sparsity, L1
                     activity, contractive).
``WeightPenalty``    ``penalty(params, names, need_grad) -> (value, grads)``: a
                     term on the weights (weight decay).

Every hidden regularizer acts on the code (the last encoder layer) unless
``layer=i`` names encoder layer ``enc{i}``. Each concrete regularizer
registers itself by its class name, so a model's configuration can name it
(save/load, the command line).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REGISTRY: dict[str, type] = {}


class Regularizer:
    """Base class. ``_args`` lists the constructor arguments kept in the config."""

    _args: tuple = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if not cls.__name__.startswith("_") and cls.__module__ != __name__:
            REGISTRY[cls.__name__] = cls

    @property
    def name(self) -> str:
        """The regularizer's name: its class name (the key of its term in a model's loss)."""
        return type(self).__name__

    def get_config(self) -> dict:
        """Constructor arguments, JSON-serialisable: ``type(self)(**cfg)`` rebuilds it."""
        return {a: getattr(self, a) for a in self._args}

    def config(self) -> dict:
        """``{"name": ..., **get_config()}``, what :func:`from_config` rebuilds it from."""
        return {"name": self.name, **self.get_config()}

    def bind(self, model):
        """Check this regularizer against the model it is given to (sizes, layer index).
        Raises ``ValueError`` at model build time. Returns nothing."""

    def on_epoch_begin(self, epoch, n_epochs):
        """Called by :func:`aenumpy.fit` before each epoch (k-sparse schedules use it)."""

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class InputCorruption(Regularizer):
    """Corrupts the input in training (and at evaluation when ``at_eval``)."""

    at_eval = False

    def corrupt(self, X, rng):
        """Return the corrupted input ``x̃`` (a new array; the loss still compares with X)."""
        raise NotImplementedError


def encoder_layer_index(model, layer, who="") -> int:
    """The index i of encoder layer ``enc{i}`` named by ``layer`` (an int, 'enc{i}', or None
    for the code layer); ``ValueError`` if there is no such layer."""
    n = len(model.encoder)
    i = n - 1 if layer is None else layer
    if isinstance(i, str) and i.startswith("enc") and i[3:].isdigit():
        i = int(i[3:])
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n:
        raise ValueError(f"{who}layer must name an encoder layer 0..{n - 1} "
                         f"(enc0..enc{n - 1}), got {layer!r}")
    return int(i)


class _HiddenRegularizer(Regularizer):
    """Acts on encoder layer ``layer`` (None = the code layer)."""

    layer = None

    def layer_index(self, model) -> int:
        """The index i of the encoder layer ``enc{i}`` this regularizer acts on."""
        return encoder_layer_index(model, self.layer, f"{type(self).__name__}: ")

    def bind(self, model):
        self.layer_index(model)


class HiddenMask(_HiddenRegularizer):
    """Multiplies a hidden layer's output by a mask ``M``."""

    def mask(self, Z, rng, training):
        """Return ``M`` (same shape as Z) or None for no mask."""
        raise NotImplementedError


@dataclass
class LayerView:
    """What a hidden penalty sees of its layer: input ``X``, pre-activation ``A``,
    output ``Z`` (after any mask), weight ``W`` (d_out, d_in) and the activation."""

    X: np.ndarray
    A: np.ndarray
    Z: np.ndarray
    W: np.ndarray
    activation: object


@dataclass
class Penalty:
    """A penalty's value and its gradient pieces (None where it has none)."""

    value: float
    dZ: np.ndarray | None = None
    dA: np.ndarray | None = None
    dW: np.ndarray | None = None
    info: dict = field(default_factory=dict)


class HiddenPenalty(_HiddenRegularizer):
    """A loss term on one hidden layer."""

    def penalty(self, view: LayerView, need_grad: bool) -> Penalty:
        """The term's value and, when ``need_grad``, its gradient pieces dZ, dA, dW."""
        raise NotImplementedError


class WeightPenalty(Regularizer):
    """A loss term on weight matrices (not biases)."""

    def penalty(self, params: dict, names: list, need_grad: bool):
        """Return ``(value, {name: gradient})`` over the weights ``names``."""
        raise NotImplementedError


def check_regularizer_list(regularizers):
    """``regularizers=`` is a list or tuple of regularizer objects (or None/empty)."""
    if regularizers is None:
        return []
    if isinstance(regularizers, Regularizer):
        raise TypeError(f"regularizers must be a list, e.g. regularizers=[{regularizers!r}]")
    if not isinstance(regularizers, (list, tuple)):
        raise TypeError(f"regularizers must be a list of aenumpy.regularizers objects, got "
                        f"{type(regularizers).__name__}")
    for r in regularizers:
        if not isinstance(r, Regularizer):
            raise TypeError(f"regularizers must be aenumpy.regularizers objects, got {r!r}")
    return list(regularizers)
