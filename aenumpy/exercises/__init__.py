"""The notebooks' exercises: statements, references and checks on the spot.

Each notebook ``NN`` has a module ``nbNN`` here holding a list ``EXERCISES`` of
:class:`~aenumpy.exercises.exercise.Exercise`; every module named ``nb`` + two digits is
picked up, so a new notebook's exercises are one new module. The public functions::

    ae.exercises.names()              # every exercise, e.g. "04.kl_grad" (names("04"): one notebook)
    ae.exercises.describe(name)       # the statement in Spanish and the signature
    ae.exercises.reference(name)      # the library's function the check compares with
    r = ae.exercises.check(name, fn)  # r.ok; print(r) shows a short table in Spanish

``check`` calls ``fn`` with the same arguments as ``reference(name)`` on several seeded
inputs, edge cases included, and never raises for anything ``fn`` does.
"""
from __future__ import annotations

import importlib
import pkgutil
import re

from .exercise import Case, Exercise
from .result import BLANK, Result

__all__ = ["names", "describe", "reference", "check", "get", "Exercise", "Case", "Result", "BLANK"]


def _registry():
    found = {}
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"nb\d\d", m.name)):
        for ex in importlib.import_module(f"{__name__}.{mod}").EXERCISES:
            if ex.name in found:
                raise RuntimeError(f"exercise {ex.name!r} is defined twice")
            found[ex.name] = ex
    return found


_EXERCISES: dict | None = None


def _all():
    global _EXERCISES
    if _EXERCISES is None:
        _EXERCISES = _registry()
    return _EXERCISES


def names(notebook=None) -> list:
    """Every exercise's name, in course order; ``notebook="04"`` (or 4) gives one notebook's."""
    out = list(_all())
    if notebook is None:
        return out
    if isinstance(notebook, bool) or not isinstance(notebook, (int, str)):
        raise TypeError(f"notebook must be a number such as 4 or '04', got {notebook!r}")
    prefix = f"{int(notebook):02d}." if str(notebook).isdigit() else None
    if prefix is None:
        raise ValueError(f"notebook must be a number such as 4 or '04', got {notebook!r}")
    return [n for n in out if n.startswith(prefix)]


def get(name) -> Exercise:
    """The :class:`Exercise` called ``name`` (a ValueError listing the names otherwise)."""
    if not isinstance(name, str):
        raise TypeError(f"an exercise name is a string such as '04.kl_grad', got {name!r}")
    ex = _all().get(name)
    if ex is None:
        raise ValueError(f"no exercise called {name!r}; the exercises are: {', '.join(_all())}")
    return ex


def describe(name) -> str:
    """The statement of exercise ``name`` in Spanish, with its signature."""
    return get(name).describe()


def reference(name):
    """The library's function that the check of exercise ``name`` compares with; it takes the
    same arguments as the student's function and returns what it should."""
    return get(name).reference


def check(name, fn) -> Result:
    """Run the student's ``fn`` on the exercise's seeded cases and compare with the reference.

    Returns a :class:`Result` (``.ok``; its repr is a short table in Spanish naming the mistake
    where it can). A blank (``raise NotImplementedError()``) gives "todavía sin escribir";
    nothing ``fn`` does makes ``check`` raise. An unknown ``name`` is a ValueError.
    """
    return get(name).check(fn)
