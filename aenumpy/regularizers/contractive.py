"""Contractive autoencoder (Rifai et al. 2011): penalise the encoder's Jacobian.

For one encoder layer ``h = f(a)``, ``a = W x + b`` (W of shape ``(d_out, d_in)``),
the Jacobian of the output with respect to the input is
``J_ji = ∂h_j/∂x_i = f'(a_j) W_ji``, so its squared Frobenius norm is::

    ‖J_h(x)‖²_F = Σ_j f'(a_j)² Σ_i W_ji²          (sigmoid: f' = h(1 − h))

The penalty is ``Ω = λ · (1/B) Σ_b ‖J_h(x_b)‖²_F``. Writing ``g = f'(a)``,
``g₂ = f''(a)`` and ``S_j = Σ_i W_ji²``, its exact gradient has two parts:

* through the pre-activation: ``∂Ω/∂a_bj = (2λ/B) g_bj g₂_bj S_j`` (then on to W,
  b and the layers below by ordinary backprop);
* directly through the W in ``S_j``: ``∂Ω/∂W_ji = (2λ/B) (Σ_b g_bj²) W_ji``.

Both factors 2 are there (a published NumPy implementation drops one); the
tests check them against finite differences, tied and untied, sigmoid and tanh.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_model
from ._checks import check_layer_arg, check_nonneg
from .base import HiddenPenalty, LayerView, Penalty, encoder_layer_index


class Contractive(HiddenPenalty):
    """``λ · mean over batch of ‖J_h(x)‖²_F`` for encoder layer ``layer`` (None = the code).

    Parameters
    ----------
    lam : λ ≥ 0.
    layer : encoder layer (None = the code).

    ``J_h`` is the Jacobian of ``h = f(Wx + b)``, the layer's activation, with
    respect to that layer's input (x for ``enc0``, the previous layer's output
    otherwise). A dropout or top-k mask on the same layer is not part of it: the
    penalty is the same whatever units the mask keeps. Works for any activation
    that gives ``f'`` and ``f''`` (:mod:`aenumpy.activations`); ReLU and identity
    have ``f'' = 0``, so only the direct W term remains.
    """

    _args = ("lam", "layer")

    def __init__(self, lam, layer=None):
        self.lam = check_nonneg("Contractive", "lam", lam)
        self.layer = check_layer_arg("Contractive", layer)

    def bind(self, model):
        i = self.layer_index(model)
        act = model.activation_of(i)
        if not hasattr(model.encoder[i], "W") or act is None:
            raise ValueError(f"Contractive needs a dense encoder layer (h = f(Wx + b)); enc{i} "
                             f"is {type(model.encoder[i]).__name__}")
        a = np.zeros((1, 1))
        try:
            act.grad2(a, np.asarray(act(a), dtype=np.float64))
        except NotImplementedError:
            raise ValueError(f"Contractive needs the second derivative f'' of the activation of "
                             f"enc{i} ({act.name!r}): implement grad2 in your Activation") from None

    def penalty(self, view: LayerView, need_grad: bool) -> Penalty:
        """Value ``λ/B Σ_b Σ_j f'(a_bj)² S_j``; ``dA = 2λ/B g g₂ S``; ``dW = 2λ/B (Σ_b g²) W``."""
        A, W, act = view.A, view.W, view.activation
        B = A.shape[0]
        Z = np.asarray(act(A), dtype=A.dtype)  # f(a) before any mask (view.Z is after it)
        g = np.asarray(act.grad(A, Z), dtype=A.dtype)
        S = np.einsum("ji,ji->j", W, W)  # Σ_i W_ji²
        g2sum = np.einsum("bj,bj->j", g, g)  # Σ_b f'(a_bj)²
        value = self.lam / B * float(np.dot(g2sum.astype(np.float64), S.astype(np.float64)))
        if not need_grad:
            return Penalty(value)
        c = A.dtype.type(2.0 * self.lam / B)
        gg = np.asarray(act.grad2(A, Z), dtype=A.dtype)
        dA = (c * g * gg) * S
        dW = (c * g2sum)[:, None] * W
        return Penalty(value, dA=dA, dW=dW, info={"jacobian_norm": value / self.lam
                                                   if self.lam else None})


# ------------------------------------------------------------------ measuring
def _eval_layers(model, X):
    """Forward through the encoder in evaluation mode, in float64, without input corruption.

    Returns, per encoder layer, ``(W, a, f'(a) ⊙ m)`` where m is the layer's
    evaluation-time mask (``model.hidden_mask``: top-k keeps ``α·k`` units; dropout is off)
    or 1.
    """
    if not hasattr(model, "encoder") or not hasattr(model, "hidden_mask"):
        raise TypeError(f"expected an aenumpy.Autoencoder, got {type(model).__name__}")
    h = model.validate(X, targets=False).astype(np.float64)
    rng = np.random.default_rng(0)  # evaluation-mode masks draw nothing; fixed anyway
    out = []
    for i, layer in enumerate(model.encoder):
        W = np.asarray(layer.W, dtype=np.float64)
        a = h @ W.T + np.asarray(layer.b, dtype=np.float64)
        z = np.asarray(layer.activation(a), dtype=np.float64)
        g = np.asarray(layer.activation.grad(a, z), dtype=np.float64)
        M = model.hidden_mask(i, z, rng, training=False)
        if M is not None:
            z = z * M
            g = g * M
        out.append((W, a, g))
        h = z
    return out


def jacobian_norm(model, X, layer=None):
    """Mean over the rows of X of ``‖J_h(x)‖²_F`` for one encoder layer, in evaluation mode.

    Closed form (Rifai et al. 2011): ``‖J‖²_F = Σ_j f'(a_j)² Σ_i W_ji²``, with the
    Jacobian taken with respect to that layer's input (``layer`` None = the
    code). Evaluation mode: no input corruption, no dropout; a top-k mask keeps
    its ``α·k`` units and zeroes the rows of J of the others. Computed in float64.
    Use it to compare trained models: ``Ω = λ · jacobian_norm`` when nothing is masked.
    """
    check_model(model)
    i = encoder_layer_index(model, layer)
    W, _, g = _eval_layers(model, X)[i]
    S = np.einsum("ji,ji->j", W, W)
    return float(np.mean((g * g) @ S))


def jacobian(model, x):
    """The full Jacobian ``∂z/∂x`` of the code with respect to the input for one sample.

    ``x`` has shape ``(n_in,)`` or ``(1, n_in)``; returns an array ``(n_code, n_in)``
    in float64: the chain rule through the stacked encoder,
    ``J = diag(g_L) W_L ⋯ diag(g_1) W_1`` with ``g_l = f'(a_l)`` (times the layer's
    evaluation-time mask, if any). For one layer its squared Frobenius norm is
    :func:`jacobian_norm`; a notebook can compare it with finite differences of
    ``model.encode``.
    """
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] != 1:
        raise ValueError(f"jacobian takes one sample, shape (n_in,) or (1, n_in); got {x.shape}")
    J = None
    for W, _, g in _eval_layers(model, x):
        Jl = g[0][:, None] * W
        J = Jl if J is None else Jl @ J
    return J
