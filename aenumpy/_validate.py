"""Argument checks shared by every public entry point.

Principle 6 of the design: a bad argument ends in a clear ``ValueError`` or
``TypeError`` that says what was expected and what came, raised before any work.
"""
from __future__ import annotations

import numbers
import os

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


def check_hidden(hidden, example="[256]") -> list:
    """The hidden layer sizes of a dense model: a non-empty list of whole numbers ≥ 1 (a
    single int means one layer)."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = [int(hidden)]
    if not isinstance(hidden, (list, tuple)) or len(hidden) == 0:
        raise ValueError(f"hidden must be a non-empty list of layer sizes, e.g. {example}; "
                         f"got {hidden!r}")
    return [check_int(f"hidden[{i}]", h, 1) for i, h in enumerate(hidden)]


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
        what = "the model's n_in" if name.startswith("X") else "the model's code size"
        raise ValueError(
            f"{name} must have {n_features} features per row ({what}), got shape {arr.shape}")
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


def check_labels(Y, n_classes, shape=None, name="Y") -> np.ndarray:
    """Per-pixel class labels: an integer array ``(B, H, W)`` (``shape`` when given, e.g. the
    logits' batch and image size) with every value in ``[0, n_classes)``; returned as it is
    (any integer dtype: ``uint8`` labels take an eighth of the memory of int64 ones).
    Checked before any work: a float array (cast it with ``.astype(int)``), a wrong shape or
    a label out of range is a clear error."""
    if not isinstance(Y, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array of class labels (B, H, W), got "
                        f"{type(Y).__name__}")
    if Y.dtype.kind not in "iu":
        hint = f"; cast whole-number labels with {name}.astype(int)" if Y.dtype.kind in "fb" else ""
        raise TypeError(f"{name} must hold integer class labels 0 … {n_classes - 1}, got dtype "
                        f"{Y.dtype}{hint}")
    if Y.ndim != 3:
        raise ValueError(f"{name} must be labels of shape (B, H, W), one per pixel, got shape "
                         f"{Y.shape}")
    if shape is not None and Y.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} (the batch and image size of the "
                         f"images or logits), got {Y.shape}")
    if Y.size:
        lo, hi = int(Y.min()), int(Y.max())
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} holds the label {bad}, outside [0, {n_classes}) for "
                             f"{n_classes} classes (0 … {n_classes - 1})")
    return Y


def check_bool(name, value) -> bool:
    """``True`` or ``False`` (also NumPy's bool), not a string or a number."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_callable(name, value, allow_none=True):
    """A function (or None when ``allow_none``)."""
    if value is None and allow_none:
        return value
    if not callable(value):
        raise TypeError(f"{name} must be a function{' or None' if allow_none else ''}, "
                        f"got {type(value).__name__}")
    return value


def check_path(name, value, allow_none=False):
    """A file name: ``str`` or ``os.PathLike``."""
    if value is None and allow_none:
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file name (str or pathlib.Path), got "
                        f"{type(value).__name__}")
    return value


def check_model(model, name="model"):
    """An aenumpy model: an Autoencoder, a VariationalAutoencoder or a ConvAutoencoder
    (anything with ``params``, ``validate`` and ``loss_and_grads``)."""
    if not (isinstance(getattr(model, "params", None), dict) and hasattr(model, "validate")
            and hasattr(model, "loss_and_grads")):
        raise TypeError(f"{name} must be an aenumpy model (ae.Autoencoder or "
                        f"ae.VariationalAutoencoder), got {type(model).__name__}")
    return model


def check_array(name, x, ndim=None, shape=None, finite=True, numeric=True) -> np.ndarray:
    """A numeric array (of ``ndim`` dimensions / this ``shape``), finite when asked."""
    if x is None or isinstance(x, (str, bytes, dict)):
        raise TypeError(f"{name} must be an array, got {type(x).__name__}")
    arr = np.asarray(x)
    if numeric and (arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                                 or arr.dtype == bool)):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if finite and numeric and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_pair(X, Xhat, unit_targets=False):
    """A loss's targets ``X`` and outputs ``x̂``: 2-D arrays of the same shape (rows are
    samples); with ``unit_targets`` the targets must lie in [0, 1] (cross-entropy)."""
    for name, a in (("X", X), ("Xhat", Xhat)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name} must be a NumPy array, got {type(a).__name__}")
        if a.ndim != 2:
            raise ValueError(f"{name} must be 2-D (batch, features), got shape {a.shape}")
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    if X.shape != Xhat.shape:
        raise ValueError(f"X and Xhat must have the same shape, got {X.shape} and {Xhat.shape}")
    if unit_targets and X.size and (X.min() < 0 or X.max() > 1):
        raise ValueError(f"binary cross-entropy needs targets X in [0, 1]; got values in "
                         f"[{float(X.min()):g}, {float(X.max()):g}]")


