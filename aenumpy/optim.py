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

from ._validate import check_bool, check_float, check_grads
from .backend import Replaceable


class Optimizer(Replaceable):
    """Base: keeps per-parameter state keyed by parameter name. With the speed backend on,
    building :class:`Adam` builds its fast twin (:mod:`aenumpy.fast.optim`)."""

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
        """One update of every parameter: ``θ ← θ − η g`` (with momentum ``v ← μv − ηg``,
        ``θ ← θ + v``; Nesterov ``θ ← θ + μv − ηg``)."""
        check_grads(params, grads)
        self.t += 1
        for name, p in params.items():
            g = grads[name]
            if self.momentum == 0:
                p -= self.lr * g
                continue
            v = self.state.setdefault(name, {"v": np.zeros_like(p)})["v"]
            v *= self.momentum
            v -= self.lr * g
            p += self.momentum * v - self.lr * g if self.nesterov else v

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

    def step(self, params, grads):
        """One Adam update of every parameter (the module docstring's formula)."""
        check_grads(params, grads)
        self.t += 1
        bc1 = 1.0 - self.beta1 ** self.t
        bc2 = 1.0 - self.beta2 ** self.t
        for name, p in params.items():
            g = grads[name]
            slots = self.state.setdefault(name, {"m": np.zeros_like(p), "v": np.zeros_like(p)})
            m, v = slots["m"], slots["v"]
            m *= self.beta1
            m += (1 - self.beta1) * g              # m ← β₁m + (1 − β₁)g
            v *= self.beta2
            v += (1 - self.beta2) * g * g          # v ← β₂v + (1 − β₂)g²
            p -= self.lr * (m / bc1) / (np.sqrt(v / bc2) + self.eps)   # θ ← θ − η m̂/(√v̂ + ε)

    def get_config(self):
        return {"name": "Adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps}


OPTIMIZERS = {"SGD": SGD, "Adam": Adam}


def from_config(cfg: dict) -> Optimizer:
    if not isinstance(cfg, dict) or "name" not in cfg:
        raise TypeError(f"an optimizer configuration is a dict with a 'name', got {cfg!r}")
    cfg = dict(cfg)
    name = cfg.pop("name")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    return OPTIMIZERS[name](**cfg)
