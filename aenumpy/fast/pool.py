"""Max pooling and nearest-neighbour upsampling: the speed backend's MaxPool2D and Upsample2D.

Each kernel makes one pass over the batch, one chunk of samples per thread
(``prange``), with no intermediate arrays: the teaching layers reshape the image into
windows, take ``argmax`` and scatter with ``put_along_axis`` (MaxPool2D), or repeat and
reshape-sum (Upsample2D), each a pass of its own over memory.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .._validate import check_upstream
from ..layers import MaxPool2D, Upsample2D
from ._jit import jit, jit_enabled, kernel_threads


@jit(parallel=True)
def maxpool_forward_nb(X, size, Z, argmax, parts):
    """``Z[b, c, y, x] = max_(i,j) X[b, c, y·size + i, x·size + j]`` and ``argmax`` the
    position ``i·size + j`` of the first maximum in row-major order (a NaN counts as the
    maximum, as NumPy's ``argmax``). NumPy reference: ``aenumpy.layers.MaxPool2D.forward``."""
    B, C, Ho, Wo = Z.shape
    for t in prange(parts):
        for b in range(t * B // parts, (t + 1) * B // parts):
            for c in range(C):
                for y in range(Ho):
                    for x in range(Wo):
                        m = X[b, c, y * size, x * size]
                        at = 0
                        for i in range(size):
                            row = X[b, c, y * size + i]
                            for j in range(size):
                                v = row[x * size + j]
                                if v > m or (v != v and m == m):
                                    m = v
                                    at = i * size + j
                        Z[b, c, y, x] = m
                        argmax[b, c, y, x] = at
    return Z


@jit(parallel=True)
def maxpool_backward_nb(dZ, argmax, size, dX, parts):
    """``dX`` zero but at each window's ``argmax``, which gets that window's ``dZ``
    (``dX`` the input's shape, its dropped edge rows and columns zero too). NumPy
    reference: ``aenumpy.layers.MaxPool2D.backward``."""
    B, C, Ho, Wo = dZ.shape
    for t in prange(parts):
        for b in range(t * B // parts, (t + 1) * B // parts):
            dX[b] = 0
            for c in range(C):
                for y in range(Ho):
                    for x in range(Wo):
                        a = argmax[b, c, y, x]
                        dX[b, c, y * size + a // size, x * size + a % size] = dZ[b, c, y, x]
    return dX


@jit(parallel=True)
def upsample_forward_nb(X, scale, Z, parts):
    """``Z[b, c, y, x] = X[b, c, ⌊y/scale⌋, ⌊x/scale⌋]``. NumPy reference:
    ``aenumpy.layers.Upsample2D.forward``."""
    B, C, H, W = X.shape
    for t in prange(parts):
        for b in range(t * B // parts, (t + 1) * B // parts):
            for c in range(C):
                for y in range(H):
                    src = X[b, c, y]
                    for i in range(scale):
                        dst = Z[b, c, y * scale + i]
                        for x in range(W):
                            v = src[x]
                            for j in range(scale):
                                dst[x * scale + j] = v
    return Z


@jit(parallel=True)
def upsample_backward_nb(dZ, scale, dX, parts):
    """``dX[b, c, y, x] = Σ_(i,j) dZ[b, c, y·scale + i, x·scale + j]``, the block sums.
    NumPy reference: ``aenumpy.layers.Upsample2D.backward``."""
    B, C, H, W = dX.shape
    for t in prange(parts):
        for b in range(t * B // parts, (t + 1) * B // parts):
            for c in range(C):
                for y in range(H):
                    dst = dX[b, c, y]
                    dst[:] = 0
                    for i in range(scale):
                        src = dZ[b, c, y * scale + i]
                        for x in range(W):
                            acc = dst[x]
                            for j in range(scale):
                                acc += src[x * scale + j]
                            dst[x] = acc
    return dX


class FastMaxPool2D(MaxPool2D):
    """:class:`aenumpy.layers.MaxPool2D` by :func:`maxpool_forward_nb` and
    :func:`maxpool_backward_nb`: the same numbers and cache (``X``, ``argmax``, ``Z``; ``dZ``,
    ``dX``), ``argmax`` kept as ``uint8``. NumPy reference: ``aenumpy.layers.MaxPool2D.forward``
    and ``.backward``, which run when the JIT is off or a window has more than 256 entries."""

    def _covered(self, X):
        return jit_enabled() and self.size <= 16 and X.dtype.char in "fd"

    def forward(self, X):
        """The window maxima and their first argmax (NumPy reference:
        ``aenumpy.layers.MaxPool2D.forward``)."""
        out_shape = self.check_input(X)
        if not self._covered(X):
            return super().forward(X)
        Z = np.empty(out_shape, X.dtype)
        argmax = np.empty(out_shape, np.uint8)
        maxpool_forward_nb(np.ascontiguousarray(X), self.size, Z, argmax, kernel_threads())
        self.cache = {"X": X, "argmax": argmax, "Z": Z}
        return Z

    def backward(self, dZ, need_dX=True):
        """Each window's ``dZ`` to its argmax (NumPy reference: ``aenumpy.layers.MaxPool2D.backward``)."""
        check_upstream(self, dZ)
        X = self.cache["X"]
        if not need_dX or not self._covered(X):
            return super().backward(dZ, need_dX)
        dZ = np.ascontiguousarray(dZ)
        dX = np.empty(X.shape, dZ.dtype)
        maxpool_backward_nb(dZ, self.cache["argmax"], self.size, dX, kernel_threads())
        self.cache.update(dZ=dZ, dX=dX)
        return dX


class FastUpsample2D(Upsample2D):
    """:class:`aenumpy.layers.Upsample2D` by :func:`upsample_forward_nb` and
    :func:`upsample_backward_nb`: the same numbers and cache. NumPy reference:
    ``aenumpy.layers.Upsample2D.forward`` and ``.backward``, which run when the JIT is off."""

    def forward(self, X):
        """Each pixel repeated into a ``scale × scale`` block (NumPy reference:
        ``aenumpy.layers.Upsample2D.forward``)."""
        out_shape = self.check_input(X)
        if not jit_enabled():
            return super().forward(X)
        Z = np.empty(out_shape, X.dtype)
        upsample_forward_nb(np.ascontiguousarray(X), self.scale, Z, kernel_threads())
        self.cache = {"X": X, "Z": Z}
        return Z

    def backward(self, dZ, need_dX=True):
        """The block sums of ``dZ`` (NumPy reference: ``aenumpy.layers.Upsample2D.backward``)."""
        check_upstream(self, dZ)
        if not need_dX or not jit_enabled():
            return super().backward(dZ, need_dX)
        dZ = np.ascontiguousarray(dZ)
        dX = np.empty(self.cache["X"].shape, dZ.dtype)
        upsample_backward_nb(dZ, self.scale, dX, kernel_threads())
        self.cache.update(dZ=dZ, dX=dX)
        return dX
