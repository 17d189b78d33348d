"""Argument checks shared by every public entry point.

Principle 6 of the design: a bad argument ends in a clear ``ValueError`` or
``TypeError`` that says what was expected and what came, raised before any work.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = ("float32", "float64")


def check_dtype(dtype) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from exc
    if dt.name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dt.name!r}")
    return dt


def check_int(name, value, low=None, high=None) -> int:
    """An integer (not bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_float(name, value, low=None, high=None, low_open=False, high_open=False) -> float:
    """A finite real number in the interval given (closed unless ``*_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    lo_bad = low is not None and (value <= low if low_open else value < low)
    hi_bad = high is not None and (value >= high if high_open else value > high)
    if lo_bad or hi_bad:
        lb = "(" if low_open else "["
        rb = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {value:g}")
    return value


def check_choice(name, value, choices):
    """One of ``choices`` (strings)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_rng(rng):
    """``None`` or a ``numpy.random.Generator`` (principle 4: randomness is explicit)."""
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (np.random.default_rng(seed)) or None, "
            f"got {type(rng).__name__}")
    return rng


def check_data(X, n_features, dtype, name="X", unit_range=False, why="") -> np.ndarray:
    """Check a batch ``X`` of shape ``(B, n_features)`` and return it as ``dtype``.

    Rows are samples (principle 1). Refuses: non-arrays of the wrong kind,
    wrong number of dimensions or features, empty batches, integer images
    (uint8 0..255, which must be scaled first), NaN/inf, and values outside
    [0, 1] when ``unit_range`` (a sigmoid output or binary cross-entropy).
    """
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be an array of shape (batch, {n_features}), got {type(X).__name__}")
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.shape[0] == n_features:
        raise ValueError(
            f"{name} must be 2-D (batch, {n_features}): rows are samples. Got one sample of shape "
            f"{arr.shape}; use {name}[None, :] or {name}.reshape(1, -1)")
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 3 and arr.shape[1] * arr.shape[2] == n_features:
            hint = f"; flatten images first: {name}.reshape(len({name}), -1)"
        raise ValueError(f"{name} must be 2-D (batch, {n_features}), got shape {arr.shape}{hint}")
    if arr.shape[1] != n_features:
        raise ValueError(
            f"{name} must have {n_features} features per row (the model's n_in), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer) and arr.size and arr.max() > 1:
        raise ValueError(
            f"{name} has integer values up to {arr.max()} (dtype {arr.dtype}); the model expects "
            f"floats in [0, 1]: use {name}.astype('float32') / 255 for 8-bit images")
    out = np.ascontiguousarray(arr, dtype=dtype)
    if not np.all(np.isfinite(out)):
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]})")
    if unit_range:
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{name} must be in [0, 1] {why}; got values in [{lo:g}, {hi:g}]"
                + (" (divide by 255?)" if hi > 1.5 else ""))
    return out