def check_grads(params, grads):
    """``grads`` has an array of the right shape for every entry of ``params``."""
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict name -> array like params, got {type(grads).__name__}")
    for k, p in params.items():
        g = grads.get(k)
        if g is None:
            raise ValueError(f"grads has no entry for parameter {k!r}; expected the keys "
                             f"{list(params)}")
        if np.shape(g) != p.shape:
            raise ValueError(f"grads[{k!r}] has shape {np.shape(g)}, the parameter {p.shape}")


def check_name(name, value, expected):
    """A name given as a string (activations, losses): a clear TypeError otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a name ({expected}), got {value!r} ({type(value).__name__})")
    return value


def check_layer_like(layer):
    """What :func:`aenumpy.check_layer` needs of a layer: ``params`` and ``grads`` dicts,
    ``forward(X)`` and ``backward(dY)``."""
    missing = [a for a in ("params", "forward", "backward") if not hasattr(layer, a)]
    if missing or not isinstance(getattr(layer, "params", None), dict):
        raise TypeError(f"a layer needs a params dict, forward(X) and backward(dY) "
                        f"(and fills grads); {type(layer).__name__} lacks "
                        f"{', '.join(missing) or 'a params dict'}")
    return layer


def check_layer_input(layer, X, name="X"):
    """A Dense layer's input: a 2-D float array with ``n_in`` columns (shape only: cheap)."""
    if not isinstance(X, np.ndarray) or X.dtype.kind != "f":
        raise TypeError(f"{name} must be a float NumPy array (batch, {layer.n_in}), got "
                        f"{type(X).__name__}{' of ' + str(X.dtype) if isinstance(X, np.ndarray) else ''}")
    if X.ndim != 2 or X.shape[1] != layer.n_in:
        raise ValueError(f"{layer.name}: {name} must have shape (batch, {layer.n_in}), got {X.shape}")
    return X


def check_upstream(layer, dZ):
    """``backward(dZ)``: after a forward, with ``dZ`` the shape of that forward's output."""
    Z = getattr(layer, "cache", {}).get("Z")
    if Z is None:
        raise ValueError(f"{layer.name}: backward needs the cache of a forward pass; call "
                         "forward(X) first")
    if np.shape(dZ) != Z.shape:
        raise ValueError(f"{layer.name}: the upstream gradient must have the output's shape "
                         f"{Z.shape}, got {np.shape(dZ)}")
    return dZ


def check_param_names(names, params):
    """A list of parameter names, each a key of ``params``."""
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise TypeError(f"params must be a list of parameter names, e.g. ['enc0.W'], got {names!r}")
    bad = [n for n in names if n not in params]
    if bad:
        raise ValueError(f"unknown parameter names {bad}; the model has {list(params)}")
    return list(names)


def check_fd_args(h, order, max_entries=None, tol=None, seed=None):
    """The finite-difference settings of gradcheck / check_layer / numerical_gradient."""
    check_float("h", h, 0, 1, low_open=True)
    if isinstance(order, bool) or order not in (2, 4):
        raise ValueError(f"order must be 2 (two-point) or 4 (four-point stencil), got {order!r}")
    if max_entries is not None:
        check_int("max_entries", max_entries, 1)
    if tol is not None:
        check_float("tol", tol, 0, low_open=True)
    if seed is not None:
        check_int("seed", seed, 0)


def check_has(model, *methods, name="model",
              what="an aenumpy model (ae.Autoencoder or ae.VariationalAutoencoder)"):
    """Duck typing for what only reads a model (plots): it must have these methods."""
    missing = [m for m in methods if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"{name} must be {what} with {', '.join(missing)}(); got "
                        f"{type(model).__name__}")
    return model
