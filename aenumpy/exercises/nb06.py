"""Notebook 6, the variational autoencoder: the reparameterisation, the Gaussian KL term and
its gradients with respect to μ and log σ²."""
from __future__ import annotations

import numpy as np

from ..models.vae import VariationalAutoencoder, gaussian_kl, gaussian_kl_grad
from .exercise import Case, Exercise

reparameterize = VariationalAutoencoder.reparameterize


def kl_and_grads(mu, logvar):
    """The batch mean of :func:`aenumpy.models.vae.gaussian_kl` and its derivatives,
    :func:`aenumpy.models.vae.gaussian_kl_grad` divided by B."""
    B = mu.shape[0]
    g_mu, g_lv = gaussian_kl_grad(mu, logvar)
    return float(np.mean(gaussian_kl(mu, logvar))), g_mu / B, g_lv / B


def _cases(rng, eps=False):
    out = []
    for label, B, L, s in (("lote de 4, código de 3", 4, 3, 1.0), ("una sola muestra, código de 2", 1, 2, 1.0),
                           ("log σ² grande: entre −5 y 5", 3, 4, 5.0)):
        mu, lv = rng.standard_normal((B, L)), s * rng.uniform(-1, 1, (B, L))
        out.append(Case(label, (mu, lv, rng.standard_normal((B, L))) if eps else (mu, lv), B=B,
                        terms=L))
    return out


def _sigma_squared(mu, logvar, eps):
    return mu + np.exp(logvar) * eps


def _no_exp(mu, logvar, eps):
    return mu + 0.5 * logvar * eps


def _kl_with_sigma(mu, logvar):
    return -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(0.5 * logvar), axis=1)


def _kl_grad_no_half(mu, logvar):
    B = mu.shape[0]
    return float(np.mean(gaussian_kl(mu, logvar))), mu / B, (np.exp(logvar) - 1) / B


EXERCISES = [
    Exercise(
        name="06.reparam", title="la reparametrización",
        statement="""
Saca el código z de q(z|x) = N(μ, σ²) con la reparametrización z = μ + σ ⊙ ε, donde ε ~ N(0, I)
viene dado y σ = exp(½ log σ²) es la desviación típica (el codificador da log σ², no σ).""",
        signature="reparametrizar(mu, logvar, eps) -> z",
        reference=reparameterize, cases=lambda rng: _cases(rng, eps=True), outputs=("z",),
        hints=((_sigma_squared, "z: multiplicas ε por σ² = exp(log σ²); va la desviación típica "
                                "σ = exp(½ log σ²)"),
               (_no_exp, "z: usas ½ log σ² como σ; falta el exp: σ = exp(½ log σ²)"))),
    Exercise(
        name="06.kl", title="el término KL en forma cerrada",
        statement="""
Calcula, para cada muestra, KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j), con
σ² = exp(log σ²): un vector de forma (B,).""",
        signature="kl_gaussiana(mu, logvar) -> kl",
        reference=gaussian_kl, cases=_cases, outputs=("KL",),
        hints=((_kl_with_sigma, "KL: usas σ = exp(½ log σ²) donde va la varianza σ² = exp(log σ²)"),)),
    Exercise(
        name="06.kl_grad", title="los gradientes del término KL",
        statement="""
Con KL = (1/B) Σ_b KL_b (la media sobre el lote de 06.kl), devuelve KL, ∂KL/∂μ y ∂KL/∂log σ²
(cada uno de forma (B, L)). Pista: ∂KL_b/∂μ_j = μ_j y ∂KL_b/∂log σ²_j = ½(σ²_j − 1).""",
        signature="grad_kl(mu, logvar) -> (KL, dmu, dlogvar)",
        reference=kl_and_grads, cases=_cases, answer="gradient", wrt=(0, 1),
        outputs=("KL", "∂KL/∂μ", "∂KL/∂log σ²"),
        hints=((_kl_grad_no_half, "tu forward está bien, tu gradiente no: ∂KL/∂log σ² sale el "
                                  "doble: falta el ½ de ½(σ² − 1)"),)),
]
