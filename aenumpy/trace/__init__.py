"""The step-by-step record of one forward and one backward pass.

``trace(model, X[:1])`` runs one training step's forward and backward pass (on a
float64 copy, without updating anything) and returns a :class:`Trace`: every quantity
in the lecture's notation, in the order it is computed. Each entry is readable by its
symbol (``t["z"]``) or its key (``t["enc0.z"]``); ``print(t)`` shows the table and
:func:`aenumpy.plot.trace` draws it.
"""
from __future__ import annotations

from .._validate import check_int, check_model
from .autoencoder import trace_autoencoder
from .conv import trace_conv
from .record import SUB, Trace
from .vae import trace_vae

__all__ = ["trace", "Trace", "SUB"]


def trace(model, X, seed=0, eps=None):
    """Record one forward and backward pass of ``model`` on ``X`` (one sample or a few).

    Runs on a float64 copy with noise drawn from ``np.random.default_rng(seed)``
    (and, for a VAE, ``eps`` or a seeded ε), so the model itself is untouched.
    """
    check_model(model)
    check_int("seed", seed, 0)
    if model.family == "vae":
        return trace_vae(model, X, seed=seed, eps=eps)
    if model.family == "conv":
        return trace_conv(model, X, seed=seed)
    if model.family == "unet":
        raise TypeError("trace records an autoencoder's step; a UNet's step is in its layers' "
                        "caches after net.loss_and_grads(X, Y) (net.layers, each layer.cache)")
    return trace_autoencoder(model, X, seed=seed)
