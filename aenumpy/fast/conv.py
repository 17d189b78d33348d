"""Direct convolutions on batch-innermost rows: the speed backend's Conv2D and ConvTranspose2D.

The teaching layers (:class:`aenumpy.layers.Conv2D`, :class:`aenumpy.layers.ConvTranspose2D`)
build the im2col matrix and make one matrix product. Here the same sums are taken
directly, without the matrix of columns, on a layout where the batch is the innermost
axis: on the thin shapes of the lecture's autoencoders (3×3 kernels, 1–16 channels,
28×28 down to 7×7 images) the im2col matrix of a batch is tens of MB, and a matrix
product with 1–16 rows runs far below the BLAS's rate.

**The layout ("rows").** A batch of images ``(B, C, H, W)`` is held as the array ``R`` of
``C·H·W + 1`` rows of ``B`` entries: row ``(c·H + y)·W + x`` holds pixel ``(c, y, x)`` of every
sample, and the last row is zeros. The layer hands on the images as a view of ``R``
(:func:`images`: the right shape, the batch's stride one entry), which the next fast
convolution reads as it lies (:func:`rows_of`); any other array is copied into rows.

Every sum of a convolution is then a sum of whole rows, each scaled by one weight, and a
row's ``B`` entries are contiguous, so the loops over them vectorise with no remainder to
speak of and no image border inside them: a tap that falls on the padding reads the zero
row. Strides are only which rows are read:

* forward: ``A[o, pos] = b_o + Σ_t W[o, t] · R[table[pos, t]]``, the taps ``t = (c, i, j)``
  (:func:`forward_taps`);
* weight gradient: ``dW[o, t] = Σ_pos Σ_b dA[o, pos, b] · R[table[pos, t], b]``;
* input gradient (ConvTranspose2D's forward): ``dX[c, u] = Σ_t W[o_t, c, i_t, j_t] · dA[row_t]``
  over the taps ``(o, i, j)`` that reach input pixel u (:func:`transpose_taps`).

**Runs of pixels.** Along an image row, output pixel u + 1 reads, for every tap, the row
after the one pixel u reads, with the same weight, as long as no tap falls on the padding.
Those rows lie one after the other in memory, and so do the output rows of u and u + 1 in
each channel. So a run of such pixels (at most :data:`RUN`) is summed as one pixel whose rows
are ``RUN·B`` entries long: the same products in the same order, so the same numbers, with
longer loops that the hardware prefetcher follows and fewer passes to set up
(:func:`tap_runs`).

The taps are taken nine at a time in one pass over two output rows (:func:`_acc2`), each
tap's row loaded once per 18 multiply-adds with every weight in a register, and a group
of nine taps goes into all the output channels of a pixel before the next group, so its
rows are read from the L1 cache; the weight gradient keeps 18 sums (two output channels,
nine taps) in registers over a row (:func:`_dots9x2`). Each thread takes a range of
output pixels, all their channels (the weight gradient one partial sum per thread), so
that it reads and writes mostly its own part of the rows, the part the thread of the
kernel before it wrote.
"""
from __future__ import annotations

import functools
import math
import weakref

import numpy as np
from numba import prange
from numba.extending import register_jitable

from .._validate import check_upstream
from ..layers import Conv2D, ConvTranspose2D, conv_output_size
from ._jit import jit, kernel_threads
from ._math import one_like
from .activation import CODES, bias_act, code_of, delta_row
from .buffers import empty

#: taps summed in one pass over the rows (the kernels' inner loops are written for nine)
GROUP = 9
#: the most output pixels summed as one run (module docstring): nine input rows of a run of
#: eight at batch 128 are 36 KB, about a core's L1 data cache, which they are reused from
#: for every pair of output channels
RUN = 8


# ---------------------------------------------------------------- the layout
#: the rows arrays :func:`new_rows` made, by id (held weakly): only views of these count as
#: rows (:func:`is_rows_view`), so the zero row is known to be zero without reading it
_MADE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def new_rows(n, B, dtype):
    """An uninitialised rows array ``(n + 1, B)`` (:func:`.buffers.empty`) with its last row,
    the zero row, zeroed. (Only views of ``R[:-1]`` are handed out, so it stays zero.)"""
    R = empty((n + 1, B), dtype)
    R[n] = 0
    _MADE[id(R)] = R
    return R


def images(R, shape):
    """The images ``(B, C, H, W)`` (``shape``) held in the rows ``R``: a view."""
    B, C, H, W = shape
    return R[:-1].reshape(C, H, W, B).transpose(3, 0, 1, 2)


