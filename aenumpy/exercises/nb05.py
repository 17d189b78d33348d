"""Notebook 5, the contractive autoencoder: ‖J_h(x)‖²_F in closed form for a sigmoid layer, and
the penalty's gradient with respect to W.

The references call the library's :class:`aenumpy.regularizers.Contractive` (λ = 1) on the
layer ``h = σ(XWᵀ + b)``.
"""
from __future__ import annotations

import numpy as np

from ..activations import Sigmoid, sigmoid
from ..regularizers import Contractive, LayerView
from .exercise import Case, Exercise


def _penalty(X, W, b, need_grad):
    A = X @ W.T + b
    act = Sigmoid()
    return A, Contractive(1.0).penalty(LayerView(X, A, act(A), W, act), need_grad)


def jacobian_norms(X, W, b):
    """``‖J_h(x)‖²_F = Σ_j (h_j(1 − h_j))² Σ_i W_ji²`` for each row of X: the value of
    ``Contractive(1.0).penalty`` on that row alone."""
    return np.array([_penalty(X[i:i + 1], W, b, False)[1].value for i in range(X.shape[0])])


def contractive_grad(X, W, b):
    """``Ω = (1/B) Σ_b ‖J_h(x_b)‖²_F`` and ``∂Ω/∂W``: ``Contractive(1.0).penalty`` gives Ω, the
    direct part ``dW`` and ``dA`` through the pre-activation; ``∂Ω/∂W = dW + dAᵀ X``."""
    A, p = _penalty(X, W, b, True)
    return p.value, p.dW + p.dA.T @ X


def _cases(rng):
    return [Case("lote de 5, 6 → 4", (rng.random((5, 6)), rng.normal(0, 0.5, (4, 6)),
                                      0.1 * rng.standard_normal(4)), B=5),
            Case("una sola muestra, 8 → 3", (rng.random((1, 8)), rng.normal(0, 0.5, (3, 8)),
                                             0.1 * rng.standard_normal(3)), B=1),
            Case("unidades saturadas (pesos × 8)", (rng.random((4, 6)), 8 * rng.normal(0, 0.5, (5, 6)),
                                                    rng.standard_normal(5)), B=4)]


def _norm_without_square(X, W, b):
    h = sigmoid(X @ W.T + b)
    return (h * (1 - h)) @ np.sum(W * W, axis=1)


def _grad_direct_only(X, W, b):
    A, p = _penalty(X, W, b, True)
    return p.value, p.dW


def _grad_through_a_only(X, W, b):
    A, p = _penalty(X, W, b, True)
    return p.value, p.dA.T @ X


EXERCISES = [
    Exercise(
        name="05.jacobian_norm", title="‖J_h(x)‖²_F en forma cerrada",
        statement="""
Para la capa h = σ(Wx + b), la jacobiana es J_ji = ∂h_j/∂x_i = h_j(1 − h_j) W_ji, así que
‖J_h(x)‖²_F = Σ_j (h_j(1 − h_j))² Σ_i W_ji². Devuelve ese número para cada fila de X: un vector
de forma (B,).""",
        signature="norma_jacobiana(X, W, b) -> normas",
        reference=jacobian_norms, cases=_cases, outputs=("‖J‖²_F",),
        hints=((_norm_without_square, "‖J‖²_F: falta elevar al cuadrado h_j(1 − h_j)"),)),
    Exercise(
        name="05.contractive_grad", title="el gradiente de la penalización contractiva",
        statement="""
Con Ω = (1/B) Σ_b ‖J_h(x_b)‖²_F (la penalización contractiva con λ = 1) y h = σ(XWᵀ + b),
devuelve Ω y ∂Ω/∂W (forma de W). W aparece dos veces: en Σ_i W_ji² (la parte directa,
(2/B) Σ_b g_bj² W_ji con g = h(1 − h)) y dentro de a = Wx + b (la parte que pasa por g:
∂Ω/∂a_bj = (2/B) g_bj g'_bj Σ_i W_ji², con g' = g(1 − 2h), y luego ∂Ω/∂W = (∂Ω/∂a)ᵀ X).""",
        signature="grad_contractiva(X, W, b) -> (Omega, dW)",
        reference=contractive_grad, cases=_cases, answer="gradient", wrt=(1,),
        outputs=("Ω", "∂Ω/∂W"),
        hints=((_grad_direct_only, "tu forward está bien, tu gradiente no: ∂Ω/∂W sólo tiene la "
                                   "parte directa; falta la que pasa por a = Wx + b, (∂Ω/∂a)ᵀ X"),
               (_grad_through_a_only, "tu forward está bien, tu gradiente no: ∂Ω/∂W sólo tiene la "
                                      "parte que pasa por a; falta la directa, (2/B) Σ_b g_bj² W_ji"))),
]
