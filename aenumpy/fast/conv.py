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
taken nine at a time in one pass over a row, for two output rows at once
(:func:`_sum_shifts`, :func:`_dots`), so an output row is loaded and stored once per
nine multiply-adds, and each tap's row loaded once per eighteen.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import prange
from numba.extending import register_jitable

from .._validate import check_upstream
from ..layers import Conv2D, ConvTranspose2D
from ._jit import jit, kernel_threads
from ._math import one_like
from .activation import CODES, bias_act, code_of

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


@functools.lru_cache(maxsize=256)
def forward_taps(C, k, s, Wph):
    """The taps of the forward sum and of the weight gradient, in the order of
    ``W[o].ravel()``, ``(c, i, j)``: ``rows[t] = c·s² + phase(i, j)``, ``starts[t] = off(i, j)``,
    padded to a multiple of :data:`GROUP`. They depend on the shapes alone, so each is
    built once (the kernels only read them)."""
    c, i, j = (a.ravel() for a in np.meshgrid(np.arange(C), np.arange(k), np.arange(k),
                                              indexing="ij"))
    return _pad_group(c * s * s + (i % s) * s + j % s, (i // s) * Wph + j // s)


def forward_weights(W, T):
    """``W`` ``(O, C, k, k)`` as the rows ``(O, T)`` of tap weights, zeros after ``C·k²``."""
    Wt = np.zeros((W.shape[0], T), W.dtype)
    Wt[:, :W[0].size] = W.reshape(W.shape[0], -1)
    return Wt


@functools.lru_cache(maxsize=256)
def _input_grad_index(O, k, s, Wph):
    """The shape-only part of :func:`input_grad_taps`: ``rows``, ``starts``, ``counts``, ``F``,
    and where each tap's weight comes from (``ph``, ``t`` of the table; ``o``, ``i``, ``j``
    of W), built once per shape."""
    F = (k - 1) // s * (Wph + 1)
    per_phase = []
    for ph in range(s * s):
        taps = [(o, i, j) for o in range(O) for i in range(ph // s, k, s) for j in range(ph % s, k, s)]
        o, i, j = (np.array(a, dtype=np.int64) for a in zip(*taps)) if taps else [np.zeros(0, np.int64)] * 3
        per_phase.append((o, i, j, *_pad_group(o, F - ((i // s) * Wph + j // s))))
    T = max(len(r[3]) for r in per_phase)
    rows, starts = np.zeros((s * s, T), np.int64), np.zeros((s * s, T), np.int64)
    counts = np.zeros(s * s, np.int64)
    where = [[] for _ in range(5)]  # ph, t, o, i, j of every real (not padding) tap
    for ph, (o, i, j, r, st) in enumerate(per_phase):
        counts[ph] = len(r)
        rows[ph, :len(r)], starts[ph, :len(r)] = r, st
        for w, a in zip(where, (np.full(len(o), ph), np.arange(len(o)), o, i, j)):
            w.append(a)
    return rows, starts, counts, F, T, tuple(np.concatenate(w).astype(np.int64) for w in where)


def input_grad_taps(W, s, Wph):
    """The taps of the input gradient, phase by phase: for phase ``ph`` the taps ``(o, i, j)``
    with ``phase(i, j) = ph``, read from ``dA_o`` shifted back by ``off(i, j)``:
    ``rows[ph, t] = o``, ``starts[ph, t] = F − off(i, j)`` (``F`` the largest offset, by which
    the rows of dA are shifted right in their buffer), the weights ``(C, s², T)``
    (``W[o, c, i, j]``), and ``counts[ph]``, each a multiple of :data:`GROUP`."""
    O, C, k, _ = W.shape
    rows, starts, counts, F, T, (ph, t, o, i, j) = _input_grad_index(O, k, s, Wph)
    Wt = np.zeros((C, s * s, T), W.dtype)
    Wt[:, ph, t] = W[o, :, i, j].T
    return rows, starts, Wt, counts, F


# ---------------------------------------------------------------- the inner sums
@register_jitable(inline="always")
def _nine_rows(S, rows, starts, t, at, n):
    """The rows ``S[rows[t + m], at + starts[t + m] :][:n]`` of taps ``t … t + 8``."""
    return (S[rows[t], at + starts[t]:at + starts[t] + n],
            S[rows[t + 1], at + starts[t + 1]:at + starts[t + 1] + n],
            S[rows[t + 2], at + starts[t + 2]:at + starts[t + 2] + n],
            S[rows[t + 3], at + starts[t + 3]:at + starts[t + 3] + n],
            S[rows[t + 4], at + starts[t + 4]:at + starts[t + 4] + n],
            S[rows[t + 5], at + starts[t + 5]:at + starts[t + 5] + n],
            S[rows[t + 6], at + starts[t + 6]:at + starts[t + 6] + n],
            S[rows[t + 7], at + starts[t + 7]:at + starts[t + 7] + n],
            S[rows[t + 8], at + starts[t + 8]:at + starts[t + 8] + n])


@register_jitable(inline="always")
def _nine(w, t):
    """``w[t … t + 8]`` as nine scalars."""
    return w[t], w[t + 1], w[t + 2], w[t + 3], w[t + 4], w[t + 5], w[t + 6], w[t + 7], w[t + 8]


@register_jitable
def _sum_shifts(acc, bcc, n, S, rows, starts, at, w, u, T):
    """``acc[q] += Σ_t w[t] · S[rows[t], at + starts[t] + q]`` for ``q < n`` over the T taps (a
    multiple of nine), nine per pass; when ``bcc`` is not empty, ``bcc`` likewise with the
    weights ``u`` in the same pass (two output rows from one load of the taps)."""
    for g in range(0, T, 9):
        v0, v1, v2, v3, v4, v5, v6, v7, v8 = _nine_rows(S, rows, starts, g, at, n)
        w0, w1, w2, w3, w4, w5, w6, w7, w8 = _nine(w, g)
        if bcc.shape[0] == 0:
            for q in range(n):
                acc[q] += (w0 * v0[q] + w1 * v1[q] + w2 * v2[q] + w3 * v3[q] + w4 * v4[q]
                           + w5 * v5[q] + w6 * v6[q] + w7 * v7[q] + w8 * v8[q])
            continue
        u0, u1, u2, u3, u4, u5, u6, u7, u8 = _nine(u, g)
        for q in range(n):
            x0, x1, x2, x3, x4 = v0[q], v1[q], v2[q], v3[q], v4[q]
            x5, x6, x7, x8 = v5[q], v6[q], v7[q], v8[q]
            acc[q] += (w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3 + w4 * x4
                       + w5 * x5 + w6 * x6 + w7 * x7 + w8 * x8)
            bcc[q] += (u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3 + u4 * x4
                       + u5 * x5 + u6 * x6 + u7 * x7 + u8 * x8)


@register_jitable
def _dots(dw, g, n, S, rows, starts, T):
    """``dw[t] += Σ_q g[q] · S[rows[t], starts[t] + q]`` (q < n) for the T taps, nine per pass."""
    for t in range(0, T, 9):
        v0, v1, v2, v3, v4, v5, v6, v7, v8 = _nine_rows(S, rows, starts, t, 0, n)
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = g[0] - g[0]
        for q in range(n):
            a = g[q]
            s0 += a * v0[q]
            s1 += a * v1[q]
            s2 += a * v2[q]
            s3 += a * v3[q]
            s4 += a * v4[q]
            s5 += a * v5[q]
            s6 += a * v6[q]
            s7 += a * v7[q]
            s8 += a * v8[q]
        _add_nine(dw, t, s0, s1, s2, s3, s4, s5, s6, s7, s8)


@register_jitable
def _dots2(dw, dv, g, h, n, S, rows, starts, T):
    """:func:`_dots` for two rows at once, ``g`` into ``dw`` and ``h`` into ``dv``: each tap's
    row loaded once for both. (One function with a branch for one or two rows ran the
    two-row loop 1.6 times slower.)"""
    for t in range(0, T, 9):
        v0, v1, v2, v3, v4, v5, v6, v7, v8 = _nine_rows(S, rows, starts, t, 0, n)
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = g[0] - g[0]
        r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = r8 = s0
        for q in range(n):
            a, b = g[q], h[q]
            x0, x1, x2, x3, x4 = v0[q], v1[q], v2[q], v3[q], v4[q]
            x5, x6, x7, x8 = v5[q], v6[q], v7[q], v8[q]
            s0, s1, s2, s3, s4 = s0 + a * x0, s1 + a * x1, s2 + a * x2, s3 + a * x3, s4 + a * x4
            s5, s6, s7, s8 = s5 + a * x5, s6 + a * x6, s7 + a * x7, s8 + a * x8
            r0, r1, r2, r3, r4 = r0 + b * x0, r1 + b * x1, r2 + b * x2, r3 + b * x3, r4 + b * x4
            r5, r6, r7, r8 = r5 + b * x5, r6 + b * x6, r7 + b * x7, r8 + b * x8
        _add_nine(dw, t, s0, s1, s2, s3, s4, s5, s6, s7, s8)
        _add_nine(dv, t, r0, r1, r2, r3, r4, r5, r6, r7, r8)


@register_jitable(inline="always")
def _add_nine(d, t, s0, s1, s2, s3, s4, s5, s6, s7, s8):
    """``d[t + m] += s_m`` for m = 0 … 8."""
    d[t] += s0
    d[t + 1] += s1
    d[t + 2] += s2
    d[t + 3] += s3
    d[t + 4] += s4
    d[t + 5] += s5
    d[t + 6] += s6
    d[t + 7] += s7
    d[t + 8] += s8


@register_jitable(inline="always")
def _store(src, bias, relu, A, Z):
    """``A[m] = src[m] + bias`` along a row, and ``Z[m] = max(A[m], 0)`` when ``relu`` (NaN
    stays NaN). A sigmoid or tanh is applied after the kernel, by
    :func:`.activation.bias_act` (see :func:`_outputs`): with the float32 sigmoid's
    code inside a kernel, every loop of that kernel ran several times slower."""
    n = A.shape[0]
    if relu:
        for m in range(n):
            a = src[m] + bias
            A[m] = a
            Z[m] = a if a > 0 else a - a
    else:
        for m in range(n):
            A[m] = src[m] + bias


# ---------------------------------------------------------------- moving data in and out
@register_jitable(inline="always")
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
def _from_phases(xph, bias, s, p, Wph, relu, A, Z, b):
    """The inverse of :func:`_to_phases` with a bias and an activation on the way:
    ``A[b, c, y, x] = xph(c, y + p, x + p) + bias[c]``, ``Z = f(A)``."""
    C, H, W = A.shape[1], A.shape[2], A.shape[3]
    for y in range(H):
        for rx in range(s):
            r, x0, d, cnt = _phase_run(y, rx, s, p, Wph, W)
            for c in range(C):
                _store(xph[c * s * s + r, d:d + cnt], bias[c], relu, A[b, c, y, x0::s],
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
def conv_forward_nb(X, rows, starts, Wt, bias, s, p, relu, A, Z, parts):
    """``A = W ⋆ X + b`` and, when ``relu``, ``Z = max(A, 0)`` (A, Z ``(B, O, Ho, Wo)``): for
    every sample and output channel o, ``A_o = b_o + Σ_t Wt[o, t] · xph[rows[t]][starts[t] + ·]``
    over the taps of :func:`forward_taps`, two output channels a pass. NumPy reference:
    ``aenumpy.layers.Conv2D.forward``."""
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
            for o in range(0, O, 2):  # two output channels a pass (one when O is odd)
                o2 = min(o + 1, O - 1)
                acc[:] = 0
                _sum_shifts(acc[0], acc[1, :n * (o2 - o)], n, xph, rows, starts, 0, Wt[o], Wt[o2], T)
                for r in range(o2 - o + 1):
                    for y in range(Ho):
                        _store(acc[r, y * Wph:y * Wph + Wo], bias[o + r], relu, A[b, o + r, y],
                               Z[b, o + r, y])
    return Z


@jit(parallel=True)
def conv_weight_grad_nb(X, G, rows, starts, s, p, dWt):
    """``dWt[part, o, t] = Σ_(b in the part) Σ_q G_b[o, q] · xph_b[rows[t]][starts[t] + q]``,
    one partial sum per part (``dWt`` zeros ``(parts, O, T)``), two output channels a pass:
    the weight gradient ``Σ_b dA_b cols_bᵀ`` with ``G = dA``. NumPy reference:
    :func:`aenumpy.layers.conv2d_weight_grad`."""
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
            for o in range(0, O, 2):  # two output channels a pass (one when O is odd)
                o2 = min(o + 1, O - 1)
                if o2 > o:
                    _dots2(dWt[t, o], dWt[t, o2], g[o], g[o2], n, xph, rows, starts, T)
                else:
                    _dots(dWt[t, o], g[o], n, xph, rows, starts, T)
    return dWt


@jit(parallel=True)
def conv_input_grad_nb(G, rows, starts, Wt, counts, F, bias, s, p, relu, A, Z, parts):
    """``A = (input gradient of the convolution, given G = dA) + bias`` and, when ``relu``,
    ``Z = max(A, 0)`` (A, Z ``(B, C, H, W)``): phase by phase, ``dxph[c, ph] = Σ_t Wt[c, ph, t]
    · Gbuf[rows[ph, t]][starts[ph, t] + ·]`` over the taps of :func:`input_grad_taps` (two
    channels c a pass, and only the phase rows that hold pixels), then read out of the
    phases. With ``bias = 0`` and the identity it is the input gradient (NumPy reference:
    :func:`aenumpy.layers.conv2d_input_grad`); with a bias and an activation,
    ConvTranspose2D's forward (``aenumpy.layers.ConvTranspose2D.forward``)."""
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
                for c in range(0, C, 2):  # two channels a pass (one when C is odd)
                    c2 = min(c + 1, C - 1)
                    u = dxph[c * s * s + ph, at:at + n]
                    v = dxph[c2 * s * s + ph, at:at + n * (c2 - c)]
                    u[:] = 0
                    v[:] = 0
                    _sum_shifts(u, v, n, gbuf, rows[ph], starts[ph], at, Wt[c, ph], Wt[c2, ph],
                                counts[ph])
            _from_phases(dxph, bias, s, p, Wph, relu, A, Z, b)
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
def _covered(layer, X):
    """The kernels run this call: the activation is a built-in one, and X and the weights
    are both float32 or both float64."""
    W = layer.params["W"]
    return code_of(layer.activation) is not None and X.dtype == W.dtype and W.dtype.char in "fd"


def _outputs(kernel, out_shape, dtype, code, *args):
    """``(A, Z)``: ``kernel(*args, relu, A, Z, threads)`` fills A (and Z for a ReLU), then
    :func:`.activation.bias_act` (zero bias) applies a sigmoid or tanh; with the
    identity Z is A."""
    A = np.empty(out_shape, dtype)
    Z = A if code == 0 else np.empty(out_shape, dtype)
    kernel(*args, code == CODES["relu"], A, Z, kernel_threads())
    if code in (CODES["sigmoid"], CODES["tanh"]):
        B = out_shape[0]
        bias_act(A.reshape(B, -1), np.zeros(A[0].size, dtype), code, Z.reshape(B, -1))
    return A, Z


def conv_forward(X, W, bias, s, p, code, out_shape):
    """``(A, Z)`` of the convolution ``A = W ⋆ X + bias``, ``Z = f(A)``, by :func:`conv_forward_nb`."""
    _, Wph = phase_geometry(X.shape[2], X.shape[3], W.shape[2], s, p)
    rows, starts = forward_taps(W.shape[1], W.shape[2], s, Wph)
    return _outputs(conv_forward_nb, out_shape, X.dtype, code, np.ascontiguousarray(X), rows,
                    starts, forward_weights(W, len(rows)), bias, s, p)


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
    return _outputs(conv_input_grad_nb, out_shape, G.dtype, code, np.ascontiguousarray(G), rows,
                    starts, Wt, counts, F, bias, s, p)


def delta(dZ, Z, act):
    """``(dA, db)``: ``dA = dZ ⊙ f'(A)`` and ``db = Σ_(b,y,x) dA``, by :func:`delta_nb`."""
    B, O = Z.shape[:2]
    dA = np.empty(Z.shape, Z.dtype)
    db = np.zeros((kernel_threads(), O), Z.dtype)
    delta_nb(np.ascontiguousarray(dZ, Z.dtype).reshape(B, O, -1), Z.reshape(B, O, -1),
             code_of(act), dA.reshape(B, O, -1), db)
    return dA, db.sum(axis=0)


class DirectConv:
    """The forward and backward that FastConv2D and FastConvTranspose2D share; each names
    its kernels: :meth:`outputs` (A and Z) and :meth:`weight_and_input_grads`."""

    def outputs(self, X, out_shape):
        raise NotImplementedError

    def weight_and_input_grads(self, X, dA, need_dX):
        raise NotImplementedError

    def forward(self, X):
        """``A`` and ``Z = f(A)`` by the layer's kernel (NumPy reference: the teaching
        layer's ``forward``, which runs the cases the kernels do not cover)."""
        out_shape = self.check_input(X)
        if not _covered(self, X):
            return super().forward(X)
        A, Z = self.outputs(X, out_shape)
        self.cache = {"X": X, "A": A, "Z": Z}
        return Z

    def delta(self, dZ):
        """``δ = dZ ⊙ f'(A)`` by :func:`delta_nb` (NumPy reference: :meth:`AffineLayer.delta`)."""
        c = self.cache
        if "X" in c and not _covered(self, c["X"]):
            return super().delta(dZ)
        check_upstream(self, dZ)
        c["dZ"] = dZ
        dA, c["db"] = delta(dZ, c["Z"], self.activation)
        return dA

    def backward(self, dZ, need_dX=True, dA=None):
        """``dA = dZ ⊙ f'(A)`` and ``db = Σ dA`` (:func:`delta_nb`; or the given ``dA = δ``),
        then ``dW`` and ``dX`` by the layer's kernels (NumPy reference: the teaching layer's
        ``backward``)."""
        c = self.cache
        if "X" in c and not _covered(self, c["X"]):
            return super().backward(dZ, need_dX, dA)
        if dA is None:
            dA = self.delta(dZ)
            db = c.pop("db")
        else:
            check_upstream(self, dA)
            db = dA.sum(axis=(0, 2, 3))
        dW, dX = self.weight_and_input_grads(c["X"], dA, need_dX)
        self.grads = {"W": dW, "b": db}
        c.update(dA=dA, dX=dX)
        return dX


class FastConv2D(DirectConv, Conv2D):
    """:class:`aenumpy.layers.Conv2D` by the direct kernels of this module: the same
    params, grads and numbers (up to rounding); the cache holds X, A, Z (and after
    backward dZ, dA, dX) but no ``cols``, which these kernels never build.

    NumPy reference: ``aenumpy.layers.Conv2D.forward`` and ``.backward``, which run the
    cases the kernels do not cover (a student's own activation, mixed dtypes)."""

    def outputs(self, X, out_shape):
        """``A = W ⋆ X + b``, ``Z = f(A)`` by :func:`conv_forward_nb` (NumPy reference:
        ``aenumpy.layers.Conv2D.forward``)."""
        return conv_forward(X, self.params["W"], self.params["b"], self.stride, self.padding,
                            code_of(self.activation), out_shape)

    def weight_and_input_grads(self, X, dA, need_dX):
        """``dW = Σ_b dA_b cols_bᵀ`` (:func:`conv_weight_grad_nb`) and ``dX`` (:func:`conv_input_grad_nb`);
        NumPy reference: ``aenumpy.layers.Conv2D.backward``."""
        W, s, p = self.params["W"], self.stride, self.padding
        dX = (conv_input_grad(dA, W, np.zeros(X.shape[1], X.dtype), s, p, 0, X.shape)[0]
              if need_dX else None)
        return conv_weight_grad(X, dA, W.shape, s, p), dX


class FastConvTranspose2D(DirectConv, ConvTranspose2D):
    """:class:`aenumpy.layers.ConvTranspose2D` by the direct kernels of this module: the
    forward is the input-gradient kernel with the bias and activation, the backward the
    forward kernel (dX) and the weight-gradient kernel with the roles of X and dA swapped,
    as in the teaching layer. The cache holds X, A, Z (and after backward dZ, dA, dX) but
    no ``dcols``.

    NumPy reference: ``aenumpy.layers.ConvTranspose2D.forward`` and ``.backward``, which
    run the cases the kernels do not cover."""

    def outputs(self, X, out_shape):
        """``A = conv2d_input_grad(X, W) + b``, ``Z = f(A)`` by :func:`conv_input_grad_nb`
        (NumPy reference: ``aenumpy.layers.ConvTranspose2D.forward``)."""
        return conv_input_grad(X, self.params["W"], self.params["b"], self.stride, self.padding,
                               code_of(self.activation), out_shape)

    def weight_and_input_grads(self, X, dA, need_dX):
        """``dW = Σ_b X_b cols(dA)_bᵀ`` (:func:`conv_weight_grad_nb`) and ``dX = W ⋆ dA``
        (:func:`conv_forward_nb`); NumPy reference: ``aenumpy.layers.ConvTranspose2D.backward``."""
        W, s, p = self.params["W"], self.stride, self.padding
        dX = (conv_forward(dA, W, np.zeros(W.shape[0], X.dtype), s, p, 0, X.shape)[0]
              if need_dX else None)
        return conv_weight_grad(dA, X, W.shape, s, p), dX
