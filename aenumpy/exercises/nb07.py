"""Notebook 7, applications: an anomaly threshold and the area under the ROC curve."""
from __future__ import annotations

import numpy as np

from ..anomaly import auc, threshold
from .exercise import Case, Exercise


def _threshold_cases(rng):
    return [Case("200 errores normales, α = 0.05", (rng.gamma(2.0, 1.0, 200), 0.05), terms=4),
            Case("α = 0.5: la mediana", (rng.random(51), 0.5), terms=4),
            Case("7 errores, α = 0.1 (interpolación)", (rng.random(7) * 10, 0.1), terms=4)]


def _auc_cases(rng):
    s = np.r_[rng.normal(0, 1, 60), rng.normal(1.5, 1, 40)]
    y = np.r_[np.zeros(60), np.ones(40)]
    ties = rng.integers(0, 4, 30).astype(float)
    return [Case("100 puntuaciones, 40 anomalías", (s, y), terms=100),
            Case("puntuaciones enteras, con empates", (ties, (rng.random(30) < 0.4).astype(float)),
                 terms=30),
            Case("separación perfecta: AUC = 1", (np.r_[0.1, 0.2, 0.3, 0.8, 0.9], np.r_[0, 0, 0, 1, 1.0])),
            Case("todas empatadas: AUC = ½", (np.ones(6), np.r_[0, 1, 0, 1, 0, 1.0]))]


def _threshold_alpha(errors, a):
    return float(np.quantile(errors, a))


def _percentile_fraction(errors, a):
    return float(np.percentile(errors, 1 - a))


def _auc_inverted(scores, labels):
    return 1.0 - auc(scores, labels)


def _auc_ties_zero(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(np.mean(pos[:, None] > neg[None, :]))


EXERCISES = [
    Exercise(
        name="07.threshold", title="un umbral de anomalía",
        statement="""
Un autoencoder entrenado con datos normales reconstruye mal las anomalías: marcamos como
anómala toda muestra con error E(x) > t. Dados los errores de muestras normales y la fracción α
de normales que aceptamos marcar por error (la tasa de falsos positivos), devuelve el umbral
t = el cuantil 1 − α de esos errores (np.quantile, con su interpolación lineal por defecto).""",
        signature="umbral(errores_normales, alpha) -> t",
        reference=threshold, cases=_threshold_cases, outputs=("t",),
        hints=((_threshold_alpha, "t: usas el cuantil α; por encima del umbral debe quedar una "
                                  "fracción α de normales, así que es el cuantil 1 − α"),
               (_percentile_fraction, "t: np.percentile toma porcentajes de 0 a 100; con una "
                                      "fracción usa np.quantile (o multiplica por 100)"))),
    Exercise(
        name="07.auc", title="el área bajo la curva ROC",
        statement="""
Dadas las puntuaciones (el error de reconstrucción) y las etiquetas (1 = anomalía, 0 = normal),
calcula el AUC: el área bajo la curva ROC, que es la probabilidad de que una anomalía al azar
puntúe más que una muestra normal al azar, contando ½ cada empate. Puedes calcularla con la
curva ROC y la regla del trapecio, o comparando todas las parejas anomalía–normal.""",
        signature="auc(puntuaciones, etiquetas) -> area",
        reference=auc, cases=_auc_cases, outputs=("AUC",),
        hints=((_auc_inverted, "AUC: sale invertida (1 − AUC): ¿cuentas como positivas las "
                               "normales, o recorres los umbrales al revés?"),
               (_auc_ties_zero, "AUC: los empates entre una anomalía y una normal cuentan ½, "
                                "no 0"))),
]
