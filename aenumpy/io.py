"""Save and load models as ``.npz`` files: configuration, parameters, format version.

No pickle anywhere: the file holds only numeric arrays and JSON strings (stored
as unicode arrays). Loading does not even go through ``np.load``: it opens the
zip archive itself, parses each member's ``.npy`` header (a Python literal read
with ``ast.literal_eval``, which runs no code), refuses object or structured
dtypes before reading any data, refuses a member whose header declares more
data than the member holds (so a crafted header cannot make it allocate
gigabytes), and reads every member to its end so the zip CRC is checked.
Saving writes a temporary file in the same folder and renames it over the
target (``os.replace`` is atomic), so a crash mid-write leaves the old file
intact.

Layout of the archive::

    __format__   "aenumpy-model"            (unicode array)
    __version__  1                          (int array)
    __config__   JSON: {"kind": ..., "config": {...}}
    param/<name> one array per entry of model.params
    opt/<key>    optimizer state (checkpoints only), plus JSON in __optim__
    __extra__    JSON with anything else a checkpoint records (epoch, history,
                 the random generators' states: see :func:`training_state`)
"""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import tokenize
import zipfile
import zlib

import numpy as np

from . import optim
from ._validate import check_path
from .history import History
from .models import Autoencoder, ConvAutoencoder, UNet, VariationalAutoencoder
from .optim import Optimizer

FORMAT = "aenumpy-model"
VERSION = 1
#: refuse archives whose members declare more than this many bytes in total
MAX_BYTES = 2 ** 31
MAX_MEMBERS = 10_000
#: what a checkpoint's training state records (see :func:`training_state`)
TRAINING_STATE = "aenumpy-training-state"


class ModelFileError(ValueError):
    """A model file that is not a valid aenumpy model file."""


def _model_classes():
    """The model classes a file may hold, by their ``family`` (the file's ``"kind"``)."""
    return {cls.family: cls for cls in (Autoencoder, VariationalAutoencoder, ConvAutoencoder, UNet)}


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable")


def _json_array(obj, what="extra"):
    try:
        return np.array(json.dumps(obj, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serialisable (dicts, lists, numbers, strings): "
                        f"{exc}") from None


def _write_atomic(path, arrays):
    path = os.fspath(check_path("path", path))
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
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def save(model, path, optimizer=None, extra=None):
    """Write ``model`` (and optionally an optimizer's state and extra JSON) to ``path``.

    Atomic: the archive is written to a temporary file in the same folder,
    flushed to disk, then renamed over ``path``. Returns the path written
    (``.npz`` is appended if missing).
    """
    kind = getattr(model, "family", None)
    if kind not in _model_classes():
        raise TypeError(f"save() takes an aenumpy model, got {type(model).__name__}")
    check_path("path", path)
    if optimizer is not None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an aenumpy.optim optimizer or None, got "
                            f"{type(optimizer).__name__}")
    arrays = {"__format__": np.array(FORMAT), "__version__": np.array(VERSION),
              "__config__": _json_array({"kind": kind, "config": model.get_config()}, "config")}
    for k, v in model.params.items():
        arrays[f"param/{k}"] = np.ascontiguousarray(v)
    if optimizer is not None:
        arrays["__optim__"] = _json_array(optimizer.get_config(), "optimizer config")
        for k, v in optimizer.state_dict().items():
            arrays[f"opt/{k}"] = np.asarray(v)
    if extra is not None:
        arrays["__extra__"] = _json_array(extra)
    return _write_atomic(path, arrays)


# --------------------------------------------------------------------------- reading
_READ_ERRORS = (ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, KeyError,
                TypeError, RuntimeError, NotImplementedError, UnicodeError, MemoryError,
                OverflowError, IndexError, AttributeError, SyntaxError, zlib.error, struct.error,
                OSError, tokenize.TokenError)


def _read_member(zf, info, path):
    """One ``.npy`` member, parsed by hand: header first, data only if the header is sane."""
    fmt = np.lib.format
    with zf.open(info) as fh:
        major, minor = fmt.read_magic(fh)
        if (major, minor) == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        elif (major, minor) == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise ModelFileError(f"{path}: member {info.filename} has .npy version "
                                 f"{major}.{minor}; expected 1.0 or 2.0")
        if dtype.hasobject or dtype.kind not in "biufU" or dtype.fields is not None \
                or dtype.subdtype is not None:
            raise ModelFileError(f"{path}: member {info.filename} has dtype {dtype}; a model file "
                                 "holds only numbers and text (no objects, nothing to unpickle)")
        if any(d < 0 for d in shape):
            raise ModelFileError(f"{path}: member {info.filename} has shape {shape}")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > info.file_size:
            raise ModelFileError(f"{path}: member {info.filename} declares {nbytes} bytes of data "
                                 f"but holds {info.file_size}")
        data = fh.read(nbytes)
        if len(data) != nbytes:
            raise ModelFileError(f"{path}: member {info.filename} is truncated")
        if fh.read():  # read to the end so the CRC is checked; nothing may follow the data
            raise ModelFileError(f"{path}: member {info.filename} has bytes after its data")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    if fortran:
        return arr.reshape(shape[::-1]).transpose().copy()
    return arr.reshape(shape).copy()


