"""Which implementation runs: the teaching path, or the speed backend standing in for it.

The teaching path (activations, layers, losses, optim, regularizers, models) is plain
NumPy that reads like the lecture. The speed backend, :mod:`aenumpy.fast`, holds *fast
twins* of a few of its classes: subclasses that compute the same formulas with compiled
Numba kernels and matrix products split over the kernels' threads. When the backend is
on, building one of those classes builds its twin, which is still an instance of the
class asked for::

    ae.Autoencoder(784, [256])   ->  aenumpy.fast.models.FastAutoencoder
    ae.optim.Adam()              ->  aenumpy.fast.optim.FastAdam

The fast package registers its twins here (:func:`register`) by name, so that nothing
of it, and no compiled code, is imported until a twin is first built. The same goes for
the few plain functions that :func:`aenumpy.fit` runs on every step (:func:`routine`).

The backend is on unless ``AENUMPY_JIT=0`` is set in the environment;
``with use_fast(False):`` runs a block on the teaching path alone.

**Small work pays no compile.** A kernel compiles on its first call (a few seconds,
once per machine; the result is cached on disk), which a small model's whole training
run does not pay back. So a twin computes on the teaching path when its work is below
:func:`min_work`: a model whose forward pass costs fewer than ``MIN_WORK`` = 65,536
multiply-adds per sample (every model on the embedded 8×8 digits), and Adam or the
batch gather on fewer than ``MIN_WORK`` entries (Adam compiles anyway for the weights of
a model that runs compiled: a convolutional model has few weights and much work). Tests
lower it with ``use_fast(True, min_work=0)`` to run the fast path on small inputs.
"""
from __future__ import annotations

import contextlib
import importlib
import os

#: work (multiply-adds per sample of a model's forward pass, or entries of an array)
#: below which the fast twins compute on the teaching path
MIN_WORK = 1 << 16


def env_on(name: str) -> bool:
    """The switch ``name`` in the environment: on unless set to 0, false, no or off
    (``AENUMPY_JIT`` here; the speed backend's ``AENUMPY_SPLIT_BLAS`` and
    ``AENUMPY_REUSE_BUFFERS``)."""
    return os.environ.get(name, "1").strip().lower() not in ("0", "false", "no", "off")


_state = {"on": env_on("AENUMPY_JIT"), "min_work": MIN_WORK}
_twins: dict = {}      # teaching class -> "module:attribute" of its fast twin
_routines: dict = {}   # routine name -> "module:attribute"
_loaded: dict = {}     # "module:attribute" -> the object


def fast_enabled() -> bool:
    """True when the speed backend stands in for the teaching path."""
    return _state["on"]


def min_work() -> int:
    """The work below which a fast twin computes on the teaching path (see the module docstring)."""
    return _state["min_work"]


def worth_compiling(work) -> bool:
    """True when the backend is on and ``work`` reaches :func:`min_work`."""
    return _state["on"] and work >= _state["min_work"]


@contextlib.contextmanager
def use_fast(enabled: bool = True, *, min_work: int | None = None):
    """Run the body with the speed backend on or off (and, optionally, another
    small-work threshold). Objects keep the class they were built with (and their copies,
    :func:`build_exactly`, that class)."""
    old = dict(_state)
    _state["on"] = bool(enabled)
    if min_work is not None:
        _state["min_work"] = int(min_work)
    try:
        yield
    finally:
        _state.update(old)


def register(teaching_cls, target: str):
    """Make ``target`` (``"module:Class"``, a subclass of ``teaching_cls``) its fast twin."""
    _twins[teaching_cls] = target


def register_routine(name: str, target: str):
    """Make ``target`` (``"module:function"``) the fast version of the routine ``name``."""
    _routines[name] = target


def _load(target):
    obj = _loaded.get(target)
    if obj is None:
        module, attr = target.split(":")
        obj = _loaded[target] = getattr(importlib.import_module(module), attr)
    return obj


def twin_of(cls):
    """The class to build for ``cls``: its fast twin when the backend is on, else ``cls``."""
    target = _twins.get(cls) if _state["on"] else None
    return cls if target is None else _load(target)


def routine(name: str, teaching):
    """The function to run for the routine ``name``: the registered fast version when
    the backend is on, else ``teaching``."""
    target = _routines.get(name) if _state["on"] else None
    return teaching if target is None else _load(target)


def build_exactly(cls, *args, **kwargs):
    """An instance of ``cls`` itself, whatever the switch says. ``cls(...)`` builds the fast
    twin of a teaching class while the backend is on; a model's ``astype`` builds its copy
    with this, so that the copy keeps the class of the model it copies."""
    obj = object.__new__(cls)
    obj.__init__(*args, **kwargs)
    return obj


def teaching_class(cls):
    """The teaching class a (possibly fast) class stands for: the first of its bases that
    is not a twin from :mod:`aenumpy.fast` (for names shown to a student)."""
    return next(c for c in cls.__mro__ if not c.__module__.startswith("aenumpy.fast"))


class Replaceable:
    """Base of a teaching class the speed backend may stand in for: building it builds
    :func:`twin_of` the class (the class itself when the backend is off or has no twin)."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(twin_of(cls))
