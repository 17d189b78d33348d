"""Hot loops of the regularizers: contractive penalty, top-k mask, KL sparsity.

(Gaussian corruption noise lives in :mod:`.noise`.) Each kernel's NumPy reference is
the teaching regularizer it stands in for (named in its docstring); the fast twins of
the models (:mod:`.models`) call these.
"""
from __future__ import annotations

import numpy as np
from numba import prange
from numba.extending import register_jitable

from .layout import is_column_major
from ._jit import jit
from ._math import cast_like, fsigmoid, one_like


# ------------------------------------------------------------ contractive (sigmoid)
@jit(parallel=True)
def _contractive_sigmoid_nb(A, W, lam, need_grad, wt, dA, dW):
    """The contractive penalty of a sigmoid layer and its gradient (the formulas of
    :func:`contractive_sigmoid`): ``S_j = Σ_i W_ji²``, ``g = σ(a)(1 − σ(a))``, value
    ``λ/B Σ_b Σ_j g_bj² S_j``; with ``need_grad`` ``dA = 2λ/B g² (1 − 2σ(a)) S`` and
    ``dW = 2λ/B (Σ_b g²) W``. With ``wt`` W and dW come transposed, ``(d_in, n)`` (a
    column-major W, passed as W.T)."""
    B, n = A.shape
    one = one_like(A)
    S64 = np.zeros(n, dtype=np.float64)
    if wt:
        for i in range(W.shape[0]):  # Σ_i W_ji², row by row of Wᵀ (contiguous in j)
            for j in range(n):
                w = W[i, j]
                S64[j] += w * w
    else:
        for j in prange(n):
            s = 0.0
            for i in range(W.shape[1]):
                w = W[j, i]
                s += w * w
            S64[j] = s
    S = S64.astype(A.dtype)
    G = np.empty((B, n), dtype=A.dtype)  # g², summed over the batch below
    c = cast_like(A, 2.0 * lam / B)
    for b in prange(B):
        for j in range(n):
            z = fsigmoid(A[b, j])
            g = z * (one - z)
            G[b, j] = g * g
            if need_grad:
                dA[b, j] = c * g * g * (one - z - z) * S[j]
    g2sum = np.zeros(n, dtype=np.float64)
    for b in range(B):
        for j in range(n):
            g2sum[j] += G[b, j]
    value = 0.0
    for j in range(n):
        value += g2sum[j] * S64[j]
    if need_grad:
        cg = np.empty(n, dtype=A.dtype)
        for j in range(n):
            cg[j] = cast_like(A, c * g2sum[j])
        if wt:
            for i in prange(W.shape[0]):
                for j in range(n):
                    dW[i, j] = cg[j] * W[i, j]
        else:
            for j in prange(n):
                for i in range(W.shape[1]):
                    dW[j, i] = cg[j] * W[j, i]
    return lam / B * value


def contractive_sigmoid(A, W, lam, dA, dW):
    """Rifai et al. (2011), closed form for a sigmoid layer ``h = σ(a)``, ``a = Wx + b``:
    ``Ω = λ/B Σ_b Σ_j g_bj² S_j`` with ``g = h(1 − h)`` and ``S_j = Σ_i W_ji²``; fills
    ``dA = ∂Ω/∂a = (2λ/B) g g₂ S`` (``g₂ = σ'' = g(1 − 2h)``) and
    ``dW = ∂Ω/∂W = (2λ/B)(Σ_b g_bj²) W_ji`` unless they are None; returns Ω. One pass over
    A, one over W, walking W in its memory order (a column-major W goes in as ``Wᵀ``).
    NumPy reference: :meth:`aenumpy.regularizers.Contractive.penalty`."""
    wt = is_column_major(W)
    Wk = W.T if wt else W
    if dA is None:
        return _contractive_sigmoid_nb(A, Wk, float(lam), False, wt, A, Wk)
    return _contractive_sigmoid_nb(A, Wk, float(lam), True, wt, dA, dW.T if wt else dW)


# ------------------------------------------------------------------- top-k mask
@register_jitable
def _key(v, by_abs):
    """What a unit is ranked by: ``|z|`` (the lecture's f_k) or ``z`` (Makhzani & Frey)."""
    return abs(v) if by_abs else v


@register_jitable
def _keep_top(row, t, k, mrow, one, zero, by_abs):
    """Fill one mask row given the k-th largest key ``t``: 1 for every key ``> t``, then
    for the lowest-index keys ``== t`` until k are kept (the units a stable sort keeps)."""
    n = row.shape[0]
    above = 0
    for j in range(n):  # branch-free
        gt = _key(row[j], by_abs) > t
        mrow[j] = one if gt else zero
        above += np.int64(gt)
    ties = k - above
    for j in range(n):
        if ties == 0:
            break
        if _key(row[j], by_abs) == t:
            mrow[j] = one
            ties -= 1


@register_jitable
def _order_key(u):
    """A uint32 key that sorts like the float32 whose bits are ``u``: flip all bits of a
    negative, the sign bit of a positive; NaN gets key 0 (below -inf, as the sort puts
    it last)."""
    key = u ^ np.uint32(0x80000000) if u < np.uint32(0x80000000) else ~u
    return np.uint32(0) if (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000) else key


