"""k-sparse autoencoder (Makhzani & Frey 2013).

Lecture: ``f_k(x) = (x₁b₁, …, xₙbₙ)``, with ``b_i = 1`` for the k units of the
sample whose ``|x_i|`` is among the k largest and ``b_i = 0`` for the rest. The code is ``z ⊙ b``;
in backprop the error passes only through the kept units (``∂E/∂z ⊙ b``), which
the model does by multiplying by the mask. At encode time the paper keeps
``α·k`` units (α ≥ 1 gives a slightly denser code for classification).

Sparsity schedule (paper, section 3.2): start with a larger ``k_start`` and
lower k linearly to ``k`` over the first half of the epochs, so that no hidden
unit dies early.

Which k: the lecture ranks the units by ``|z_i|`` (``by="abs"``, the default);
Makhzani & Frey keep the k largest values (``by="value"``). For sigmoid and ReLU codes,
which are never negative, the two are the same units; for tanh or linear codes they
differ (a strongly negative unit is kept by the lecture's rule, dropped by the paper's).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validate import check_choice, check_float, check_int
from ._checks import check_layer_arg
from .base import HiddenMask


BY = ("abs", "value")


def topk_mask(Z, k, by="abs"):
    """The mask ``b`` of ``f_k``: 1 at the k units of each row of Z with the largest
    ``|z|`` (``by="abs"``) or the largest ``z`` (``by="value"``), 0 elsewhere.

    Ties are broken deterministically: among equal keys the lower unit index is
    kept (a stable sort of the negated keys).
    """
    Z = np.asarray(Z)
    M = np.zeros_like(Z)
    keys = np.abs(Z) if by == "abs" else Z
    idx = np.argsort(-keys, axis=1, kind="stable")[:, :k]
    np.put_along_axis(M, idx, 1, axis=1)
    return M


class TopK(HiddenMask):
    """k-sparse hidden layer: keep k units of each sample, zero the rest.

    Parameters
    ----------
    k : units kept per sample in training, 1 ≤ k ≤ the layer's size (checked at model build).
    by : ``"abs"`` keeps the k largest ``|z|`` (the lecture's ``f_k``, default);
        ``"value"`` keeps the k largest values (Makhzani & Frey).
    alpha : at evaluation (``encode``, ``reconstruct``) keep ``min(n, int(alpha·k))``
        units (Makhzani & Frey: α·k at test time). ``int(alpha·k)`` must be ≥ 1.
    layer : encoder layer (None = the code).
    k_start : optional schedule: k starts at ``k_start`` (≥ k) and decreases linearly
        to ``k`` over the first half of the epochs of :func:`aenumpy.fit`
        (epoch e of E uses ``round(k_start + (k − k_start)·min(1, e/(E/2)))``).
        Evaluation always uses the target ``k`` (times alpha), so a loaded or
        half-trained model encodes as the finished one will.

    The current training k is :attr:`k_current`: ``k`` until :func:`aenumpy.fit` calls
    :meth:`on_epoch_begin` (so a freshly built or loaded model trains and is checked
    with the target k; a resumed ``fit`` restores the schedule's value).
    """

    _args = ("k", "alpha", "layer", "k_start", "by")

    def __init__(self, k, alpha=1.0, layer=None, k_start=None, by="abs"):
        if isinstance(k, numbers.Real) and not isinstance(k, (bool, numbers.Integral)) \
                and float(k).is_integer():
            k = int(k)
        self.k = check_int("TopK: k", k, 1)
        self.alpha = check_float("TopK: alpha", alpha, 0.0, low_open=True)
        if int(self.alpha * self.k) < 1:
            raise ValueError(f"TopK: alpha·k must be >= 1 (units kept at evaluation), got "
                             f"alpha={self.alpha:g}, k={self.k}")
        self.layer = check_layer_arg("TopK", layer)
        if k_start is not None:
            k_start = check_int("TopK: k_start", k_start, 1)
            if k_start < self.k:
                raise ValueError(f"TopK: k_start must be >= k (the schedule lowers k), got "
                                 f"k_start={k_start}, k={self.k}")
        self.k_start = k_start
        self.by = check_choice("TopK: by", by, BY)
        self.k_current = self.k  # until fit() starts the schedule (on_epoch_begin)

    def bind(self, model):
        i = self.layer_index(model)
        n = model.units_of(i)
        for name, v in (("k", self.k), ("k_start", self.k_start)):
            if v is not None and not 1 <= v <= n:
                raise ValueError(f"TopK: {name} must be in 1..{n} (the size of encoder layer "
                                 f"enc{i}), got {name}={v}")

    def on_epoch_begin(self, epoch, n_epochs):
        """Linear schedule from ``k_start`` to ``k`` over the first half of the epochs."""
        if self.k_start is None:
            return
        half = n_epochs / 2
        frac = 1.0 if half < 1 else min(1.0, epoch / half)
        self.k_current = int(round(self.k_start + (self.k - self.k_start) * frac))

    def units_kept(self, n, training):
        """How many of ``n`` units are kept: k_current in training, min(n, int(α·k)) at evaluation."""
        return min(n, self.k_current) if training else min(n, int(self.alpha * self.k))

    def mask(self, Z, rng, training):
        """``b`` of ``f_k``: 1 for the kept units of each row (see :func:`topk_mask`), or
        None when every unit is kept."""
        kk = self.units_kept(Z.shape[1], training)
        if kk >= Z.shape[1]:
            return None  # every unit kept: no mask
        return topk_mask(Z, kk, self.by)
