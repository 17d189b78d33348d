"""Notebook 9, training dynamics: the update ratio and the fraction of dead ReLU units, as
``ae.fit(..., monitor=True)`` records them."""
from __future__ import annotations

import numpy as np

from ..monitor import dead_fraction, update_ratio
from .exercise import Case, Exercise


def _ratio_cases(rng):
    W = rng.standard_normal((8, 5))
    b = rng.standard_normal(6)
    return [Case("una matriz, paso de 1e-3", (W, W - 1e-3 * rng.standard_normal((8, 5)))),
            Case("un vector, paso grande", (b, b + 0.5 * rng.standard_normal(6))),
            Case("un peso que no cambia", (W, W.copy()))]


def _dead_cases(rng):
    Z = np.maximum(rng.standard_normal((8, 10)), 0)
    Z[:, [1, 4, 7]] = 0.0                           # three dead units
    maps = np.maximum(rng.standard_normal((4, 2, 3, 3)) + 0.5, 0)
    maps[:, 1, 0, :] = 0.0                          # three dead positions of channel 1
    return [Case("8 muestras, 10 unidades, 3 muertas", (Z,)),
            Case("mapas de características (4, 2, 3, 3)", (maps,)),
            Case("ninguna muerta", (np.abs(rng.standard_normal((5, 4))) + 0.1,))]


def _ratio_after(before, after):
    return float(np.linalg.norm(after - before) / np.linalg.norm(after))


def _ratio_squared(before, after):
    return float(np.sum((after - before) ** 2) / np.sum(before ** 2))


def _zero_entries(Z):
    return float(np.mean(Z <= 0))


EXERCISES = [
    Exercise(
        name="09.update_ratio", title="la razón de actualización",
        statement="""
La razón de actualización de un parámetro θ en un paso es ‖Δθ‖_F / ‖θ‖_F, con
Δθ = θ_después − θ_antes y la norma de Frobenius de θ antes del paso (en un entrenamiento sano,
del orden de 1e-3). Devuelve ese número.""",
        signature="razon_actualizacion(theta_antes, theta_despues) -> r",
        reference=update_ratio, cases=_ratio_cases, outputs=("‖Δθ‖/‖θ‖",),
        hints=((_ratio_after, "‖Δθ‖/‖θ‖: divides entre la norma de θ después del paso; va la de "
                              "antes"),
               (_ratio_squared, "‖Δθ‖/‖θ‖: comparas normas al cuadrado; la razón es de normas"))),
    Exercise(
        name="09.dead_fraction", title="la fracción de unidades ReLU muertas",
        statement="""
Una unidad ReLU está muerta en un lote cuando su salida es 0 para todas las muestras: ningún
gradiente llega a sus pesos. Dada la salida Z de una capa ReLU (las filas son muestras; cada
posición de los demás ejes es una unidad, también en mapas (B, C, H, W)), devuelve la fracción
de unidades muertas.""",
        signature="fraccion_muertas(Z) -> f",
        reference=dead_fraction, cases=_dead_cases, outputs=("fracción",),
        hints=((_zero_entries, "fracción: cuentas entradas nulas; una unidad está muerta si vale 0 "
                               "en todas las muestras del lote"),)),
]
