"""Dropout on a hidden layer (Srivastava et al. 2014), the "inverted" form.

In training each unit of the layer's output is kept with probability ``1 − p``
and the kept ones are scaled by ``1/(1 − p)``::

    h̃ = h ⊙ m,   m_j = b_j / (1 − p),   b_j ~ Bernoulli(1 − p)

so ``E[h̃] = h`` and nothing needs rescaling at evaluation, where dropout is off
(``m = 1``). Backprop multiplies the error by the same ``m``.
"""
from __future__ import annotations

from ._checks import check_layer_arg, check_rate
from .base import HiddenMask


class Dropout(HiddenMask):
    """Inverted dropout on encoder layer ``layer`` (None = the code).

    Parameters
    ----------
    p : probability in [0, 1) that a unit is dropped (0 = no dropout).
    layer : encoder layer (None = the code).
    """

    _args = ("p", "layer")

    def __init__(self, p, layer=None):
        self.p = check_rate("Dropout", "p", p)
        self.layer = check_layer_arg("Dropout", layer)

    def mask(self, Z, rng, training):
        """``m = Bernoulli(1 − p)/(1 − p)`` in training; None (no mask) at evaluation."""
        if not training or self.p == 0:
            return None
        keep = rng.random(Z.shape, dtype=Z.dtype) >= Z.dtype.type(self.p)
        return keep.astype(Z.dtype) * Z.dtype.type(1.0 / (1.0 - self.p))
