"""The record of one step: ordered entries ``(key, symbol, value, note)``.

Each entry is readable by its lecture symbol (``t["z"]``) or its key
(``t["enc0.z"]``), and ``print(t)`` shows a table of symbols, shapes and values.
"""
from __future__ import annotations

import numpy as np


SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def stack_symbols(names, first_in, last_out, letter, W="W", b="b"):
    """Lecture symbols ``(pre-activation, output, W, b)`` for a stack of dense layers.

    Layer i of ``names`` takes ``letterᵢ`` (the first one ``first_in``) and gives
    ``letterᵢ₊₁`` (the last one ``last_out``), with weights ``Wᵢ₊₁`` and ``bᵢ₊₁``: the
    encoder ``x → W₁x + b₁ → h₁ → W₂h₁ + b₂ → z``. A stack of one layer has no indices
    (``Wx + b``). ``stack_symbols(["dec0", "dec1"], "z", "x̂", "g", "W'", "b'")`` names a
    decoder."""
    n = len(names)

    def sub(s, k):
        return s if n == 1 else f"{s}{k}".translate(SUB)

    symbols = {}
    for i, name in enumerate(names):
        inp = first_in if i == 0 else sub(letter, i)
        out = last_out if i == n - 1 else sub(letter, i + 1)
        Wi, bi = sub(W, i + 1), sub(b, i + 1)
        symbols[name] = (f"{Wi}{inp} + {bi}", out, Wi, bi)
    return symbols


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


def float64_step(model, X, **noise):
    """One training step's forward and backward pass on a float64 copy of ``model`` (the
    model itself untouched): ``(copy, X checked, E, grads)``. ``noise`` is what
    ``loss_and_grads`` takes to fix it (``rng=`` a generator, or a VAE's ``eps=``)."""
    m = model.astype("float64")
    X = m.validate(X)
    E, grads = m.loss_and_grads(X, checked=True, **noise)
    return m, X, E, grads


def add_input(t, cache):
    """``x``, and ``x̃`` when a corruption changed it (the model's ``cache``)."""
    t.add("x", "x", cache["x"])
    if cache["x_tilde"] is not cache["x"]:
        t.add("x_tilde", "x̃", cache["x_tilde"], "corrupted input")


def add_backward(t, layer, symbols, dz=None, a=True, note=""):
    """A layer's backward quantities in the order backprop computes them: ``∂E/∂z`` of its
    output (when ``dz`` is given), ``∂E/∂a = δ`` (unless ``a`` is False), ``∂E/∂W`` (with
    ``note``) and ``∂E/∂b``; ``symbols`` are its ``(a, z, W, b)`` symbols."""
    a_sym, z_sym, W_sym, b_sym = symbols
    if dz is not None:
        t.add(f"dE/d({layer.name}.z)", f"∂E/∂{z_sym}", dz)
    if a:
        t.add(f"dE/d({layer.name}.a)", f"∂E/∂({a_sym})", layer.cache["dA"])
    t.add(f"dE/d({layer.name}.W)", f"∂E/∂{W_sym}", layer.grads["W"], note)
    t.add(f"dE/d({layer.name}.b)", f"∂E/∂{b_sym}", layer.grads["b"])


def add_gradients(t, grads):
    """Every parameter's gradient as the optimizer gets it (a tied W's two parts added)."""
    for k, g in grads.items():
        t.add(f"grad.{k}", f"grad[{k}]", g, "the gradient the optimizer uses")


def add_terms(t, terms, E):
    """Each term of the loss (reconstruction, each penalty) and their sum E."""
    for name, v in terms.items():
        t.add(f"E.{name}", f"E_{name}", v)
    t.add("E", "E", E, "total loss")
