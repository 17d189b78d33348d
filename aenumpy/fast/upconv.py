"""The entry of a U-Net decoder level as one sum: nearest upsampling ×2, the concatenation with
the skip, and the 3×3 convolution after them (:meth:`aenumpy.UNet._up_entry`).

NumPy reference: ``Upsample2D(2)``, ``Concat`` and ``Conv2D(c_u + c_s, c_out, 3, padding=1)``
of :mod:`aenumpy.layers`, one after the other.

**The upsampled block is never made.** Output pixel ``(y, x)`` of a 3×3 convolution (padding 1)
of ``up(U)``, U of ``h × w`` pixels upsampled to ``2h × 2w``, reads the 3×3 window
``up(U)[y − 1 … y + 1, x − 1 … x + 1]``, whose rows are U's rows ``⌊(y − 1)/2⌋ … ⌊(y + 1)/2⌋``: two
low-resolution rows, the first used once and the second twice when y is even
(``Y − 1, Y, Y`` for ``y = 2Y``), the first twice when y is odd (``Y, Y, Y + 1``). So the 3×3
kernel acts on U as a 2×2 kernel whose entries are sums of the 3×3 one's::

    y even:  W'[0] = W[0],          W'[1] = W[1] + W[2]      on U's rows Y − 1, Y
    y odd:   W'[0] = W[0] + W[1],   W'[1] = W[2]             on U's rows Y, Y + 1

and the same along x: four 2×2 kernels, one per parity ``(y mod 2, x mod 2)`` of the output
pixel (:func:`parity_weights`). The upsampled block's part of the sum takes 4 of the 9 taps
per input channel, and so do its weight gradient (the 2×2 kernels' gradients, summed back
into the 3×3 one by the same rule, :func:`fold_parity_grads`) and its input gradient, which
lands on U directly (no upsampled gradient to sum over 2×2 blocks afterwards). The skip's
part is an ordinary convolution (:mod:`.conv`) added into the same output rows.

Everything runs on the rows of :mod:`.conv` with its kernels; only the tap tables are new:
:func:`parity_taps` (forward), :func:`parity_pixels` (the weight gradient, one parity at a
time) and :func:`parity_transpose_taps` (the gradient for U).
"""
from __future__ import annotations

import functools

import numpy as np

from ._jit import kernel_threads
from .activation import CODES
from .conv import (
    _pad_taps,
    conv_rows_t,
    delta_rows,
    forward_taps,
    forward_weights,
    images,
    new_rows,
    tap_runs,
    tap_sums_nb,
    weight_grad_rows,
    weight_grad_rows_nb,
)

#: which of the 3×3 kernel's rows (columns) each 2×2 tap sums, for an even and an odd output
#: row (column): ``FOLD[parity][a, i]`` is 1 when kernel row i goes into tap a
FOLD = (np.array([[1, 0, 0], [0, 1, 1]], np.float32), np.array([[1, 1, 0], [0, 0, 1]], np.float32))


