"""The output layer's loss and its gradient with respect to the pre-activation, fused.

``output_loss(X, A, Z, loss_code, act_code, dA) -> E`` fills ``dA = ∂E/∂(W'z + b')``:

* loss 0, squared error: ``E = (1/B) Σ ½ (x − x̂)²``, ``∂E/∂x̂ = (x̂ − x)/B``,
  ``dA = ∂E/∂x̂ ⊙ f'(a)`` (any activation code, see :mod:`.activation`);
* loss 1, binary cross-entropy with a sigmoid output, computed from the
  pre-activation ``a`` (so it stays finite when x̂ reaches 0 or 1):
  ``−[x log σ(a) + (1−x) log(1−σ(a))] = softplus(a) − x a`` and
  ``∂E/∂a = (σ(a) − x)/B``.

NumPy reference: :meth:`aenumpy.losses.Loss.value_and_delta` of
:class:`~aenumpy.losses.SquaredError` and :class:`~aenumpy.losses.BinaryCrossEntropy`.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import jit
from ._math import fexp, flog1p, one_like
from .activation import delta_row


def output_loss(X, A, Z, loss_code, act_code, dA, samples=None):
    """The loss and ``dA = ∂E/∂a`` in one pass (module docstring) by :func:`output_loss_nb`:
    for ``(n, d)`` arrays holding one sample a row, or, with ``samples`` the batch size, any
    other arrangement of the batch's entries (a convolution's rows, one pixel of every
    sample a row: :mod:`.conv`)."""
    return output_loss_nb(X, A, Z, loss_code, act_code, dA, len(X) if samples is None else samples)


@jit(parallel=True)
def output_loss_nb(X, A, Z, loss_code, act_code, dA, samples):
    """The loss and ``dA = ∂E/∂a`` in one pass over ``(n, d)`` arrays, averaged over
    ``samples`` (module docstring); the value is summed in float64 per row, then over the
    rows in order (the same rounding on any number of threads)."""
    n, d = X.shape
    one = one_like(Z)
    inv = one / samples
    rows = np.empty(n, dtype=np.float64)
    for i in prange(n):
        row = 0.0
        if loss_code == 0:
            g = dA[i]
            for j in range(d):
                r = Z[i, j] - X[i, j]
                row += r * r
                g[j] = r * inv                     # ∂E/∂x̂
            row = 0.5 * row
            delta_row(g, Z[i], g, act_code, one)   # ⊙ f'(a), in place
        else:
            for j in range(d):
                a = A[i, j]
                x = X[i, j]
                row += max(a, a - a) + flog1p(fexp(-abs(a))) - x * a
                dA[i, j] = (Z[i, j] - x) * inv
        rows[i] = row
    E = 0.0
    for i in range(n):
        E += rows[i]
    return E / samples
