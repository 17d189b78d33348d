"""Fused bias + activation, and its backward: the elementwise work of a Dense layer.

Activation codes (ints, so Numba can branch on them): 0 identity, 1 sigmoid,
2 tanh, 3 relu. Each kernel has its NumPy reference ``*_ref`` next to the Numba
version ``*_nb``; the public name dispatches on the JIT switch.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import dispatch, jit

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
    n, d = A.shape
    for i in prange(n):
        for j in range(d):
            a = A[i, j] + b[j]
            A[i, j] = a
            if code == 0:
                Z[i, j] = a
            elif code == 1:
                if a >= 0:
                    Z[i, j] = 1.0 / (1.0 + math.exp(-a))
                else:
                    e = math.exp(a)
                    Z[i, j] = e / (1.0 + e)
            elif code == 2:
                Z[i, j] = math.tanh(a)
            else:
                Z[i, j] = a if a > 0 else 0.0
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
    n, d = dZ.shape
    for i in prange(n):
        for j in range(d):
            z = Z[i, j]
            g = dZ[i, j]
            if code == 0:
                dA[i, j] = g
            elif code == 1:
                dA[i, j] = g * z * (1.0 - z)
            elif code == 2:
                dA[i, j] = g * (1.0 - z * z)
            else:
                dA[i, j] = g if z > 0 else 0.0
    return dA


act_backward = dispatch(act_backward_ref, act_backward_nb)
