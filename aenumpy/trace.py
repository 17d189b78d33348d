"""The step-by-step record of one forward and one backward pass.

``trace(model, X[:1])`` runs one training step's forward and backward pass (on
a float64 copy, without updating anything) and returns every quantity in the
lecture's notation, in the order it is computed::

    x → Wx + b → z → W'z + b' → x̂ → E → ∂E/∂x̂ → ∂E/∂(W'z + b') → ∂E/∂W', ∂E/∂b'
      → ∂E/∂z → ∂E/∂(Wx + b) → ∂E/∂W, ∂E/∂b

For stacked models each layer gets its index (``W₁x + b₁``, ``h₁``, …). Each
entry is readable by its symbol (``t["z"]``) or its key (``t["enc0.z"]``), and
``print(t)`` shows a table of symbols, shapes and values.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_int, check_model

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
        lines = [self.title, f"{'symbol':<22}{'key':<22}{'shape':<12}values"]
        lines.append("-" * 100)
        for key, sym, val, note in self.entries:
            flat = val.reshape(-1)
            shown = " ".join(f"{v: .4f}" for v in flat[:max_values])
            if flat.size > max_values:
                shown += f" … ({flat.size} values)"
            lines.append(f"{sym:<22}{key:<22}{str(val.shape):<12}{shown}{'  ' + note if note else ''}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        return "<pre>" + str(self) + "</pre>"


def _symbols(model):
    """Lecture symbols for every layer's pre-activation and output."""
    L = len(model.encoder)
    sym = {}
    if L == 1:
        sym["enc0"] = ("Wx + b", "z", "x", "W", "b")
        sym["dec0"] = ("W'z + b'", "x̂", "z", "W'", "b'")
        return sym
    for i in range(L):
        inp = "x" if i == 0 else f"h{i}".translate(SUB)
        out = "z" if i == L - 1 else f"h{i + 1}".translate(SUB)
        W, b = f"W{i + 1}".translate(SUB), f"b{i + 1}".translate(SUB)
        sym[f"enc{i}"] = (f"{W}{inp} + {b}", out, inp, W, b)
    for j in range(L):
        inp = "z" if j == 0 else f"g{j}".translate(SUB)
        out = "x̂" if j == L - 1 else f"g{j + 1}".translate(SUB)
        W, b = f"W'{j + 1}".translate(SUB), f"b'{j + 1}".translate(SUB)
        sym[f"dec{j}"] = (f"{W}{inp} + {b}", out, inp, W, b)
    return sym


def trace(model, X, seed=0, eps=None):
    """Record one forward and backward pass of ``model`` on ``X`` (one sample or a few).

    Runs on a float64 copy with noise drawn from ``np.random.default_rng(seed)``
    (and, for a VAE, ``eps`` or a seeded ε), so the model itself is untouched.
    """
    check_model(model)
    check_int("seed", seed, 0)
    if getattr(model, "kind", "") == "vae":
        from .models.vae_trace import trace_vae

        return trace_vae(model, X, seed=seed, eps=eps)
    m = model.astype("float64")
    X = m._check_X(X)
    E, grads = m._loss_and_grads(X, np.random.default_rng(seed))
    sym = _symbols(m)
    t = Trace(f"trace of one step: {m!r}, batch of {X.shape[0]}")
    t.add("x", "x", X)
    if m._x_tilde is not X:
        t.add("x_tilde", "x̃", m._x_tilde, "corrupted input")
    for layer in m.encoder + m.decoder:
        a_sym, z_sym = sym[layer.name][:2]
        t.add(f"{layer.name}.a", a_sym, layer.cache["A"])
        t.add(f"{layer.name}.z", z_sym, layer.cache["Z"], layer.activation.name)
        if layer.cache.get("M") is not None:
            t.add(f"{layer.name}.mask", f"mask({z_sym})", layer.cache["M"])
            t.add(f"{layer.name}.h", f"{z_sym} ⊙ mask", layer.cache["H"])
    for name, v in m._last_terms.items():
        t.add(f"E.{name}", f"E_{name}", v)
    t.add("E", "E", E, "total loss")
    out = m.decoder[-1]
    t.add("dE/dxhat", "∂E/∂x̂", m.loss_fn.grad(X, out.cache["Z"]))
    for layer in reversed(m.decoder + m.encoder):
        a_sym, z_sym, in_sym, W_sym, b_sym = sym[layer.name]
        if layer is not out:
            dz = layer.cache.get("dH", layer.cache.get("dZ"))
            t.add(f"dE/d({layer.name}.z)", f"∂E/∂{z_sym}", dz)
        t.add(f"dE/d({layer.name}.a)", f"∂E/∂({a_sym})", layer.cache["dA"])
        note = f"added, transposed, into ∂E/∂{sym[layer.tied_to.name][3]}" if layer.tied_to else ""
        t.add(f"dE/d({layer.name}.W)", f"∂E/∂{W_sym}", layer.grads["W"], note)
        t.add(f"dE/d({layer.name}.b)", f"∂E/∂{b_sym}", layer.grads["b"])
    for k, g in grads.items():
        t.add(f"grad.{k}", f"grad[{k}]", g, "the gradient the optimizer uses")
    return t
