"""The minibatch gather ``X[idx]``: rows of the data set copied into a batch buffer.

The first thing of every training step (``fit``; SPEC.md's "gather ``X[idx]``").
The reference is ``np.take``, one thread; the Numba version copies the rows on all
the kernel threads (a 128×784 float32 batch: 66 µs one thread, about half on two).
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import dispatch, jit


def gather_rows_ref(X, idx, out):
    """NumPy reference: ``out[i] = X[idx[i]]`` for a 2-D ``X`` (``np.take``); every
    index must be in ``[0, len(X))``, else IndexError. Returns ``out``."""
    if idx.size and (idx.min() < 0 or idx.max() >= X.shape[0]):
        raise IndexError(f"a batch index is outside [0, {X.shape[0]})")
    return np.take(X, idx, axis=0, out=out)


@jit(parallel=True)
def _gather_rows_nb(out, X, idx):
    """rows idx[i] of X into out[i]; False (nothing copied) when an index is out of range.
    out first: the jit wrapper sizes the work by the first argument (the batch, not the
    whole data set: a small batch stays on one thread)"""
    n = X.shape[0]
    for i in range(idx.shape[0]):
        if idx[i] < 0 or idx[i] >= n:
            return False
    d = X.shape[1]
    for i in prange(idx.shape[0]):
        r = idx[i]
        for j in range(d):
            out[i, j] = X[r, j]
    return True


def gather_rows_nb(X, idx, out):
    """Numba version of :func:`gather_rows_ref`: the rows copied on all the kernel
    threads, the indices checked first."""
    if not _gather_rows_nb(out, X, idx):
        raise IndexError(f"a batch index is outside [0, {X.shape[0]})")
    return out


gather_rows = dispatch(gather_rows_ref, gather_rows_nb)
