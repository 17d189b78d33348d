"""Notebook 4, the sparse autoencoder: entropy, the KL sparsity term and its gradient, and the
k-sparse code f_k."""
from __future__ import annotations

import numpy as np

from ..regularizers.information import bernoulli_kl, bernoulli_kl_grad, entropy
from ..regularizers.topk import topk_mask
from .exercise import Case, Exercise


def kl_sparsity(rho, rho_hat):
    """``s = Σ_j KL(ρ ‖ ρ̂_j)`` and ``∂s/∂ρ̂_j``, by
    :func:`aenumpy.regularizers.information.bernoulli_kl` and ``bernoulli_kl_grad``."""
    return float(np.sum(bernoulli_kl(rho, rho_hat))), bernoulli_kl_grad(rho, rho_hat)


def f_k(Z, k):
    """The lecture's ``f_k(z) = z ⊙ b``, ``b`` from :func:`aenumpy.regularizers.topk.topk_mask`
    (the k units of largest ``|z_i|`` of each row)."""
    return Z * topk_mask(Z, k)


def _entropy_cases(rng):
    p = rng.random(8)
    return [Case("distribución al azar de 8 resultados", (p / p.sum(),), terms=8),
            Case("moneda equilibrada", (np.array([0.5, 0.5]),)),
            Case("con probabilidades 0: (0.7, 0.3, 0, 0)", (np.array([0.7, 0.3, 0.0, 0.0]),)),
            Case("resultado seguro: (0, 1, 0)", (np.array([0.0, 1.0, 0.0]),))]


def _kl_cases(rng):
    return [Case("ρ = 0.05, 10 unidades al azar", (0.05, rng.uniform(0.02, 0.9, 10))),
            Case("ρ = 0.2, ρ̂ cerca de 0 y de 1", (0.2, np.array([0.01, 0.02, 0.5, 0.98, 0.99]))),
            Case("ρ̂ = ρ: KL y gradiente nulos", (0.1, np.full(4, 0.1)))]


def _topk_cases(rng):
    return [Case("código tanh (con negativos), k = 3", (np.tanh(2 * rng.standard_normal((4, 10))), 3)),
            Case("k = 1", (rng.standard_normal((3, 6)), 1)),
            Case("k = número de unidades: nada cambia", (rng.standard_normal((2, 5)), 5))]


def _entropy_nats(p):
    return entropy(p, base=np.e)


def _kl_wrong_sign(rho, rho_hat):
    return float(np.sum(bernoulli_kl(rho, rho_hat))), rho / rho_hat - (1 - rho) / (1 - rho_hat)


def _topk_by_value(Z, k):
    return Z * topk_mask(Z, k, by="value")


def _topk_mask_only(Z, k):
    return topk_mask(Z, k)


EXERCISES = [
    Exercise(
        name="04.entropy", title="la entropía en bits",
        statement="""
Calcula la entropía de una distribución p (un vector que suma 1), en bits:
H(p) = −Σ_i p_i log2 p_i, con el convenio 0 · log 0 = 0 (un resultado imposible no aporta
nada). Devuelve un número.""",
        signature="entropia(p) -> H",
        reference=entropy, cases=_entropy_cases, outputs=("H(p)",),
        hints=((_entropy_nats, "H(p): usas el logaritmo natural (nats); la entropía se pide en "
                               "bits, con log2"),)),
    Exercise(
        name="04.kl_grad", title="el término KL de dispersión y su gradiente",
        statement="""
Para la activación media deseada ρ y las activaciones medias ρ̂_j de las unidades, calcula
s(ρ, ρ̂) = Σ_j KL(ρ ‖ ρ̂_j), con KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂)) (nats),
y su gradiente respecto de cada ρ̂_j, un vector de la forma de rho_hat.""",
        signature="kl_dispersion(rho, rho_hat) -> (s, ds_drho_hat)",
        reference=kl_sparsity, cases=_kl_cases, answer="gradient", wrt=(1,),
        outputs=("s(ρ, ρ̂)", "∂s/∂ρ̂"),
        hints=((_kl_wrong_sign, "tu forward está bien, tu gradiente no: ∂s/∂ρ̂ tiene el signo "
                                "cambiado: −ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)"),)),
    Exercise(
        name="04.topk", title="el código k-disperso f_k",
        statement="""
f_k(z) = (z_1 b_1, …, z_n b_n) con b_i = 1 para las k unidades de mayor |z_i| de cada muestra
y b_i = 0 para las demás. Aplica f_k a cada fila de Z (forma (B, n)) y devuelve Z ⊙ b, de la
misma forma que Z.""",
        signature="f_k(Z, k) -> Z_k",
        reference=f_k, cases=_topk_cases, outputs=("f_k(Z)",),
        hints=((_topk_by_value, "f_k(Z): eliges los k mayores valores de z; la lección elige los "
                                "k mayores |z_i| (un z_i muy negativo también se queda)"),
               (_topk_mask_only, "f_k(Z): devuelves la máscara b; f_k(z) es z ⊙ b"))),
]
