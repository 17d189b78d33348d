"""The minibatch gather ``X[idx]`` on all the kernel threads.

The first thing of every training step: rows of the data set copied into a batch
buffer. NumPy reference: :func:`aenumpy.train.gather_rows` (``np.take``, one thread),
which also takes batches below :func:`aenumpy.backend.min_work` entries and arrays
that are not 2-D.
"""
from __future__ import annotations

from numba import prange

from .. import train
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
    first: an IndexError names the range)."""
    threads.poll()  # once a training step, whatever the model's size (fit calls this)
    if out.size < min_work() or X.ndim != 2 or not X.flags.c_contiguous:
        return train.gather_rows(X, idx, out)
    if not _gather_rows_nb(out, X, idx):
        raise IndexError(f"a batch index is outside [0, {X.shape[0]})")
    return out
