"""Adam's fast twin and the divergence check: every parameter updated in one kernel call.

Adam (Kingma & Ba 2015, PyTorch's form), NumPy reference :meth:`aenumpy.optim.Adam.step`::

    m ← β₁ m + (1 − β₁) g
    v ← β₂ v + (1 − β₂) g²
    θ ← θ − η (m / bc₁) / (√(v / bc₂) + ε),   bc₁ = 1 − β₁ᵗ, bc₂ = 1 − β₂ᵗ

The kernel walks each array in its memory order (:mod:`.layout`), so a column-major
weight, its gradient and its moments pair up entry by entry.
"""
from __future__ import annotations

import weakref

import numpy as np
from numba import prange

from .. import optim
from .._validate import check_grads
from ..backend import min_work
from ._jit import jit
from ._math import cast_like
from .layout import flat_like, flat_view, same_layout


@jit(parallel=True)
def adam_many(ps, gs, ms, vs, lr, b1, b2, eps, bc1, bc2):
    """The Adam step ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``θ ← θ − (η/bc₁) m / (√(v/bc₂) + ε)`` on each (p, g, m, v) of the tuples of 1-D
    arrays, one vectorised pass each, in the arrays' dtype."""
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


#: the parameter arrays of the models that run compiled (:func:`.models.work` reached
#: :func:`aenumpy.backend.min_work`), by id, held weakly
_COMPILED_MODELS_PARAMS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def runs_compiled(params):
    """Note that the arrays ``params`` (a dict) belong to a model that runs compiled."""
    for p in params.values():
        _COMPILED_MODELS_PARAMS[id(p)] = p


class FastAdam(optim.Adam):
    """:class:`aenumpy.optim.Adam` with every parameter updated in one compiled call
    (:func:`adam_many`). Parameters of mixed dtypes, or totalling fewer than
    :func:`aenumpy.backend.min_work` entries, are updated by the teaching step, unless they
    belong to a model that runs compiled anyway (:func:`runs_compiled`: a convolutional
    model has few weights and much work), whose steps the teaching update, seven NumPy
    passes per parameter, would slow."""

    def step(self, params, grads):
        """One Adam update of every parameter (the module docstring's formula)."""
        small = sum(p.size for p in params.values()) < min_work() and not any(
            _COMPILED_MODELS_PARAMS.get(id(p)) is p for p in params.values())
        if small or len({p.dtype for p in params.values()}) != 1:
            return super().step(params, grads)
        check_grads(params, grads)
        self.t += 1
        flat = self._flat_views(params)
        gs = tuple(flat_like(grads[name], p) for name, p, *_ in flat)
        adam_many(tuple(f[2] for f in flat), gs, tuple(f[3] for f in flat),
                  tuple(f[4] for f in flat), self.lr, self.beta1, self.beta2, self.eps,
                  1.0 - self.beta1 ** self.t, 1.0 - self.beta2 ** self.t)

    def _flat_views(self, params):
        """Per parameter ``(name, p, flat p, flat m, flat v)``, the moments created (or
        re-laid in p's layout) when needed; kept between steps while the arrays stay
        the same objects."""
        cache = getattr(self, "_flat", None)
        if cache is not None and len(cache) == len(params) and all(
                params.get(name) is p and self.state.get(name, {}).get("m") is m
                and self.state[name].get("v") is v for name, p, m, v in cache):
            return self._flat_list
        cache, flat = [], []
        for name, p in params.items():
            slots = self.state.setdefault(name, {"m": np.zeros_like(p), "v": np.zeros_like(p)})
            m = slots["m"] = same_layout(slots["m"], p)
            v = slots["v"] = same_layout(slots["v"], p)
            cache.append((name, p, m, v))
            flat.append((name, p, flat_view(p), flat_view(m), flat_view(v)))
        self._flat, self._flat_list = cache, flat
        return flat


@jit(parallel=True)
def _count_nonfinite_nb(bits, mask):
    """How many entries have every exponent bit set (``bits & mask == mask``): the NaN and
    ±inf of the array whose IEEE bits are ``bits``. NumPy reference: ``(~np.isfinite(a)).sum()``."""
    n = 0
    for i in prange(bits.shape[0]):  # a reduction: parfor-outlined, so it vectorises
        n += (bits[i] & mask) == mask  # exponent all ones: ±inf or NaN
    return n


_EXP_MASK = {4: (np.uint32, np.uint32(0x7F800000)), 8: (np.uint64, np.uint64(0x7FF0000000000000))}


def _finite(a):
    """True when no entry of ``a`` is NaN or ±inf: one pass over the IEEE bits (an entry
    is NaN or ±inf exactly when its exponent bits are all ones), no temporary array."""
    a = np.ravel(a, order="K")  # a view for a C- or F-ordered array
    if a.size < min_work() or a.dtype.kind != "f" or a.dtype.itemsize not in _EXP_MASK:
        return bool(np.isfinite(a).all())
    ut, mask = _EXP_MASK[a.dtype.itemsize]
    return bool(_count_nonfinite_nb(a.view(ut), mask) == 0)


def all_finite(grads):
    """True when every gradient entry is finite (fit's divergence check). NumPy
    reference: :func:`aenumpy.train.all_finite`."""
    return all(_finite(g) for g in grads.values())