def _read(path):
    """Every array of a model file, without pickle; ModelFileError on anything odd."""
    path = os.fspath(check_path("path", path))
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"  # save() appends the suffix; accept the name it was given
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ModelFileError(f"{path}: {len(infos)} members; a model file has far fewer")
            total = sum(i.file_size for i in infos)
            if total > MAX_BYTES:
                raise ModelFileError(f"{path}: members declare {total} bytes; refusing more than "
                                     f"{MAX_BYTES}")
            arrays = {}
            for info in infos:
                name = info.filename
                if not name.endswith(".npy") or info.is_dir():
                    raise ModelFileError(f"{path}: unexpected member {name!r} (only .npy arrays)")
                key = name[:-4]
                if key in arrays:
                    raise ModelFileError(f"{path}: member {name!r} appears twice")
                arrays[key] = _read_member(zf, info, path)
            return arrays
    except (ModelFileError, FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _READ_ERRORS as exc:
        raise ModelFileError(f"{path}: not a readable aenumpy model file ({type(exc).__name__}: "
                             f"{exc})") from None


def _json(arrays, key, path):
    a = arrays.get(key)
    if a is None or a.dtype.kind != "U" or a.shape != ():
        raise ModelFileError(f"{path}: missing or malformed {key}")
    try:
        return json.loads(str(a))
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: {key} is not valid JSON ({exc})") from None


_SIZE_KEYS = ("n_in", "hidden", "n_latent", "in_channels", "n_classes", "channels")


def _check_sizes(cfg, arrays, path):
    """Layer sizes in the configuration must appear among the stored arrays' sizes, so a
    crafted configuration (hidden=[10**9]) cannot make the model allocate gigabytes."""
    dims = {int(d) for k, a in arrays.items() if k.startswith("param/") for d in a.shape}
    limit = max(dims, default=0)
    for key in _SIZE_KEYS:
        if key not in cfg:
            continue
        vals = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
        for v in vals:
            if isinstance(v, int) and not isinstance(v, bool) and v > limit:
                raise ModelFileError(f"{path}: configuration {key}={cfg[key]!r} does not match the "
                                     f"stored parameters (largest size {limit})")


_CONFIG_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError,
                  MemoryError, RecursionError, ZeroDivisionError)


def _load_optimizer(arrays, model, path):
    cfg = _json(arrays, "__optim__", path)
    if not isinstance(cfg, dict):
        raise ModelFileError(f"{path}: malformed optimizer configuration")
    try:
        optimizer = optim.from_config(cfg)
    except _CONFIG_ERRORS as exc:
        raise ModelFileError(f"{path}: malformed optimizer configuration ({exc})") from None
    state = {k[len("opt/"):]: arrays[k] for k in arrays if k.startswith("opt/")}
    t = state.get("t")
    if t is None or t.shape != () or t.dtype.kind not in "iu" or int(t) < 0:
        raise ModelFileError(f"{path}: optimizer state has no step count t")
    for key, a in state.items():
        if key == "t":
            continue
        name, _, slot = key.rpartition("/")
        p = model.params.get(name)
        if p is None or not slot:
            raise ModelFileError(f"{path}: optimizer state {key!r} names no parameter of the model")
        if a.shape != p.shape or a.dtype.kind != "f" or not np.all(np.isfinite(a)):
            raise ModelFileError(f"{path}: optimizer state {key!r} has shape {a.shape} dtype "
                                 f"{a.dtype}; expected finite floats of shape {p.shape}")
        state[key] = a.astype(p.dtype)
    try:
        optimizer.load_state_dict(state)
    except _CONFIG_ERRORS as exc:
        raise ModelFileError(f"{path}: malformed optimizer state ({exc})") from None
    return optimizer


def load_checkpoint(path):
    """Read a model file: returns ``(model, optimizer_or_None, extra_or_None)``.

    Raises :class:`ModelFileError` (a ``ValueError``) for anything that is not a
    valid aenumpy model file of this format version, ``FileNotFoundError`` if
    there is no file.
    """
    arrays = _read(path)
    path = os.fspath(path)
    fmt = arrays.get("__format__")
    if fmt is None or fmt.dtype.kind != "U" or fmt.shape != () or str(fmt) != FORMAT:
        raise ModelFileError(f"{path}: not an aenumpy model file (no '{FORMAT}' marker)")
    ver = arrays.get("__version__")
    if ver is None or ver.shape != () or ver.dtype.kind not in "iu":
        raise ModelFileError(f"{path}: missing format version")
    if int(ver) != VERSION:
        raise ModelFileError(f"{path}: format version {int(ver)}; this aenumpy reads version {VERSION}")
    head = _json(arrays, "__config__", path)
    classes = _model_classes()
    if not isinstance(head, dict) or not isinstance(head.get("kind"), str) \
            or head["kind"] not in classes or not isinstance(head.get("config"), dict):
        raise ModelFileError(f"{path}: unknown model kind or malformed configuration")
    _check_sizes(head["config"], arrays, path)
    try:
        model = classes[head["kind"]].from_config(head["config"])
    except _CONFIG_ERRORS as exc:
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
    optimizer = _load_optimizer(arrays, model, path) if "__optim__" in arrays else None
    extra = _json(arrays, "__extra__", path) if "__extra__" in arrays else None
    return model, optimizer, extra


