"""Direct convolutions: the speed backend's Conv2D and ConvTranspose2D.

The teaching layers (:class:`aenumpy.layers.Conv2D`, :class:`aenumpy.layers.ConvTranspose2D`)
build the im2col matrix and make one matrix product. Here the same sums are taken
directly, without the matrix of columns: on the thin shapes of the lecture's
autoencoders (3×3 kernels, 1–16 channels, 28×28 and 14×14 images) the im2col matrix
of a batch is tens of MB, and a matrix product with 1–16 rows runs far below the
BLAS's rate, so summing shifted rows of the image in the cache is faster.

**The layout.** One sample's zero-padded image ``Xpad`` (C, Hp, Wp) is split into its
``s × s`` phases (s the stride), phase ``(r, t)`` holding the pixels ``Xpad[c, y·s + r,
x·s + t]`` as a row-major ``Hph × Wph`` grid (``Hph = ⌈Hp/s⌉``) flattened to one row. The
output is kept flattened with the same row pitch ``Wph`` (its columns ``Wo … Wph − 1``
are not used). Then kernel tap ``(c, i, j)`` reads, for every output pixel at once, one
contiguous slice of one row::

    Xpad[c, y·s + i, x·s + j] = xph[c, phase(i, j)][off(i, j) + y·Wph + x]
    phase(i, j) = (i mod s)·s + (j mod s),   off(i, j) = ⌊i/s⌋·Wph + ⌊j/s⌋

so the three sums of a convolution become sums of shifted contiguous rows (a stride
of 1 is the case of one phase):

* forward: ``A_o = b_o + Σ_(c,i,j) W[o, c, i, j] · xph[c, phase][off + ·]``;
* weight gradient: ``dW[o, c, i, j] = Σ_b Σ_q dA_o[q] · xph[c, phase][off + q]``, a dot
  product (the unused columns of ``dA_o`` are zero);
* input gradient, phase by phase: ``dxph[c, ph][u] = Σ_(o,i,j: phase(i,j) = ph)
  W[o, c, i, j] · dA_o[u − off(i, j)]``, then ``dX`` is read back out of the phases.
  With the bias and the activation added on the way out, this is ConvTranspose2D's
  forward; ConvTranspose2D's backward is the forward and the weight gradient.

Every kernel runs the batch in one chunk per thread (``prange``), each chunk with its
own buffers; the weight gradient sums one partial ``dW`` per chunk. The taps are
taken nine at a time in one pass over a row (:func:`_sum_shifts`, :func:`_dots`), so
an output row is loaded and stored once per nine multiply-adds, not once per one.
"""
from __future__ import annotations

import numpy as np
from numba import prange
from numba.extending import register_jitable

from .. import activations
from .._validate import check_upstream
from ..layers import Conv2D, ConvTranspose2D, im2col
from ._jit import jit, jit_enabled, kernel_threads
from ._math import fsigmoid, ftanh, one_like
from .activation import CODES

#: taps summed in one pass over a row (the kernels' inner loops are written for nine)
GROUP = 9


