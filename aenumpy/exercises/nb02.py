"""Notebook 2, write your own layer: a softplus dense layer and a tanh dense layer.

The references are the library's :class:`aenumpy.layers.Dense` with the same activation
(:class:`aenumpy.activations.Softplus`, ``"tanh"``), in float64. The check gives the student's
layer the reference's weights, compares ``forward`` and ``backward(dZ)`` (its return value and
``grads``), and runs :func:`aenumpy.check_layer` on the student's own forward.
"""
from __future__ import annotations

import numpy as np

from ..activations import Softplus
from ..layers import Dense
from .exercise import Case, Exercise


def softplus_dense(n_in, n_out, rng):
    """The library's ``Dense(n_in, n_out, activation=Softplus())`` in float64."""
    return Dense(n_in, n_out, activation=Softplus(), rng=rng, dtype="float64")


def tanh_dense(n_in, n_out, rng):
    """The library's ``Dense(n_in, n_out, activation="tanh")`` in float64."""
    return Dense(n_in, n_out, activation="tanh", rng=rng, dtype="float64")


def _cases(rng):
    return [Case("6 → 4, lote de 5", (6, 4, rng.standard_normal((5, 6)), rng.standard_normal((5, 4))),
                 B=5),
            Case("3 → 7, una muestra", (3, 7, rng.standard_normal((1, 3)), rng.standard_normal((1, 7))),
                 B=1),
            Case("entradas grandes (saturación)", (5, 3, 8 * rng.standard_normal((4, 5)),
                                                   rng.standard_normal((4, 3))), B=4)]


_LAYER = """
Los pesos W (forma (n_salida, n_entrada)) y b van en self.params = {"W": ..., "b": ...};
backward(dZ) recibe ∂E/∂Z, rellena self.grads con las mismas claves y devuelve ∂E/∂X:
δ = dZ ⊙ f'(A), ∂E/∂W = δᵀ X, ∂E/∂b = Σ_lote δ, ∂E/∂X = δ W. La comprobación pone en tu capa
los pesos de la de la biblioteca y compara forward y backward."""

EXERCISES = [
    Exercise(
        name="02.softplus_layer", title="una capa densa con softplus",
        statement="""
Completa el backward de la capa Z = softplus(X Wᵀ + b), softplus(a) = log(1 + e^a), cuya
derivada es softplus'(a) = σ(a) = 1/(1 + e^(−a)).""" + _LAYER,
        signature="class SoftplusDense: __init__(self, n_in, n_out, rng); forward(X) -> Z; "
                  "backward(dZ) -> dX",
        reference=softplus_dense, cases=_cases, answer="layer"),
    Exercise(
        name="02.tanh_layer", title="una capa densa con tanh",
        statement="""
Escribe entera la capa Z = tanh(X Wᵀ + b). La derivada de tanh se escribe con su salida:
tanh'(a) = 1 − tanh(a)² = 1 − z².""" + _LAYER,
        signature="class TanhDense: __init__(self, n_in, n_out, rng); forward(X) -> Z; "
                  "backward(dZ) -> dX",
        reference=tanh_dense, cases=_cases, answer="layer"),
]
