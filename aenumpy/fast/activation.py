"""Fused bias + activation, and its backward: the elementwise work of a Dense layer.

Activation codes (ints, so Numba can branch on them): 0 identity, 1 sigmoid,
2 tanh, 3 relu (:func:`code_of` gives a built-in activation's code, None for others).
NumPy references: :meth:`aenumpy.layers.Dense.forward` (``A = XWᵀ + b``, ``Z = f(A)``)
and :meth:`aenumpy.layers.Dense.delta` (``δ = dZ ⊙ f'(A)``), with the activations of
:mod:`aenumpy.activations`.
"""
from __future__ import annotations

from numba import prange
from numba.extending import register_jitable

from .. import activations
from ._jit import jit
from ._math import fsigmoid, ftanh, one_like

CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3}


def code_of(activation):
    """The kernel code of a built-in activation object (exactly its class), else None."""
    name = getattr(activation, "name", None)
    if name in CODES and type(activation) is activations.ACTIVATIONS[name]:
        return CODES[name]
    return None


@jit(parallel=True)
def bias_act(A, b, code, Z):
    """``A += b`` (so A holds ``XWᵀ + b``), then ``Z = f(A)``, in one pass; in float32 the
    sigmoid's ``e^x`` is the vectorised polynomial of :mod:`._math`."""
    n, d = A.shape
    one = one_like(A)
    for i in prange(n):
        if code == 1:
            for j in range(d):
                a = A[i, j] + b[j]
                A[i, j] = a
                Z[i, j] = fsigmoid(a)
        elif code == 3:
            for j in range(d):
                a = A[i, j] + b[j]
                A[i, j] = a
                Z[i, j] = a if a > 0 else a - a
        elif code == 2:
            for j in range(d):
                a = A[i, j] + b[j]
                A[i, j] = a
                Z[i, j] = ftanh(a)
        else:
            for j in range(d):
                a = A[i, j] + b[j]
                A[i, j] = a
                Z[i, j] = a * one
    return Z


@register_jitable(inline="always")
def delta_row(g, z, d, code, one):
    """``d = g ⊙ f'(a)`` along one row, with ``f'`` written through ``z = f(a)`` (sigmoid
    ``z(1 − z)``, tanh ``1 − z²``, relu ``1[z > 0]``, identity 1; NumPy reference:
    :meth:`aenumpy.layers.AffineLayer.delta`), the branch outside the loop so that the loop
    vectorises. Returns ``Σ d`` (a bias gradient; a caller that drops it pays nothing: the
    sum is compiled away)."""
    acc = one - one
    if code == 1:
        for q in range(g.shape[0]):
            v = g[q] * z[q] * (one - z[q])
            d[q] = v
            acc += v
    elif code == 3:
        for q in range(g.shape[0]):
            v = g[q] if z[q] > 0 else g[q] - g[q]
            d[q] = v
            acc += v
    elif code == 2:
        for q in range(g.shape[0]):
            v = g[q] * (one - z[q] * z[q])
            d[q] = v
            acc += v
    else:
        for q in range(g.shape[0]):
            d[q] = g[q]
            acc += g[q]
    return acc


@jit(parallel=True)
def act_backward(dZ, Z, code, dA):
    """``dA = dZ ⊙ f'(a)``, one row of the batch at a time (:func:`delta_row`)."""
    one = one_like(Z)
    for i in prange(dZ.shape[0]):
        delta_row(dZ[i], Z[i], dA[i], code, one)
    return dA
