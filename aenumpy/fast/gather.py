"""The minibatches of an epoch, gathered on all the kernel threads into kept arrays.

The first thing of every training step: rows of the data set copied into a batch. NumPy
reference: :func:`aenumpy.train.minibatches` (``X[idx]``, a new array each step). Here each
batch is gathered into an array kept for the epoch (one per array and batch size: the
batches of a step are consumed before the next one is gathered) by :func:`gather_rows`,
which copies the rows on the kernel threads; ``np.take`` (one thread) takes batches below
:func:`aenumpy.backend.min_work` entries and arrays that are not 2-D.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ..backend import min_work
from . import threads
from ._jit import jit


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


def gather_rows(X, idx, out):
    """``out = X[idx]``, the rows copied on all the kernel threads (indices checked
    first: an IndexError names the range). NumPy reference: ``np.take(X, idx, axis=0,
    out=out)``, which runs the small and the non-2-D cases."""
    if out.size < min_work() or X.ndim != 2 or not X.flags.c_contiguous:
        return np.take(X, idx, axis=0, out=out)
    if not _gather_rows_nb(out, X, idx):
        raise IndexError(f"a batch index is outside [0, {X.shape[0]})")
    return out


def minibatches(order, batch_size, *arrays):
    """As :func:`aenumpy.train.minibatches` (the same batches in the same order), each
    gathered by :func:`gather_rows` into an array kept for the epoch."""
    kept = {}
    for s in range(0, len(order), batch_size):
        threads.poll()  # once a training step, whatever the model's size (fit steps here)
        idx = order[s:s + batch_size]
        batch = []
        for k, A in enumerate(arrays):
            out = kept.get((k, len(idx)))
            if out is None:
                out = kept[k, len(idx)] = np.empty((len(idx),) + A.shape[1:], A.dtype)
            batch.append(gather_rows(A, idx, out))
        yield tuple(batch)