def load(path):
    """Load a model saved by :func:`save`. Refuses malformed files with :class:`ModelFileError`."""
    return load_checkpoint(path)[0]


# --------------------------------------------------------------------------- checkpoints
#: configuration entries that are training state, not architecture (set again by fit)
_STATE_KEYS = ("kl_weight",)
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def rng_state(rng):
    """The JSON-able state of a ``numpy.random.Generator`` (``bit_generator.state``)."""
    return rng.bit_generator.state


def rng_from_state(state, path="checkpoint"):
    """A new ``numpy.random.Generator`` in exactly the state :func:`rng_state` recorded."""
    if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
        raise ModelFileError(f"{path}: malformed random generator state")
    bitgen = getattr(np.random, state["bit_generator"])()
    try:
        bitgen.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ModelFileError(f"{path}: malformed random generator state ({exc})") from None
    return np.random.Generator(bitgen)


def training_state(*, epoch, step, seed, history, rng, model_rng, first_loss):
    """What :func:`aenumpy.fit` needs besides the weights and the optimizer to continue a
    run exactly: epochs and steps done, the seed, the history, the states of the shuffling /
    noise generator and of the model's own generator, and the first batch's loss (the
    reference of the divergence test)."""
    return {"kind": TRAINING_STATE, "epoch": int(epoch), "step": int(step), "seed": int(seed),
            "history": {k: list(v) for k, v in history.items()},
            "stopped_early": bool(getattr(history, "stopped_early", False)),
            "message": str(getattr(history, "message", "")),
            "rng": rng_state(rng), "model_rng": rng_state(model_rng) if model_rng is not None
            else None, "first_loss": first_loss}


def save_training_state(path, model, optimizer, **state):
    """Write a checkpoint: model, optimizer state and :func:`training_state` (atomic)."""
    return save(model, path, optimizer=optimizer, extra={"training": training_state(**state)})


def load_training_state(path, model, optimizer=None):
    """Read a checkpoint written by :func:`save_training_state` into ``model`` (and
    ``optimizer``, if given; else the checkpoint's optimizer is returned).

    The checkpoint's model configuration must equal ``model.get_config()``.
    Returns a dict: ``optimizer``, ``epoch``, ``step``, ``seed``, ``history`` (a
    :class:`aenumpy.history.History`), ``rng`` (a Generator), ``first_loss``; the
    model's parameters and its ``rng`` are set from the file.
    """
    saved, opt, extra = load_checkpoint(path)
    path = os.fspath(path)
    st = extra.get("training") if isinstance(extra, dict) else None
    if not isinstance(st, dict) or st.get("kind") != TRAINING_STATE:
        raise ModelFileError(f"{path}: a model file but not a training checkpoint "
                             "(written by fit(..., checkpoint=path))")
    def arch(cfg):  # the configuration without what training changes (a VAE's KL weight)
        return {k: v for k, v in cfg.items() if k not in _STATE_KEYS}

    if arch(saved.get_config()) != arch(model.get_config()):
        raise ValueError(f"{path}: the checkpoint holds a model {saved.get_config()}, but the "
                         f"model given to resume is {model.get_config()}")
    if opt is None:
        raise ModelFileError(f"{path}: the checkpoint has no optimizer state")
    if optimizer is not None:
        if optimizer.get_config() != opt.get_config():
            raise ValueError(f"{path}: the checkpoint was trained with {opt.get_config()}, "
                             f"the optimizer given is {optimizer.get_config()}; pass "
                             "optimizer=None to continue with the checkpoint's")
        optimizer.load_state_dict(opt.state_dict())
    else:
        optimizer = opt
    try:
        epoch, step, seed = (int(st["epoch"]), int(st["step"]), int(st["seed"]))
        hist = History()
        hist.clear()
        for k, v in st["history"].items():
            hist[str(k)] = list(v)
        hist.stopped_early = bool(st.get("stopped_early", False))
        hist.message = str(st.get("message", ""))
        first_loss = st.get("first_loss")
        first_loss = None if first_loss is None else float(first_loss)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path}: malformed training state ({exc})") from None
    if epoch < 0 or step < 0 or seed < 0:
        raise ModelFileError(f"{path}: malformed training state (negative counts)")
    rng = rng_from_state(st.get("rng"), path)
    if st.get("model_rng") is not None and isinstance(getattr(model, "rng", None),
                                                       np.random.Generator):
        # set the state in place: regularizers may hold the model's Generator
        model.rng.bit_generator.state = rng_from_state(st["model_rng"], path).bit_generator.state
    for k, p in saved.params.items():
        model.params[k][...] = p
    return {"optimizer": optimizer, "epoch": epoch, "step": step, "seed": seed,
            "history": hist, "rng": rng, "first_loss": first_loss}
