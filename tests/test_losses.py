import numpy as np
import pytest

from aenumpy import losses
from aenumpy.gradcheck import numerical_gradient, relative_error


def test_squared_error_definition(rng):
    X, Xh = rng.random((4, 5)), rng.random((4, 5))
    expected = np.mean([0.5 * np.sum((x - xh) ** 2) for x, xh in zip(X, Xh)])
    assert losses.squared_error(X, Xh) == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_definition(rng):
    X, Xh = rng.random((4, 5)), 0.05 + 0.9 * rng.random((4, 5))
    expected = np.mean([-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p)) for x, p in zip(X, Xh)])
    assert losses.binary_cross_entropy(X, Xh) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("name", ["mse", "bce"])
def test_loss_gradients(name, rng):
    loss = losses.get(name)
    X, Xh = rng.random((4, 5)), 0.05 + 0.9 * rng.random((4, 5))
    n = numerical_gradient(lambda p: loss.value(X, p), Xh.copy())
    assert relative_error(loss.grad(X, Xh), n).max() < 1e-7


def test_cross_entropy_finite_at_zero_and_one():
    X = np.array([[1.0, 0.0, 1.0, 0.0]])
    Xh = np.array([[0.0, 1.0, 1.0, 0.0]])
    for dt in (np.float32, np.float64):
        v = losses.binary_cross_entropy(X.astype(dt), Xh.astype(dt))
        g = losses.binary_cross_entropy_grad(X.astype(dt), Xh.astype(dt))
        assert np.isfinite(v) and np.all(np.isfinite(g))


def test_cross_entropy_gradient_is_the_derivative_of_the_clipped_value():
    """One clipping rule: where x̂ is outside [ε, 1 − ε] the clipped value is flat, so its
    gradient is 0 (as KLSparsity's); inside, the formula, checked by finite differences."""
    X = np.array([[1.0, 0.0, 1.0, 0.0, 0.3]])
    Xh = np.array([[0.0, 1.0, 1.0 - 1e-13, 1e-14, 0.6]])
    g = losses.binary_cross_entropy_grad(X, Xh)
    np.testing.assert_array_equal(g[0, :4], 0.0)
    n = numerical_gradient(lambda p: losses.binary_cross_entropy(X, p), Xh.copy(), h=1e-15,
                           order=2, indices=[0, 1, 2, 3])
    np.testing.assert_array_equal(n.ravel()[:4], 0.0)
    assert g[0, 4] == pytest.approx((0.6 - 0.3) / (0.6 * 0.4))


def test_logits_cross_entropy_matches_and_is_stable(rng):
    X = rng.random((3, 4))
    A = rng.normal(0, 2, (3, 4))
    E, dA = losses.binary_cross_entropy_logits(X, A)
    assert E == pytest.approx(losses.binary_cross_entropy(X, 1 / (1 + np.exp(-A))), rel=1e-12)
    n = numerical_gradient(lambda a: losses.binary_cross_entropy_logits(X, a)[0], A.copy())
    assert relative_error(dA, n).max() < 1e-7
    E, dA = losses.binary_cross_entropy_logits(np.array([[1.0, 0.0]]), np.array([[-1e4, 1e4]]))
    assert E == pytest.approx(2e4) and np.all(np.isfinite(dA))
