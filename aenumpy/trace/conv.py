"""The step-by-step record of one convolutional autoencoder step: every feature map of the
forward pass and every gradient of the backward pass, layer by layer.

Symbols: the encoder's outputs are ``h₁, h₂, …`` up to the code ``z``, the decoder's
``g₁, g₂, …`` up to ``x̂``; a convolution's pre-activation is ``W ⋆ h + b`` (``⋆ᵀ`` for a
transposed one), pooling ``maxpool(h)``, upsampling ``up(h)``.
"""
from __future__ import annotations

import numpy as np

from ..layers import Conv2D, ConvTranspose2D, Dense
from .record import (SUB, Trace, add_backward, add_gradients, add_input, add_mask, add_terms,
                     float64_step)

_OPS = {"MaxPool2D": "maxpool", "Upsample2D": "up", "Flatten": "flatten", "Reshape": "reshape"}


def _symbols(model):
    """``(pre-activation, output, W, b)`` symbols of every layer, by name; for a layer
    without weights ``(None, output, what it computes, None)``."""
    sym, n_enc = {}, len(model.encoder)
    names = ["x"] + [("z" if i == n_enc - 1 else f"h{i + 1}".translate(SUB)) for i in range(n_enc)]
    names += [("x̂" if j == len(model.decoder) - 1 else f"g{j + 1}".translate(SUB))
              for j in range(len(model.decoder))]
    for k, layer in enumerate(model.layers):
        inp, out = names[k], names[k + 1]
        n = f"{k + 1}".translate(SUB)
        if isinstance(layer, (Conv2D, ConvTranspose2D, Dense)):
            op = (" ⋆ᵀ " if isinstance(layer, ConvTranspose2D) else
                  " ⋆ " if isinstance(layer, Conv2D) else "")
            sym[layer.name] = (f"W{n}{op}{inp} + b{n}", out, f"W{n}", f"b{n}")
        else:
            sym[layer.name] = (None, out, f"{_OPS.get(type(layer).__name__, 'f')}({inp})", None)
    return sym


def trace_conv(model, X, seed=0):
    """Record one forward and backward pass of a :class:`~aenumpy.ConvAutoencoder` on ``X``
    (one image or a few), on a float64 copy with noise from ``np.random.default_rng(seed)``."""
    m, X, E, grads = float64_step(model, X, rng=np.random.default_rng(seed))
    sym = _symbols(m)
    t = Trace(f"trace of one step: {m!r}, batch of {X.shape[0]}")
    add_input(t, m.cache)
    for layer in m.layers:
        a_sym, z_sym = sym[layer.name][:2]
        if a_sym is not None:
            t.add(f"{layer.name}.a", a_sym, layer.cache["A"])
        t.add(f"{layer.name}.z", z_sym, layer.cache["Z"],
              layer.activation.name if a_sym is not None else sym[layer.name][2])
        add_mask(t, layer, z_sym)
    add_terms(t, m.cache["terms"], E)
    out = m.layers[-1]
    xhat = out.cache["Z"]
    dxhat = m.loss_fn.grad(X.reshape(len(X), -1), xhat.reshape(len(X), -1))
    t.add("dE/dxhat", "∂E/∂x̂", dxhat.reshape(xhat.shape))
    for layer in reversed(m.layers):
        a_sym, z_sym = sym[layer.name][:2]
        dz = None if layer is out else layer.cache.get("dH", layer.cache.get("dZ"))
        if a_sym is not None:
            add_backward(t, layer, sym[layer.name], dz=dz)
        elif dz is not None:        # pooling, reshaping: no weights, only ∂E/∂ of the output
            t.add(f"dE/d({layer.name}.z)", f"∂E/∂{z_sym}", dz)
    add_gradients(t, grads)
    return t
