"""NumPy's PCG64 raw words, drawn on all the kernel threads: the same words as
``bit_generator.random_raw(n)``, and the generator left in the same state.

Gaussian corruption turns the generator's raw 64-bit words into normals
(:mod:`.noise`). ``random_raw`` makes them one after another on one thread. PCG64
is a 128-bit
linear congruential generator with an output permutation (O'Neill 2014)::

    s ← s·M + c  (mod 2¹²⁸)          word = rotr64(hi(s) ⊕ lo(s), hi(s) >> 58)

and an LCG can jump ahead k steps in O(log k) multiplications (Brown 1994,
``pcg_advance_lcg_128``), so the Numba version cuts the words into one range per
thread, jumps each range's four quarters to their starting states and runs the
four streams interleaved (the 128-bit multiply's latency then overlaps), bit for
bit the same words (``tests/test_properties.py``).
Other bit generators (Philox, MT19937, ...) use ``random_raw`` as they are.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic, register_jitable

from ._jit import SMALL_WORK, jit, kernel_threads

_M64 = (1 << 64) - 1
# PCG64's multiplier (PCG_DEFAULT_MULTIPLIER_128), as its high and low halves
_MH, _ML = np.uint64(0x2360ED051FC65DA4), np.uint64(0x4385DF649FCCF645)


@intrinsic
def _muladd128(typingctx, xh, xl, mh, ml, ch, cl):
    """(x·m + c) mod 2¹²⁸ on (high, low) uint64 halves, in LLVM's 128-bit integers"""
    u64 = types.uint64
    sig = types.UniTuple(u64, 2)(u64, u64, u64, u64, u64, u64)

    def codegen(context, builder, signature, args):
        i128, i64 = ir.IntType(128), ir.IntType(64)
        sh = ir.Constant(i128, 64)

        def wide(h, lo):
            return builder.or_(builder.shl(builder.zext(h, i128), sh), builder.zext(lo, i128))

        r = builder.add(builder.mul(wide(args[0], args[1]), wide(args[2], args[3])),
                        wide(args[4], args[5]))
        return context.make_tuple(builder, signature.return_type,
                                  (builder.trunc(builder.lshr(r, sh), i64), builder.trunc(r, i64)))

    return sig, codegen


@register_jitable(inline="always")
def _word(h, lo):
    """PCG's XSL-RR output: rotate hi ⊕ lo right by the top 6 bits of the state"""
    rot = h >> np.uint64(58)
    x = h ^ lo
    return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@register_jitable
def _advance(sh, sl, ih, il, delta):
    """the state `delta` steps after (sh, sl): s·M^δ + c·(M^δ − 1)/(M − 1), by squaring"""
    zero, one = np.uint64(0), np.uint64(1)
    ah, al, ph, pl = zero, one, zero, zero
    mh, ml = _MH, _ML
    d = delta
    while d > 0:
        if d & 1:
            ah, al = _muladd128(ah, al, mh, ml, zero, zero)
            ph, pl = _muladd128(ph, pl, mh, ml, ih, il)
        m1h, m1l = _muladd128(mh, ml, zero, one, zero, one)  # M + 1
        ih, il = _muladd128(m1h, m1l, ih, il, zero, zero)
        mh, ml = _muladd128(mh, ml, mh, ml, zero, zero)
        d >>= 1
    return _muladd128(ah, al, sh, sl, ph, pl)


@jit(parallel=True)
def _fill_nb(out, sh, sl, ih, il, parts):
    """out[j] = the word after j + 1 steps from state (sh, sl); returns the state after n
    (out first: the jit wrapper sizes the work by it, so a few words stay on one thread)"""
    n = out.shape[0]
    width = (n + parts - 1) // parts
    for t in prange(parts):
        lo = min(n, t * width)
        hi = min(n, lo + width)
        q = (hi - lo) // 4
        h0, l0 = _advance(sh, sl, ih, il, lo)
        h1, l1 = _advance(sh, sl, ih, il, lo + q)
        h2, l2 = _advance(sh, sl, ih, il, lo + 2 * q)
        h3, l3 = _advance(sh, sl, ih, il, lo + 3 * q)
        for i in range(q):  # four independent streams: their multiplies overlap
            h0, l0 = _muladd128(h0, l0, _MH, _ML, ih, il)
            h1, l1 = _muladd128(h1, l1, _MH, _ML, ih, il)
            h2, l2 = _muladd128(h2, l2, _MH, _ML, ih, il)
            h3, l3 = _muladd128(h3, l3, _MH, _ML, ih, il)
            out[lo + i] = _word(h0, l0)
            out[lo + q + i] = _word(h1, l1)
            out[lo + 2 * q + i] = _word(h2, l2)
            out[lo + 3 * q + i] = _word(h3, l3)
        for j in range(lo + 4 * q, hi):  # the last quarter's tail
            h3, l3 = _muladd128(h3, l3, _MH, _ML, ih, il)
            out[j] = _word(h3, l3)
    return _advance(sh, sl, ih, il, n)


def raw_words(bit_generator, n):
    """``n`` raw 64-bit words of the generator, as ``bit_generator.random_raw(n)`` (its
    NumPy reference) gives them: for PCG64 (the default generator) the same words on
    all the kernel threads, and the same state afterwards; any other bit generator
    draws with ``random_raw``."""
    if type(bit_generator) is not np.random.PCG64 or n <= 0:
        return bit_generator.random_raw(n)
    st = bit_generator.state
    s, c = st["state"]["state"], st["state"]["inc"]
    out = np.empty(n, np.uint64)
    parts = kernel_threads() if n >= SMALL_WORK else 1  # as many ranges as threads run
    h, lo = _fill_nb(out, np.uint64(s >> 64), np.uint64(s & _M64), np.uint64(c >> 64),
                     np.uint64(c & _M64), parts)
    st["state"]["state"] = (int(h) << 64) | int(lo)
    bit_generator.state = st
    return out
