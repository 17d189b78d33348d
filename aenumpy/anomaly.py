"""Anomaly detection with an autoencoder (lecture, "Aplicaciones"): the reconstruction error
as a score, a threshold, the ROC curve and its area.

* the score of a sample is its reconstruction error ``E(x)``: an autoencoder trained on normal
  data reconstructs normal samples well and anomalies badly;
* :func:`threshold`: the threshold ``t`` that flags (``E(x) > t``) a given fraction α of the
  normal samples, the ``1 − α`` quantile of their errors;
* :func:`roc_curve`: for every threshold, from the highest score down, the false-positive rate
  (normal samples flagged) and the true-positive rate (anomalies flagged);
* :func:`auc`: the area under that curve, which equals the probability that a random anomaly
  scores above a random normal sample, ties counting ½ (the Mann–Whitney statistic).
"""
from __future__ import annotations

import numpy as np

from ._validate import check_array, check_float


def _scores_labels(scores, labels):
    s = np.asarray(check_array("scores", scores, ndim=1), dtype=np.float64)
    y = np.asarray(check_array("labels", labels, ndim=1), dtype=np.float64)
    if s.shape != y.shape:
        raise ValueError(f"scores and labels must have the same length, got {s.size} and {y.size}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 (normal) or 1 (anomaly)")
    if y.sum() == 0 or y.sum() == y.size:
        raise ValueError("labels need both normal samples (0) and anomalies (1)")
    return s, y


def threshold(errors, false_positive_rate):
    """The threshold ``t = quantile(E_normal, 1 − α)`` (NumPy's linear interpolation) that
    flags, as ``E(x) > t``, a fraction α of the normal samples whose errors are given."""
    e = np.asarray(check_array("errors", errors, ndim=1), dtype=np.float64)
    if e.size == 0 or not np.all(np.isfinite(e)):
        raise ValueError("errors must be a non-empty array of finite reconstruction errors")
    a = check_float("false_positive_rate", false_positive_rate, 0.0, 1.0)
    return float(np.quantile(e, 1.0 - a))


def roc_curve(scores, labels):
    """``(fpr, tpr)``: the ROC curve of the scores (1 = anomaly in ``labels``), one point per
    distinct score from the highest down, flagging ``score ≥ t``, starting at (0, 0) and ending
    at (1, 1). Tied scores make one point."""
    s, y = _scores_labels(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    tp, fp = np.cumsum(y), np.cumsum(1 - y)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]     # the last sample of each distinct score
    return np.r_[0.0, fp[last] / (1 - y).sum()], np.r_[0.0, tp[last] / y.sum()]


def auc(scores, labels):
    """The area under the ROC curve by the trapezoid rule, ``Σ Δfpr · (tpr_k + tpr_{k+1})/2``:
    the probability that an anomaly scores above a normal sample, ties counting ½."""
    fpr, tpr = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
