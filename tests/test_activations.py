import numpy as np
import pytest

from aenumpy import activations
from aenumpy.gradcheck import numerical_gradient, relative_error

NAMES = ["sigmoid", "tanh", "relu", "identity"]


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name, rng):
    f = activations.get(name)
    a = rng.uniform(-3, 3, size=20)
    a = a[np.abs(a) > 1e-2]  # keep away from the relu kink
    z = f(a)
    for i in range(a.size):
        n = numerical_gradient(lambda x: float(f(x)[i]), a.copy(), indices=[i])[i]
        assert relative_error(f.grad(a, z)[i], n) < 1e-7


@pytest.mark.parametrize("name", NAMES)
def test_second_derivative_matches_finite_differences(name, rng):
    f = activations.get(name)
    a = rng.uniform(-3, 3, size=12)
    a = a[np.abs(a) > 1e-2]
    for i in range(a.size):
        n = numerical_gradient(lambda x: float(f.grad(x, f(x))[i]), a.copy(), indices=[i])[i]
        g2 = f.grad2(a, f(a))[i]
        assert abs(g2 - n) < 1e-8 or relative_error(g2, n) < 1e-7


def test_sigmoid_does_not_overflow():
    a = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = activations.sigmoid(a)
    assert np.all(np.isfinite(s))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    np.testing.assert_allclose(activations.sigmoid(np.float32(-1e4)), 0.0)


def test_sigmoid_values():
    a = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(activations.sigmoid(a), 1 / (1 + np.exp(-a)), rtol=1e-15)


def test_softplus_stable():
    a = np.array([-1e4, -5.0, 0.0, 5.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = activations.softplus(a)
    np.testing.assert_allclose(s[1:4], np.log1p(np.exp(a[1:4])))
    assert s[-1] == 1e4 and s[0] == 0.0


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        activations.get("softmax")
