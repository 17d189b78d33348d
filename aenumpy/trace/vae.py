"""The step-by-step record of one VAE step: every forward and backward quantity.

``ae.trace(vae, X[:1])`` lands here. On a float64 copy of the model, with ε
fixed (given, or drawn from ``np.random.default_rng([seed, 99])`` as
:func:`aenumpy.gradcheck` does), it records in the order they are computed::

    x → h (encoder) → μ, log σ² → σ = exp(½ log σ²) → ε → z = μ + σ ⊙ ε
      → decoder → x̂ (or μ_x, log σ²_x) → −log p(x|z), KL, E
      → ∂E/∂x̂ → ∂E/∂a_out → ∂E/∂W_out … → ∂E/∂z → ∂E/∂μ, ∂E/∂log σ²
      → ∂E/∂W_μ, ∂E/∂W_logvar … → encoder layers → the gradients

Each entry is readable by its symbol (``t["σ"]``, ``t["∂E/∂z"]``) or its key
(``t["sigma"]``, ``t["dE/dz"]``); ``print(t)`` shows the table.
"""
from __future__ import annotations

import numpy as np

from .record import SUB, Trace, add_backward, add_gradients, float64_step, stack_symbols


def _names(model):
    """Symbols ``(pre-activation, output, W, b)`` for each Dense layer of the VAE:
    ``x → h → (μ, log σ²) → z → g → x̂``."""
    L = len(model.encoder)
    h, g = ("h", "g") if L == 1 else (f"h{L}".translate(SUB), f"g{L}".translate(SUB))
    sym = {**stack_symbols([f"enc{i}" for i in range(L)], "x", h, "h"),
           **stack_symbols([f"dec{j}" for j in range(L)], "z", g, "g", "W'", "b'")}
    sym["mu"] = (f"W_μ{h} + b_μ", "μ", "W_μ", "b_μ")
    sym["logvar"] = (f"W_σ{h} + b_σ", "log σ²", "W_σ", "b_σ")
    xs = "x̂" if model.likelihood == "bernoulli" else "μ_x"
    sym["out"] = (f"W_out{g} + b_out", xs, "W_out", "b_out")
    sym["out_logvar"] = (f"W_σx{g} + b_σx", "log σ²_x", "W_σx", "b_σx")
    return sym


def trace_vae(model, X, seed=0, eps=None):
    """Record one forward and backward pass of a VAE on ``X`` (one sample or a few).

    The lecture's VAE step written out; ε is fixed so the numbers are reproducible.
    """
    if eps is None:
        B = len(model.validate(X))
        eps = np.random.default_rng([seed, 99]).standard_normal((B, model.n_latent))
    m, X, E, grads = float64_step(model, X, eps=eps)
    c = m.cache
    B = X.shape[0]
    sym = _names(m)
    t = Trace(f"trace of one step: {m!r}, batch of {B}")
    t.add("x", "x", X)
    for layer in m.encoder:
        a, z = sym[layer.name][:2]
        t.add(f"{layer.name}.a", a, layer.cache["A"])
        t.add(f"{layer.name}.z", z, layer.cache["Z"], layer.activation.name)
    t.add("mu.a", sym["mu"][0], m.mu_head.cache["A"])
    t.add("mu", "μ", c["mu"], "mean of q(z|x)")
    t.add("logvar.a", sym["logvar"][0], m.logvar_head.cache["A"])
    t.add("logvar", "log σ²", c["logvar"], "log-variance of q(z|x)")
    t.add("sigma", "σ", c["sigma"], "exp(½ log σ²), the standard deviation")
    t.add("eps", "ε", c["eps"], "~ N(0, I), held fixed")
    t.add("z", "z", c["z"], "μ + σ ⊙ ε")
    for layer in m.decoder:
        a, z = sym[layer.name][:2]
        t.add(f"{layer.name}.a", a, layer.cache["A"])
        t.add(f"{layer.name}.z", z, layer.cache["Z"], layer.activation.name)
    t.add("out.a", sym["out"][0], m.out.cache["A"])
    gaussian = m.out_logvar is not None
    if gaussian:
        t.add("xhat", "μ_x", c["out"], "mean of p(x|z)")
        t.add("out_logvar", "log σ²_x", c["out_logvar"], "log-variance of p(x|z)")
    else:
        t.add("xhat", "x̂", c["out"], "sigmoid: Bernoulli means of p(x|z)")
    t.add("E.reconstruction", "−log p(x|z)", c["reconstruction"],
          "summed over features, averaged over the batch")
    t.add("E.kl", "KL", c["kl"], "−½ Σ(1 + log σ² − μ² − σ²), averaged over the batch")
    t.add("kl_weight", "w_KL", c["kl_weight"], "β (or less during warm-up)")
    t.add("E", "E", E, "−log p(x|z) + w_KL · KL")
    # ---- backward
    xh = c["out"]
    if gaussian:
        lvx = c["out_logvar"]
        t.add("dE/dxhat", "∂E/∂μ_x", -(X - xh) * np.exp(-lvx) / B)
        t.add("dE/dout_logvar", "∂E/∂log σ²_x", c["dA_out_logvar"])
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            t.add("dE/dxhat", "∂E/∂x̂", (xh - X) / (xh * (1 - xh)) / B,
                  "(x̂ − x) / (x̂(1 − x̂)) / B")
    heads = [m.out] + ([m.out_logvar] if gaussian else [])
    for layer in heads:
        add_backward(t, layer, sym[layer.name])
    for layer in reversed(m.decoder):
        add_backward(t, layer, sym[layer.name], dz=layer.cache["dZ"])
    t.add("dE/dz", "∂E/∂z", c["dz"])
    t.add("dE/dmu", "∂E/∂μ", c["dmu"], "∂E/∂z + w_KL μ / B")
    t.add("dE/dlogvar", "∂E/∂log σ²", c["dlogvar"], "∂E/∂z ⊙ ε ⊙ ½σ + w_KL ½(σ² − 1) / B")
    for layer in (m.mu_head, m.logvar_head):
        add_backward(t, layer, sym[layer.name], a=False)
    for layer in reversed(m.encoder):
        add_backward(t, layer, sym[layer.name], dz=layer.cache["dZ"])
    add_gradients(t, grads)
    return t
