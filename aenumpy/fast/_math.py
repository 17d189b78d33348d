"""Scalar math for the Numba kernels: ``fexp``, ``flog1p`` (softplus's tail), ``flog1m``
(``ln(1 − u)``), ``flog`` (``ln w``: a softmax's normaliser) and ``fsincos_turns``
(``cos 2πu``, ``sin 2πu``) for Box–Muller.

In float64 these are ``math.exp`` / ``math.log1p`` / ``math.log`` / ``math.cos`` / ``math.sin``. In
float32 they are written out as polynomials (Cody–Waite range reduction and a
degree-6 minimax polynomial for ``exp``, the ``atanh`` series for the logarithms,
Taylor polynomials after taking out the nearest quarter turn for ``sin``/``cos``),
because the library ``expf`` is a scalar call that LLVM cannot vectorise: the
written-out version runs ~10× faster inside a loop. Their error is below 2e-7
relative (about 1.5 float32 ulp); ``tests/test_kernels.py`` checks them against
NumPy in float64.

Nothing here is compiled at import: ``numba.extending.overload`` only registers
the float32 / float64 implementations; they are compiled into the kernels that
call them.

For developers: Numba's on-disk cache is keyed on each kernel's own source file,
so after editing a helper here, delete ``aenumpy/fast/__pycache__`` or the
kernels that use it keep their old compiled code (a fresh install compiles anew).
"""
from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import intrinsic, overload, register_jitable


