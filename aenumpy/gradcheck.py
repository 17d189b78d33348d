"""Gradient checks: the hand-written backward against finite differences.

The numerical derivative is a centred difference. By default it is the
fourth-order centred stencil::

    ∂f/∂θ ≈ [f(θ − 2h) − 8 f(θ − h) + 8 f(θ + h) − f(θ + 2h)] / (12 h)

whose truncation error is O(h⁴) instead of the O(h²) of the two-point
``[f(θ + h) − f(θ − h)] / 2h`` (``order=2``). With h = 1e-4 in float64 the
rounding error is about 1e-12 and the truncation error smaller still, so a
correct backward agrees to a relative error far below 1e-7; a wrong one (a
missing factor 2, a transposed W) is off by 1e-1 or more.

The relative error of one entry is ``|a − n| / max(1e-8, |a| + |n|)`` with
``a`` the analytic and ``n`` the numerical gradient.

Finite differences cannot resolve gradients below their own rounding noise:
the loss itself is only known to about ``ε·|E|`` (ε = 2.2e-16), so the
numerical derivative carries an absolute error of about ``1.5 ε |E| / h``
(≈ 3e-12·|E| at h = 1e-4). An entry whose true gradient is 1e-9 therefore
shows a large *relative* error even when the backward is exact. The report
counts such an entry as passing when its absolute error is below ten times that
noise floor, and says how many entries were judged that way; a real bug (a
missing factor, a transposed matrix) shows in the large entries, far above it.
"""
from __future__ import annotations

import numpy as np

from .backend import teaching_class
from .models.base import is_vae
from .train import check_training_data
from ._validate import (check_array, check_callable, check_fd_args, check_layer_like, check_model,
                        check_param_names)

DEFAULT_H = 1e-4


def relative_error(a, n):
    """Entrywise ``|a − n| / max(1e-8, |a| + |n|)``."""
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    return np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))


def _partial(f, x, i, h, order):
    """Numerical ∂f/∂x[i] for a scalar function f of the (mutated, then restored) array x."""
    i = np.unravel_index(i, x.shape)  # flat position in C order, whatever x's layout
    old = x[i]
    try:
        if order == 2:
            x[i] = old + h
            fp = f()
            x[i] = old - h
            fm = f()
            return (fp - fm) / (2 * h)
        vals = []
        for k in (-2, -1, 1, 2):
            x[i] = old + k * h
            vals.append(f())
        # differences first: exactly 0 when f does not move, and no ulp residue of f itself
        return (8 * (vals[2] - vals[1]) - (vals[3] - vals[0])) / (12 * h)
    finally:
        x[i] = old


def numerical_gradient(f, x, h=DEFAULT_H, order=4, indices=None):
    """Numerical gradient of a scalar function ``f(x)`` at the array ``x``.

    ``f`` takes the array and returns a float; ``x`` is perturbed in place and
    restored. With ``indices`` (flat positions) only those entries are computed
    (the others are NaN). Use float64 arrays.
    """
    check_callable("f", f, allow_none=False)
    check_fd_args(h, order)
    x = np.asarray(x)
    if indices is not None:
        idx_arr = check_array("indices", indices, ndim=1)
        if idx_arr.size and (idx_arr.dtype.kind not in "iu" or idx_arr.min() < 0
                             or idx_arr.max() >= x.size):
            raise ValueError(f"indices must be flat positions in 0..{x.size - 1}, got {indices!r}")
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 array (got {x.dtype}): "
                        "float32 rounding swamps finite differences")
    grad = np.full(x.shape, np.nan)
    idx = range(x.size) if indices is None else indices
    gflat = grad.reshape(-1)
    for i in idx:
        gflat[i] = _partial(lambda: float(f(x)), x, int(i), h, order)
    return grad