# ---------------------------------------------------------------- layout and tap tables
def phase_geometry(H, W, k, s, p):
    """``(Hph, Wph)``: the size of one phase of the padded ``(H + 2p) × (W + 2p)`` image."""
    return -(-(H + 2 * p) // s), -(-(W + 2 * p) // s)


def _pad_group(*cols):
    """The columns (same length) padded with zeros to a whole number of :data:`GROUP` taps;
    a zero tap has weight 0 and reads row 0 from its start (always in range)."""
    n = -(-len(cols[0]) // GROUP) * GROUP
    return [np.concatenate([c, np.zeros(n - len(c), c.dtype)]) for c in cols]


def forward_taps(C, k, s, Wph):
    """The taps of the forward sum and of the weight gradient, in the order of
    ``W[o].ravel()``, ``(c, i, j)``: ``rows[t] = c·s² + phase(i, j)``, ``starts[t] = off(i, j)``,
    padded to a multiple of :data:`GROUP`."""
    c, i, j = (a.ravel() for a in np.meshgrid(np.arange(C), np.arange(k), np.arange(k),
                                              indexing="ij"))
    return _pad_group(c * s * s + (i % s) * s + j % s, (i // s) * Wph + j // s)


def forward_weights(W, T):
    """``W`` ``(O, C, k, k)`` as the rows ``(O, T)`` of tap weights, zeros after ``C·k²``."""
    Wt = np.zeros((W.shape[0], T), W.dtype)
    Wt[:, :W[0].size] = W.reshape(W.shape[0], -1)
    return Wt


def input_grad_taps(W, s, Wph):
    """The taps of the input gradient, phase by phase: for phase ``ph`` the taps ``(o, i, j)``
    with ``phase(i, j) = ph``, read from ``dA_o`` shifted back by ``off(i, j)``:
    ``rows[ph, t] = o``, ``starts[ph, t] = F − off(i, j)`` (``F`` the largest offset, by which
    the rows of dA are shifted right in their buffer), the weights ``(C, s², T)``
    (``W[o, c, i, j]``), and ``counts[ph]``, each a multiple of :data:`GROUP`."""
    O, C, k, _ = W.shape
    F = (k - 1) // s * (Wph + 1)
    per_phase = []
    for ph in range(s * s):
        taps = [(o, i, j) for o in range(O) for i in range(ph // s, k, s) for j in range(ph % s, k, s)]
        o, i, j = (np.array(a, dtype=np.int64) for a in zip(*taps)) if taps else [np.zeros(0, np.int64)] * 3
        per_phase.append((o, i, j, *_pad_group(o, F - ((i // s) * Wph + j // s))))
    T = max(len(r[3]) for r in per_phase)
    rows, starts = np.zeros((s * s, T), np.int64), np.zeros((s * s, T), np.int64)
    Wt = np.zeros((C, s * s, T), W.dtype)
    counts = np.zeros(s * s, np.int64)
    for ph, (o, i, j, r, st) in enumerate(per_phase):
        counts[ph] = len(r)
        rows[ph, :len(r)], starts[ph, :len(r)] = r, st
        Wt[:, ph, :len(o)] = W[o, :, i, j].T
    return rows, starts, Wt, counts, F


# ---------------------------------------------------------------- the inner sums
@register_jitable
def _sum_shifts(acc, n, S, rows, starts, at, w, T):
    """``acc[q] += Σ_t w[t] · S[rows[t], at + starts[t] + q]`` for ``q < n``, the T taps (a
    multiple of nine) nine per pass."""
    for g in range(0, T, 9):
        v0 = S[rows[g], at + starts[g]:at + starts[g] + n]
        v1 = S[rows[g + 1], at + starts[g + 1]:at + starts[g + 1] + n]
        v2 = S[rows[g + 2], at + starts[g + 2]:at + starts[g + 2] + n]
        v3 = S[rows[g + 3], at + starts[g + 3]:at + starts[g + 3] + n]
        v4 = S[rows[g + 4], at + starts[g + 4]:at + starts[g + 4] + n]
        v5 = S[rows[g + 5], at + starts[g + 5]:at + starts[g + 5] + n]
        v6 = S[rows[g + 6], at + starts[g + 6]:at + starts[g + 6] + n]
        v7 = S[rows[g + 7], at + starts[g + 7]:at + starts[g + 7] + n]
        v8 = S[rows[g + 8], at + starts[g + 8]:at + starts[g + 8] + n]
        w0, w1, w2, w3, w4 = w[g], w[g + 1], w[g + 2], w[g + 3], w[g + 4]
        w5, w6, w7, w8 = w[g + 5], w[g + 6], w[g + 7], w[g + 8]
        for q in range(n):
            acc[q] += (w0 * v0[q] + w1 * v1[q] + w2 * v2[q] + w3 * v3[q] + w4 * v4[q]
                       + w5 * v5[q] + w6 * v6[q] + w7 * v7[q] + w8 * v8[q])


@register_jitable
def _dots(dw, g, n, S, rows, starts, T):
    """``dw[t] += Σ_q g[q] · S[rows[t], starts[t] + q]`` (q < n) for the T taps, nine per pass."""
    for t in range(0, T, 9):
        v0 = S[rows[t], starts[t]:starts[t] + n]
        v1 = S[rows[t + 1], starts[t + 1]:starts[t + 1] + n]
        v2 = S[rows[t + 2], starts[t + 2]:starts[t + 2] + n]
        v3 = S[rows[t + 3], starts[t + 3]:starts[t + 3] + n]
        v4 = S[rows[t + 4], starts[t + 4]:starts[t + 4] + n]
        v5 = S[rows[t + 5], starts[t + 5]:starts[t + 5] + n]
        v6 = S[rows[t + 6], starts[t + 6]:starts[t + 6] + n]
        v7 = S[rows[t + 7], starts[t + 7]:starts[t + 7] + n]
        v8 = S[rows[t + 8], starts[t + 8]:starts[t + 8] + n]
        z = g[0] - g[0]
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = z
        for q in range(n):
            x = g[q]
            s0 += x * v0[q]
            s1 += x * v1[q]
            s2 += x * v2[q]
            s3 += x * v3[q]
            s4 += x * v4[q]
            s5 += x * v5[q]
            s6 += x * v6[q]
            s7 += x * v7[q]
            s8 += x * v8[q]
        dw[t] += s0
        dw[t + 1] += s1
        dw[t + 2] += s2
        dw[t + 3] += s3
        dw[t + 4] += s4
        dw[t + 5] += s5
        dw[t + 6] += s6
        dw[t + 7] += s7
        dw[t + 8] += s8


@register_jitable
def _sum_shifts2(acc, bcc, n, S, rows, starts, at, w, u, T):
    """:func:`_sum_shifts` for two output rows with the same taps and weights w, u."""
    for g in range(0, T, 9):
        v0 = S[rows[g], at + starts[g]:at + starts[g] + n]
        v1 = S[rows[g + 1], at + starts[g + 1]:at + starts[g + 1] + n]
        v2 = S[rows[g + 2], at + starts[g + 2]:at + starts[g + 2] + n]
        v3 = S[rows[g + 3], at + starts[g + 3]:at + starts[g + 3] + n]
        v4 = S[rows[g + 4], at + starts[g + 4]:at + starts[g + 4] + n]
        v5 = S[rows[g + 5], at + starts[g + 5]:at + starts[g + 5] + n]
        v6 = S[rows[g + 6], at + starts[g + 6]:at + starts[g + 6] + n]
        v7 = S[rows[g + 7], at + starts[g + 7]:at + starts[g + 7] + n]
        v8 = S[rows[g + 8], at + starts[g + 8]:at + starts[g + 8] + n]
        w0, w1, w2, w3, w4 = w[g], w[g + 1], w[g + 2], w[g + 3], w[g + 4]
        w5, w6, w7, w8 = w[g + 5], w[g + 6], w[g + 7], w[g + 8]
        u0, u1, u2, u3, u4 = u[g], u[g + 1], u[g + 2], u[g + 3], u[g + 4]
        u5, u6, u7, u8 = u[g + 5], u[g + 6], u[g + 7], u[g + 8]
        for q in range(n):
            x0, x1, x2, x3, x4 = v0[q], v1[q], v2[q], v3[q], v4[q]
            x5, x6, x7, x8 = v5[q], v6[q], v7[q], v8[q]
            acc[q] += (w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3 + w4 * x4
                       + w5 * x5 + w6 * x6 + w7 * x7 + w8 * x8)
            bcc[q] += (u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3 + u4 * x4
                       + u5 * x5 + u6 * x6 + u7 * x7 + u8 * x8)


@register_jitable
def _dots2(dw, dv, g, h, n, S, rows, starts, T):
    """:func:`_dots` for two rows g, h against the same taps, into dw and dv."""
    for t in range(0, T, 9):
        v0 = S[rows[t], starts[t]:starts[t] + n]
        v1 = S[rows[t + 1], starts[t + 1]:starts[t + 1] + n]
        v2 = S[rows[t + 2], starts[t + 2]:starts[t + 2] + n]
        v3 = S[rows[t + 3], starts[t + 3]:starts[t + 3] + n]
        v4 = S[rows[t + 4], starts[t + 4]:starts[t + 4] + n]
        v5 = S[rows[t + 5], starts[t + 5]:starts[t + 5] + n]
        v6 = S[rows[t + 6], starts[t + 6]:starts[t + 6] + n]
        v7 = S[rows[t + 7], starts[t + 7]:starts[t + 7] + n]
        v8 = S[rows[t + 8], starts[t + 8]:starts[t + 8] + n]
        z = g[0] - g[0]
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = z
        r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = r8 = z
        for q in range(n):
            a = g[q]
            b = h[q]
            x = v0[q]
            s0 += a * x
            r0 += b * x
            x = v1[q]
            s1 += a * x
            r1 += b * x
            x = v2[q]
            s2 += a * x
            r2 += b * x
            x = v3[q]
            s3 += a * x
            r3 += b * x
            x = v4[q]
            s4 += a * x
            r4 += b * x
            x = v5[q]
            s5 += a * x
            r5 += b * x
            x = v6[q]
            s6 += a * x
            r6 += b * x
            x = v7[q]
            s7 += a * x
            r7 += b * x
            x = v8[q]
            s8 += a * x
            r8 += b * x
        dw[t] += s0
        dw[t + 1] += s1
        dw[t + 2] += s2
        dw[t + 3] += s3
        dw[t + 4] += s4
        dw[t + 5] += s5
        dw[t + 6] += s6
        dw[t + 7] += s7
        dw[t + 8] += s8
        dv[t] += r0
        dv[t + 1] += r1
        dv[t + 2] += r2
        dv[t + 3] += r3
        dv[t + 4] += r4
        dv[t + 5] += r5
        dv[t + 6] += r6
        dv[t + 7] += r7
        dv[t + 8] += r8


@register_jitable
def _store(src, bias, code, A, Z):
    """``A[m] = src[m] + bias`` and ``Z[m] = f(A[m])`` along a row (the activation codes of
    :mod:`.activation`: 0 identity, 1 sigmoid, 2 tanh, 3 relu; Z may be A for the identity)."""
    n = A.shape[0]
    if code == 3:
        for m in range(n):
            a = src[m] + bias
            A[m] = a
            Z[m] = a if a > 0 else a - a
    elif code == 1:
        for m in range(n):
            a = src[m] + bias
            A[m] = a
            Z[m] = fsigmoid(a)
    elif code == 2:
        for m in range(n):
            a = src[m] + bias
            A[m] = a
            Z[m] = ftanh(a)
    else:
        for m in range(n):
            a = src[m] + bias
            A[m] = a
            Z[m] = a


# ---------------------------------------------------------------- moving data in and out
@register_jitable
def _phase_run(y, rx, s, p, Wph, W):
    """Where row y of an image meets phase column rx: ``(r, x0, d, cnt)``: the phase row
    offset ``r = phase(y + p, rx)`` (channel 0), the pixels ``x0, x0 + s, …`` (cnt of them)
    of image row y, which lie contiguous in that phase row from ``d`` on."""
    py = y + p
    x0 = (rx - p) % s
    cnt = (W - x0 + s - 1) // s if x0 < W else 0
    return (py % s) * s + rx, x0, (py // s) * Wph + (x0 + p) // s, cnt


@register_jitable
def _to_phases(X, b, s, p, Wph, xph):
    """Sample b of X ``(B, C, H, W)`` into its phases ``xph`` ``(C·s², ·)``: the pixel
    ``(y, x)`` at ``Xpad (y + p, x + p)``. Writes only the image's pixels: the padding
    keeps the zeros the buffer was made with."""
    C, H, W = X.shape[1], X.shape[2], X.shape[3]
    for y in range(H):
        for rx in range(s):
            r, x0, d, cnt = _phase_run(y, rx, s, p, Wph, W)
            for c in range(C):
                dst = xph[c * s * s + r, d:d + cnt]
                src = X[b, c, y, x0::s]
                for m in range(cnt):
                    dst[m] = src[m]


@register_jitable
def _from_phases(xph, bias, s, p, Wph, code, A, Z, b):
    """The inverse of :func:`_to_phases` with a bias and an activation on the way:
    ``A[b, c, y, x] = xph(c, y + p, x + p) + bias[c]``, ``Z = f(A)``."""
    C, H, W = A.shape[1], A.shape[2], A.shape[3]
    for y in range(H):
        for rx in range(s):
            r, x0, d, cnt = _phase_run(y, rx, s, p, Wph, W)
            for c in range(C):
                _store(xph[c * s * s + r, d:d + cnt], bias[c], code, A[b, c, y, x0::s],
                       Z[b, c, y, x0::s])


@register_jitable
def _to_rows(G, b, Wph, F, buf):
    """Sample b of G ``(B, O, Ho, Wo)`` into ``buf`` ``(O, ·)``: ``G[b, o, y, x]`` at
    ``F + y·Wph + x``. The unused columns keep the zeros the buffer was made with."""
    O, Ho, Wo = G.shape[1], G.shape[2], G.shape[3]
    for o in range(O):
        for y in range(Ho):
            dst = buf[o, F + y * Wph:F + y * Wph + Wo]
            src = G[b, o, y]
            for x in range(Wo):
                dst[x] = src[x]


# ---------------------------------------------------------------- the kernels
@jit(parallel=True)
def conv_forward_nb(X, rows, starts, Wt, bias, s, p, code, A, Z, parts):
    """``A = W ⋆ X + b`` and ``Z = f(A)`` (A, Z ``(B, O, Ho, Wo)``): for every sample and
    output channel o, ``acc = Σ_t Wt[o, t] · xph[rows[t]][starts[t] + ·]`` over the taps of
    :func:`forward_taps`. NumPy reference: ``aenumpy.layers.Conv2D.forward``."""
    B, C, H, W = X.shape
    O, Ho, Wo = A.shape[1], A.shape[2], A.shape[3]
    Hph, Wph = -(-(H + 2 * p) // s), -(-(W + 2 * p) // s)
    n = Ho * Wph
    T = rows.shape[0]
    for t in prange(parts):
        xph = np.zeros((C * s * s, Hph * Wph + Wph), X.dtype)
        acc = np.empty((2, n), X.dtype)
        for b in range(t * B // parts, (t + 1) * B // parts):
            _to_phases(X, b, s, p, Wph, xph)
            for o in range(0, O, 2):
                acc[:] = 0
                if o + 1 < O:
                    _sum_shifts2(acc[0], acc[1], n, xph, rows, starts, 0, Wt[o], Wt[o + 1], T)
                else:
                    _sum_shifts(acc[0], n, xph, rows, starts, 0, Wt[o], T)
                for r in range(min(2, O - o)):
                    for y in range(Ho):
                        _store(acc[r, y * Wph:y * Wph + Wo], bias[o + r], code, A[b, o + r, y],
                               Z[b, o + r, y])
    return Z


@jit(parallel=True)
def conv_weight_grad_nb(X, G, rows, starts, s, p, dWt):
    """``dWt[part, o, t] = Σ_(b in the part) Σ_q G_b[o, q] · xph_b[rows[t]][starts[t] + q]``,
    one partial sum per part (``dWt`` zeros ``(parts, O, T)``): the weight gradient
    ``Σ_b dA_b cols_bᵀ`` with ``G = dA``. NumPy reference: :func:`aenumpy.layers.conv2d_weight_grad`."""
    B, C, H, W = X.shape
    O, Ho = G.shape[1], G.shape[2]
    parts, T = dWt.shape[0], rows.shape[0]
    Hph, Wph = -(-(H + 2 * p) // s), -(-(W + 2 * p) // s)
    n = Ho * Wph
    for t in prange(parts):
        xph = np.zeros((C * s * s, Hph * Wph + Wph), X.dtype)
        g = np.zeros((O, n), X.dtype)
        for b in range(t * B // parts, (t + 1) * B // parts):
            _to_phases(X, b, s, p, Wph, xph)
            _to_rows(G, b, Wph, 0, g)
            for o in range(0, O - 1, 2):
                _dots2(dWt[t, o], dWt[t, o + 1], g[o], g[o + 1], n, xph, rows, starts, T)
            if O % 2:
                _dots(dWt[t, O - 1], g[O - 1], n, xph, rows, starts, T)
    return dWt


@jit(parallel=True)
def conv_input_grad_nb(G, rows, starts, Wt, counts, F, bias, s, p, code, A, Z, parts):
    """``A = (input gradient of the convolution, given G = dA) + bias``, ``Z = f(A)``
    (A, Z ``(B, C, H, W)``): phase by phase, ``dxph[c, ph] = Σ_t Wt[c, ph, t] ·
    Gbuf[rows[ph, t]][starts[ph, t] + ·]`` over the taps of :func:`input_grad_taps`, then
    read out of the phases. With ``bias = 0`` and the identity it is the input gradient
    (NumPy reference: :func:`aenumpy.layers.conv2d_input_grad`); with a bias and an
    activation, ConvTranspose2D's forward (``aenumpy.layers.ConvTranspose2D.forward``)."""
    B, O, Ho, Wo = G.shape
    C, H, W = A.shape[1], A.shape[2], A.shape[3]
    Hph, Wph = -(-(H + 2 * p) // s), -(-(W + 2 * p) // s)
    m = Hph * Wph
    for t in prange(parts):
        gbuf = np.zeros((O, F + m), G.dtype)
        dxph = np.empty((C * s * s, m), G.dtype)
        for b in range(t * B // parts, (t + 1) * B // parts):
            _to_rows(G, b, Wph, F, gbuf)
            for ph in range(s * s):
                # only the phase rows that hold image pixels, not the padding
                ry = ph // s
                lo, hi = max(0, -((ry - p) // s)), (p + H - 1 - ry) // s + 1
                at, n = lo * Wph, max(0, hi - lo) * Wph
                for c in range(0, C - 1, 2):
                    u, v = dxph[c * s * s + ph, at:at + n], dxph[(c + 1) * s * s + ph, at:at + n]
                    u[:] = 0
                    v[:] = 0
                    _sum_shifts2(u, v, n, gbuf, rows[ph], starts[ph], at, Wt[c, ph], Wt[c + 1, ph],
                                 counts[ph])
                if C % 2:
                    u = dxph[(C - 1) * s * s + ph, at:at + n]
                    u[:] = 0
                    _sum_shifts(u, n, gbuf, rows[ph], starts[ph], at, Wt[C - 1, ph], counts[ph])
            _from_phases(dxph, bias, s, p, Wph, code, A, Z, b)
    return Z


@jit(parallel=True)
def delta_nb(dZ, Z, code, dA, db):
    """``dA = dZ ⊙ f'(A)`` (f' written through Z, as :mod:`aenumpy.activations`) for
    ``(B, O, Ho·Wo)`` arrays, and ``db[part, o]`` the part's sums of ``dA`` over samples
    and pixels (``db`` zeros ``(parts, O)``)."""
    B, O, n = dZ.shape
    parts = db.shape[0]
    one = one_like(Z)
    for t in prange(parts):
        for b in range(t * B // parts, (t + 1) * B // parts):
            for o in range(O):
                acc = one - one
                for q in range(n):
                    g = dZ[b, o, q]
                    z = Z[b, o, q]
                    if code == 3:
                        g = g if z > 0 else g - g
                    elif code == 1:
                        g = g * z * (one - z)
                    elif code == 2:
                        g = g * (one - z * z)
                    dA[b, o, q] = g
                    acc += g
                db[t, o] += acc
    return dA


# ---------------------------------------------------------------- the calls
def activation_code(act):
    """The kernels' code of a built-in activation, None for a student's own."""
    if type(act) is activations.ACTIVATIONS.get(act.name):
        return CODES[act.name]
    return None


def _covered(layer, X):
    """The kernels run this call: the JIT is on, the activation is a built-in one, and X
    and the weights are both float32 or both float64."""
    W = layer.params["W"]
    return (jit_enabled() and activation_code(layer.activation) is not None
            and X.dtype == W.dtype and W.dtype.char in "fd")


def conv_forward(X, W, bias, s, p, code, out_shape):
    """``(A, Z)`` of the convolution ``A = W ⋆ X + bias``, ``Z = f(A)``, by :func:`conv_forward_nb`."""
    _, Wph = phase_geometry(X.shape[2], X.shape[3], W.shape[2], s, p)
    rows, starts = forward_taps(W.shape[1], W.shape[2], s, Wph)
    A = np.empty(out_shape, X.dtype)
    Z = A if code == 0 else np.empty(out_shape, X.dtype)
    conv_forward_nb(np.ascontiguousarray(X), rows, starts, forward_weights(W, len(rows)), bias, s, p, code, A, Z,
                    kernel_threads())
    return A, Z


def conv_weight_grad(X, G, w_shape, s, p):
    """``Σ_b G_b cols(X)_bᵀ`` as a ``w_shape`` array, by :func:`conv_weight_grad_nb`."""
    k = w_shape[2]
    _, Wph = phase_geometry(X.shape[2], X.shape[3], k, s, p)
    rows, starts = forward_taps(w_shape[1], k, s, Wph)
    dWt = np.zeros((kernel_threads(), w_shape[0], len(rows)), X.dtype)
    conv_weight_grad_nb(np.ascontiguousarray(X), np.ascontiguousarray(G), rows, starts, s, p, dWt)
    n = int(np.prod(w_shape[1:]))
    return dWt.sum(axis=0)[:, :n].reshape(w_shape)


def conv_input_grad(G, W, bias, s, p, code, out_shape):
    """``(A, Z)`` with ``A`` = the input gradient of ``A' = W ⋆ X`` given ``dA' = G``, plus
    ``bias``, and ``Z = f(A)``, by :func:`conv_input_grad_nb`."""
    _, Wph = phase_geometry(out_shape[2], out_shape[3], W.shape[2], s, p)
    rows, starts, Wt, counts, F = input_grad_taps(W, s, Wph)
    A = np.empty(out_shape, G.dtype)
    Z = A if code == 0 else np.empty(out_shape, G.dtype)
    conv_input_grad_nb(np.ascontiguousarray(G), rows, starts, Wt, counts, F, bias, s, p, code,
                       A, Z, kernel_threads())
    return A, Z


def delta(dZ, Z, act):
    """``(dA, db)``: ``dA = dZ ⊙ f'(A)`` and ``db = Σ_(b,y,x) dA``, by :func:`delta_nb`."""
    B, O = Z.shape[:2]
    dA = np.empty(Z.shape, Z.dtype)
    db = np.zeros((kernel_threads(), O), Z.dtype)
    delta_nb(np.ascontiguousarray(dZ, Z.dtype).reshape(B, O, -1), Z.reshape(B, O, -1),
             activation_code(act), dA.reshape(B, O, -1), db)
    return dA, db.sum(axis=0)


class FastConv2D(Conv2D):
    """:class:`aenumpy.layers.Conv2D` by the direct kernels of this module: the same
    params, grads and numbers (up to rounding); the cache holds X, A, Z (and after
    backward dZ, dA, dX) but no ``cols``, which these kernels never build.

    NumPy reference: ``aenumpy.layers.Conv2D.forward`` and ``.backward``. A case the
    kernels do not cover (JIT off, a student's own activation, mixed dtypes) runs those."""

    def forward(self, X):
        """``A = W ⋆ X + b``, ``Z = f(A)`` by :func:`conv_forward_nb` (NumPy reference:
        ``aenumpy.layers.Conv2D.forward``)."""
        out_shape = self.check_input(X)
        if not _covered(self, X):
            return super().forward(X)
        A, Z = conv_forward(X, self.params["W"], self.params["b"], self.stride, self.padding,
                            activation_code(self.activation), out_shape)
        self.cache = {"X": X, "A": A, "Z": Z}
        return Z

    def backward(self, dZ, need_dX=True):
        """``dA = dZ ⊙ f'(A)``, ``db = Σ dA`` (:func:`delta_nb`), ``dW = Σ_b dA_b cols_bᵀ``
        (:func:`conv_weight_grad_nb`), ``dX`` (:func:`conv_input_grad_nb`). NumPy reference:
        ``aenumpy.layers.Conv2D.backward``."""
        check_upstream(self, dZ)
        c = self.cache
        if "cols" in c or not _covered(self, c["X"]):
            if "cols" not in c:  # the forward ran here, the backward cannot: the columns now
                c["cols"] = im2col(c["X"], self.kernel_size, self.stride, self.padding)
            return super().backward(dZ, need_dX)
        W, X, s, p = self.params["W"], c["X"], self.stride, self.padding
        dA, db = delta(dZ, c["Z"], self.activation)
        self.grads = {"W": conv_weight_grad(X, dA, W.shape, s, p), "b": db}
        dX = (conv_input_grad(dA, W, np.zeros(X.shape[1], X.dtype), s, p, 0, X.shape)[0]
              if need_dX else None)
        c.update(dZ=dZ, dA=dA, dX=dX)
        return dX


class FastConvTranspose2D(ConvTranspose2D):
    """:class:`aenumpy.layers.ConvTranspose2D` by the direct kernels of this module: the
    forward is the input-gradient kernel with the bias and activation, the backward the
    forward kernel (dX) and the weight-gradient kernel with the roles of X and dA swapped,
    as in the teaching layer. The cache holds X, A, Z (and after backward dZ, dA, dX) but
    no ``dcols``.

    NumPy reference: ``aenumpy.layers.ConvTranspose2D.forward`` and ``.backward``; a case
    the kernels do not cover runs those."""

    def forward(self, X):
        """``A = conv2d_input_grad(X, W) + b``, ``Z = f(A)`` by :func:`conv_input_grad_nb`
        (NumPy reference: ``aenumpy.layers.ConvTranspose2D.forward``)."""
        out_shape = self.check_input(X)
        if not _covered(self, X):
            return super().forward(X)
        A, Z = conv_input_grad(X, self.params["W"], self.params["b"], self.stride, self.padding,
                               activation_code(self.activation), out_shape)
        self.cache = {"X": X, "A": A, "Z": Z}
        return Z

    def backward(self, dZ, need_dX=True):
        """``dA = dZ ⊙ f'(A)``, ``db = Σ dA`` (:func:`delta_nb`), ``dW = Σ_b X_b cols(dA)_bᵀ``
        (:func:`conv_weight_grad_nb`), ``dX = W ⋆ dA`` (:func:`conv_forward_nb`). NumPy
        reference: ``aenumpy.layers.ConvTranspose2D.backward``."""
        check_upstream(self, dZ)
        c = self.cache
        if not _covered(self, c["X"]):
            return super().backward(dZ, need_dX)
        W, X, s, p = self.params["W"], c["X"], self.stride, self.padding
        dA, db = delta(dZ, c["Z"], self.activation)
        self.grads = {"W": conv_weight_grad(dA, X, W.shape, s, p), "b": db}
        dX = (conv_forward(dA, W, np.zeros(W.shape[0], X.dtype), s, p, 0, X.shape)[0]
              if need_dX else None)
        c.update(dZ=dZ, dA=dA, dX=dX)
        return dX