def is_rows_view(X):
    """True when ``X`` is :func:`images` of a rows array made by :func:`new_rows` (a view of
    it with that shape and those strides can only start where it starts)."""
    R = X.base
    if R is None or _MADE.get(id(R)) is not R or X.ndim != 4:
        return False
    B, C, H, W = X.shape
    e = X.itemsize
    return (R.shape == (C * H * W + 1, B) and R.dtype == X.dtype
            and X.strides == (e, H * W * B * e, W * B * e, B * e))


def rows_of(X):
    """The rows array of the images ``X``: the one X is a view of (:func:`is_rows_view`), or
    a new one with X copied in."""
    if is_rows_view(X):
        return X.base
    B = X.shape[0]
    R = new_rows(X[0].size, B, X.dtype)
    if X.flags.c_contiguous:
        transpose_nb(X.reshape(B, -1), R[:-1], kernel_threads())
    else:
        np.copyto(images(R, X.shape), X)
    return R


def images_out(R, shape, as_rows):
    """The images held in ``R``: the view (:func:`images`) when ``as_rows``, else a C-ordered copy."""
    if as_rows:
        return images(R, shape)
    out = empty(shape, R.dtype)
    transpose_nb(R[:-1], out.reshape(shape[0], -1), kernel_threads())
    return out