@intrinsic
def _i32_as_f32(typingctx, x):
    """Reinterpret the bits of an int32 as a float32 (``2^k`` from its exponent field)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@intrinsic
def _f32_as_i32(typingctx, x):
    """Reinterpret the bits of a float32 as an int32 (to read its exponent field)."""
    sig = types.int32(types.float32)

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@register_jitable(inline="always")
def _exp32(x):
    """``e^x`` in float32: ``x = k ln2 + r``, ``|r| ≤ ½ ln2``, ``e^x = 2^k · p(r)``."""
    # clamped to [−87.33, 88] so 2^k stays a normal float32 (e^88 ≈ 1.7e38 stands for overflow)
    x = min(max(x, np.float32(-87.33)), np.float32(88.0))
    k = np.floor(x * np.float32(1.4426950408889634) + np.float32(0.5))
    r = x - k * np.float32(0.693359375)
    r = r + k * np.float32(2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    e = p * r * r + r + np.float32(1.0)
    return e * _i32_as_f32((np.int32(k) + np.int32(127)) << np.int32(23))


@register_jitable(inline="always")
def _two_atanh32(s):
    """``2 atanh(s) = ln((1 + s)/(1 − s))`` for ``|s| ≤ 1/3`` in float32: the odd series
    ``2(s + s³/3 + … + s¹⁵/15)`` (truncation < 4e-10)."""
    s2 = s * s
    p = np.float32(1.0 / 15.0)
    p = p * s2 + np.float32(1.0 / 13.0)
    p = p * s2 + np.float32(1.0 / 11.0)
    p = p * s2 + np.float32(1.0 / 9.0)
    p = p * s2 + np.float32(1.0 / 7.0)
    p = p * s2 + np.float32(1.0 / 5.0)
    p = p * s2 + np.float32(1.0 / 3.0)
    return np.float32(2.0) * s * (np.float32(1.0) + s2 * p)


@register_jitable(inline="always")
def _log1p32(e):
    """``log(1 + e)`` for ``e ∈ [−½, 1]`` in float32: ``2 atanh(s)``, ``s = e/(2 + e)``, ``|s| ≤ 1/3``."""
    return _two_atanh32(e / (np.float32(2.0) + e))


@register_jitable(inline="always")
def _log32(w):
    """``ln w`` for a normal float32 ``w > 0``: ``w = m 2^e``, ``m ∈ [√½, √2)``,
    ``ln w = e ln2 + 2 atanh(s)``, ``s = (m − 1)/(m + 1)``, ``|s| ≤ 0.172``."""
    bits = _f32_as_i32(w)
    e = ((bits >> np.int32(23)) & np.int32(255)) - np.int32(127)
    m = _i32_as_f32((bits & np.int32(0x7FFFFF)) | np.int32(0x3F800000))  # [1, 2)
    big = m > np.float32(1.4142135)
    m = np.float32(0.5) * m if big else m
    ef = np.float32(e + np.int32(1)) if big else np.float32(e)
    lm = _two_atanh32((m - np.float32(1.0)) / (m + np.float32(1.0)))
    return ef * np.float32(0.693359375) + (lm - ef * np.float32(2.12194440e-4))


@register_jitable(inline="always")
def _sincos_turns32(u):
    """``(cos 2πu, sin 2πu)`` for ``u ∈ [0, 1)`` in float32: the nearest quarter turn
    ``k`` is taken out exactly (``4u − k`` is exact), the rest ``|φ| ≤ π/4`` goes
    through the Taylor polynomials (truncation < 2e-9)."""
    t = np.float32(4.0) * u
    k = np.int32(t + np.float32(0.5))  # t ≥ 0: truncation is the floor
    f = (t - np.float32(k)) * np.float32(1.5707963267948966)
    f2 = f * f
    s = np.float32(1.0 / 362880.0)
    s = s * f2 - np.float32(1.0 / 5040.0)
    s = s * f2 + np.float32(1.0 / 120.0)
    s = s * f2 - np.float32(1.0 / 6.0)
    s = f + f * f2 * s
    c = np.float32(-1.0 / 3628800.0)
    c = c * f2 + np.float32(1.0 / 40320.0)
    c = c * f2 - np.float32(1.0 / 720.0)
    c = c * f2 + np.float32(1.0 / 24.0)
    c = c * f2 - np.float32(0.5)
    c = np.float32(1.0) + f2 * c
    # rotate by q = k mod 4 quarter turns, branch-free (so the loop vectorises):
    # q = 0, 1, 2, 3 → (c, s), (−s, c), (−c, −s), (s, −c)
    odd = (k & np.int32(1)) == np.int32(1)
    a = s if odd else c
    b = c if odd else s
    sign_c = np.float32(np.int32(1) - ((k + np.int32(1)) & np.int32(2)))
    sign_s = np.float32(np.int32(1) - (k & np.int32(2)))
    return sign_c * a, sign_s * b


def fexp(x):
    """``e^x`` (Python fallback; in a Numba kernel the overload below is used)."""
    return math.exp(x)


def flog1p(e):
    """``log(1 + e)`` for ``0 ≤ e ≤ 1`` (Python fallback)."""
    return math.log1p(e)


def flog1m(u):
    """``ln(1 − u)`` for ``0 ≤ u < 1`` (Python fallback)."""
    return math.log1p(-u)


def flog(w):
    """``ln w`` for ``w > 0`` (Python fallback)."""
    return math.log(w)


def fsincos_turns(u):
    """``(cos 2πu, sin 2πu)`` (Python fallback)."""
    return math.cos(2.0 * math.pi * u), math.sin(2.0 * math.pi * u)


@overload(flog1m, inline="always")
def _flog1m_ov(u):
    if isinstance(u, types.Float) and u.bitwidth == 32:
        # u < ½: the atanh series of log1p (accurate however small u is; |s| < ⅓);
        # u ≥ ½: 1 − u is exact (Sterbenz), so ln of it directly
        return lambda u: _log1p32(-u) if u < np.float32(0.5) else _log32(np.float32(1.0) - u)
    return lambda u: math.log1p(-u)


@overload(flog, inline="always")
def _flog_ov(w):
    if isinstance(w, types.Float) and w.bitwidth == 32:
        return lambda w: _log32(w)
    return lambda w: math.log(w)


@overload(fsincos_turns, inline="always")
def _fsincos_turns_ov(u):
    if isinstance(u, types.Float) and u.bitwidth == 32:
        return lambda u: _sincos_turns32(u)
    return lambda u: (math.cos(2.0 * math.pi * u), math.sin(2.0 * math.pi * u))


@overload(fexp, inline="always")
def _fexp_ov(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _exp32(x)
    return lambda x: math.exp(x)


@overload(flog1p, inline="always")
def _flog1p_ov(e):
    if isinstance(e, types.Float) and e.bitwidth == 32:
        return lambda e: _log1p32(e)
    return lambda e: math.log1p(e)


def fsigmoid(a):
    """``σ(a) = 1/(1 + e^{−a})`` (Python fallback)."""
    return 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))


def ftanh(a):
    """``tanh(a)`` (Python fallback)."""
    return math.tanh(a)


def one_like(A):
    """The number 1 in the dtype of array A (so float32 kernels stay in float32)."""
    return A.dtype.type(1)


@overload(fsigmoid, inline="always")
def _fsigmoid_ov(a):
    if isinstance(a, types.Float) and a.bitwidth == 32:
        # exp32 clamps its argument, so this is finite for every a (0 and 1 at the tails)
        return lambda a: np.float32(1.0) / (np.float32(1.0) + _exp32(-a))

    def f64(a):
        if a >= 0:
            return 1.0 / (1.0 + math.exp(-a))
        e = math.exp(a)
        return e / (1.0 + e)

    return f64


@overload(ftanh, inline="always")
def _ftanh_ov(a):
    # tanh is not on any hot path of the lecture's models: the library call, exact
    return lambda a: math.tanh(a)


@overload(one_like, inline="always")
def _one_like_ov(A):
    if A.dtype == types.float32:
        return lambda A: np.float32(1.0)
    return lambda A: 1.0


def cast_like(A, x):
    """The scalar x in the dtype of array A (Python fallback)."""
    return A.dtype.type(x)


@overload(cast_like, inline="always")
def _cast_like_ov(A, x):
    if A.dtype == types.float32:
        return lambda A, x: np.float32(x)
    return lambda A, x: np.float64(x)