class GradCheckReport:
    """Per-parameter results of a gradient check; ``print(report)`` shows a table.

    ``rows`` is a list of dicts (name, shape, checked, max_rel_error,
    mean_rel_error, max_abs_error); ``ok`` is True when every checked entry's
    relative error is below ``tol``.
    """

    def __init__(self, rows, tol, title="gradient check"):
        self.rows = rows
        self.tol = tol
        self.title = title

    @property
    def max_rel_error(self) -> float:
        """The largest relative error over every checked entry (no noise allowance)."""
        return max((r["max_rel_error"] for r in self.rows), default=0.0)

    @property
    def ok(self) -> bool:
        """Every entry has relative error < tol, or absolute error below the noise floor."""
        return all(r["failed"] == 0 for r in self.rows)

    def __getitem__(self, name):
        for r in self.rows:
            if r["name"] == name:
                return r
        raise KeyError(name)

    def __str__(self):
        head = (f"{'parameter':<14}{'shape':>12}{'checked':>9}{'max rel err':>13}"
                f"{'mean rel err':>14}{'max abs err':>13}{'noise floor':>13}{'in noise':>10}")
        lines = [f"{self.title} (float64, tol {self.tol:g})", head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{r['name']:<14}{str(r['shape']):>12}{r['checked']:>9}"
                         f"{r['max_rel_error']:>13.2e}{r['mean_rel_error']:>14.2e}"
                         f"{r['max_abs_error']:>13.2e}{r['noise_floor']:>13.1e}"
                         f"{r['within_noise']:>10}{'' if r['failed'] == 0 else '  <-- FAIL'}")
        lines.append(f"{'OK' if self.ok else 'FAILED'}: max relative error {self.max_rel_error:.2e}"
                     " ('in noise': entries whose gradient is too small for finite differences"
                     " and whose absolute error is below the noise floor)")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        return "<pre>" + str(self) + "</pre>"


def noise_floor(value, h, order):
    """Ten times the rounding noise of a finite difference of a function of size ``value``."""
    c = 1.0 if order == 2 else 1.5
    return 10 * c * np.finfo(np.float64).eps * max(abs(value), 1.0) / h


def _row(name, a, n, idx, shape, tol, floor):
    a = np.asarray(a, dtype=np.float64).reshape(-1)[idx]
    n = n.reshape(-1)[idx]
    rel = relative_error(a, n)
    absdiff = np.abs(a - n)
    bad_rel = rel >= tol
    in_noise = bad_rel & (absdiff < floor)
    return {"name": name, "shape": tuple(shape), "checked": len(idx),
            "noise_floor": floor, "within_noise": int(in_noise.sum()),
            "failed": int((bad_rel & ~in_noise).sum()),
            "max_rel_error": float(rel.max()) if len(idx) else 0.0,
            "mean_rel_error": float(rel.mean()) if len(idx) else 0.0,
            "max_abs_error": float(np.abs(a - n).max()) if len(idx) else 0.0}


def _pick(size, max_entries, rng):
    if size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, max_entries, replace=False))


def gradcheck(model, X, seed=0, h=DEFAULT_H, order=4, max_entries=40, tol=1e-7, eps=None,
              params=None, Y=None):
    """Check every parameter gradient of ``model`` on the batch ``X`` (toward the targets
    ``Y`` when given: a :class:`aenumpy.UNet`'s per-pixel labels, which it needs).

    The model is copied to float64; every parameter array is checked
    separately: all entries of arrays with at most ``max_entries`` entries, a
    seeded random sample of ``max_entries`` of larger ones. Noise (corruption,
    dropout, the VAE's ε) is held fixed: every evaluation uses a fresh
    ``np.random.default_rng(seed)``, so each draws the same noise; a VAE gets
    its ε drawn once (or ``eps``).

    Returns a :class:`GradCheckReport`.
    """
    check_model(model)
    check_fd_args(h, order, max_entries, tol, seed)
    check_param_names(params, model.params)
    m = model.astype("float64")
    X, Y = check_training_data(m, X, Y)
    vae = is_vae(m)
    if vae and eps is None:
        eps = np.random.default_rng([seed, 99]).standard_normal((X.shape[0], m.n_latent))
    kw = ({"eps": eps} if vae else {}) | ({} if Y is None else {"Y": Y})

    def objective():
        return m.loss(X, rng=np.random.default_rng(seed), checked=True, **kw)

    E0, grads = m.loss_and_grads(X, rng=np.random.default_rng(seed), checked=True, **kw)
    grads = {k: np.array(v, dtype=np.float64) for k, v in grads.items()}
    pick_rng = np.random.default_rng([seed, 3])
    rows = []
    for name in (params or m.params):
        p = m.params[name]
        idx = _pick(p.size, max_entries, pick_rng)
        n = numerical_gradient(lambda _: objective(), p, h=h, order=order, indices=idx)
        rows.append(_row(name, grads[name], n, idx, p.shape, tol, noise_floor(E0, h, order)))
    return GradCheckReport(rows, tol, f"gradient check of {teaching_class(type(model)).__name__}")


