"""Output arrays handed out again once nothing else refers to them.

A training step of a convolutional model makes a dozen arrays of a few MB (each layer's
A and Z, dA, dX), and the next step makes the same ones again. Fresh from ``np.empty``
each costs its page faults anew: glibc hands a freed block of that size back to the
system, so the next one is new memory, about 1,600 faults for 6 MB. :func:`empty` keeps
the arrays it made and gives one out again when no one else holds it (no view of it,
no name for it: its reference count says so), so a step reuses the last step's memory.
An array that is still held (a cached Z the caller kept, a view in a layer's cache) is
never handed out twice. ``AENUMPY_REUSE_BUFFERS=0`` in the environment keeps none, so
every array is a fresh ``np.empty``.
"""
from __future__ import annotations

import sys

import numpy as np

from ..backend import env_on

#: arrays kept per (shape, dtype): a step of the benchmark's ``convt`` model holds eight
#: of one shape at once
KEEP = 16
#: bytes kept in all: beyond, arrays are made and let go as ``np.empty``'s (the ``conv``
#: model at batch 128 keeps 55 MB, ``convt`` 19 MB); none with ``AENUMPY_REUSE_BUFFERS=0``
KEEP_BYTES = 256 << 20 if env_on("AENUMPY_REUSE_BUFFERS") else 0

_kept: dict = {}
_bytes = [0]


def _count_when_free():
    """What ``sys.getrefcount`` gives for a kept array that nothing else refers to, read in
    the same loop as :func:`empty` reads it: the list, the loop's name and the call's
    argument make 3 on CPython 3.11, and interpreters that borrow references give less, so
    the number is measured here, not assumed."""
    kept = [np.empty(0)]
    for a in kept:
        return sys.getrefcount(a)


FREE = _count_when_free()


def empty(shape, dtype):
    """An uninitialised array of ``shape`` and ``dtype``, as ``np.empty``: one made before
    that nothing refers to any more, or a new one. NumPy reference: ``np.empty``."""
    kept = _kept.setdefault((tuple(shape), np.dtype(dtype)), [])
    for a in kept:
        if sys.getrefcount(a) <= FREE:
            return a
    a = np.empty(shape, dtype)
    if len(kept) < KEEP and _bytes[0] + a.nbytes <= KEEP_BYTES:
        kept.append(a)
        _bytes[0] += a.nbytes
    return a
