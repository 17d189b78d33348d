"""Fused bias + activation, and its backward: the elementwise work of a Dense layer.

Activation codes (ints, so Numba can branch on them): 0 identity, 1 sigmoid,
2 tanh, 3 relu. Each kernel has its NumPy reference ``*_ref`` next to the Numba
version ``*_nb``; the public name dispatches on the JIT switch.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import dispatch, jit
from ._math import fsigmoid, ftanh, one_like

CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3}


# ---------------------------------------------------------------- forward
def bias_act_ref(A, b, code, Z):
    """``A += b`` (so A holds ``Wx + b``), then ``Z = f(A)``. Lecture: ``z = σ(Wx + b)``."""
    A += b
    if code == 0:
        Z[...] = A
    elif code == 1:
        e = np.exp(-np.abs(A))
        np.divide(np.where(A >= 0, 1.0, e), 1.0 + e, out=Z)
    elif code == 2:
        np.tanh(A, out=Z)
    else:
        np.maximum(A, 0, out=Z)
    return Z


@jit(parallel=True)
def bias_act_nb(A, b, code, Z):
    """Numba version of :func:`bias_act_ref`, one pass; in float32 the sigmoid's
    ``e^x`` is the vectorised polynomial of :mod:`._math`."""
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


bias_act = dispatch(bias_act_ref, bias_act_nb)


# ---------------------------------------------------------------- backward
def act_backward_ref(dZ, Z, code, dA):
    """``dA = dZ ⊙ f'(a)`` with ``f'`` written through ``z``. Lecture: ``δ = ∂E/∂z ⊙ σ'(Wx + b)``."""
    if code == 0:
        dA[...] = dZ
    elif code == 1:
        np.multiply(dZ, Z * (1 - Z), out=dA)
    elif code == 2:
        np.multiply(dZ, 1 - Z * Z, out=dA)
    else:
        np.multiply(dZ, Z > 0, out=dA)
    return dA


@jit(parallel=True)
def act_backward_nb(dZ, Z, code, dA):
    """Numba version of :func:`act_backward_ref` (the branch hoisted out of the loop)."""
    n, d = dZ.shape
    one = one_like(Z)
    for i in prange(n):
        if code == 1:
            for j in range(d):
                z = Z[i, j]
                dA[i, j] = dZ[i, j] * z * (one - z)
        elif code == 3:
            for j in range(d):
                g = dZ[i, j]
                dA[i, j] = g if Z[i, j] > 0 else g - g
        elif code == 2:
            for j in range(d):
                z = Z[i, j]
                dA[i, j] = dZ[i, j] * (one - z * z)
        else:
            for j in range(d):
                dA[i, j] = dZ[i, j]
    return dA


act_backward = dispatch(act_backward_ref, act_backward_nb)
