"""The step-by-step record of one convolutional autoencoder step: every feature map of the
forward pass and every gradient of the backward pass, layer by layer.

Symbols: the encoder's outputs are ``h₁, h₂, …`` up to the code ``z``, the decoder's
``g₁, g₂, …`` up to ``x̂``; a convolution's pre-activation is ``W ⋆ h + b`` (``⋆ᵀ`` for a
transposed one), pooling ``maxpool(h)``, upsampling ``up(h)``.
"""
from __future__ import annotations

import numpy as np

from ..layers import Conv2D, ConvTranspose2D, Dense
from .record import SUB, Trace, add_mask, add_terms

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
    m = model.astype("float64")
    X = m.validate(X)
    E, grads = m.loss_and_grads(X, rng=np.random.default_rng(seed), checked=True)
    sym = _symbols(m)
    t = Trace(f"trace of one step: {m!r}, batch of {X.shape[0]}")
    t.add("x", "x", m.cache["x"])
    if m.cache["x_tilde"] is not m.cache["x"]:
        t.add("x_tilde", "x̃", m.cache["x_tilde"], "corrupted input")
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
    t.add("dE/dxhat", "∂E/∂x̂", m.loss_fn.grad(X.reshape(len(X), -1),
                                              xhat.reshape(len(X), -1)).reshape(xhat.shape))
    for layer in reversed(m.layers):
        a_sym, z_sym, W_sym, b_sym = sym[layer.name]
        dz = layer.cache.get("dH", layer.cache.get("dZ"))
        if layer is not out and dz is not None:
            t.add(f"dE/d({layer.name}.z)", f"∂E/∂{z_sym}", dz)
        if a_sym is not None:
            t.add(f"dE/d({layer.name}.a)", f"∂E/∂({a_sym})", layer.cache["dA"])
            t.add(f"dE/d({layer.name}.W)", f"∂E/∂{W_sym}", layer.grads["W"])
            t.add(f"dE/d({layer.name}.b)", f"∂E/∂{b_sym}", layer.grads["b"])
    for k, g in grads.items():
        t.add(f"grad.{k}", f"grad[{k}]", g, "the gradient the optimizer uses")
    return t
