"""Save and load models as ``.npz`` files: configuration, parameters, format version.

No pickle anywhere: the file holds only numeric arrays and one JSON string
(stored as a unicode array), and is read with ``allow_pickle=False``. Saving
writes a temporary file in the same folder and renames it over the target, so
a crash mid-write leaves the old file intact.

Layout of the archive::

    __format__   "aenumpy-model"            (unicode array)
    __version__  1                          (int array)
    __config__   JSON: {"kind": ..., "config": {...}}
    param/<name> one array per entry of model.params
    opt/<key>    optimizer state (checkpoints only), plus JSON in __optim__
    __extra__    JSON with anything else a checkpoint records (epoch, history)
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "aenumpy-model"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that is not a valid aenumpy model file."""


def _model_classes():
    from .models import Autoencoder

    classes = {"autoencoder": Autoencoder}
    try:
        from .models import VariationalAutoencoder

        classes["vae"] = VariationalAutoencoder
    except ImportError:  # pragma: no cover
        pass
    return classes


def _json_array(obj):
    return np.array(json.dumps(obj))


def _write_atomic(path, arrays):
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".aenumpy-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def save(model, path, optimizer=None, extra=None):
    """Write ``model`` (and optionally an optimizer's state and extra JSON) to ``path``.

    Returns the path written (``.npz`` is appended if missing).
    """
    kind = getattr(model, "kind", None)
    if kind not in _model_classes():
        raise TypeError(f"save() takes an aenumpy model, got {type(model).__name__}")
    arrays = {"__format__": np.array(FORMAT), "__version__": np.array(VERSION),
              "__config__": _json_array({"kind": kind, "config": model.get_config()})}
    for k, v in model.params.items():
        arrays[f"param/{k}"] = np.ascontiguousarray(v)
    if optimizer is not None:
        arrays["__optim__"] = _json_array(optimizer.get_config())
        for k, v in optimizer.state_dict().items():
            arrays[f"opt/{k}"] = np.asarray(v)
    if extra is not None:
        arrays["__extra__"] = _json_array(extra)
    return _write_atomic(path, arrays)


def _read(path):
    """Read every array of an npz without pickle; raise ModelFileError on anything odd."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError,
            RuntimeError, NotImplementedError, UnicodeDecodeError, MemoryError,
            OverflowError, IndexError, AttributeError) as exc:
        raise ModelFileError(f"{path}: not a readable aenumpy model file ({type(exc).__name__}: "
                             f"{exc})") from None


def _json(arrays, key, path):
    a = arrays.get(key)
    if a is None or a.dtype.kind != "U" or a.shape != ():
        raise ModelFileError(f"{path}: missing or malformed {key}")
    try:
        return json.loads(str(a))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: {key} is not valid JSON ({exc})") from None


def load_checkpoint(path):
    """Read a model file: returns ``(model, optimizer_or_None, extra_or_None)``."""
    arrays = _read(path)
    fmt = arrays.get("__format__")
    if fmt is None or fmt.dtype.kind != "U" or str(fmt) != FORMAT:
        raise ModelFileError(f"{path}: not an aenumpy model file (no '{FORMAT}' marker)")
    ver = arrays.get("__version__")
    if ver is None or ver.shape != () or ver.dtype.kind not in "iu":
        raise ModelFileError(f"{path}: missing format version")
    if int(ver) != VERSION:
        raise ModelFileError(f"{path}: format version {int(ver)}; this aenumpy reads version {VERSION}")
    head = _json(arrays, "__config__", path)
    if not isinstance(head, dict) or head.get("kind") not in _model_classes() \
            or not isinstance(head.get("config"), dict):
        raise ModelFileError(f"{path}: unknown model kind or malformed configuration")
    try:
        model = _model_classes()[head["kind"]].from_config(head["config"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{path}: invalid model configuration ({exc})") from None
    names = {k[len("param/"):] for k in arrays if k.startswith("param/")}
    if names != set(model.params):
        raise ModelFileError(f"{path}: parameters {sorted(names)} do not match the model's "
                             f"{sorted(model.params)}")
    for k, p in model.params.items():
        a = arrays[f"param/{k}"]
        if a.shape != p.shape or a.dtype.kind != "f":
            raise ModelFileError(f"{path}: parameter {k} has shape {a.shape} dtype {a.dtype}, "
                                 f"expected {p.shape} float")
        if not np.all(np.isfinite(a)):
            raise ModelFileError(f"{path}: parameter {k} contains NaN or inf")
        p[...] = a
    optimizer = None
    if "__optim__" in arrays:
        from . import optim

        try:
            optimizer = optim.from_config(_json(arrays, "__optim__", path))
            state = {k[len("opt/"):]: arrays[k] for k in arrays if k.startswith("opt/")}
            optimizer.load_state_dict(state)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ModelFileError(f"{path}: malformed optimizer state ({exc})") from None
    extra = _json(arrays, "__extra__", path) if "__extra__" in arrays else None
    return model, optimizer, extra


def load(path):
    """Load a model saved by :func:`save`. Refuses malformed files with :class:`ModelFileError`."""
    return load_checkpoint(path)[0]
