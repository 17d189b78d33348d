"""Information theory the lecture uses for the sparse autoencoder ("Entropía").

* entropy ``H(p) = −Σ_i p_i log p_i`` (bits by default), with ``0·log 0 = 0``;
* cross-entropy ``H(p, q) = −Σ_i p_i log q_i``;
* Kullback–Leibler divergence ``KL(p ‖ q) = Σ_i p_i log(p_i / q_i) = H(p, q) − H(p)``;
* the Bernoulli KL of the sparsity penalty,
  ``KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂))`` in nats, and its derivative
  ``∂KL/∂ρ̂ = −ρ/ρ̂ + (1 − ρ)/(1 − ρ̂)``.

Distributions are 1-D arrays (or N-D arrays with one distribution per row of the
last axis); they must be non-negative and sum to 1 (to 1e-6).
"""
from __future__ import annotations

import numbers

import numpy as np

SUM_TOL = 1e-6


def _log_base(base):
    if isinstance(base, bool) or not isinstance(base, numbers.Real) or not np.isfinite(base) \
            or base <= 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1 (2 for bits, np.e for "
                         f"nats), got {base!r}")
    return np.log(float(base))


def _distribution(p, name):
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of probabilities, got {p!r}") from exc
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of probabilities, got shape "
                         f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative (probabilities), got a minimum of "
                         f"{arr.min():g}")
    s = arr.sum(axis=-1)
    if np.any(np.abs(s - 1) > SUM_TOL):
        raise ValueError(f"{name} must sum to 1 (a probability distribution), got sum "
                         f"{np.ravel(s)[np.argmax(np.abs(np.ravel(s) - 1))]:.6g}")
    return arr


def _xlogy(x, y):
    """``x·log y`` with ``0·log y = 0`` for any y ≥ 0 (including y = 0)."""
    out = np.zeros(np.broadcast(x, y).shape)
    x, y = np.broadcast_arrays(x, y)
    nz = x != 0
    with np.errstate(divide="ignore"):
        out[nz] = x[nz] * np.log(y[nz])
    return out


def _result(v):
    return float(v) if np.ndim(v) == 0 else v


def entropy(p, base=2):
    """Shannon entropy ``H(p) = −Σ_i p_i log_base p_i`` (lecture: "Entropía"), bits by default.

    ``0·log 0 = 0``, so impossible outcomes add nothing. A fair coin has 1 bit, a
    certain outcome 0, a uniform distribution on n outcomes ``log_base n``.
    """
    lb = _log_base(base)
    p = _distribution(p, "p")
    return _result(-_xlogy(p, p).sum(axis=-1) / lb + 0.0)


def cross_entropy(p, q, base=2):
    """Cross-entropy ``H(p, q) = −Σ_i p_i log_base q_i`` (inf where q_i = 0 < p_i)."""
    lb = _log_base(base)
    p, q = _distribution(p, "p"), _distribution(q, "q")
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p and q must have the same number of outcomes, got {p.shape} and {q.shape}")
    return _result(-_xlogy(p, q).sum(axis=-1) / lb + 0.0)


def kl_divergence(p, q, base=2):
    """Kullback–Leibler divergence ``KL(p ‖ q) = Σ_i p_i log_base(p_i / q_i) ≥ 0``.

    Terms with ``p_i = 0`` are 0; a term with ``p_i > 0`` and ``q_i = 0`` makes it
    infinite. Equals ``cross_entropy(p, q) − entropy(p)``; zero iff p = q.
    """
    lb = _log_base(base)
    p, q = _distribution(p, "p"), _distribution(q, "q")
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p and q must have the same number of outcomes, got {p.shape} and {q.shape}")
    kl = (_xlogy(p, p) - _xlogy(p, q)).sum(axis=-1) / lb
    return _result(np.maximum(kl, 0.0))  # rounding can give −1e-17 for p = q


def bernoulli_kl(rho, rho_hat):
    """KL divergence between Bernoulli(ρ) and Bernoulli(ρ̂), in nats (UFLDL sparsity term):

    ``KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂))``, elementwise with
    broadcasting. ρ and ρ̂ must be in [0, 1]; ``0·log 0 = 0``; the result is inf when
    ρ̂ is 0 or 1 and ρ is not. :class:`aenumpy.regularizers.KLSparsity` sums it over
    the hidden units (with ρ̂ kept inside (0, 1)).
    """
    r = np.asarray(rho, dtype=np.float64)
    rh = np.asarray(rho_hat, dtype=np.float64)
    for name, a in (("rho", r), ("rho_hat", rh)):
        if not np.all(np.isfinite(a)) or np.any((a < 0) | (a > 1)):
            raise ValueError(f"{name} must be a probability in [0, 1], got {a!r}")
    v = _xlogy(r, r) - _xlogy(r, rh) + _xlogy(1 - r, 1 - r) - _xlogy(1 - r, 1 - rh)
    return _result(np.maximum(v, 0.0))


def bernoulli_kl_grad(rho, rho_hat):
    """``∂KL(ρ ‖ ρ̂)/∂ρ̂ = −ρ/ρ̂ + (1 − ρ)/(1 − ρ̂)`` (the UFLDL sparsity term), elementwise
    with broadcasting, for ρ̂ strictly inside (0, 1) (at 0 or 1 it is infinite).
    :class:`aenumpy.regularizers.KLSparsity` multiplies it by β/B for each unit's output."""
    r = np.asarray(rho, dtype=np.float64)
    rh = np.asarray(rho_hat, dtype=np.float64)
    return _result(-r / rh + (1.0 - r) / (1.0 - rh))
