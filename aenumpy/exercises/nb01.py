"""Notebook 1, the basic autoencoder: one forward and one backward step by hand.

The references run the library's own layers and loss (``ae.layers.Dense`` with the given
weights, ``ae.losses``), each layer's backward called as ``backward(dZ)``.
"""
from __future__ import annotations

import numpy as np

from ..activations import Sigmoid, sigmoid
from ..layers import Dense
from ..losses import SquaredError, squared_error, squared_error_grad
from .exercise import Case, Exercise


def dense(W, b, activation="sigmoid"):
    """A float64 :class:`aenumpy.layers.Dense` carrying the given ``W`` ``(d_out, d_in)`` and ``b``."""
    layer = Dense(W.shape[1], W.shape[0], activation=activation, dtype="float64")
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return layer


def forward(X, W, b, W2, b2):
    """``Z = σ(X Wᵀ + b)`` and ``X̂ = σ(Z W'ᵀ + b')`` by the library's dense layers."""
    Z = dense(W, b).forward(X)
    return Z, dense(W2, b2).forward(Z)


def output_delta(X, A2):
    """``E`` and ``δ' = ∂E/∂(W'z + b')`` for the squared error of a sigmoid output,
    by :meth:`aenumpy.losses.SquaredError.value_and_delta`."""
    return SquaredError().value_and_delta(X, A2, sigmoid(A2), Sigmoid())


def backward(X, W, b, W2, b2):
    """``E``, ``∂E/∂W`` and ``∂E/∂W'``: the library's layers forward, ``∂E/∂x̂`` from
    :func:`aenumpy.losses.squared_error_grad`, then each layer's ``backward(dZ)``."""
    enc, dec = dense(W, b), dense(W2, b2)
    Xhat = dec.forward(enc.forward(X))
    enc.backward(dec.backward(squared_error_grad(X, Xhat)))
    return squared_error(X, Xhat), enc.grads["W"], dec.grads["W"]


def _weights(rng, d, h, scale=1.0):
    return (scale * rng.normal(0, 1 / np.sqrt(d), (h, d)), 0.1 * rng.standard_normal(h),
            scale * rng.normal(0, 1 / np.sqrt(h), (d, h)), 0.1 * rng.standard_normal(d))


def _cases(rng):
    X = rng.random((5, 12))
    Xz = rng.random((4, 12))
    Xz[1] = 0.0                                    # a zero row
    return [Case("lote de 5, 12 → 6 → 12", (X, *_weights(rng, 12, 6)), B=5),
            Case("una sola muestra (B = 1)", (rng.random((1, 12)), *_weights(rng, 12, 6)), B=1),
            Case("unidades saturadas (pesos × 8)", (rng.random((3, 12)), *_weights(rng, 12, 6, 8.0)),
                 B=3),
            Case("una fila de ceros, 12 → 4 → 12", (Xz, *_weights(rng, 12, 4)), B=4)]


def _delta_cases(rng):
    return [Case("lote de 5 × 12", (rng.random((5, 12)), rng.standard_normal((5, 12))), B=5),
            Case("salida saturada (|a'| hasta 12)", (rng.random((3, 8)), 6 * rng.standard_normal((3, 8))),
                 B=3),
            Case("una sola muestra", (rng.random((1, 7)), rng.standard_normal((1, 7))), B=1)]


def _no_output_sigmoid(X, W, b, W2, b2):
    Z = sigmoid(X @ W.T + b)
    return Z, Z @ W2.T + b2


def _delta_without_derivative(X, A2):
    Xhat = sigmoid(A2)
    return squared_error(X, Xhat), (Xhat - X) / X.shape[0]


def _backward_without_encoder_derivative(X, W, b, W2, b2):
    Z = sigmoid(X @ W.T + b)
    Xhat = sigmoid(Z @ W2.T + b2)
    d2 = (Xhat - X) * Xhat * (1 - Xhat) / X.shape[0]
    return squared_error(X, Xhat), (d2 @ W2).T @ X, d2.T @ Z


EXERCISES = [
    Exercise(
        name="01.forward", title="el paso hacia delante del autoencoder básico",
        statement="""
Escribe el paso hacia delante de un lote: el codificador z = σ(Wx + b) y el decodificador
x̂ = σ(W'z + b'), los dos con la sigmoide σ(a) = 1/(1 + e^(−a)). Las filas de X son muestras,
así que para el lote entero Z = σ(X Wᵀ + b) y X̂ = σ(Z W'ᵀ + b'). W tiene forma
(d_código, d_entrada) y W' (d_entrada, d_código), como en la lección.""",
        signature="adelante(X, W, b, W2, b2) -> (Z, X_hat)",
        reference=forward, cases=_cases, outputs=("Z", "X̂"),
        hints=((_no_output_sigmoid, "X̂: falta la sigmoide del decodificador, x̂ = σ(W'z + b')"),)),
    Exercise(
        name="01.delta", title="el error δ' en la salida",
        statement="""
Con la salida x̂ = σ(a'), a' = W'z + b', y el error E = (1/B) Σ_n ½ Σ_i (x_ni − x̂_ni)²
(media sobre el lote), calcula E y δ' = ∂E/∂a', de la misma forma que A2:
δ' = (x̂ − x) ⊙ x̂ ⊙ (1 − x̂) / B.""",
        signature="delta_salida(X, A2) -> (E, delta2)",
        reference=output_delta, cases=_delta_cases, answer="gradient", wrt=(1,),
        outputs=("E", "δ'"),
        hints=((_delta_without_derivative,
                "δ': falta la derivada de la sigmoide, x̂ ⊙ (1 − x̂): δ' = ∂E/∂x̂ ⊙ σ'(a')"),)),
    Exercise(
        name="01.backward", title="∂E/∂W y ∂E/∂W' por retropropagación",
        statement="""
Para el autoencoder de 01.forward y E = (1/B) Σ_n ½ Σ_i (x_ni − x̂_ni)², calcula E, ∂E/∂W y
∂E/∂W' por la regla de la cadena: δ' = (x̂ − x) ⊙ x̂ ⊙ (1 − x̂) / B, ∂E/∂W' = δ'ᵀ Z,
∂E/∂Z = δ' W', δ = ∂E/∂Z ⊙ Z ⊙ (1 − Z), ∂E/∂W = δᵀ X. Cada gradiente tiene la forma de su
peso.""",
        signature="atras(X, W, b, W2, b2) -> (E, dW, dW2)",
        reference=backward, cases=_cases, answer="gradient", wrt=(1, 3),
        outputs=("E", "∂E/∂W", "∂E/∂W'"),
        hints=((_backward_without_encoder_derivative,
                "∂E/∂W: falta la derivada de la sigmoide del codificador, δ = ∂E/∂Z ⊙ Z ⊙ (1 − Z)"),)),
]
