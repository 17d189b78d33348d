"""Gaussian corruption ``x̃ = x + σ ε`` with ``ε`` from the Box–Muller transform.

Lecture (denoising autoencoder, the μ_T corruption): ``x̃ = x + σ ε``,
``ε ~ N(0, I)``. The random bits come from the model's ``numpy.random.Generator``
(principle 4: ``rng.bit_generator.random_raw``, 64-bit words); they become uniforms
exactly as NumPy makes them (:func:`uniforms_ref`), and the uniforms become normals
by Box & Muller (1958): for independent ``u₁, u₂ ~ U[0, 1)``::

    r = √(−2 ln(1 − u₁)),   θ = 2π u₂,   ε₁ = r cos θ,   ε₂ = r sin θ

are two independent N(0, 1) draws. Uniforms ``u[2k], u[2k+1]`` make ``ε[2k],
ε[2k+1]`` (row-major order over the batch); a batch of ``n`` entries takes
:func:`n_words` ``(n, dtype)`` words (n rounded up to even uniforms).

Why not ``rng.standard_normal`` (what the teaching path draws): NumPy's ziggurat
draws one normal at a time and costs several times more than the raw words plus a
vectorised transform (docs/speed.md). So **the same seed gives different Gaussian
noise on the two paths**; each is a correct N(0, 1) draw. The tails: float32 uniforms
are multiples of 2⁻²⁴, so ``|ε| ≤ √(48 ln 2) ≈ 5.77`` (a standard normal exceeds that
with probability 8e-9); in float64, 8.6.

The reference is NumPy's ``log1p``/``cos``/``sin``; the Numba version computes
the same formulas with float32 polynomials (:mod:`._math`), which agree with it
to a few 1e-7 relative.
"""
from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from ._jit import jit
from ._math import cast_like, flog1m, fsincos_turns


def n_uniforms(n: int) -> int:
    """Uniforms needed for ``n`` normals: two per pair, ``n`` rounded up to even."""
    return n + (n & 1)


def n_words(n: int, dtype) -> int:
    """64-bit generator words for ``n`` normals: one per pair in float32 (two 24-bit
    uniforms per word), two per pair in float64 (one 53-bit uniform per word)."""
    pairs = (n + 1) // 2
    return pairs if np.dtype(dtype) == np.float32 else 2 * pairs


def uniforms_ref(bits, dtype):
    """The uniforms in [0, 1) that the words ``bits`` (uint64) make, NumPy's recipes:
    float32, two per word (low half first), each the top 24 bits of its 32 × 2⁻²⁴;
    float64, one per word, its top 53 bits × 2⁻⁵³."""
    bits = np.asarray(bits, dtype=np.uint64)
    if np.dtype(dtype) == np.float32:
        u = np.empty(2 * bits.size, np.float32)
        u[0::2] = ((bits & np.uint64(0xFFFFFFFF)) >> np.uint64(8)).astype(np.float32)
        u[1::2] = (bits >> np.uint64(40)).astype(np.float32)
        return u * np.float32(2.0 ** -24)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def box_muller_ref(U):
    """``ε`` from the uniforms ``U`` (even length): pairs ``(U[2k], U[2k+1])`` →
    ``(r cos θ, r sin θ)``, ``r = √(−2 ln(1 − u₁))``, ``θ = 2π u₂``."""
    U = np.asarray(U)
    t = U.dtype.type
    r = np.sqrt(t(-2.0) * np.log1p(-U[0::2]))
    theta = t(2.0 * np.pi) * U[1::2]
    eps = np.empty_like(U)
    eps[0::2] = r * np.cos(theta)
    eps[1::2] = r * np.sin(theta)
    return eps


def add_gaussian_ref(X, sigma, bits, out):
    """``x̃ = x + σ ε`` into ``out`` (shape of X), ``ε = box_muller(uniforms(bits))[:X.size]``."""
    eps = box_muller_ref(uniforms_ref(bits, X.dtype))[:X.size].reshape(X.shape)
    np.multiply(eps, X.dtype.type(sigma), out=out)
    out += X
    return out


def _pair_uniforms(x, bits, k):
    """``(u₁, u₂)`` of pair ``k`` as :func:`uniforms_ref` makes them (Python fallback)."""
    if x.dtype == np.float32:
        w = int(bits[k])
        return np.float32(((w & 0xFFFFFFFF) >> 8) * 2.0 ** -24), np.float32((w >> 40) * 2.0 ** -24)
    return (int(bits[2 * k]) >> 11) * 2.0 ** -53, (int(bits[2 * k + 1]) >> 11) * 2.0 ** -53


@overload(_pair_uniforms, inline="always")
def _pair_uniforms_ov(x, bits, k):
    if x.dtype == types.float32:
        def f32(x, bits, k):
            w = bits[k]
            lo = np.int32((w & np.uint64(0xFFFFFFFF)) >> np.uint64(8))  # 24 bits: exact
            hi = np.int32(w >> np.uint64(40))
            return np.float32(lo) * np.float32(2.0 ** -24), np.float32(hi) * np.float32(2.0 ** -24)
        return f32

    def f64(x, bits, k):
        return (np.float64(bits[2 * k] >> np.uint64(11)) * 2.0 ** -53,
                np.float64(bits[2 * k + 1] >> np.uint64(11)) * 2.0 ** -53)
    return f64


@jit(parallel=True)
def _add_gaussian_nb(x, sigma, bits, out):
    """``out = x + σ ε`` over the flat ``x``, ε by Box–Muller from the words ``bits`` (the
    module docstring: ``r = √(−2 ln(1 − u₁))``, ``θ = 2π u₂``, ``ε = (r cos θ, r sin θ)``).
    NumPy reference: :func:`add_gaussian_ref`."""
    n = x.shape[0]
    h = (n + 1) // 2
    s = cast_like(x, sigma)
    m2 = cast_like(x, -2.0)
    # three simple loops: LLVM vectorises each (one loop doing all of it ran 3x slower)
    R = np.empty(h, dtype=x.dtype)
    C = np.empty(h, dtype=x.dtype)
    S = np.empty(h, dtype=x.dtype)
    for k in prange(h):
        u1, u2 = _pair_uniforms(x, bits, k)
        R[k] = s * np.sqrt(m2 * flog1m(u1))
        c, sn = fsincos_turns(u2)
        C[k] = c
        S[k] = sn
    for k in prange(n // 2):
        out[2 * k] = x[2 * k] + R[k] * C[k]
        out[2 * k + 1] = x[2 * k + 1] + R[k] * S[k]
    if n & 1:  # the last pair makes one more normal than needed
        out[n - 1] = x[n - 1] + R[h - 1] * C[h - 1]


def add_gaussian(X, sigma, bits, out):
    """``x̃ = x + σ ε`` into ``out``, compiled: the words to ``σ r cos θ``, ``σ r sin θ``,
    then the add (X and out C-contiguous). NumPy reference: :func:`add_gaussian_ref`."""
    _add_gaussian_nb(X.reshape(-1), float(sigma), bits, out.reshape(-1))
    return out
