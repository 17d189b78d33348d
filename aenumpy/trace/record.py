"""The record of one step: ordered entries ``(key, symbol, value, note)``.

Each entry is readable by its lecture symbol (``t["z"]``) or its key
(``t["enc0.z"]``), and ``print(t)`` shows a table of symbols, shapes and values.
"""
from __future__ import annotations

import numpy as np


SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


class Trace:
    """Ordered entries ``(key, symbol, value, note)``; index by key or symbol."""

    def __init__(self, title):
        self.title = title
        self.entries = []

    def add(self, key, symbol, value, note=""):
        """Record one quantity (a float64 copy) under its key and lecture symbol."""
        self.entries.append((key, symbol, np.array(value, dtype=np.float64), note))

    def keys(self):
        return [e[0] for e in self.entries]

    def symbols(self):
        return [e[1] for e in self.entries]

    def __getitem__(self, name):
        for key, sym, val, _ in self.entries:
            if name in (key, sym):
                return val
        raise KeyError(f"{name!r}: not in the trace; keys are {self.keys()}")

    def __contains__(self, name):
        return any(name in (e[0], e[1]) for e in self.entries)

    def __str__(self, max_values=6):
        lines = [self.title, f"{'symbol':<22}{'key':<22}{'shape':<14}values"]
        lines.append("-" * 100)
        for key, sym, val, note in self.entries:
            flat = val.reshape(-1)
            shown = " ".join(f"{v: .4f}" for v in flat[:max_values])
            if flat.size > max_values:
                shown += f" … ({flat.size} values)"
            lines.append(f"{sym:<22}{key:<22}{str(val.shape):<14}{shown}{'  ' + note if note else ''}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        return "<pre>" + str(self) + "</pre>"


def add_mask(t, layer, z_sym):
    """A hidden layer's mask (dropout, top-k) and its masked output, when it has one."""
    if layer.cache.get("M") is not None:
        t.add(f"{layer.name}.mask", f"mask({z_sym})", layer.cache["M"])
        t.add(f"{layer.name}.h", f"{z_sym} ⊙ mask", layer.cache["H"])


def add_terms(t, terms, E):
    """Each term of the loss (reconstruction, each penalty) and their sum E."""
    for name, v in terms.items():
        t.add(f"E.{name}", f"E_{name}", v)
    t.add("E", "E", E, "total loss")
