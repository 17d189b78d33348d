"""The per-pixel losses of a segmentation model on its logits' rows, with their gradient, fused.

The logits of a fast U-Net's head come as rows (:mod:`.conv`): row ``k·P + p`` holds logit k
of pixel p for every sample of the batch (P pixels, K classes, B samples), and the targets
are laid out the same way, ``(P, B)``. One pass over them gives the loss and ``dA = ∂E/∂A``
(rows too), averaged over the ``N = B·P`` pixels of the batch:

* softmax cross-entropy (K ≥ 2, integer labels y):
  ``E = (1/N) Σ [m + log Σ_k e^(a_k − m) − a_y]`` with ``m = max_k a_k``, and
  ``dA_k = (e^(a_k − m) / Σ_j e^(a_j − m) − [k = y]) / N``;
* binary cross-entropy from the logit (K = 1, targets y in [0, 1]):
  ``E = (1/N) Σ [softplus(a) − y a]`` and ``dA = (σ(a) − y) / N``.

NumPy reference: :func:`aenumpy.losses.softmax_cross_entropy` and
:func:`aenumpy.losses.pixel_bce_logits`.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import jit
from ._math import fexp, flog, flog1p, fsigmoid, one_like


@jit(parallel=True)
def softmax_ce_rows_nb(A, labels, K, dA, N, parts):
    """The softmax cross-entropy on the rows ``A`` ``(K·P + 1, B)`` against ``labels`` ``(P, B)``
    (module docstring): fills the rows of ``dA`` and returns ``E``, summed in float64 per
    pixel. Each thread takes a range of pixels, all K classes of each, with the batch
    innermost so the loops over it vectorise."""
    B = A.shape[1]
    P = labels.shape[0]
    one = one_like(A)
    inv = one / N
    total = np.zeros(parts)
    for part in prange(parts):
        m = np.empty(B, A.dtype)
        s = np.empty(B, A.dtype)
        acc = 0.0
        for p in range(part * P // parts, (part + 1) * P // parts):
            y = labels[p]
            m[:] = A[p]
            for k in range(1, K):
                a = A[k * P + p]
                for b in range(B):
                    m[b] = a[b] if a[b] > m[b] else m[b]
            s[:] = 0
            for k in range(K):                       # e^(a_k − m) into dA, their sum into s
                a, d = A[k * P + p], dA[k * P + p]
                for b in range(B):
                    e = fexp(a[b] - m[b])
                    d[b] = e
                    s[b] += e
            row = 0.0
            for b in range(B):                       # m + log s − a_y
                row += m[b] + flog(s[b]) - A[y[b] * P + p, b]
            acc += row
            for k in range(K):
                d = dA[k * P + p]
                for b in range(B):
                    d[b] = (d[b] / s[b] - (one if y[b] == k else one - one)) * inv
        total[part] = acc
    return total.sum() / N


@jit(parallel=True)
def bce_rows_nb(A, Y, dA, N, parts):
    """The binary cross-entropy from the logit on the rows ``A`` ``(P + 1, B)`` against the
    targets ``Y`` ``(P, B)`` (module docstring): fills ``dA`` and returns ``E``."""
    B = A.shape[1]
    P = Y.shape[0]
    inv = one_like(A) / N
    total = np.zeros(parts)
    for part in prange(parts):
        acc = 0.0
        for p in range(part * P // parts, (part + 1) * P // parts):
            a, y, d = A[p], Y[p], dA[p]
            row = 0.0
            for b in range(B):
                row += max(a[b], a[b] - a[b]) + flog1p(fexp(-abs(a[b]))) - y[b] * a[b]
                d[b] = (fsigmoid(a[b]) - y[b]) * inv
            acc += row
        total[part] = acc
    return total.sum() / N
