"""Weight decay: a penalty on the weight matrices (never the biases).

* ``kind="l2"``: ``Ω = (λ/2) Σ W²``, gradient ``λ W`` (Tikhonov / ridge; with SGD it
  shrinks every weight by the factor ``1 − ηλ`` each step, hence "decay");
* ``kind="l1"``: ``Ω = λ Σ |W|``, subgradient ``λ sign(W)`` (0 at W = 0).

The sum runs over every weight matrix of the model (``enc*.W`` and, untied,
``dec*.W``; a tied decoder has no weight of its own, so each shared W counts
once), or over those named in ``layers``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_choice
from ._checks import check_nonneg
from .base import WeightPenalty

KINDS = ("l2", "l1")


class WeightDecay(WeightPenalty):
    """``(λ/2) Σ W²`` (l2) or ``λ Σ |W|`` (l1) over weights, not biases.

    Parameters
    ----------
    lam : λ ≥ 0.
    kind : 'l2' or 'l1'.
    layers : None (every weight) or a list of parameter names (``'enc0.W'``) or
        layer names (``'enc0'``, ``'dec1'``); checked against the model at build.
    """

    _args = ("lam", "kind", "layers")

    def __init__(self, lam, kind="l2", layers=None):
        self.lam = check_nonneg("WeightDecay", "lam", lam)
        self.kind = check_choice("WeightDecay: kind", kind, KINDS)
        if layers is not None:
            if isinstance(layers, str):
                layers = [layers]
            if not isinstance(layers, (list, tuple)) or not all(isinstance(s, str) for s in layers):
                raise TypeError(f"WeightDecay: layers must be None or a list of names like "
                                f"'enc0' or 'enc0.W', got {layers!r}")
            if len(layers) == 0:
                raise ValueError("WeightDecay: layers is empty; use None for every weight")
            layers = list(layers)
        self.layers = layers

    def _param_name(self, name):
        return name if name.endswith(".W") else f"{name}.W"

    def bind(self, model):
        if self.layers is None:
            return
        weights = [k for k in model.params if k.endswith(".W")]
        for name in self.layers:
            if self._param_name(name) not in weights:
                tied = " (a tied decoder has no W of its own: name the encoder layer)" \
                    if getattr(model, "tied", False) else ""
                raise ValueError(f"WeightDecay: {name!r} names no weight of this model; its "
                                 f"weights are {', '.join(weights)}{tied}")

    def selected(self, names):
        """The weight names this penalty covers, among ``names``."""
        if self.layers is None:
            return list(names)
        wanted = {self._param_name(n) for n in self.layers}
        return [n for n in names if n in wanted]

    def penalty(self, params, names, need_grad):
        """``(value, {name: gradient})``: l2 ``(λ/2) Σ W²``, ``λW``; l1 ``λ Σ|W|``, ``λ sign(W)``."""
        value = 0.0
        grads = {}
        lam = self.lam
        for n in self.selected(names):
            W = params[n]
            if self.kind == "l2":
                w = W.ravel(order="K")  # a view whatever W's layout
                value += 0.5 * lam * float(np.dot(w, w))
                if need_grad:
                    grads[n] = W * W.dtype.type(lam)
            else:
                value += lam * float(np.abs(W).sum(dtype=np.float64))
                if need_grad:
                    grads[n] = np.sign(W) * W.dtype.type(lam)
        return value, grads
