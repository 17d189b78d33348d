"""Optimizer updates, in place: NumPy references and Numba versions.

Adam (Kingma & Ba 2015, PyTorch's form)::

    m ← β₁ m + (1 − β₁) g
    v ← β₂ v + (1 − β₂) g²
    θ ← θ − η (m / bc₁) / (√(v / bc₂) + ε),   bc₁ = 1 − β₁ᵗ, bc₂ = 1 − β₂ᵗ

SGD with momentum μ: ``v ← μ v − η g``; ``θ ← θ + v`` (Nesterov:
``θ ← θ + μ v − η g``).
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import dispatch, jit
from ._math import cast_like


def adam_update_ref(p, g, m, v, lr, b1, b2, eps, bc1, bc2):
    """NumPy reference of the Adam step: ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``θ ← θ − (η/bc₁) m / (√(v/bc₂) + ε)``; updates p, m, v in place."""
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    p -= (lr / bc1) * m / (np.sqrt(v / bc2) + eps)


def adam_update_nb(p, g, m, v, lr, b1, b2, eps, bc1, bc2):
    """Numba version of :func:`adam_update_ref`, one pass over the four arrays, in the
    arrays' dtype (float32 arithmetic for float32 parameters, as the reference does)."""
    _adam_many_nb((p,), (g,), (m,), (v,), lr, b1, b2, eps, bc1, bc2)


adam_update = dispatch(adam_update_ref, adam_update_nb)


def adam_update_many_ref(ps, gs, ms, vs, lr, b1, b2, eps, bc1, bc2):
    """:func:`adam_update_ref` on each ``(p, g, m, v)`` of the equal-length sequences
    (every parameter of a model in one call)."""
    for p, g, m, v in zip(ps, gs, ms, vs):
        adam_update_ref(p, g, m, v, lr, b1, b2, eps, bc1, bc2)


@jit(parallel=True)
def _adam_many_nb(ps, gs, ms, vs, lr, b1, b2, eps, bc1, bc2):
    """The Adam step ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``θ ← θ − (η/bc₁) m / (√(v/bc₂) + ε)`` on each (p, g, m, v) of the tuples, one
    vectorised pass each."""
    for t in range(len(ps)):
        p = ps[t]
        g = gs[t]
        m = ms[t]
        v = vs[t]
        step = cast_like(p, lr / bc1)
        inv_bc2 = cast_like(p, 1.0 / bc2)
        b1_ = cast_like(p, b1)
        b2_ = cast_like(p, b2)
        c1 = cast_like(p, 1.0 - b1)
        c2 = cast_like(p, 1.0 - b2)
        eps_ = cast_like(p, eps)
        for i in prange(p.shape[0]):
            gi = g[i]
            mi = b1_ * m[i] + c1 * gi
            vi = b2_ * v[i] + c2 * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] -= step * mi / (np.sqrt(vi * inv_bc2) + eps_)


def adam_update_many_nb(ps, gs, ms, vs, lr, b1, b2, eps, bc1, bc2):
    """Numba version of :func:`adam_update_many_ref`: one call for all the parameters
    (the per-call cost, ~6 µs a parameter in Python, was 70 µs of a deep step) when
    they are 1-D arrays of one type; else one call each."""
    ps, gs, ms, vs = tuple(ps), tuple(gs), tuple(ms), tuple(vs)
    try:
        _adam_many_nb(ps, gs, ms, vs, lr, b1, b2, eps, bc1, bc2)
    except Exception as exc:  # arrays of mixed types make a tuple Numba cannot index in a loop
        if type(exc).__name__ != "TypingError":
            raise
        for p, g, m, v in zip(ps, gs, ms, vs):  # nothing was updated yet: one call each
            adam_update_nb(p, g, m, v, lr, b1, b2, eps, bc1, bc2)


adam_update_many = dispatch(adam_update_many_ref, adam_update_many_nb)


def sgd_update_ref(p, g, vel, lr, mu, nesterov):
    """NumPy reference: ``v ← μv − ηg``; ``θ ← θ + v`` (Nesterov: ``θ ← θ + μv − ηg``), in place."""
    vel *= mu
    vel -= lr * g
    if nesterov:
        p += mu * vel - lr * g
    else:
        p += vel


@jit(parallel=False)
def _sgd_nb(p, g, vel, lr, mu, nesterov):
    for i in range(p.shape[0]):
        vi = mu * vel[i] - lr * g[i]
        vel[i] = vi
        if nesterov:
            p[i] += mu * vi - lr * g[i]
        else:
            p[i] += vi


def sgd_update_nb(p, g, vel, lr, mu, nesterov):
    """Numba version of :func:`sgd_update_ref` (on the flattened arrays)."""
    _sgd_nb(p.reshape(-1), g.reshape(-1), vel.reshape(-1), lr, mu, nesterov)


sgd_update = dispatch(sgd_update_ref, sgd_update_nb)


# ------------------------------------------------------------------ finiteness
def all_finite_ref(a):
    """True when no entry of ``a`` is NaN or ±inf (fit's divergence check)."""
    return bool(np.isfinite(a).all())


@jit(parallel=True)
def _count_nonfinite_nb(bits, mask):
    n = 0
    for i in prange(bits.shape[0]):  # a reduction: parfor-outlined, so it vectorises
        n += (bits[i] & mask) == mask  # exponent all ones: ±inf or NaN
    return n


_EXP_MASK = {4: (np.uint32, np.uint32(0x7F800000)), 8: (np.uint64, np.uint64(0x7FF0000000000000))}


def all_finite_nb(a):
    """Numba version of :func:`all_finite_ref`: one pass over the IEEE bits (an entry is
    NaN or ±inf exactly when its exponent bits are all ones), no temporary array."""
    a = np.ravel(a, order="K")  # a view for a C- or F-ordered array
    if a.dtype.kind != "f" or a.dtype.itemsize not in _EXP_MASK:
        return all_finite_ref(a)
    if a.size == 0:
        return True
    ut, mask = _EXP_MASK[a.dtype.itemsize]
    return bool(_count_nonfinite_nb(a.view(ut), mask) == 0)


all_finite = dispatch(all_finite_ref, all_finite_nb)