def check_layer(layer, X, dY=None, seed=0, h=DEFAULT_H, order=4, max_entries=40, tol=1e-7):
    """Check a layer's backward: ``layer.forward(X)`` then ``layer.backward(dY)``.

    The scalar checked is ``L = Σ forward(X) ⊙ dY`` whose gradient with respect
    to the output is exactly ``dY`` (a seeded random upstream gradient if not
    given). Checks ``dX`` (the return value of backward) and every array in
    ``layer.params`` against ``layer.grads``. The layer and X should be float64. A model's
    first layer (``needs_dX = False``) computes its dX for the check.

    A layer of several inputs (:class:`aenumpy.layers.Concat`) is given them as a tuple
    ``X = (U, S)``: it is called ``forward(U, S)``, its backward returns one gradient per
    input, and each is checked (rows ``X0``, ``X1``, …).
    """
    check_layer_like(layer)
    check_fd_args(h, order, max_entries, tol, seed)
    if getattr(layer, "needs_dX", True) is False:
        layer.needs_dX = True
        try:
            return check_layer(layer, X, dY, seed, h, order, max_entries, tol)
        finally:
            layer.needs_dX = False
    many = isinstance(X, tuple)
    Xs = [np.array(check_array(f"X[{i}]" if many else "X", x), dtype=np.float64)
          for i, x in enumerate(X if many else (X,))]
    rng = np.random.default_rng(seed)
    Y = layer.forward(*Xs)
    if dY is None:
        dY = rng.standard_normal(np.shape(Y))
    dY = np.asarray(check_array("dY", dY, shape=np.shape(Y)), dtype=np.float64)
    dX = layer.backward(dY)
    dXs = tuple(dX) if many else (dX,)
    if len(dXs) != len(Xs):
        raise ValueError(f"{type(layer).__name__}.backward returned {len(dXs)} gradients for "
                         f"{len(Xs)} inputs")
    grads = {k: np.array(v, dtype=np.float64) for k, v in layer.grads.items()}

    def objective():
        return float(np.sum(np.asarray(layer.forward(*Xs), dtype=np.float64) * dY))

    floor = noise_floor(float(np.sum(np.abs(np.asarray(Y, dtype=np.float64) * dY))), h, order)
    pick_rng = np.random.default_rng([seed, 3])
    rows = []
    for i, (x, dx) in enumerate(zip(Xs, dXs)):
        idx = _pick(x.size, max_entries, pick_rng)
        rows.append(_row(f"X{i}" if many else "X", dx,
                         numerical_gradient(lambda _: objective(), x, h, order, idx), idx,
                         x.shape, tol, floor))
    for name, p in layer.params.items():
        if np.asarray(p).dtype != np.float64:
            raise TypeError(f"layer parameter {name!r} is {np.asarray(p).dtype}; check a float64 layer")
        idx = _pick(p.size, max_entries, pick_rng)
        n = numerical_gradient(lambda _: objective(), p, h, order, idx)
        rows.append(_row(name, grads[name], n, idx, np.shape(p), tol, floor))
    return GradCheckReport(rows, tol, f"gradient check of {teaching_class(type(layer)).__name__}")
