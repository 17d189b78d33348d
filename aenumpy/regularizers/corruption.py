"""Input corruption for the denoising autoencoder (Vincent et al. 2008, 2010).

Lecture: the encoder sees a corrupted copy ``x̃ ~ q(x̃ | x)`` of the input, and the
reconstruction ``x̂ = g(f(x̃))`` is compared with the *clean* ``x``: the loss is
``E(x, x̂)``, not ``E(x̃, x̂)``. The noise is applied in training and, with
``at_eval=True``, also at evaluation ("durante las fases de entrenamiento y prueba").

Three corruptions ``q``:

* :class:`GaussianNoise` — additive isotropic Gaussian, the lecture's
  ``μ_T``: ``x̃ = x + σ·ε``, ``ε ~ N(0, I)`` (no clipping: x̃ may leave [0, 1]);
* :class:`MaskingNoise` — each input is set to 0 with probability ``p``;
* :class:`SaltAndPepper` — each input is, with probability ``p``, set to ``low``
  or ``high`` (a fair coin decides which).

The noise is drawn from the ``numpy.random.Generator`` the model passes (principle
4); a gradient check passes a freshly seeded one to every evaluation, so the
noise is the same in each.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_array, check_float, check_rng
from ._checks import check_nonneg, check_rate
from .base import InputCorruption


def _as_float(X):
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X


def _gaussian(X, sigma, rng):
    """``x̃ = x + σ·ε``, ``ε ~ N(0, 1)`` per entry (the lecture's μ_T)."""
    X = _as_float(X)
    return X + X.dtype.type(sigma) * rng.standard_normal(X.shape, dtype=X.dtype)


def masking_noise(X, p, rng):
    """Masking noise (lecture, denoising autoencoder): ``x̃_i = x_i · b_i``,
    ``b_i ~ Bernoulli(1 − p)``: each input zeroed with probability p. One uniform
    ``u = rng.random(X.shape)`` per entry; the entry is kept where ``u ≥ p``."""
    X = _as_float(X)
    if p == 0:
        return X.copy()
    keep = rng.random(X.shape, dtype=X.dtype) >= p
    return X * keep


def _salt_and_pepper(X, p, rng, low=0.0, high=1.0):
    """With probability ``p`` an input becomes ``low`` or ``high`` (probability p/2 each).

    One uniform ``u`` per entry: ``u < p/2`` → low ("pepper"), ``p/2 ≤ u < p`` → high
    ("salt"), otherwise unchanged.
    """
    X = _as_float(X)
    out = X.copy()
    if p == 0:
        return out
    u = rng.random(X.shape, dtype=X.dtype)
    out[u < p / 2] = low
    out[(u >= p / 2) & (u < p)] = high
    return out


class GaussianNoise(InputCorruption):
    """Additive Gaussian noise ``x̃ = x + σ·N(0, 1)`` (lecture: μ_T; Vincent et al. 2010).

    Parameters
    ----------
    sigma : standard deviation σ ≥ 0 of the noise, in the units of the data.
    at_eval : also corrupt at evaluation (``encode``/``reconstruct``).
    """

    _args = ("sigma", "at_eval")

    def __init__(self, sigma, at_eval=False):
        self.sigma = check_nonneg("GaussianNoise", "sigma", sigma)
        self.at_eval = bool(at_eval)

    def corrupt(self, X, rng):
        """Return ``x̃ = X + σ·ε`` (a new array; X is untouched)."""
        return _gaussian(X, self.sigma, rng)


class MaskingNoise(InputCorruption):
    """Masking noise: each input set to 0 with probability ``p`` (Vincent et al. 2008).

    Parameters
    ----------
    p : probability in [0, 1) that an input is zeroed.
    at_eval : also corrupt at evaluation.
    """

    _args = ("p", "at_eval")

    def __init__(self, p, at_eval=False):
        self.p = check_rate("MaskingNoise", "p", p)
        self.at_eval = bool(at_eval)

    def corrupt(self, X, rng):
        """Return ``x̃ = X ⊙ b``, ``b ~ Bernoulli(1 − p)`` entrywise."""
        return masking_noise(X, self.p, rng)


class SaltAndPepper(InputCorruption):
    """Salt-and-pepper noise: a fraction ``p`` of the inputs (in expectation; each
    input independently) set to ``low`` or ``high`` with equal probability
    (Vincent et al. 2010: "the minimum or maximum possible value").

    Parameters
    ----------
    p : probability in [0, 1) that an input is replaced.
    at_eval : also corrupt at evaluation.
    low, high : the two replacement values (the data's minimum and maximum: 0 and 1
        for images in [0, 1]); ``low ≤ high``.
    """

    _args = ("p", "at_eval", "low", "high")

    def __init__(self, p, at_eval=False, low=0.0, high=1.0):
        self.p = check_rate("SaltAndPepper", "p", p)
        self.at_eval = bool(at_eval)
        self.low = check_float("SaltAndPepper: low", low)
        self.high = check_float("SaltAndPepper: high", high)
        if self.low > self.high:
            raise ValueError(f"SaltAndPepper: low must be <= high, got low={self.low:g}, "
                             f"high={self.high:g}")

    def corrupt(self, X, rng):
        """Return x̃: each entry replaced by ``low`` (prob. p/2) or ``high`` (prob. p/2)."""
        return _salt_and_pepper(X, self.p, rng, self.low, self.high)


KINDS = {"gaussian": GaussianNoise, "masking": MaskingNoise, "salt_and_pepper": SaltAndPepper}
_ALIASES = {"salt-and-pepper": "salt_and_pepper", "saltandpepper": "salt_and_pepper",
            "salt_pepper": "salt_and_pepper", "mask": "masking", "normal": "gaussian"}


def corrupt(X, kind, level, rng):
    """Corrupt ``X`` once, outside any model (for notebooks and figures).

    ``kind`` is ``'gaussian'`` (``level`` = σ: ``x̃ = x + σ·N(0, 1)``), ``'masking'``
    (``level`` = p: each entry zeroed with probability p) or ``'salt_and_pepper'``
    (``level`` = p: each entry set to 0 or 1 with probability p/2 each). ``rng`` is
    a ``numpy.random.Generator`` (``np.random.default_rng(seed)``). Returns a new
    float array; X is untouched. Same draws as the regularizer classes.
    """
    check_array("X", X, ndim=2)
    key = _ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if key not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
    if rng is None:
        raise TypeError("rng must be a numpy.random.Generator (np.random.default_rng(seed)); "
                        "randomness is explicit")
    check_rng(rng)
    return KINDS[key](level).corrupt(X, rng)
