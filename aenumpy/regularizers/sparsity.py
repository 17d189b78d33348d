"""Sparse autoencoders: the KL sparsity penalty (UFLDL) and the L1 activity penalty (Keras).

KL sparsity (lecture, "Autoencoder disperso")::

    ρ̂_j = (1/B) Σ_b h_j(x_b)                       mean activation of hidden unit j
    Ω   = β Σ_j KL(ρ ‖ ρ̂_j)
        = β Σ_j [ρ log(ρ/ρ̂_j) + (1 − ρ) log((1 − ρ)/(1 − ρ̂_j))]
    ∂Ω/∂h_j(x_b) = β (−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)) / B

(the UFLDL backprop term ``β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂))``, divided by B because ρ̂ is a
batch mean and the loss is a batch mean).

L1 activity: ``Ω = λ · (1/B) Σ_b Σ_j |h_j(x_b)|``, subgradient ``λ sign(h)/B``.

Both act on the output of one encoder layer (the code by default, ``layer=i``
for ``enc{i}``), after any dropout / top-k mask on that layer.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_float
from ._checks import check_layer_arg, check_nonneg
from .information import bernoulli_kl, bernoulli_kl_grad
from .base import HiddenPenalty, LayerView, Penalty

#: ρ̂ is clipped into [CLIP, 1 − CLIP] so log ρ̂ and log(1 − ρ̂) stay finite.
CLIP = 1e-7


class KLSparsity(HiddenPenalty):
    """KL sparsity penalty ``β Σ_j KL(ρ ‖ ρ̂_j)`` on a sigmoid hidden layer (UFLDL).

    Parameters
    ----------
    rho : target mean activation ρ in (0, 1) (sparsity parameter, e.g. 0.05).
    beta : weight β ≥ 0 of the penalty.
    layer : encoder layer (None = the code).

    ``ρ̂_j`` is the batch mean of unit j (computed in float64). So that the penalty
    stays finite when a unit is always off or always on (ρ̂ = 0 or 1), ρ̂ is clipped
    into ``[1e-7, 1 − 1e-7]`` before the KL is taken; the gradient is the exact
    derivative of that clipped value: the UFLDL term where ρ̂ is inside the
    interval and 0 where the clip is active (such a saturated sigmoid unit has
    ``σ' = 0`` anyway), the library's one clipping rule (:mod:`aenumpy.losses`). The hidden units must lie in (0, 1) for ρ̂ to be a
    probability, so the layer must be a sigmoid layer (refused at model build
    otherwise).
    """

    _args = ("rho", "beta", "layer")

    def __init__(self, rho=0.05, beta=3.0, layer=None):
        self.rho = check_float("KLSparsity: rho", rho, 0.0, 1.0, low_open=True, high_open=True)
        self.beta = check_nonneg("KLSparsity", "beta", beta)
        self.layer = check_layer_arg("KLSparsity", layer)

    def bind(self, model):
        i = self.layer_index(model)
        act = model.activation_of(i)
        if getattr(act, "name", None) != "sigmoid":
            raise ValueError(
                f"KLSparsity needs hidden units in (0, 1) (ρ̂ is the mean activation, a "
                f"probability): encoder layer enc{i} has activation "
                f"{getattr(act, 'name', None)!r}; use "
                f"activation='sigmoid', or L1Activity for other activations")

    def rho_hat(self, Z):
        """``ρ̂_j``: the batch mean of each unit of Z, in float64 (not clipped)."""
        return np.asarray(Z).mean(axis=0, dtype=np.float64)

    def penalty(self, view: LayerView, need_grad: bool) -> Penalty:
        """``β Σ_j KL(ρ ‖ ρ̂_j)`` and ``∂/∂h = β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂))/B`` (UFLDL), ρ̂ clipped."""
        Z = view.Z
        B = Z.shape[0]
        rho_hat = self.rho_hat(Z)
        r = np.clip(rho_hat, CLIP, 1.0 - CLIP)
        value = self.beta * float(np.sum(bernoulli_kl(self.rho, r)))  # β Σ_j KL(ρ ‖ ρ̂_j)
        dZ = None
        if need_grad:
            g = self.beta * np.asarray(bernoulli_kl_grad(self.rho, r))  # β ∂KL/∂ρ̂_j
            g[(rho_hat <= CLIP) | (rho_hat >= 1.0 - CLIP)] = 0.0  # the clip is flat there
            dZ = np.empty_like(Z)
            dZ[...] = (g / B).astype(Z.dtype)
        return Penalty(value, dZ=dZ, info={"rho_hat": rho_hat})


class L1Activity(HiddenPenalty):
    """L1 activity penalty ``λ · (1/B) Σ_b Σ_j |h_j(x_b)|`` (the Keras sparse autoencoder,
    ``activity_regularizer=l1(λ)``, with the batch mean). Subgradient ``λ sign(h)/B``
    (0 at h = 0).

    Parameters
    ----------
    lam : weight λ ≥ 0.
    layer : encoder layer (None = the code).
    """

    _args = ("lam", "layer")

    def __init__(self, lam, layer=None):
        self.lam = check_nonneg("L1Activity", "lam", lam)
        self.layer = check_layer_arg("L1Activity", layer)

    def penalty(self, view: LayerView, need_grad: bool) -> Penalty:
        """``λ mean_b Σ_j |h_j|`` and ``λ sign(h)/B``."""
        Z = view.Z
        B = Z.shape[0]
        value = self.lam * float(np.abs(Z).sum(dtype=np.float64)) / B
        dZ = (np.sign(Z) * Z.dtype.type(self.lam / B)) if need_grad else None
        return Penalty(value, dZ=dZ)
