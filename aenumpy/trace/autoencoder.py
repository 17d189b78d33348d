"""The step-by-step record of one autoencoder step: every forward and backward quantity."""
from __future__ import annotations

import numpy as np

from .record import (Trace, add_backward, add_gradients, add_input, add_mask, add_terms,
                     float64_step, stack_symbols)


def _symbols(model):
    """Lecture symbols ``(pre-activation, output, W, b)`` for every layer: ``x → z → x̂``."""
    enc = [layer.name for layer in model.encoder]
    dec = [layer.name for layer in model.decoder]
    return {**stack_symbols(enc, "x", "z", "h"), **stack_symbols(dec, "z", "x̂", "g", "W'", "b'")}


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
        dz = None if layer is out else layer.cache.get("dH", layer.cache.get("dZ"))
        tied = layer.tied_to
        note = f"added, transposed, into ∂E/∂{sym[tied.name][2]}" if tied else ""
        add_backward(t, layer, sym[layer.name], dz=dz, note=note)
    add_gradients(t, grads)
    return t
