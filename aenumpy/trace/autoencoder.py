"""The step-by-step record of one autoencoder step: every forward and backward quantity."""
from __future__ import annotations

import numpy as np

from .record import (SUB, Trace, add_backward, add_gradients, add_input, add_mask, add_terms,
                     float64_step)


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


def trace_autoencoder(model, X, seed=0):
    """Record one forward and backward pass of an :class:`~aenumpy.Autoencoder` on ``X``.

    Runs on a float64 copy with noise drawn from ``np.random.default_rng(seed)``, so
    the model itself is untouched. The order is the lecture's::

        x → Wx + b → z → W'z + b' → x̂ → E → ∂E/∂x̂ → ∂E/∂(W'z + b') → ∂E/∂W', ∂E/∂b'
          → ∂E/∂z → ∂E/∂(Wx + b) → ∂E/∂W, ∂E/∂b

    For stacked models each layer gets its index (``W₁x + b₁``, ``h₁``, …).
    """
    m, X, E, grads = float64_step(model, X, rng=np.random.default_rng(seed))
    sym = _symbols(m)
    t = Trace(f"trace of one step: {m!r}, batch of {X.shape[0]}")
    add_input(t, m.cache)
    for layer in m.encoder + m.decoder:
        a_sym, z_sym = sym[layer.name][:2]
        t.add(f"{layer.name}.a", a_sym, layer.cache["A"])
        t.add(f"{layer.name}.z", z_sym, layer.cache["Z"], layer.activation.name)
        add_mask(t, layer, z_sym)
    add_terms(t, m.cache["terms"], E)
    out = m.decoder[-1]
    t.add("dE/dxhat", "∂E/∂x̂", m.loss_fn.grad(X, out.cache["Z"]))
    for layer in reversed(m.decoder + m.encoder):
        a_sym, z_sym, _, W_sym, b_sym = sym[layer.name]
        dz = None if layer is out else layer.cache.get("dH", layer.cache.get("dZ"))
        tied = layer.tied_to
        note = f"added, transposed, into ∂E/∂{sym[tied.name][3]}" if tied else ""
        add_backward(t, layer, (a_sym, z_sym, W_sym, b_sym), dz=dz, note=note)
    add_gradients(t, grads)
    return t