# ---------------------------------------------------------------- tap tables
def _pad_taps(n):
    """``n`` taps padded up to a whole number of :data:`GROUP`."""
    return -(-n // GROUP) * GROUP


def tap_runs(taps, table, groups, zero):
    """``(taps, table, groups, run)``: the tap table with, for each output pixel u, ``run[u]``,
    the number of pixels u, u + 1, … that can be summed as one (module docstring): each reads
    the rows after the previous one's (``table[u + 1] = table[u] + 1``) with the same weights
    and as many groups, and none reads the zero row ``zero`` (whose next row is past the end).
    The kernel cuts runs at :data:`RUN` and at its parts' ends."""
    U = len(table)
    inside = np.array([(table[u, :GROUP * groups[u]] != zero).all() for u in range(U)])
    joins = np.zeros(U, bool)
    joins[:-1] = ((taps[1:] == taps[:-1]).all(axis=1) & (table[1:] == table[:-1] + 1).all(axis=1)
                  & (groups[1:] == groups[:-1]) & inside[1:] & inside[:-1])
    run = np.ones(U, np.int64)
    for u in range(U - 2, -1, -1):
        if joins[u]:
            run[u] = run[u + 1] + 1
    return taps, table, groups, run


@functools.lru_cache(maxsize=256)
def forward_taps(C, H, W, k, s, p):
    """The taps of the convolution from ``(C, H, W)``, as ``(taps, table, groups, run)`` for
    :func:`tap_sums_nb` (``run``: :func:`tap_runs`): for output pixel ``u = (yo, xo)`` and tap
    ``t = (c, i, j)`` (the order of ``W[o].ravel()``), ``taps[u, t] = t`` (its weight's column)
    and ``table[u, t]`` the row of input pixel ``(c, yo·s + i − p, xo·s + j − p)``, or the zero
    row ``C·H·W`` on the padding; ``C·k²`` taps padded with zero-row taps to ``groups[u]``
    groups of :data:`GROUP`. They depend on the shapes alone, so they are built once (the
    kernels only read them)."""
    Ho, Wo = conv_output_size(H, k, s, p), conv_output_size(W, k, s, p)
    c, i, j = (a.ravel() for a in np.meshgrid(np.arange(C), np.arange(k), np.arange(k),
                                              indexing="ij"))
    yo, xo = (a.ravel() for a in np.meshgrid(np.arange(Ho), np.arange(Wo), indexing="ij"))
    y, x = yo[:, None] * s + i - p, xo[:, None] * s + j - p
    inside = (y >= 0) & (y < H) & (x >= 0) & (x < W)
    T = _pad_taps(C * k * k)
    table = np.full((Ho * Wo, T), C * H * W, np.int64)
    table[:, :C * k * k] = np.where(inside, (c * H + y) * W + x, C * H * W)
    taps = np.broadcast_to(np.arange(T), table.shape).copy()
    return tap_runs(taps, table, np.full(Ho * Wo, T // GROUP, np.int64), C * H * W)


@functools.lru_cache(maxsize=256)
def transpose_taps(O, Ho, Wo, k, s, p, H, W):
    """The taps of the input gradient of a convolution from ``(C, H, W)`` to ``(O, Ho, Wo)``,
    as ``(taps, table, groups, run)`` for :func:`tap_sums_nb` (``run``: :func:`tap_runs`): for
    input pixel ``u = (y, x)``, the taps ``(o, i, j)`` with ``y + p − i = s·yo``,
    ``x + p − j = s·xo`` inside the output: ``taps[u, t] = (o·k + i)·k + j`` (the column of
    :func:`transpose_weights`; ``O·k²``, a zero weight, for padding) and ``table[u, t]`` the row
    ``(o·Ho + yo)·Wo + xo`` of dA (the zero row ``O·Ho·Wo`` for padding), each pixel's taps
    padded to ``groups[u]`` groups of :data:`GROUP`."""
    def reach(n, n_out):  # (kernel offset, output index) pairs that reach input index n
        return [(i, (n + p - i) // s) for i in range(k)
                if (n + p - i) % s == 0 and 0 <= (n + p - i) // s < n_out]

    ry, rx = [reach(y, Ho) for y in range(H)], [reach(x, Wo) for x in range(W)]
    counts = np.array([O * len(a) * len(b) for a in ry for b in rx], np.int64)
    T = _pad_taps(int(counts.max()))
    taps = np.full((H * W, T), O * k * k, np.int64)
    table = np.full((H * W, T), O * Ho * Wo, np.int64)
    for y in range(H):
        for x in range(W):
            got = [((o * k + i) * k + j, (o * Ho + yo) * Wo + xo)
                   for o in range(O) for i, yo in ry[y] for j, xo in rx[x]]
            if got:
                taps[y * W + x, :len(got)], table[y * W + x, :len(got)] = zip(*got)
    return tap_runs(taps, table, -(-counts // GROUP), O * Ho * Wo)


def forward_weights(W, T):
    """``W`` ``(O, C, k, k)`` as the rows ``(O, T)`` of tap weights, zeros after ``C·k²``."""
    Wt = np.zeros((W.shape[0], T), W.dtype)
    Wt[:, :W[0].size] = W.reshape(W.shape[0], -1)
    return Wt


def transpose_weights(W):
    """``W`` ``(O, C, k, k)`` as ``(C, O·k² + 1)``: ``[c, (o·k + i)·k + j] = W[o, c, i, j]``, then
    a zero (the weight of :func:`transpose_taps`' padding taps)."""
    C = W.shape[1]
    Wf = np.zeros((C, W[:, 0].size + 1), W.dtype)
    Wf[:, :-1] = W.transpose(1, 0, 2, 3).reshape(C, -1)
    return Wf


# ---------------------------------------------------------------- the inner sums
@register_jitable(inline="always")
def _rows9(R, table, g):
    """The rows ``R[table[g + m]]`` of taps ``g … g + 8``."""
    return (R[table[g]], R[table[g + 1]], R[table[g + 2]], R[table[g + 3]], R[table[g + 4]],
            R[table[g + 5]], R[table[g + 6]], R[table[g + 7]], R[table[g + 8]])


@register_jitable(inline="always")
def _seg(F, r, B, n):
    """Rows ``r … r + n − 1`` of the flattened rows ``F`` (``B`` entries each), as one."""
    return F[r * B:(r + n) * B]


@register_jitable(inline="always")
def _segs9(F, table, g, B, n):
    """:func:`_rows9` for a run of ``n`` pixels: the rows ``table[g + m]`` to
    ``table[g + m] + n − 1`` of the flattened rows ``F``, one segment per tap."""
    return (_seg(F, table[g], B, n), _seg(F, table[g + 1], B, n), _seg(F, table[g + 2], B, n),
            _seg(F, table[g + 3], B, n), _seg(F, table[g + 4], B, n), _seg(F, table[g + 5], B, n),
            _seg(F, table[g + 6], B, n), _seg(F, table[g + 7], B, n), _seg(F, table[g + 8], B, n))


@register_jitable(inline="always")
def _w9(W, o, taps, g):
    """``W[o, taps[g + m]]`` for m = 0 … 8 as nine scalars."""
    return (W[o, taps[g]], W[o, taps[g + 1]], W[o, taps[g + 2]], W[o, taps[g + 3]],
            W[o, taps[g + 4]], W[o, taps[g + 5]], W[o, taps[g + 6]], W[o, taps[g + 7]],
            W[o, taps[g + 8]])


@register_jitable(inline="always")
def _fill(a, value):
    """``a[:] = value``, as a loop."""
    for q in range(a.shape[0]):
        a[q] = value


@register_jitable(inline="always")
def _acc2(a0, a1, v, W, o, taps, g, bias, first):
    """For the output rows ``a0``, ``a1`` (channels o, o + 1): ``a_r += Σ_m W[o + r, taps[g + m]] ·
    v[m]`` over the nine rows ``v``, or, when ``first``, ``a_r = bias[o + r] + Σ_m …``: each tap
    row loaded once for the two sums, whose 18 weights, nine rows and two sums fit the
    registers (four sums spill the weights to memory). Inlined into the kernel (whose arrays
    Numba's parallel outlining marks as not aliasing each other), so LLVM vectorises the loop."""
    v0, v1, v2, v3, v4, v5, v6, v7, v8 = v
    p0, p1, p2, p3, p4, p5, p6, p7, p8 = _w9(W, o, taps, g)
    q0, q1, q2, q3, q4, q5, q6, q7, q8 = _w9(W, o + 1, taps, g)
    if first:
        _fill(a0, bias[o])
        _fill(a1, bias[o + 1])
    for q in range(a0.shape[0]):
        x0, x1, x2, x3, x4 = v0[q], v1[q], v2[q], v3[q], v4[q]
        x5, x6, x7, x8 = v5[q], v6[q], v7[q], v8[q]
        a0[q] += (p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3 + p4 * x4
                  + p5 * x5 + p6 * x6 + p7 * x7 + p8 * x8)
        a1[q] += (q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3 + q4 * x4
                  + q5 * x5 + q6 * x6 + q7 * x7 + q8 * x8)


@register_jitable(inline="always")
def _acc1(a, v, W, o, taps, g, bias, first):
    """:func:`_acc2` for the one output row ``a`` (channel o)."""
    v0, v1, v2, v3, v4, v5, v6, v7, v8 = v
    p0, p1, p2, p3, p4, p5, p6, p7, p8 = _w9(W, o, taps, g)
    if first:
        _fill(a, bias[o])
    for q in range(a.shape[0]):
        a[q] += (p0 * v0[q] + p1 * v1[q] + p2 * v2[q] + p3 * v3[q] + p4 * v4[q]
                 + p5 * v5[q] + p6 * v6[q] + p7 * v7[q] + p8 * v8[q])


@register_jitable(inline="always")
def _dots9x2(dW, o, g, ga, gb, v, ha, hb, u):
    """``dW[o, g + m] += Σ_q (ga[q]·v[m][q] + ha[q]·u[m][q])`` and ``dW[o + 1, g + m] += Σ_q
    (gb[q]·v[m][q] + hb[q]·u[m][q])`` (m = 0 … 8): two output channels' sums over two output
    pixels (their dA rows g·, h· and tap rows v, u) in 18 accumulators, so that each
    accumulator's sum across the vector lanes, taken after the loop, serves two pixels."""
    v0, v1, v2, v3, v4, v5, v6, v7, v8 = v
    u0, u1, u2, u3, u4, u5, u6, u7, u8 = u
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = ga[0] - ga[0]
    r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = r8 = s0
    for q in range(ga.shape[0]):
        a, b, c, d = ga[q], gb[q], ha[q], hb[q]
        x0, x1, x2, x3, x4 = v0[q], v1[q], v2[q], v3[q], v4[q]
        x5, x6, x7, x8 = v5[q], v6[q], v7[q], v8[q]
        y0, y1, y2, y3, y4 = u0[q], u1[q], u2[q], u3[q], u4[q]
        y5, y6, y7, y8 = u5[q], u6[q], u7[q], u8[q]
        s0, s1, s2 = s0 + a * x0 + c * y0, s1 + a * x1 + c * y1, s2 + a * x2 + c * y2
        s3, s4, s5 = s3 + a * x3 + c * y3, s4 + a * x4 + c * y4, s5 + a * x5 + c * y5
        s6, s7, s8 = s6 + a * x6 + c * y6, s7 + a * x7 + c * y7, s8 + a * x8 + c * y8
        r0, r1, r2 = r0 + b * x0 + d * y0, r1 + b * x1 + d * y1, r2 + b * x2 + d * y2
        r3, r4, r5 = r3 + b * x3 + d * y3, r4 + b * x4 + d * y4, r5 + b * x5 + d * y5
        r6, r7, r8 = r6 + b * x6 + d * y6, r7 + b * x7 + d * y7, r8 + b * x8 + d * y8
    s, r = (s0, s1, s2, s3, s4, s5, s6, s7, s8), (r0, r1, r2, r3, r4, r5, r6, r7, r8)
    for m in range(9):
        dW[o, g + m] += s[m]
        dW[o + 1, g + m] += r[m]


@register_jitable(inline="always")
def _relu(A, Z):
    """``Z = max(A, 0)`` along a row (NaN stays NaN)."""
    for q in range(A.shape[0]):
        a = A[q]
        Z[q] = a if a > 0 else a - a


# ---------------------------------------------------------------- the kernels
@jit(parallel=True)
def tap_sums_nb(X, taps, table, groups, run, Wt, bias, relu, A, Z, parts, add):
    """``A[o, u] = bias[o] + Σ_t Wt[o, taps[u, t]] · X[table[u, t]]`` over the first
    ``9·groups[u]`` taps of output pixel u (with ``add``, ``A[o, u] += Σ_t …`` instead: a
    second sum into the same outputs), and, when ``relu``, ``Z = max(A, 0)`` (A, Z
    ``(O, U, B)``, X rows). For each output pixel, or run of ``run[u]`` pixels summed as one
    (:func:`tap_runs`, at most :data:`RUN`), each group of nine taps is added into every
    output channel, two channels a pass (:func:`_acc2`), before the next group: the group's
    nine rows and the pixels' O output rows stay in the L1 cache while they are used. With
    the taps of :func:`forward_taps` it is the convolution (NumPy reference:
    ``aenumpy.layers.Conv2D.forward``; without bias and activation
    :func:`aenumpy.layers.weights_times_cols`); with those of :func:`transpose_taps`, the
    input gradient (:func:`aenumpy.layers.conv2d_input_grad`), and with a bias and an
    activation ConvTranspose2D's forward (``aenumpy.layers.ConvTranspose2D.forward``)."""
    O, U, B = A.shape[0], A.shape[1], A.shape[2]
    Xf, Af, Zf = X.reshape(X.size), A.reshape(O, U * B), Z.reshape(O, U * B)
    for part in prange(parts):
        u, hi = part * U // parts, (part + 1) * U // parts
        while u < hi:
            n = min(run[u], RUN, hi - u)     # pixels u … u + n − 1, summed as one
            rows, tu, ng = table[u], taps[u], groups[u]
            if ng == 0 and not add:          # no tap reaches this pixel: the bias alone
                for o in range(O):
                    _fill(_seg(Af[o], u, B, n), bias[o])
            for g in range(0, 9 * ng, 9):
                v = _segs9(Xf, rows, g, B, n)
                first = g == 0 and not add
                o = 0
                # a while loop: the same loop as ``for k in range(O // 2)`` with rows
                # A[2k, u], A[2k + 1, u] compiled 4× slower (measured), not vectorised as well
                while o + 2 <= O:
                    _acc2(_seg(Af[o], u, B, n), _seg(Af[o + 1], u, B, n), v, Wt, o, tu, g, bias,
                          first)
                    o += 2
                if o < O:
                    _acc1(_seg(Af[o], u, B, n), v, Wt, o, tu, g, bias, first)
            if relu:
                for o in range(O):
                    _relu(_seg(Af[o], u, B, n), _seg(Zf[o], u, B, n))
            u += n
    return A


@jit(parallel=True)
def weight_grad_rows_nb(X, G, P, table, pixels, dW, parts):
    """The weight gradient on rows: ``dW[part, o, t] = Σ_k Σ_b G[o·P + pixels[k], b] ·
    X[table[k, t], b]`` over the part's k (G the rows of dA, ``O·P`` rows and the zero row;
    X the input's rows; ``table[k]`` the taps of output pixel ``pixels[k]``, those of
    :func:`forward_taps` for every pixel in order; ``dW`` zeros ``(parts, O, T)``, one
    partial sum per part of the output pixels, so each thread reads only its pixels' rows),
    two output channels, two output pixels and nine taps a pass (an odd channel or pixel
    paired with the zero row). NumPy reference: :func:`aenumpy.layers.conv2d_weight_grad`."""
    O = (G.shape[0] - 1) // P
    nine = table.shape[1] // 9
    zero = G.shape[0] - 1
    K = pixels.shape[0]
    for part in prange(parts):
        d = dW[part]
        lo, hi = part * K // parts, (part + 1) * K // parts
        for k in range(lo, hi, 2):
            k2 = min(k + 1, hi - 1)
            pos, pos2 = pixels[k], pixels[k2]
            for g in range(0, 9 * nine, 9):
                v, u = _rows9(X, table[k], g), _rows9(X, table[k2], g)
                for o in range(0, O, 2):
                    o2 = o + 1 if o + 1 < O else -1  # an odd last channel: dW's extra row
                    ga, gb = G[o * P + pos], G[o2 * P + pos if o2 >= 0 else zero]
                    ha = G[o * P + pos2 if k2 > k else zero]
                    hb = G[o2 * P + pos2 if o2 >= 0 and k2 > k else zero]
                    _dots9x2(d, o, g, ga, gb, v, ha, hb, u)
    return dW


@jit(parallel=True)
def delta_rows_nb(dZ, Z, code, B, dA, db, parts):
    """``dA = dZ ⊙ f'(A)`` (:func:`.activation.delta_row`) on the rows ``(C, P·B)`` of C
    channels (P pixels of B samples), and ``db[part, c]`` the part's sums of ``dA[c]`` (``db``
    ``(parts, C)``). Each thread takes a range of pixels of every channel, as the kernels
    that wrote dZ and Z did. NumPy reference: :meth:`aenumpy.layers.AffineLayer.delta` and
    ``dA.sum(axis=(0, 2, 3))``."""
    C, P = dZ.shape[0], dZ.shape[1] // B
    one = one_like(Z)
    for part in prange(parts):
        lo, hi = part * P // parts * B, (part + 1) * P // parts * B
        for c in range(C):
            db[part, c] = delta_row(dZ[c, lo:hi], Z[c, lo:hi], dA[c, lo:hi], code, one)
    return dA


@jit(parallel=True)
def transpose_nb(S, D, parts):
    """``D = Sᵀ`` (S ``(n, m)``, D ``(m, n)``). For a wide S (a batch of images, one a row,
    into rows) each of D's rows gathers a column of S; for a tall S, eight rows of S are
    read along together and written eight entries at a time. NumPy reference:
    ``np.copyto(D, S.T)``."""
    n, m = S.shape
    if n <= m:
        for part in prange(parts):
            for j in range(part * m // parts, (part + 1) * m // parts):
                d = D[j]
                for i in range(n):
                    d[i] = S[i, j]
        return D
    bands = n // 8
    for part in prange(parts):
        for band in range(part * bands // parts, (part + 1) * bands // parts):
            i = 8 * band
            s0, s1, s2, s3, s4, s5, s6, s7 = S[i], S[i + 1], S[i + 2], S[i + 3], S[i + 4], \
                S[i + 5], S[i + 6], S[i + 7]
            for j in range(m):
                d = D[j, i:i + 8]
                d[0], d[1], d[2], d[3] = s0[j], s1[j], s2[j], s3[j]
                d[4], d[5], d[6], d[7] = s4[j], s5[j], s6[j], s7[j]
    for i in range(8 * bands, n):
        for j in range(m):
            D[j, i] = S[i, j]
    return D


# ---------------------------------------------------------------- the calls
def _covered(layer, X):
    """The kernels run this call: the activation is a built-in one, and X and the weights
    are both float32 or both float64."""
    W = layer.params["W"]
    return code_of(layer.activation) is not None and X.dtype == W.dtype and W.dtype.char in "fd"


def squash(A, code, as_rows):
    """``Z = f(A)`` for a sigmoid or tanh (``code``), by :func:`.activation.bias_act` with a
    zero bias: on rows (Z's zero row stays zero) when ``as_rows``, else on C-ordered images."""
    if as_rows:
        Z = new_rows(A.shape[0] - 1, A.shape[1], A.dtype)
        flat, out = A[:-1], Z[:-1]
    else:
        Z = empty(A.shape, A.dtype)
        flat, out = A.reshape(A.shape[0], -1), Z.reshape(A.shape[0], -1)
    bias_act(flat, np.zeros(flat.shape[1], A.dtype), code, out)
    return Z


def tap_sums(X, taps, Wt, bias, code, out_shape):
    """``(A, Z)`` rows of ``A = bias + Σ_t Wt[·, taps] · X[table]`` and, for a ReLU (``code``),
    ``Z = max(A, 0)`` (else Z is A: a sigmoid or tanh is left to :func:`squash`), by
    :func:`tap_sums_nb` (``taps`` the triple of :func:`forward_taps` or
    :func:`transpose_taps`)."""
    B, O = out_shape[:2]
    n = math.prod(out_shape[1:])
    A = new_rows(n, B, X.dtype)
    Z = new_rows(n, B, X.dtype) if code == CODES["relu"] else A
    tap_sums_nb(X, *taps, Wt, bias, code == CODES["relu"], A[:-1].reshape(O, -1, B),
                Z[:-1].reshape(O, -1, B), kernel_threads(), False)
    return A, Z


def conv_rows(X, W, bias, s, p, code, x_shape, out_shape):
    """``(A, Z)`` rows of the convolution ``A = W ⋆ X + bias``, ``Z = f(A)`` (X rows of
    ``x_shape``), by :func:`tap_sums_nb`."""
    taps = forward_taps(*x_shape[1:], W.shape[2], s, p)
    return tap_sums(X, taps, forward_weights(W, taps[0].shape[1]), bias, code, out_shape)


def conv_rows_t(G, W, bias, s, p, code, g_shape, out_shape):
    """``(A, Z)`` rows with ``A`` = the input gradient of ``A' = W ⋆ X`` (X of ``out_shape``)
    given ``dA' = G`` (rows of ``g_shape``), plus ``bias``, and ``Z = f(A)``, by
    :func:`tap_sums_nb`."""
    taps = transpose_taps(*g_shape[1:], W.shape[2], s, p, *out_shape[2:])
    return tap_sums(G, taps, transpose_weights(W), bias, code, out_shape)


def weight_grad_rows(X, G, x_shape, w_shape, s, p):
    """``Σ_b G_b cols(X)_bᵀ`` as a ``w_shape`` array (X, G rows; X of ``x_shape``), by
    :func:`weight_grad_rows_nb`."""
    C = x_shape[1]
    O, k = w_shape[0], w_shape[2]
    table = forward_taps(*x_shape[1:], k, s, p)[1]
    dW = np.zeros((kernel_threads(), O + O % 2, table.shape[1]), X.dtype)
    weight_grad_rows_nb(X, G, len(table), table, np.arange(len(table)), dW, len(dW))
    total = dW[0] if len(dW) == 1 else dW.sum(axis=0)
    return np.ascontiguousarray(total[:O, :C * k * k]).reshape(w_shape)


def delta_rows(dZ, Z, C, code):
    """``(dA, db)`` rows: ``dA = dZ ⊙ f'(A)`` and ``db = Σ_(b,y,x) dA`` over C channels, by
    :func:`delta_rows_nb`."""
    B = Z.shape[1]
    dA = new_rows(Z.shape[0] - 1, B, Z.dtype)
    db = np.empty((kernel_threads(), C), Z.dtype)
    delta_rows_nb(dZ[:-1].reshape(C, -1), Z[:-1].reshape(C, -1), code, B,
                  dA[:-1].reshape(C, -1), db, len(db))
    return dA, db.sum(axis=0)


class DirectConv:
    """The forward and backward that FastConv2D and FastConvTranspose2D share, on rows
    (module docstring); each names its kernels: :meth:`outputs` (A and Z rows) and
    :meth:`weight_and_input_grads`.

    The images it hands on (Z, and the cached A) are C-ordered ``(B, C, H, W)`` arrays,
    or, with :attr:`rows_out`, views of its rows (:func:`images`) for a next fast
    convolution to read as they lie; dX comes in the form X came in."""

    #: hand on the forward's images as views of the rows (set by the fast conv model for a
    #: layer whose next layer is a fast convolution)
    rows_out = False
    #: the rows behind the last forward's X, A and Z, and the last delta (dA, its rows, db)
    _rows = _delta = None

    def outputs(self, X, x_shape, out_shape):
        raise NotImplementedError

    def weight_and_input_grads(self, X, dA, x_shape, need_dX):
        raise NotImplementedError

    def forward(self, X):
        """``A`` and ``Z = f(A)`` by the layer's kernel (NumPy reference: the teaching
        layer's ``forward``, which runs the cases the kernels do not cover)."""
        out_shape = self.check_input(X)
        if not _covered(self, X):
            self._rows = None
            return super().forward(X)
        Xr = rows_of(X)
        Ar, Zr = self.outputs(Xr, X.shape, out_shape)
        A = images_out(Ar, out_shape, self.rows_out)
        code = code_of(self.activation)
        if code in (CODES["sigmoid"], CODES["tanh"]):
            Zr = squash(Ar if self.rows_out else A, code, self.rows_out)
            Z = images(Zr, out_shape) if self.rows_out else Zr
            Zr = Zr if self.rows_out else None
        else:
            Z = A if Zr is Ar else images_out(Zr, out_shape, self.rows_out)
        self.cache = {"X": X, "A": A, "Z": Z}
        self._rows = {"X": Xr, "X_images": X, "Z": Zr, "Z_images": Z}
        self._delta = None
        return Z

    def _z_rows(self):
        """The rows of the cached Z (those of the forward while the cache holds its Z)."""
        r = self._rows
        Z = self.cache["Z"]
        return r["Z"] if r is not None and r["Z"] is not None and r["Z_images"] is Z else rows_of(Z)

    def delta(self, dZ):
        """``δ = dZ ⊙ f'(A)`` by :func:`delta_rows_nb` (NumPy reference: :meth:`AffineLayer.delta`)."""
        c = self.cache
        if "X" in c and not _covered(self, c["X"]):
            return super().delta(dZ)
        check_upstream(self, dZ)
        c["dZ"] = dZ
        dZ = np.asarray(dZ, c["Z"].dtype)
        dAr, db = delta_rows(rows_of(dZ), self._z_rows(), c["Z"].shape[1],
                             code_of(self.activation))
        dA = images(dAr, c["Z"].shape)
        self._delta = (dA, dAr, db)
        return dA

    def backward_from_delta(self, dA):
        """From ``δ = dA`` (made by :meth:`delta`, whose rows and ``db = Σ dA`` it reuses, or
        given), ``dW`` and ``dX`` by the layer's kernels (NumPy reference: the teaching
        layer's ``backward_from_delta``)."""
        c = self.cache
        if "X" in c and not _covered(self, c["X"]):
            return super().backward_from_delta(dA)
        check_upstream(self, dA)
        if self._delta is not None and self._delta[0] is dA:
            dAr, db = self._delta[1:]
        else:
            dAr = rows_of(np.asarray(dA, c["Z"].dtype))
            db = dAr[:-1].reshape(dA.shape[1], -1).sum(axis=1)
        self._delta = None
        X = c["X"]
        r = self._rows
        Xr = r["X"] if r is not None and r["X_images"] is X else rows_of(X)
        dW, dXr = self.weight_and_input_grads(Xr, dAr, X.shape, self.needs_dX)
        dX = None if dXr is None else images_out(dXr, X.shape, is_rows_view(X))
        self.grads = {"W": dW, "b": db}
        c.update(dA=dA, dX=dX)
        return dX


class FastConv2D(DirectConv, Conv2D):
    """:class:`aenumpy.layers.Conv2D` by the direct kernels of this module: the same
    params, grads and numbers (up to rounding); the cache holds X, A, Z (and after
    backward dZ, dA, dX) but no ``cols``, which these kernels never build.

    NumPy reference: ``aenumpy.layers.Conv2D.forward`` and ``.backward``, which run the
    cases the kernels do not cover (a student's own activation, mixed dtypes)."""

    def outputs(self, X, x_shape, out_shape):
        """``A = W ⋆ X + b``, ``Z = f(A)`` by :func:`tap_sums_nb` (NumPy reference:
        ``aenumpy.layers.Conv2D.forward``)."""
        return conv_rows(X, self.params["W"], self.params["b"], self.stride, self.padding,
                         code_of(self.activation), x_shape, out_shape)

    def weight_and_input_grads(self, X, dA, x_shape, need_dX):
        """``dW = Σ_b dA_b cols_bᵀ`` (:func:`weight_grad_rows_nb`) and ``dX``
        (:func:`tap_sums_nb`); NumPy reference: ``aenumpy.layers.Conv2D.backward``."""
        W, s, p = self.params["W"], self.stride, self.padding
        d_shape = (x_shape[0], *self.output_shape(x_shape[1:]))
        dX = (conv_rows_t(dA, W, np.zeros(x_shape[1], W.dtype), s, p, 0, d_shape, x_shape)[0]
              if need_dX else None)
        return weight_grad_rows(X, dA, x_shape, W.shape, s, p), dX


class FastConvTranspose2D(DirectConv, ConvTranspose2D):
    """:class:`aenumpy.layers.ConvTranspose2D` by the direct kernels of this module: the
    forward is the input-gradient kernel with the bias and activation, the backward the
    forward kernel (dX) and the weight-gradient kernel with the roles of X and dA swapped,
    as in the teaching layer. The cache holds X, A, Z (and after backward dZ, dA, dX) but
    no ``dcols``.

    NumPy reference: ``aenumpy.layers.ConvTranspose2D.forward`` and ``.backward``, which
    run the cases the kernels do not cover."""

    def outputs(self, X, x_shape, out_shape):
        """``A = conv2d_input_grad(X, W) + b``, ``Z = f(A)`` by :func:`tap_sums_nb`
        (NumPy reference: ``aenumpy.layers.ConvTranspose2D.forward``)."""
        return conv_rows_t(X, self.params["W"], self.params["b"], self.stride, self.padding,
                           code_of(self.activation), x_shape, out_shape)

    def weight_and_input_grads(self, X, dA, x_shape, need_dX):
        """``dW = Σ_b X_b cols(dA)_bᵀ`` (:func:`weight_grad_rows_nb`) and ``dX = W ⋆ dA``
        (:func:`tap_sums_nb`); NumPy reference: ``aenumpy.layers.ConvTranspose2D.backward``."""
        W, s, p = self.params["W"], self.stride, self.padding
        a_shape = (x_shape[0], *self.output_shape(x_shape[1:]))
        dX = (conv_rows(dA, W, np.zeros(W.shape[0], W.dtype), s, p, 0, a_shape, x_shape)[0]
              if need_dX else None)
        return weight_grad_rows(dA, X, a_shape, W.shape, s, p), dX