@jit(parallel=True)
def _topk_heap_nb(Z, k, M, by_abs):
    """The top-k mask, allocation-free per row: the k-th largest key ``t`` by a min-heap
    of the k largest keys seen so far (kept in the row of M itself, before M is filled;
    O(n log k), no copy of the row, no sort); then keep every key ``> t`` and, among
    keys ``== t``, the lowest indices until k are kept: the same units the stable sort
    keeps. NaN ranks below every number (as in the sort). M must have the dtype of Z
    (the heap lives in it)."""
    B, n = Z.shape
    one = one_like(M)
    zero = one - one
    ninf = cast_like(Z, -np.inf)
    for b in prange(B):
        row = Z[b]
        h = M[b]  # scratch: h[0:k] is a min-heap of the k largest keys so far
        for j in range(k):  # push the keys of row[0:k], sifting up
            v = _key(row[j], by_abs)
            if v != v:
                v = ninf
            c = j
            while c > 0:
                p = (c - 1) >> 1
                if h[p] <= v:
                    break
                h[c] = h[p]
                c = p
            h[c] = v
        for j in range(k, n):  # a larger key replaces the root and sifts down
            v = _key(row[j], by_abs)
            if not v > h[0]:
                continue
            c = 0
            while True:
                l = 2 * c + 1
                if l >= k:
                    break
                r = l + 1
                if r < k and h[r] < h[l]:
                    l = r
                if v <= h[l]:
                    break
                h[c] = h[l]
                c = l
            h[c] = v
        _keep_top(row, h[0], k, M[b], one, zero, by_abs)
    return M


@jit(parallel=True)
def _topk_radix32_nb(U, Z, k, M, by_abs):
    """float32 rows: the k-th largest key by a radix select on the bits (``U`` is ``Z``
    viewed as uint32; ``|z|`` is its bits without the sign), four 8-bit digits, most
    significant first; each pass a branch-free histogram of the entries that share the
    digits found so far (a heap or a partition mispredicts a branch per step on fresh
    data; one (B, 256) histogram per call). Then the same fill as the heap version."""
    B, n = Z.shape
    one = one_like(M)
    zero = one - one
    sign = np.uint32(0x7FFFFFFF) if by_abs else np.uint32(0xFFFFFFFF)
    hist = np.empty((B, 256), dtype=np.int64)
    for b in prange(B):
        h = hist[b]
        prefix = np.uint32(0)
        pmask = np.uint32(0)
        kk = k
        for p in range(4):
            shift = np.uint32(24 - 8 * p)
            for d in range(256):
                h[d] = 0
            for j in range(n):
                key = _order_key(U[b, j] & sign)
                h[(key >> shift) & np.uint32(255)] += np.int64((key & pmask) == prefix)
            c = 0
            d = 255
            while c + h[d] < kk:
                c += h[d]
                d -= 1
            kk -= c
            prefix |= np.uint32(d) << shift
            pmask |= np.uint32(255) << shift
            if h[d] == 1:  # one entry left with these digits: it is the k-th largest
                break
        # t: the key with the digits found (the k-th largest; one exists by construction)
        t = _key(Z[b, 0], by_abs)
        for j in range(n):
            if (_order_key(U[b, j] & sign) & pmask) == prefix:
                t = _key(Z[b, j], by_abs)
                break
        _keep_top(Z[b], t, k, M[b], one, zero, by_abs)
    return M


def topk_mask(Z, k, by="abs"):
    """The mask of ``f_k``: 1 at the k units of each row with the largest ``|z|``
    (``by="abs"``) or ``z`` (``by="value"``), ties to the lower index. NumPy reference:
    :func:`aenumpy.regularizers.topk.topk_mask`. A radix select for C-contiguous float32
    (the training case), the heap otherwise; both keep the same units."""
    M = np.empty_like(Z)
    by_abs = by == "abs"
    if Z.dtype == np.float32 and Z.flags.c_contiguous:
        return _topk_radix32_nb(Z.view(np.uint32), Z, k, M, by_abs)
    return _topk_heap_nb(Z, k, M, by_abs)


# ------------------------------------------------------------------ KL sparsity
@jit(parallel=False)
def _kl_sparsity_nb(Z, rho, beta, clip, need_grad, dZ):
    """KL sparsity (the formulas of :func:`kl_sparsity`): ``ρ̂_j = mean_b z_bj`` clipped, the
    value ``β Σ_j KL(ρ ‖ ρ̂_j)`` and, with ``need_grad``, ``dZ = β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂))/B`` (0 where
    the clip is active)."""
    B, n = Z.shape
    s = np.zeros(n, dtype=np.float64)
    for b in range(B):
        for j in range(n):
            s[j] += Z[b, j]
    rho_hat = s / B
    g = np.empty(n, dtype=Z.dtype)
    value = 0.0
    for j in range(n):
        rh = rho_hat[j]
        r = min(max(rh, clip), 1.0 - clip)
        value += rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r))
        gj = beta * (-rho / r + (1.0 - rho) / (1.0 - r))
        if rh <= clip or rh >= 1.0 - clip:
            gj = 0.0
        g[j] = gj / B
    if need_grad:
        for b in range(B):
            for j in range(n):
                dZ[b, j] = g[j]
    return beta * value, rho_hat


def kl_sparsity(Z, rho, beta, clip, dZ):
    """UFLDL: ``ρ̂_j = mean_b z_bj`` (float64), clipped to ``[clip, 1 − clip]``;
    ``Ω = β Σ_j KL(ρ ‖ ρ̂_j)``; fills ``dZ_bj = β(−ρ/ρ̂_j + (1−ρ)/(1−ρ̂_j))/B`` (0 where the
    clip is active) unless dZ is None. Returns ``(Ω, ρ̂)`` (ρ̂ not clipped). One pass for
    ρ̂, one to fill dZ. NumPy reference: :meth:`aenumpy.regularizers.KLSparsity.penalty`."""
    if dZ is None:
        return _kl_sparsity_nb(Z, float(rho), float(beta), float(clip), False, Z)
    return _kl_sparsity_nb(Z, float(rho), float(beta), float(clip), True, dZ)
