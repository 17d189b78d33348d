"""How good a segmentation is: pixel accuracy, IoU and Dice, each written out in NumPy.

``Y`` holds the true label of every pixel and ``P`` the predicted one (``net.predict(X)``),
both integer arrays of the same shape (``(B, H, W)``, or any shape), labels in
``[0, n_classes)``. For a class c, ``T_c`` is the set of pixels whose true label is c and
``P_c`` the set predicted as c:

* pixel accuracy: the fraction of pixels whose label is right, ``Σ_c |T_c ∩ P_c| / N``;
* IoU (intersection over union, Jaccard): ``|T_c ∩ P_c| / |T_c ∪ P_c|``, 1 for a perfect
  match, 0 when the two do not overlap;
* Dice (F1): ``2 |T_c ∩ P_c| / (|T_c| + |P_c|)``; for one class ``D = 2 IoU / (1 + IoU)``,
  so Dice is never below IoU.

A class absent from both truth and prediction has no IoU and no Dice (0 / 0): NaN, and the
means (:func:`mean_iou`, :func:`mean_dice`) average over the other classes, background
included. The background (class 0 in ``make_segmentation``) covers most pixels, so pixel
accuracy is high even for a model that labels everything background; the mean IoU is not.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_int

__all__ = ["confusion_matrix", "pixel_accuracy", "iou", "mean_iou", "dice", "mean_dice"]


def _labels(name, a, n_classes):
    """An integer array with every value in ``[0, n_classes)`` (any value ≥ 0 when
    ``n_classes`` is None)."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "iu":
        got = f"{type(a).__name__}" + (f" of {a.dtype}" if isinstance(a, np.ndarray) else "")
        raise TypeError(f"{name} must be a NumPy array of integer labels, got {got}")
    if a.size and (a.min() < 0 or (n_classes is not None and a.max() >= n_classes)):
        where = ("negative" if n_classes is None
                 else f"outside [0, {n_classes}) for {n_classes} classes")
        raise ValueError(f"{name} holds labels in [{a.min()}, {a.max()}], {where}")
    return a


def _pair(Y, P, n_classes):
    """``Y`` and ``P`` checked: integer labels of the same shape, in ``[0, n_classes)``."""
    if n_classes is not None:
        n_classes = check_int("n_classes", n_classes, 1)
    Y, P = _labels("Y (true labels)", Y, n_classes), _labels("P (predicted labels)", P, n_classes)
    if Y.shape != P.shape:
        raise ValueError(f"the true and predicted labels must have the same shape, got {Y.shape} "
                         f"and {P.shape}")
    if Y.size == 0:
        raise ValueError("no pixels to compare: the label arrays are empty")
    return Y, P, n_classes


def confusion_matrix(Y, P, n_classes):
    """``C[t, p]`` = the number of pixels of true class t predicted as p (``(K, K)`` int64):
    the diagonal holds ``|T_c ∩ P_c|``, row c sums to ``|T_c|`` and column c to ``|P_c|``."""
    Y, P, K = _pair(Y, P, n_classes)
    return np.bincount(Y.ravel() * K + P.ravel(), minlength=K * K).reshape(K, K)


def pixel_accuracy(Y, P, n_classes=None):
    """The fraction of pixels labelled right, ``mean(Y == P)`` (``n_classes``, when given,
    also checks the labels' range)."""
    Y, P, _ = _pair(Y, P, n_classes)
    return float(np.mean(Y == P))


def _per_class(Y, P, n_classes, ratio):
    """``num / den`` per class from the confusion matrix, with
    ``ratio(|T∩P|, |T|, |P|) -> (num, den)``; NaN where ``den`` is 0 (a class in neither)."""
    C = confusion_matrix(Y, P, check_int("n_classes", n_classes, 1))
    inter = np.diag(C).astype(np.float64)           # |T_c ∩ P_c|
    true, pred = C.sum(axis=1), C.sum(axis=0)       # |T_c|, |P_c|
    num, den = ratio(inter, true, pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def iou(Y, P, n_classes):
    """Per class ``|T_c ∩ P_c| / |T_c ∪ P_c|`` with ``|T ∪ P| = |T| + |P| − |T ∩ P|``
    (``(K,)`` float64; NaN for a class in neither)."""
    return _per_class(Y, P, n_classes, lambda i, t, p: (i, t + p - i))


def mean_iou(Y, P, n_classes) -> float:
    """The mean of :func:`iou` over the classes present in the truth or the prediction."""
    return float(np.nanmean(iou(Y, P, n_classes)))


def dice(Y, P, n_classes):
    """Per class ``2 |T_c ∩ P_c| / (|T_c| + |P_c|)`` (``(K,)`` float64; NaN for a class in
    neither)."""
    return _per_class(Y, P, n_classes, lambda i, t, p: (2 * i, t + p))


def mean_dice(Y, P, n_classes) -> float:
    """The mean of :func:`dice` over the classes present in the truth or the prediction."""
    return float(np.nanmean(dice(Y, P, n_classes)))
