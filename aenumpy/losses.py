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

Segmentation classifies every pixel. Its losses (:class:`PixelLoss`) take the logits ``A``
``(B, K, H, W)`` of a 1×1 convolution, one score per class and pixel, and the per-pixel
targets ``Y`` ``(B, H, W)``, and average over the batch **and every pixel**, as PyTorch's
``cross_entropy`` and ``binary_cross_entropy_with_logits`` do by default:

* softmax cross-entropy, K ≥ 2 classes, ``Y`` the class of each pixel:
  ``E = −(1/N) Σ_pixels log softmax(a)[y]``, ``∂E/∂a = (softmax(a) − onehot(y)) / N``;
* binary cross-entropy from the logit, one foreground class (K = 1), ``Y`` in [0, 1]:
  ``E = (1/N) Σ_pixels softplus(a) − y a``, ``∂E/∂a = (σ(a) − y) / N``;

with ``N = B·H·W``.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_labels, check_name, check_pair
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


def softmax(A, axis=1):
    """``p_k = e^(a_k) / Σ_j e^(a_j)`` over the classes (``axis``), computed as
    ``e^(a_k − m) / Σ_j e^(a_j − m)`` with ``m = max_j a_j``: the same value, and no overflow."""
    e = np.exp(A - A.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(A, axis=1):
    """``log p_k = a_k − m − log Σ_j e^(a_j − m)`` (``m = max_j a_j``): finite for any logits."""
    m = A.max(axis=axis, keepdims=True)
    return A - m - np.log(np.exp(A - m).sum(axis=axis, keepdims=True))


def _check_logits(A, K_min, K_max=None):
    """Logits ``(B, K, H, W)`` of a float dtype with ``K_min ≤ K ≤ K_max`` classes."""
    if not isinstance(A, np.ndarray) or A.dtype.kind != "f":
        raise TypeError(f"the logits must be a float NumPy array (B, K, H, W), got "
                        f"{type(A).__name__}" + (f" of {A.dtype}" if isinstance(A, np.ndarray) else ""))
    if A.ndim != 4:
        raise ValueError(f"the logits must have shape (B, K, H, W), got {A.shape}")
    K = A.shape[1]
    if K < K_min or (K_max is not None and K > K_max):
        if K_min >= 2:
            raise ValueError(f"softmax cross-entropy needs logits of two or more classes, got "
                             f"{K} (shape {A.shape}); for one foreground class use the binary "
                             f"cross-entropy from the logit (loss='bce_logits')")
        raise ValueError(f"the binary cross-entropy from the logit takes one logit per pixel "
                         f"(K = 1), got {K} (shape {A.shape}); for several classes use "
                         f"loss='softmax_ce'")


def softmax_cross_entropy(Y, A):
    """Per-pixel softmax cross-entropy from the logits: the value and ``∂E/∂A``.

    ``A`` ``(B, K, H, W)``, ``Y`` ``(B, H, W)`` labels in ``[0, K)``, ``N = B·H·W``::

        p = softmax(A) over the K classes                     (each pixel's class probabilities)
        E = −(1/N) Σ_(b,y,x) log p[b, Y[b,y,x], y, x]         (the mean over batch and pixels)
        ∂E/∂A = (p − onehot(Y)) / N                           (softmax minus one-hot, over the mean)

    ``torch.nn.functional.cross_entropy(A, Y)`` gives the same E. The value is summed in
    float64 from :func:`log_softmax`, so it stays finite for any logits.
    """
    _check_logits(A, 2)
    Y = check_labels(Y, A.shape[1], (A.shape[0], *A.shape[2:]))
    N = Y.size
    logp = log_softmax(A.astype(np.float64))
    E = -float(np.take_along_axis(logp, Y[:, None], axis=1).sum()) / N
    onehot = np.arange(A.shape[1])[None, :, None, None] == Y[:, None]
    dA = (softmax(A) - onehot) / N
    return E, dA.astype(A.dtype, copy=False)


def pixel_bce_logits(Y, A):
    """Per-pixel binary cross-entropy from the logit (one foreground class): value and ``∂E/∂A``.

    ``A`` ``(B, 1, H, W)``, ``Y`` ``(B, H, W)`` in [0, 1] (the probability of the foreground),
    ``N = B·H·W``::

        E = (1/N) Σ_pixels [softplus(a) − y a]        = −(1/N) Σ [y log σ(a) + (1 − y) log(1 − σ(a))]
        ∂E/∂A = (σ(a) − y) / N

    ``torch.nn.functional.binary_cross_entropy_with_logits(A[:, 0], Y)`` gives the same E.
    """
    _check_logits(A, 1, 1)
    if not isinstance(Y, np.ndarray) or Y.dtype.kind not in "fiub":
        raise TypeError(f"Y must be a NumPy array of targets in [0, 1] (B, H, W), got "
                        f"{type(Y).__name__}")
    if Y.shape != (A.shape[0], *A.shape[2:]):
        raise ValueError(f"Y must have shape {(A.shape[0], *A.shape[2:])} (the batch and image "
                         f"size of the logits), got {Y.shape}")
    if Y.size and (Y.min() < 0 or Y.max() > 1):
        raise ValueError(f"the binary cross-entropy needs targets Y in [0, 1]; got values in "
                         f"[{float(Y.min()):g}, {float(Y.max()):g}]")
    a, N = A[:, 0], Y.size
    E = float(np.sum(softplus(a.astype(np.float64)) - Y * a.astype(np.float64))) / N
    dA = ((sigmoid(a) - Y) / N)[:, None]
    return E, dA.astype(A.dtype, copy=False)


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


class PixelLoss:
    """A per-pixel loss of a segmentation model (module docstring): ``value_and_delta(Y, A)``
    gives E and ``∂E/∂A`` from the logits ``A`` ``(B, K, H, W)`` and the targets ``Y`` ``(B, H, W)``."""

    name = "pixel_loss"
    #: the number of logits per pixel the loss takes: (fewest, most)
    classes = (1, None)

    def value_and_delta(self, Y, A, need_grad=True):
        raise NotImplementedError

    def value(self, Y, A) -> float:
        return self.value_and_delta(Y, A, need_grad=False)[0]

    def __repr__(self):
        return self.name


class SoftmaxCrossEntropy(PixelLoss):
    """Per-pixel softmax cross-entropy, mean over the batch and the pixels
    (:func:`softmax_cross_entropy`); two or more classes, labels ``Y`` in ``[0, K)``."""

    name = "softmax_ce"
    classes = (2, None)

    def value_and_delta(self, Y, A, need_grad=True):
        E, dA = softmax_cross_entropy(Y, A)
        return E, (dA if need_grad else None)


class PixelBinaryCrossEntropy(PixelLoss):
    """Per-pixel binary cross-entropy from the logit, mean over the batch and the pixels
    (:func:`pixel_bce_logits`); one foreground class, targets ``Y`` in [0, 1]."""

    name = "bce_logits"
    classes = (1, 1)

    def value_and_delta(self, Y, A, need_grad=True):
        E, dA = pixel_bce_logits(Y, A)
        return E, (dA if need_grad else None)


PIXEL_LOSSES = {"softmax_ce": SoftmaxCrossEntropy, "bce_logits": PixelBinaryCrossEntropy}


def get_pixel_loss(name, n_classes) -> PixelLoss:
    """A segmentation loss by name for ``n_classes`` logits per pixel: ``None`` chooses
    'softmax_ce' for two or more classes and 'bce_logits' for one; a loss that does not fit
    ``n_classes`` is refused (softmax with one class, BCE from one logit with several)."""
    if name is None:
        name = "softmax_ce" if n_classes >= 2 else "bce_logits"
    if isinstance(name, PixelLoss):
        loss = name
    else:
        check_name("loss", name, "'softmax_ce' or 'bce_logits'")
        if name not in PIXEL_LOSSES:
            raise ValueError(f"unknown segmentation loss {name!r}; expected 'softmax_ce' "
                             f"(two or more classes) or 'bce_logits' (one foreground class)")
        loss = PIXEL_LOSSES[name]()
    lo, hi = loss.classes
    if n_classes < lo:
        raise ValueError(f"loss={loss.name!r} needs two or more classes (a softmax over one class "
                         f"is always 1), got n_classes={n_classes}; for one foreground class use "
                         f"loss='bce_logits'")
    if hi is not None and n_classes > hi:
        raise ValueError(f"loss={loss.name!r} takes one logit per pixel (n_classes=1), got "
                         f"n_classes={n_classes}; for several classes use loss='softmax_ce'")
    return loss


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
    if key in PIXEL_LOSSES:
        raise ValueError(f"{name!r} is a per-pixel loss on the logits of a segmentation model: "
                         f"use it with ae.UNet(loss={name!r}); a reconstruction takes 'mse' or 'bce'")
    if key not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected 'mse' (½ Σ (x − x̂)², summed over "
                         "the features) or 'bce' (binary cross-entropy)")
    return LOSSES[key]()