def _low_rows(y, parity):
    """The two low-resolution rows under output row ``y`` of its parity (module docstring)."""
    return (y // 2 - 1, y // 2) if parity == 0 else (y // 2, y // 2 + 1)


@functools.lru_cache(maxsize=64)
def parity_taps(C, h, w):
    """``(taps, table, groups, run)`` for :func:`.conv.tap_sums_nb` over the rows of U
    ``(C, h, w)``: for output pixel ``u = (y, x)`` of the ``2h × 2w`` output, tap
    ``t = (c, a, b)`` reads U's row ``(c, Y_a, X_b)`` (the zero row off the image) with the
    weight in column ``k·4C + (c·2 + a)·2 + b`` of :func:`parity_weights`,
    ``k = 2·(y mod 2) + (x mod 2)``;
    ``4C`` taps padded with zero-weight taps (column ``16C``) to whole groups of nine. ``run``
    (:func:`.conv.tap_runs`) is all ones: next to a pixel is one of another parity, whose
    weights differ."""
    H, W, zero = 2 * h, 2 * w, C * h * w
    T = _pad_taps(4 * C)
    taps = np.full((H * W, T), 16 * C, np.int64)
    table = np.full((H * W, T), zero, np.int64)
    c, a, b = (v.ravel() for v in np.meshgrid(np.arange(C), np.arange(2), np.arange(2),
                                              indexing="ij"))
    for y in range(H):
        ys = np.array(_low_rows(y, y % 2))[a]
        for x in range(W):
            xs = np.array(_low_rows(x, x % 2))[b]
            inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
            u, k = y * W + x, 2 * (y % 2) + x % 2
            table[u, :4 * C] = np.where(inside, (c * h + ys) * w + xs, zero)
            taps[u, :4 * C] = k * 4 * C + (c * 2 + a) * 2 + b
    return tap_runs(taps, table, np.full(H * W, T // 9, np.int64), zero)


def _fold(W, parity, axis):
    """W's three kernel entries along ``axis`` summed into two as :data:`FOLD` ``[parity]`` says:
    ``(W₀, W₁ + W₂)`` for an even output index, ``(W₀ + W₁, W₂)`` for an odd one."""
    w0, w1, w2 = (np.take(W, i, axis=axis) for i in range(3))
    return np.stack((w0, w1 + w2) if parity == 0 else (w0 + w1, w2), axis=axis)


def parity_weights(W):
    """The four 2×2 kernels of ``W`` ``(O, C, 3, 3)`` as the rows ``(O, 16C + 1)`` that
    :func:`parity_taps` index: column ``k·4C + (c·2 + a)·2 + b`` holds
    ``Σ_(i,j) FOLD[py][a, i] · FOLD[px][b, j] · W[o, c, i, j]`` for parity ``k = 2·py + px``
    (the rows folded, then the columns: :func:`_fold`), and the last column is zero."""
    O, C = W.shape[:2]
    out = np.zeros((O, 16 * C + 1), W.dtype)
    for py in range(2):
        rows = _fold(W, py, 2)
        for px in range(2):
            k = 2 * py + px     # W'_k = FOLD[py] W FOLD[px]ᵀ for every (o, c)
            out[:, k * 4 * C:(k + 1) * 4 * C] = _fold(rows, px, 3).reshape(O, -1)
    return out


@functools.lru_cache(maxsize=64)
def parity_pixels(C, h, w):
    """For each parity ``k``: the output pixels of that parity and their rows of
    :func:`parity_taps`' table, keeping only that parity's ``4C`` taps (padded to groups of
    nine), so that the weight gradient of its 2×2 kernel is one call of
    :func:`.conv.weight_grad_rows_nb`."""
    taps, table = parity_taps(C, h, w)[:2]
    H, W = 2 * h, 2 * w
    y, x = np.divmod(np.arange(H * W), W)
    T = _pad_taps(4 * C)
    out = []
    for k in range(4):
        pix = np.flatnonzero(2 * (y % 2) + x % 2 == k)
        sub = np.full((len(pix), T), C * h * w, np.int64)
        sub[:, :4 * C] = table[pix, :4 * C]
        out.append((pix, sub))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def parity_transpose_taps(O, C, h, w):
    """``(taps, table, groups, run)`` for :func:`.conv.tap_sums_nb`, the gradient for U
    ``(C, h, w)`` from ``dA`` ``(O, 2h, 2w)``: low-resolution pixel v receives, for every output
    channel o, every output pixel u and 2×2 tap ``(a, b)`` of parity k that reads v, the term
    ``W'_k[o, c, a, b] · dA[o, u]``: row ``o·4hw + u`` of dA, column ``(o·4 + k)·4 + a·2 + b`` of
    :func:`parity_transpose_weights` (``16·O`` for padding, with the zero row ``O·4hw``)."""
    taps, table = parity_taps(1, h, w)[:2]         # the taps of one channel: (a, b) only
    P = 4 * h * w
    reach = [[] for _ in range(h * w)]
    for u in range(P):
        k = taps[u, 0] // 4
        for t in range(4):
            if table[u, t] < h * w:
                reach[table[u, t]].append((u, k * 4 + t))      # column k·4 + (a·2 + b)
    T = _pad_taps(max(len(r) for r in reach) * O)
    out_taps = np.full((h * w, T), 16 * O, np.int64)
    out_table = np.full((h * w, T), O * P, np.int64)
    counts = np.zeros(h * w, np.int64)
    for v, r in enumerate(reach):
        cols = [o * 16 + kab for o in range(O) for _, kab in r]
        rows = [o * P + u for o in range(O) for u, _ in r]
        out_taps[v, :len(cols)], out_table[v, :len(rows)] = cols, rows
        counts[v] = len(cols)
    return tap_runs(out_taps, out_table, -(-counts // 9), O * P)


def parity_transpose_weights(Wp, O, C):
    """The rows ``(C, 16·O + 1)`` that :func:`parity_transpose_taps` index: column
    ``(o·4 + k)·4 + a·2 + b`` of row c holds ``W'_k[o, c, a, b]``, from ``Wp``, the
    :func:`parity_weights` of a ``(O, C, 3, 3)`` kernel; the last column zero."""
    Wp = Wp[:, :-1].reshape(O, 4, C, 4)                     # (o, k, c, ab)
    out = np.zeros((C, 16 * O + 1), Wp.dtype)
    out[:, :-1] = Wp.transpose(2, 0, 1, 3).reshape(C, -1)
    return out


def fold_parity_grads(dWp, C):
    """The gradient of the 3×3 kernel from those of the four 2×2 kernels ``dWp`` ``(4, O, 4C)``:
    each 2×2 entry was a sum of 3×3 entries (:data:`FOLD`), so each 3×3 entry gets the sum of
    the gradients of the entries it went into: ``dW[o, c, i, j] = Σ_k Σ_(a,b) FOLD[py][a, i] ·
    FOLD[px][b, j] · dWp[k, o, (c, a, b)]``."""
    O = dWp.shape[1]
    dW = np.zeros((O, C, 3, 3), dWp.dtype)
    for py in range(2):
        for px in range(2):
            g = dWp[2 * py + px].reshape(O, C, 2, 2)
            dW += _unfold(_unfold(g, py, 2), px, 3)   # FOLD[py]ᵀ g FOLD[px] for every (o, c)
    return dW


def _unfold(g, parity, axis):
    """The transpose of :func:`_fold`: each of the three kernel entries along ``axis`` gets the
    gradient of the entry it went into, ``(g₀, g₁, g₁)`` for an even output index and
    ``(g₀, g₀, g₁)`` for an odd one."""
    g0, g1 = np.take(g, 0, axis=axis), np.take(g, 1, axis=axis)
    return np.stack((g0, g1, g1) if parity == 0 else (g0, g0, g1), axis=axis)


def up_conv_forward(U, S, W, bias, relu):
    """``A = conv3×3([up(U), S]) + bias`` and ``Z = max(A, 0)`` (``relu``) or A, as rows: the
    upsampled block by the 2×2 kernels (:func:`parity_taps`), the skip S (None: no skip) by
    the convolution's own taps, added into the same rows. U, S are rows views
    ``(B, C, h, w)`` and ``(B, C_s, 2h, 2w)``; returns ``(A rows, Z rows, out_shape, Wp)``, Wp the
    2×2 kernels (:func:`parity_weights`), which the backward takes again."""
    B, Cu, h, w = U.shape
    O = W.shape[0]
    out_shape = (B, O, 2 * h, 2 * w)
    n = O * 4 * h * w
    A = new_rows(n, B, U.dtype)
    Z = new_rows(n, B, U.dtype) if relu else A
    A3, Z3 = A[:-1].reshape(O, -1, B), Z[:-1].reshape(O, -1, B)
    parts = kernel_threads()
    Wp = parity_weights(W[:, :Cu])
    tap_sums_nb(U.base, *parity_taps(Cu, h, w), Wp, bias, relu and S is None, A3, Z3, parts,
                False)
    if S is not None:
        taps = forward_taps(S.shape[1], 2 * h, 2 * w, 3, 1, 1)
        tap_sums_nb(S.base, *taps, forward_weights(W[:, Cu:], taps[0].shape[1]), bias, relu,
                    A3, Z3, parts, True)
    return A, Z, out_shape, Wp


def up_conv_backward(U, S, W, Wp, dZ, Zr, code, need_dU=True):
    """The backward of :func:`up_conv_forward` from ``dZ`` (rows view ``(B, O, 2h, 2w)``), the
    output's rows ``Zr`` and the forward's 2×2 kernels ``Wp`` (W has not changed since):
    ``δ = dZ ⊙ f'(A)`` and ``db`` (:func:`.conv.delta_rows`), then
    ``dW`` (the 2×2 kernels' gradients folded back, :func:`fold_parity_grads`, and the skip's
    part), ``dU`` on U's own ``h × w`` pixels and ``dS``, each as rows views. Returns
    ``(dA, dW, db, dU, dS)``."""
    B, Cu, h, w = U.shape
    O = W.shape[0]
    dAr, db = delta_rows(dZ.base, Zr, O, code)
    P, parts = 4 * h * w, kernel_threads()
    dWp = np.zeros((4, parts, O + O % 2, _pad_taps(4 * Cu)), U.dtype)
    for k, (pix, table) in enumerate(parity_pixels(Cu, h, w)):
        weight_grad_rows_nb(U.base, dAr, P, table, pix, dWp[k], parts)
    dWp = dWp.sum(axis=1)[:, :O, :4 * Cu]
    dW = [fold_parity_grads(dWp, Cu)]
    dS = None
    if S is not None:
        s_shape = S.shape
        dW.append(weight_grad_rows(S.base, dAr, s_shape, (O, s_shape[1], 3, 3), 1, 1))
        dSr = conv_rows_t(dAr, W[:, Cu:], np.zeros(s_shape[1], W.dtype), 1, 1, 0,
                          (B, O, 2 * h, 2 * w), s_shape)[0]
        dS = images(dSr, s_shape)
    dU = None
    if need_dU:
        dUr = new_rows(Cu * h * w, B, U.dtype)
        tap_sums_nb(dAr, *parity_transpose_taps(O, Cu, h, w),
                    parity_transpose_weights(Wp, O, Cu), np.zeros(Cu, W.dtype), False,
                    dUr[:-1].reshape(Cu, -1, B),
                    dUr[:-1].reshape(Cu, -1, B), parts, False)
        dU = images(dUr, U.shape)
    return images(dAr, dZ.shape), np.concatenate(dW, axis=1), db, dU, dS


#: the activations :func:`up_conv_forward` applies itself (a ReLU, or none)
CODES_DONE = (CODES["relu"], CODES["identity"])
