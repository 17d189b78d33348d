"""Optimizers. Each updates the params dict in place: ``opt.step(params, grads)``.

* :class:`SGD`: ``v ← μ v − η g``; ``θ ← θ + v`` (μ = 0: plain gradient descent,
  the lecture's ``W ← W − η ∂E/∂W``); Nesterov: ``θ ← θ + μ v − η g``.
* :class:`Adam` (Kingma & Ba 2015): ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
  ``θ ← θ − η m̂ / (√v̂ + ε)`` with the bias corrections ``m̂ = m/(1−β₁ᵗ)``,
  ``v̂ = v/(1−β₂ᵗ)``; exactly PyTorch's formula.

``state_dict()`` / ``load_state_dict()`` give the state as plain arrays, so a
checkpoint can resume training exactly.
"""
from __future__ import annotations

import numpy as np

from .fast.layout import flat_like, flat_view, same_layout
from ._validate import check_bool, check_float, check_grads
from .fast.optim import adam_update_many, sgd_update


class Optimizer:
    """Base: keeps per-parameter state keyed by parameter name."""

    def __init__(self):
        self.state = {}
        self.t = 0

    def step(self, params, grads):
        """Update ``params`` in place from ``grads`` (same keys)."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """``{"t": t, "<param>/<slot>": array}``: everything needed to resume."""
        out = {"t": np.array(self.t)}
        for name, slots in self.state.items():
            for slot, arr in slots.items():
                out[f"{name}/{slot}"] = arr
        return out

    def load_state_dict(self, sd: dict):
        """Restore the state written by :meth:`state_dict` (a checkpoint resumes exactly)."""
        self.t = int(np.asarray(sd["t"]))
        self.state = {}
        for key, arr in sd.items():
            if key == "t":
                continue
            name, slot = key.rsplit("/", 1)
            self.state.setdefault(name, {})[slot] = np.array(arr)

    def get_config(self) -> dict:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum."""

    def __init__(self, lr=0.1, momentum=0.0, nesterov=False):
        super().__init__()
        self.lr = check_float("lr", lr, 0, low_open=True)
        self.momentum = check_float("momentum", momentum, 0, 1, high_open=True)
        self.nesterov = check_bool("nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")

    def step(self, params, grads):
        """One update of every parameter: ``θ ← θ − η g`` (with momentum ``v ← μv − ηg``, ``θ ← θ + v``)."""
        check_grads(params, grads)
        self.t += 1
        for name, p in params.items():
            g = grads[name]
            if self.momentum == 0:
                p -= self.lr * g
                continue
            slots = self.state.setdefault(name, {"v": np.zeros_like(p)})
            v = _slot(slots, "v", p)
            sgd_update(flat_view(p), flat_like(g, p), flat_view(v), self.lr, self.momentum,
                       self.nesterov)

    def get_config(self):
        return {"name": "SGD", "lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with PyTorch's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8)."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        self.lr = check_float("lr", lr, 0, low_open=True)
        self.beta1 = check_float("beta1", beta1, 0, 1, high_open=True)
        self.beta2 = check_float("beta2", beta2, 0, 1, high_open=True)
        self.eps = check_float("eps", eps, 0, low_open=True)
        self._flat = None  # see _flat_views

    def step(self, params, grads):
        """One Adam update of every parameter (bias-corrected moments, see the module docstring)."""
        check_grads(params, grads)
        self.t += 1
        bc1 = 1.0 - self.beta1 ** self.t
        bc2 = 1.0 - self.beta2 ** self.t
        flat = self._flat_views(params)
        gs = [flat_like(grads[name], p) for name, p, *_ in flat]
        adam_update_many([f[2] for f in flat], gs, [f[3] for f in flat], [f[4] for f in flat],
                         self.lr, self.beta1, self.beta2, self.eps, bc1, bc2)

    def _flat_views(self, params):
        """Per parameter ``(name, p, flat p, flat m, flat v)``, the moments created (or
        re-laid in p's layout) when needed; kept between steps while the arrays stay
        the same objects (rebuilding them was half of the optimizer's Python time)."""
        cache = getattr(self, "_flat", None)
        if cache is not None and len(cache) == len(params) and all(
                params.get(name) is p and self.state.get(name, {}).get("m") is m
                and self.state[name].get("v") is v for name, p, m, v in cache):
            return self._flat_list
        cache, flat = [], []
        for name, p in params.items():
            slots = self.state.get(name)
            if slots is None:
                slots = self.state[name] = {"m": np.zeros_like(p), "v": np.zeros_like(p)}
            m, v = _slot(slots, "m", p), _slot(slots, "v", p)
            cache.append((name, p, m, v))
            flat.append((name, p, flat_view(p), flat_view(m), flat_view(v)))
        self._flat, self._flat_list = cache, flat
        return flat

    def get_config(self):
        return {"name": "Adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps}


def _slot(slots, key, p):
    """The state array ``slots[key]`` in ``p``'s memory layout (re-laid once if a
    restored state came in another), so that all of them walk in step."""
    slots[key] = same_layout(slots[key], p)
    return slots[key]


OPTIMIZERS = {"SGD": SGD, "Adam": Adam}


def from_config(cfg: dict) -> Optimizer:
    if not isinstance(cfg, dict) or "name" not in cfg:
        raise TypeError(f"an optimizer configuration is a dict with a 'name', got {cfg!r}")
    cfg = dict(cfg)
    name = cfg.pop("name")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    return OPTIMIZERS[name](**cfg)
