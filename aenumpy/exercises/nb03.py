"""Notebook 3, the denoising autoencoder: masking noise, and the loss against the clean x."""
from __future__ import annotations

import numpy as np

from ..losses import squared_error, squared_error_grad
from ..regularizers.corruption import masking_noise
from .exercise import Case, Exercise


def denoising_loss(X, X_tilde, X_hat):
    """``E(x, x̂)`` and ``∂E/∂x̂`` against the clean ``x`` (the corrupted ``x̃`` is not used):
    :func:`aenumpy.losses.squared_error` and :func:`aenumpy.losses.squared_error_grad`."""
    return squared_error(X, X_hat), squared_error_grad(X, X_hat)


def _mask_cases(rng):
    return [Case("lote de 6 × 16, p = 0.3", (rng.random((6, 16)), 0.3, np.random.default_rng(1))),
            Case("p = 0: nada se borra", (rng.random((3, 10)), 0.0, np.random.default_rng(2))),
            Case("p = 0.75, una muestra", (rng.random((1, 64)), 0.75, np.random.default_rng(3)))]


def _loss_cases(rng):
    out = []
    for label, B, d in (("lote de 5 × 16", 5, 16), ("una sola muestra", 1, 9), ("lote de 8 × 4", 8, 4)):
        X = rng.random((B, d))
        out.append(Case(label, (X, X + 0.3 * rng.standard_normal((B, d)), rng.random((B, d))), B=B))
    return out


def _mask_inverted(X, p, rng):
    return X * (rng.random(X.shape) < p)


def _against_noisy(X, X_tilde, X_hat):
    return squared_error(X_tilde, X_hat), squared_error_grad(X_tilde, X_hat)


EXERCISES = [
    Exercise(
        name="03.masking", title="ruido de enmascaramiento",
        statement="""
Corrompe cada entrada poniéndola a 0 con probabilidad p: x̃_i = x_i · b_i, b_i ~ Bernoulli(1 − p).
Para que la comprobación pueda repetir tu sorteo, saca un uniforme por entrada con
u = rng.random(X.shape) (una sola llamada) y conserva x_i donde u_i ≥ p.""",
        signature="enmascarar(X, p, rng) -> X_tilde",
        reference=masking_noise, cases=_mask_cases, outputs=("x̃",),
        hints=((_mask_inverted, "x̃: borras con probabilidad 1 − p; se conserva x_i donde u_i ≥ p"),)),
    Exercise(
        name="03.denoising_loss", title="el error contra la x limpia",
        statement="""
El autoencoder de eliminación de ruido ve la entrada corrompida x̃ y reconstruye x̂ = g(f(x̃)),
pero el error se mide contra la entrada limpia: E = (1/B) Σ_n ½ Σ_i (x_ni − x̂_ni)². Devuelve E y
∂E/∂x̂ = (x̂ − x)/B.""",
        signature="error_denoising(X, X_tilde, X_hat) -> (E, dX_hat)",
        reference=denoising_loss, cases=_loss_cases, answer="gradient", wrt=(2,),
        outputs=("E", "∂E/∂x̂"),
        hints=((_against_noisy, "comparas x̂ con la entrada ruidosa x̃: el error se mide contra la "
                                "x limpia"),)),
]
