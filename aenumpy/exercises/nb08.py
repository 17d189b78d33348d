"""Notebook 8, convolutional autoencoders: a convolution written with loops, and the backward
of max pooling.

The references run the library's layers (:class:`aenumpy.layers.Conv2D` with an identity
activation and the given weights; :class:`aenumpy.layers.MaxPool2D` forward then
``backward(dZ)``).
"""
from __future__ import annotations

import numpy as np

from ..layers import Conv2D, MaxPool2D
from .exercise import Case, Exercise


def conv2d(X, W, b, stride, padding):
    """``A = W ⋆ X + b`` by the library's ``Conv2D(c_in, c_out, k, stride, padding,
    activation="identity")`` carrying ``W`` and ``b``."""
    c_out, c_in, k, _ = W.shape
    layer = Conv2D(c_in, c_out, k, stride=stride, padding=padding, activation="identity",
                   dtype="float64")
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return layer.forward(X)


def maxpool_backward(X, dZ):
    """``∂E/∂X`` of 2×2 max pooling: the library's ``MaxPool2D(2)``, ``forward(X)`` then
    ``backward(dZ)``."""
    pool = MaxPool2D(2)
    pool.forward(X)
    return pool.backward(dZ)


def _conv_cases(rng):
    def case(label, B, c_in, c_out, n, k, s, p):
        return Case(label, (rng.standard_normal((B, c_in, n, n)), rng.standard_normal((c_out, c_in, k, k)),
                            rng.standard_normal(c_out), s, p), terms=c_in * k * k)
    return [case("2 canales → 3, 3×3, sin relleno", 2, 2, 3, 5, 3, 1, 0),
            case("stride 2, relleno 1", 1, 2, 2, 6, 3, 2, 1),
            case("1 canal, relleno 1, kernel 2×2", 2, 1, 1, 4, 2, 1, 1)]


def _pool_cases(rng):
    ties = rng.integers(0, 3, (1, 2, 4, 4)).astype(float)
    return [Case("2 imágenes, 2 canales, 4×4", (rng.random((2, 2, 4, 4)), rng.standard_normal((2, 2, 2, 2)))),
            Case("5×5: la última fila y columna se descartan", (rng.random((1, 1, 5, 5)),
                                                                 rng.standard_normal((1, 1, 2, 2)))),
            Case("valores enteros, con empates", (ties, rng.standard_normal((1, 2, 2, 2))))]


def _conv_flipped(X, W, b, stride, padding):
    return conv2d(X, W[:, :, ::-1, ::-1].copy(), b, stride, padding)


def _conv_no_bias(X, W, b, stride, padding):
    return conv2d(X, W, np.zeros_like(b), stride, padding)


def _pool_all_ties(X, dZ):
    B, C, H, W = X.shape
    Ho, Wo = H // 2, W // 2
    win = X[:, :, :2 * Ho, :2 * Wo].reshape(B, C, Ho, 2, Wo, 2)
    is_max = win == win.max(axis=(3, 5), keepdims=True)
    dX = np.zeros_like(X)
    dX[:, :, :2 * Ho, :2 * Wo] = (is_max * dZ[:, :, :, None, :, None]).reshape(B, C, 2 * Ho, 2 * Wo)
    return dX


def _pool_spread(X, dZ):
    dX = np.zeros_like(X)
    Ho, Wo = dZ.shape[2:]
    dX[:, :, :2 * Ho, :2 * Wo] = np.repeat(np.repeat(dZ, 2, axis=2), 2, axis=3) / 4
    return dX


EXERCISES = [
    Exercise(
        name="08.conv2d", title="una convolución con bucles",
        statement="""
Escribe la convolución (correlación cruzada, como la capa Conv2D) de un lote X de forma
(B, C_in, H, W) con W de forma (C_out, C_in, k, k), sesgo b (C_out,), stride s y relleno de
ceros p: A[n, o, y, x] = b[o] + Σ_c Σ_i Σ_j W[o, c, i, j] · X_pad[n, c, y·s + i, x·s + j],
con H_sal = ⌊(H + 2p − k)/s⌋ + 1 (igual para el ancho). Con bucles: no hace falta que sea rápida.""",
        signature="conv2d(X, W, b, stride, padding) -> A",
        reference=conv2d, cases=_conv_cases, outputs=("A",),
        hints=((_conv_flipped, "A: giras el kernel 180° (la convolución matemática); la capa, como "
                               "todas las bibliotecas, calcula la correlación cruzada sin giro"),
               (_conv_no_bias, "A: falta sumar el sesgo b[o] de cada canal de salida"))),
    Exercise(
        name="08.maxpool_backward", title="el paso hacia atrás del max pooling 2×2",
        statement="""
El max pooling 2×2 (stride 2) se queda con el máximo de cada ventana; las filas y columnas
sobrantes de una imagen de lado impar se descartan. Dado X (B, C, H, W) y dZ = ∂E/∂Z
(B, C, ⌊H/2⌋, ⌊W/2⌋), devuelve ∂E/∂X (forma de X): el gradiente de cada ventana va entero al
píxel que era su máximo, y los demás reciben 0. Si varios empatan, se lo lleva el primero en
orden de filas (como np.argmax).""",
        signature="maxpool_atras(X, dZ) -> dX",
        reference=maxpool_backward, cases=_pool_cases, outputs=("∂E/∂X",),
        hints=((_pool_all_ties, "∂E/∂X: con empates das el gradiente a todos los máximos; se lo "
                                "lleva sólo el primero de la ventana en orden de filas"),
               (_pool_spread, "∂E/∂X: repartes dZ entre los 4 píxeles de la ventana; va entero "
                              "al máximo"))),
]
