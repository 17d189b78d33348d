"""Notebook 10, segmentation: the IoU and the Dice of each class, by counting pixels."""
from __future__ import annotations

import numpy as np

from ..metrics import dice, iou
from .exercise import Case, Exercise


def _cases(rng):
    Y = rng.integers(0, 3, (4, 6, 6))
    P = np.where(rng.random((4, 6, 6)) < 0.7, Y, rng.integers(0, 3, (4, 6, 6)))
    Y1 = (rng.random((2, 8, 8)) < 0.3).astype(np.int64)
    P1 = (rng.random((2, 8, 8)) < 0.3).astype(np.int64)
    Y3 = rng.integers(0, 2, (3, 5, 5))                # class 2 in neither: no IoU, no Dice
    P3 = np.where(rng.random((3, 5, 5)) < 0.8, Y3, 1 - Y3)
    return [Case("3 clases, 4 máscaras de 6×6", (Y, P, 3), terms=4),
            Case("fondo y dígito, una predicción floja", (Y1, P1, 2), terms=4),
            Case("la clase 2 no aparece en ninguna: NaN", (Y3, P3, 3), terms=4),
            Case("predicción perfecta: todo 1", (Y, Y.copy(), 3), terms=4)]


def _counts(Y, P, K):
    inter = np.array([np.sum((Y == c) & (P == c)) for c in range(K)], dtype=np.float64)
    true = np.array([np.sum(Y == c) for c in range(K)], dtype=np.float64)
    pred = np.array([np.sum(P == c) for c in range(K)], dtype=np.float64)
    return inter, true, pred


def _iou_no_minus(Y, P, K):
    inter, true, pred = _counts(Y, P, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (true + pred)


def _iou_absent_zero(Y, P, K):
    return np.nan_to_num(iou(Y, P, K), nan=0.0)


def _iou_over_truth(Y, P, K):
    inter, true, _ = _counts(Y, P, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / true


def _dice_as_iou(Y, P, K):
    return iou(Y, P, K)


def _dice_absent_zero(Y, P, K):
    return np.nan_to_num(dice(Y, P, K), nan=0.0)


EXERCISES = [
    Exercise(
        name="10.iou", title="la IoU de cada clase",
        statement="""
Y son las etiquetas verdaderas de cada píxel y P las predichas (enteros de 0 a K − 1, con la
misma forma, por ejemplo (B, H, W)). Para cada clase c, con T_c los píxeles que son de la clase
y P_c los que la red pone en ella, devuelve IoU_c = |T_c ∩ P_c| / |T_c ∪ P_c|, un array (K,),
con |T_c ∪ P_c| = |T_c| + |P_c| − |T_c ∩ P_c|. Una clase que no está ni en Y ni en P no tiene
IoU (0/0): déjala en NaN (np.nan).""",
        signature="iou(Y, P, K) -> (K,)",
        reference=iou, cases=_cases, outputs=("IoU",),
        hints=((_iou_no_minus, "IoU: divides entre |T_c| + |P_c|; la unión cuenta una sola vez "
                               "los píxeles comunes: resta |T_c ∩ P_c|"),
               (_iou_absent_zero, "IoU: una clase ausente de Y y de P no tiene IoU (0/0): va NaN, "
                                  "no 0, para que la media la deje fuera"),
               (_iou_over_truth, "IoU: divides entre |T_c| (eso es la sensibilidad); va la "
                                 "unión |T_c ∪ P_c|"))),
    Exercise(
        name="10.dice", title="el Dice de cada clase",
        statement="""
Con las mismas Y, P y K, devuelve para cada clase Dice_c = 2 |T_c ∩ P_c| / (|T_c| + |P_c|), un
array (K,) (NaN para una clase que no está ni en Y ni en P). Para una clase, Dice = 2 IoU /
(1 + IoU): nunca es menor que la IoU.""",
        signature="dice(Y, P, K) -> (K,)",
        reference=dice, cases=_cases, outputs=("Dice",),
        hints=((_dice_as_iou, "Dice: eso es la IoU; el Dice divide 2 |T_c ∩ P_c| entre "
                              "|T_c| + |P_c|"),
               (_dice_absent_zero, "Dice: una clase ausente de Y y de P no tiene Dice (0/0): va "
                                   "NaN, no 0"))),
]
