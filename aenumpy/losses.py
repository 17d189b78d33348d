"""Reconstruction losses, exactly as the lecture defines them.

* squared error ``E = ½ Σ_features (x − x̂)²``, averaged over the batch (the
  lecture's ``E = ½(x − x̂)²``);
* binary cross-entropy ``−Σ_features [x log x̂ + (1 − x) log(1 − x̂)]``,
  averaged over the batch.

Each loss gives its value and ``∂E/∂x̂``. The cross-entropy clips x̂ to
``[ε, 1 − ε]`` (ε = 1e-7 in float32, 1e-12 in float64) so it stays finite when
x̂ reaches 0 or 1; when the output is a sigmoid the models use
:func:`binary_cross_entropy_logits` instead (through :meth:`Loss.value_and_delta`),
which needs no clipping at all.

**Clipping, one rule for the whole library** (here and in
:class:`aenumpy.regularizers.KLSparsity`): a value computed through a clip has as its
gradient the exact derivative of that clipped value, the formula inside the interval and
0 where the clip is active. So a finite-difference check agrees everywhere, and a clip
never invents a gradient the computed loss does not have.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_name, check_pair
from .activations import Sigmoid, sigmoid, softplus


def _eps(dtype):
    return 1e-7 if np.dtype(dtype) == np.float32 else 1e-12


def squared_error(X, Xhat) -> float:
    """``E = (1/B) Σ_n ½ Σ_i (x_ni − x̂_ni)²``."""
    check_pair(X, Xhat)
    d = np.asarray(Xhat, dtype=np.float64) - X
    return 0.5 * float(np.sum(d * d)) / X.shape[0]


def squared_error_grad(X, Xhat):
    """``∂E/∂x̂ = (x̂ − x) / B``."""
    check_pair(X, Xhat)
    return (Xhat - X) / X.shape[0]


def binary_cross_entropy(X, Xhat) -> float:
    """``E = −(1/B) Σ_n Σ_i [x log x̂ + (1 − x) log(1 − x̂)]`` with x̂ clipped to [ε, 1−ε]."""
    check_pair(X, Xhat, unit_targets=True)
    eps = _eps(np.result_type(Xhat))
    p = np.clip(np.asarray(Xhat, dtype=np.float64), eps, 1 - eps)
    return -float(np.sum(X * np.log(p) + (1 - X) * np.log1p(-p))) / X.shape[0]


def binary_cross_entropy_grad(X, Xhat):
    """``∂E/∂x̂ = (x̂ − x) / (x̂(1 − x̂)) / B`` where x̂ lies in ``[ε, 1 − ε]``, and 0 where the
    value's clip is active (the derivative of the clipped value: the module's rule)."""
    check_pair(X, Xhat, unit_targets=True)
    eps = _eps(Xhat.dtype)
    p = np.clip(Xhat, eps, 1 - eps)
    g = (p - X) / (p * (1 - p)) / X.shape[0]
    g[(Xhat < eps) | (Xhat > 1 - eps)] = 0.0              # the clip is flat there
    return g.astype(Xhat.dtype, copy=False)


def binary_cross_entropy_logits(X, A):
    """Cross-entropy of ``x̂ = σ(a)`` from the pre-activation ``a``: value and ``∂E/∂a``.

    ``−[x log σ(a) + (1 − x) log(1 − σ(a))] = softplus(a) − x a`` and its
    derivative is ``σ(a) − x``; both averaged over the batch. Finite for any a.
    """
    check_pair(X, A, unit_targets=True)
    B = X.shape[0]
    E = float(np.sum(softplus(A.astype(np.float64)) - X * A)) / B
    return E, (sigmoid(A) - X) / B


class Loss:
    """A reconstruction loss: ``value(X, Xhat)`` and ``grad(X, Xhat) = ∂E/∂x̂``."""

    name = "loss"

    def value(self, X, Xhat):
        raise NotImplementedError

    def grad(self, X, Xhat):
        raise NotImplementedError

    def value_and_delta(self, X, A, Xhat, activation, need_grad=True):
        """``E`` and the error at the output's pre-activation, ``δ = ∂E/∂a = ∂E/∂x̂ ⊙ f'(a)``
        for ``x̂ = f(a)`` (δ is None without ``need_grad``)."""
        E = self.value(X, Xhat)
        return E, (self.grad(X, Xhat) * activation.grad(A, Xhat) if need_grad else None)

    def __repr__(self):
        return self.name


class SquaredError(Loss):
    """The lecture's ``E = ½ Σ (x − x̂)²``, summed over the features and averaged over the
    batch, chosen with ``loss="mse"`` (or its alias ``"squared_error"``).

    The name "mse" is the one the course and the library's files use; the number is *not*
    a per-feature mean: PyTorch's ``MSELoss()`` gives ``E · 2 / n_features`` on the same
    batch (``MSELoss(reduction="sum") / (2 B)`` gives E)."""

    name = "mse"

    def value(self, X, Xhat):
        return squared_error(X, Xhat)

    def grad(self, X, Xhat):
        return squared_error_grad(X, Xhat)


class BinaryCrossEntropy(Loss):
    """``−Σ [x log x̂ + (1−x) log(1−x̂)]`` averaged over the batch; targets in [0, 1]."""

    name = "bce"

    def value(self, X, Xhat):
        return binary_cross_entropy(X, Xhat)

    def grad(self, X, Xhat):
        return binary_cross_entropy_grad(X, Xhat)

    def value_and_delta(self, X, A, Xhat, activation, need_grad=True):
        """For a sigmoid output, from the logits (:func:`binary_cross_entropy_logits`):
        ``δ = (σ(a) − x)/B``, finite however saturated the output is."""
        if isinstance(activation, Sigmoid):
            E, dA = binary_cross_entropy_logits(X, A)
            return E, (dA.astype(A.dtype, copy=False) if need_grad else None)
        return super().value_and_delta(X, A, Xhat, activation, need_grad)


LOSSES = {"mse": SquaredError, "bce": BinaryCrossEntropy}
ALIASES = {"squared_error": "mse", "se": "mse", "binary_cross_entropy": "bce",
           "cross_entropy": "bce"}


def get(name) -> Loss:
    """Loss by name: 'mse' (the lecture's ``½ Σ_features (x − x̂)²``, averaged over the batch;
    not a per-feature mean, see :class:`SquaredError`) or 'bce' (binary cross-entropy)."""
    if isinstance(name, Loss):
        return name
    check_name("loss", name, "'mse' or 'bce' or a Loss")
    key = ALIASES.get(name, name)
    if key not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected 'mse' (½ Σ (x − x̂)², summed over "
                         "the features) or 'bce' (binary cross-entropy)")
    return LOSSES[key]()
