"""Principle 3: every Numba kernel agrees with its NumPy reference."""
import numpy as np
import pytest

from aenumpy.kernels.activation import act_backward, bias_act
from aenumpy.kernels.optim import adam_update, sgd_update


@pytest.mark.parametrize("code", [0, 1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_activation_paths_agree(code, dtype, rng):
    A = rng.normal(0, 3, (9, 13)).astype(dtype)
    A[0, 0], A[0, 1] = 80, -80  # far tails of the sigmoid
    b = rng.normal(0, 1, 13).astype(dtype)
    outs = []
    for fn in (bias_act.reference, bias_act.compiled):
        A2, Z = A.copy(), np.empty_like(A)
        fn(A2, b, code, Z)
        outs.append((A2, Z))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=tol)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=tol, atol=tol)


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_activation_backward_paths_agree(code, rng):
    Z = rng.random((7, 5))
    dZ = rng.normal(size=(7, 5))
    a = act_backward.reference(dZ, Z, code, np.empty_like(Z))
    b = act_backward.compiled(dZ, Z, code, np.empty_like(Z))
    np.testing.assert_allclose(a, b, rtol=1e-14)


def test_adam_paths_agree(rng):
    p, g = rng.normal(size=50), rng.normal(size=50)
    m, v = rng.normal(size=50) * 0.1, rng.random(50) * 0.1
    outs = []
    for fn in (adam_update.reference, adam_update.compiled):
        arrs = [p.copy(), g.copy(), m.copy(), v.copy()]
        fn(*arrs, 1e-3, 0.9, 0.999, 1e-8, 1 - 0.9 ** 3, 1 - 0.999 ** 3)
        outs.append(arrs)
    for x, y in zip(*outs):
        np.testing.assert_allclose(x, y, rtol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_paths_agree(nesterov, rng):
    p, g, vel = rng.normal(size=(4, 5)), rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    outs = []
    for fn in (sgd_update.reference, sgd_update.compiled):
        arrs = [p.copy(), g.copy(), vel.copy()]
        fn(*arrs, 0.1, 0.9, nesterov)
        outs.append(arrs)
    for x, y in zip(*outs):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_adam_matches_the_formula(rng):
    """θ ← θ − η m̂/(√v̂ + ε) after one step from zero state: m̂ = g, v̂ = g²."""
    import aenumpy as ae

    p = {"w": rng.normal(size=5)}
    g = {"w": rng.normal(size=5)}
    before = p["w"].copy()
    ae.optim.Adam(lr=0.1).step(p, g)
    np.testing.assert_allclose(p["w"], before - 0.1 * g["w"] / (np.abs(g["w"]) + 1e-8))
