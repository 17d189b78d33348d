"""Max pooling and nearest-neighbour upsampling: the speed backend's MaxPool2D and Upsample2D.

Each kernel makes one pass over the batch, with no intermediate arrays: the teaching
layers reshape the image into windows, take ``argmax`` and scatter with
``put_along_axis`` (MaxPool2D), or repeat and reshape-sum (Upsample2D), each a pass of its
own over memory. Images that come as the rows of a fast convolution (:mod:`.conv`: one
pixel of every sample a row) are worked on those rows, a window's rows at a time, and
handed on as rows; other images by their B·C planes, one chunk of planes per thread.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange
from numba.extending import register_jitable

from .._validate import check_upstream
from ..layers import MaxPool2D, Upsample2D
from ._jit import jit, kernel_threads
from .conv import images, is_rows_view, new_rows


@register_jitable(inline="always")
def _takes(v, m):
    """Whether ``v`` replaces the running maximum ``m`` of a window: ``v > m``, or ``v`` is NaN
    while ``m`` is not (so a NaN wins, and the first NaN stays, as NumPy's ``argmax``).
    Written so that the loop over a row vectorises: ``not v <= m`` is ``v > m`` or unordered."""
    return (m == m) & (not v <= m)


@jit(parallel=True)
def maxpool_forward_nb(X, size, Z, argmax, parts):
    """For the planes ``X`` ``(N, H, W)`` (a batch's B·C images): ``Z[n, y, x] = max_(i,j)
    X[n, y·size + i, x·size + j]`` and ``argmax`` the position ``i·size + j`` of the first
    maximum in row-major order (a NaN counts as the maximum, as in NumPy's ``argmax``).
    2×2 windows are written out, so the loop along a row vectorises. NumPy reference:
    ``aenumpy.layers.MaxPool2D.forward``."""
    N, Ho, Wo = Z.shape
    for t in prange(parts):
        for n in range(t * N // parts, (t + 1) * N // parts):
            for y in range(Ho):
                z, at = Z[n, y], argmax[n, y]
                if size == 2:
                    r0, r1 = X[n, 2 * y], X[n, 2 * y + 1]
                    for x in range(Wo):
                        m, k = r0[2 * x], 0
                        v = r0[2 * x + 1]
                        m, k = (v, 1) if _takes(v, m) else (m, k)
                        v = r1[2 * x]
                        m, k = (v, 2) if _takes(v, m) else (m, k)
                        v = r1[2 * x + 1]
                        m, k = (v, 3) if _takes(v, m) else (m, k)
                        z[x], at[x] = m, k
                    continue
                for x in range(Wo):
                    m, k = X[n, y * size, x * size], 0
                    for i in range(size):
                        row = X[n, y * size + i]
                        for j in range(size):
                            v = row[x * size + j]
                            m, k = (v, i * size + j) if _takes(v, m) else (m, k)
                    z[x], at[x] = m, k
    return Z


@jit(parallel=True)
def maxpool_backward_nb(dZ, argmax, size, dX, parts):
    """For the planes ``dZ`` ``(N, Ho, Wo)``: ``dX`` zero but at each window's ``argmax``, which
    gets that window's ``dZ`` (the dropped edge rows and columns zero too). NumPy
    reference: ``aenumpy.layers.MaxPool2D.backward``."""
    N, Ho, Wo = dZ.shape
    for t in prange(parts):
        for n in range(t * N // parts, (t + 1) * N // parts):
            dX[n] = 0
            for y in range(Ho):
                for x in range(Wo):
                    a = argmax[n, y, x]
                    dX[n, y * size + a // size, x * size + a % size] = dZ[n, y, x]
    return dX


@jit(parallel=True)
def upsample_forward_nb(X, scale, Z, parts):
    """For the planes ``X`` ``(N, H, W)``: ``Z[n, y, x] = X[n, ⌊y/scale⌋, ⌊x/scale⌋]``. NumPy
    reference: ``aenumpy.layers.Upsample2D.forward``."""
    N, H, W = X.shape
    for t in prange(parts):
        for n in range(t * N // parts, (t + 1) * N // parts):
            for y in range(H):
                src = X[n, y]
                for i in range(scale):
                    dst = Z[n, y * scale + i]
                    for x in range(W):
                        for j in range(scale):
                            dst[x * scale + j] = src[x]
    return Z


@jit(parallel=True)
def upsample_backward_nb(dZ, scale, dX, parts):
    """For the planes ``dZ`` ``(N, H·scale, W·scale)``: ``dX[n, y, x] = Σ_(i,j)
    dZ[n, y·scale + i, x·scale + j]``, the block sums. NumPy reference:
    ``aenumpy.layers.Upsample2D.backward``."""
    N, H, W = dX.shape
    for t in prange(parts):
        for n in range(t * N // parts, (t + 1) * N // parts):
            for y in range(H):
                dst = dX[n, y]
                dst[:] = 0
                for i in range(scale):
                    src = dZ[n, y * scale + i]
                    for x in range(W):
                        acc = dst[x]
                        for j in range(scale):
                            acc += src[x * scale + j]
                        dst[x] = acc
    return dX


@jit(parallel=True)
def maxpool_rows_nb(X, C, H, W, size, Z, argmax, parts):
    """:func:`maxpool_forward_nb` on rows: X the rows of ``(B, C, H, W)`` images, Z and argmax
    those of ``(B, C, Ho, Wo)``; each window's ``size²`` rows are compared entry by entry, one
    output row per window (a thread a range of them). NumPy reference:
    ``aenumpy.layers.MaxPool2D.forward``."""
    Ho, Wo = H // size, W // size
    n = C * Ho * Wo
    for part in prange(parts):
        for r in range(part * n // parts, (part + 1) * n // parts):
            c, yo, xo = r // (Ho * Wo), r // Wo % Ho, r % Wo
            z, at = Z[r], argmax[r]
            top = (c * H + yo * size) * W + xo * size
            first = X[top]
            for q in range(z.shape[0]):
                z[q] = first[q]
                at[q] = 0
            for k in range(1, size * size):
                v = X[top + k // size * W + k % size]
                for q in range(z.shape[0]):
                    take = _takes(v[q], z[q])
                    z[q] = v[q] if take else z[q]
                    at[q] = k if take else at[q]
    return Z


@jit(parallel=True)
def maxpool_back_rows_nb(dZ, argmax, C, H, W, size, dX, parts):
    """:func:`maxpool_backward_nb` on rows: each window's ``dZ`` row to the rows of its
    inputs, entry by entry where the argmax points, zero elsewhere (and on the dropped edge).
    NumPy reference: ``aenumpy.layers.MaxPool2D.backward``."""
    Ho, Wo = H // size, W // size
    n = C * H
    for part in prange(parts):
        for cy in range(part * n // parts, (part + 1) * n // parts):  # one image row of a channel
            c, y = cy // H, cy % H
            i = y - y // size * size
            for x in range(W):
                d = dX[cy * W + x]
                if y >= Ho * size or x >= Wo * size:
                    for q in range(d.shape[0]):
                        d[q] = 0
                    continue
                r = (c * Ho + y // size) * Wo + x // size
                k = i * size + x % size
                g, at = dZ[r], argmax[r]
                for q in range(d.shape[0]):
                    d[q] = g[q] if at[q] == k else g[q] - g[q]
    return dX


@jit(parallel=True)
def upsample_rows_nb(X, C, H, W, scale, Z, parts):
    """:func:`upsample_forward_nb` on rows: each output row a copy of its pixel's row.
    NumPy reference: ``aenumpy.layers.Upsample2D.forward``."""
    Hs, Ws = H * scale, W * scale
    n = C * Hs * Ws
    for part in prange(parts):
        for r in range(part * n // parts, (part + 1) * n // parts):
            c, y, x = r // (Hs * Ws), r // Ws % Hs, r % Ws
            src, dst = X[(c * H + y // scale) * W + x // scale], Z[r]
            for q in range(dst.shape[0]):
                dst[q] = src[q]
    return Z


@jit(parallel=True)
def upsample_back_rows_nb(dZ, C, H, W, scale, dX, parts):
    """:func:`upsample_backward_nb` on rows: each input row the sum of its block's rows.
    NumPy reference: ``aenumpy.layers.Upsample2D.backward``."""
    Ws = W * scale
    n = C * H * W
    for part in prange(parts):
        for r in range(part * n // parts, (part + 1) * n // parts):
            c, y, x = r // (H * W), r // W % H, r % W
            d = dX[r]
            top = (c * H * scale + y * scale) * Ws + x * scale
            src = dZ[top]
            for q in range(d.shape[0]):
                d[q] = src[q]
            for k in range(1, scale * scale):
                src = dZ[top + k // scale * Ws + k % scale]
                for q in range(d.shape[0]):
                    d[q] += src[q]
    return dX


def _covered(X):
    """The kernels run this call: X is float32 or float64."""
    return X.dtype.char in "fd"


def planes(A):
    """A batch of images ``(B, C, H, W)`` as its B·C planes ``(B·C, H, W)``, C-ordered."""
    return np.ascontiguousarray(A).reshape(-1, *A.shape[2:])


class FastMaxPool2D(MaxPool2D):
    """:class:`aenumpy.layers.MaxPool2D` by :func:`maxpool_forward_nb` and
    :func:`maxpool_backward_nb`: the same numbers and cache (``X``, ``argmax``, ``Z``; ``dZ``,
    ``dX``), ``argmax`` kept as ``uint8``. NumPy reference: ``aenumpy.layers.MaxPool2D.forward``
    and ``.backward``, which run for float16 images or for windows of more than 256 entries
    (size > 16)."""

    def _covered(self, X):
        return _covered(X) and self.size <= 16

    def forward(self, X):
        """The window maxima and their first argmax (NumPy reference:
        ``aenumpy.layers.MaxPool2D.forward``)."""
        out_shape = self.check_input(X)
        if not self._covered(X):
            return super().forward(X)
        if is_rows_view(X):  # rows in, rows out (argmax as rows too)
            B, C, H, W = X.shape
            Zr = new_rows(math.prod(out_shape[1:]), B, X.dtype)
            at = np.empty(Zr.shape, np.uint8)
            maxpool_rows_nb(X.base, C, H, W, self.size, Zr, at, kernel_threads())
            Z, argmax = images(Zr, out_shape), images(at, out_shape)
        else:
            Z = np.empty(out_shape, X.dtype)
            argmax = np.empty(out_shape, np.uint8)
            maxpool_forward_nb(planes(X), self.size, planes(Z), planes(argmax), kernel_threads())
        self.cache = {"X": X, "argmax": argmax, "Z": Z}
        return Z

    def backward(self, dZ):
        """Each window's ``dZ`` to its argmax (NumPy reference: ``aenumpy.layers.MaxPool2D.backward``)."""
        check_upstream(self, dZ)
        X, argmax = self.cache["X"], self.cache["argmax"]
        if not self.needs_dX or not self._covered(X):
            return super().backward(dZ)
        if is_rows_view(X) and is_rows_view(dZ) and dZ.dtype == X.dtype and argmax.base is not None:
            B, C, H, W = X.shape
            dXr = new_rows(X[0].size, B, X.dtype)
            maxpool_back_rows_nb(dZ.base, argmax.base, C, H, W, self.size, dXr, kernel_threads())
            dX = images(dXr, X.shape)
        else:
            dX = np.empty(X.shape, dZ.dtype)
            maxpool_backward_nb(planes(dZ), planes(argmax), self.size, planes(dX),
                                kernel_threads())
        self.cache.update(dZ=dZ, dX=dX)
        return dX


class FastUpsample2D(Upsample2D):
    """:class:`aenumpy.layers.Upsample2D` by :func:`upsample_forward_nb` and
    :func:`upsample_backward_nb`: the same numbers and cache. NumPy reference:
    ``aenumpy.layers.Upsample2D.forward`` and ``.backward``, which run for float16 images."""

    def forward(self, X):
        """Each pixel repeated into a ``scale × scale`` block (NumPy reference:
        ``aenumpy.layers.Upsample2D.forward``)."""
        out_shape = self.check_input(X)
        if not _covered(X):
            return super().forward(X)
        if is_rows_view(X):  # rows in, rows out
            B, C, H, W = X.shape
            Zr = new_rows(math.prod(out_shape[1:]), B, X.dtype)
            upsample_rows_nb(X.base, C, H, W, self.scale, Zr, kernel_threads())
            Z = images(Zr, out_shape)
        else:
            Z = np.empty(out_shape, X.dtype)
            upsample_forward_nb(planes(X), self.scale, planes(Z), kernel_threads())
        self.cache = {"X": X, "Z": Z}
        return Z

    def backward(self, dZ):
        """The block sums of ``dZ`` (NumPy reference: ``aenumpy.layers.Upsample2D.backward``)."""
        check_upstream(self, dZ)
        if not self.needs_dX or not _covered(dZ):
            return super().backward(dZ)
        X = self.cache["X"]
        if is_rows_view(X) and is_rows_view(dZ):
            B, C, H, W = X.shape
            dXr = new_rows(X[0].size, B, dZ.dtype)
            upsample_back_rows_nb(dZ.base, C, H, W, self.scale, dXr, kernel_threads())
            dX = images(dXr, X.shape)
        else:
            dX = np.empty(X.shape, dZ.dtype)
            upsample_backward_nb(planes(dZ), self.scale, planes(dX), kernel_threads())
        self.cache.update(dZ=dZ, dX=dX)
        return dX
