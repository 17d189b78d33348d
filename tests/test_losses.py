import numpy as np
import pytest

from aenumpy import losses
from aenumpy.gradcheck import numerical_gradient, relative_error
from aenumpy.fast.loss import output_loss


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


def test_logits_cross_entropy_matches_and_is_stable(rng):
    X = rng.random((3, 4))
    A = rng.normal(0, 2, (3, 4))
    E, dA = losses.binary_cross_entropy_logits(X, A)
    assert E == pytest.approx(losses.binary_cross_entropy(X, 1 / (1 + np.exp(-A))), rel=1e-12)
    n = numerical_gradient(lambda a: losses.binary_cross_entropy_logits(X, a)[0], A.copy())
    assert relative_error(dA, n).max() < 1e-7
    E, dA = losses.binary_cross_entropy_logits(np.array([[1.0, 0.0]]), np.array([[-1e4, 1e4]]))
    assert E == pytest.approx(2e4) and np.all(np.isfinite(dA))


ACT_NAMES = {0: "identity", 1: "sigmoid", 2: "tanh", 3: "relu"}


@pytest.mark.parametrize("loss_code,act_code", [(0, 0), (0, 1), (0, 2), (0, 3), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_output_loss_agrees_with_the_teaching_loss(loss_code, act_code, dtype, rng):
    """The fast path's fused kernel against :meth:`Loss.value_and_delta` (its reference)."""
    from aenumpy import activations

    n = 9
    X = rng.random((7, n)).astype(dtype)
    A = rng.normal(0, 2, (7, n)).astype(dtype)
    act = activations.get(ACT_NAMES[act_code])
    Z = act(A)
    loss = (losses.SquaredError, losses.BinaryCrossEntropy)[loss_code]()
    E_ref, dA_ref = loss.value_and_delta(X, A, Z, act)
    dA = np.empty_like(A)
    E = output_loss(X, A, Z, loss_code, act_code, dA)
    # a row sum of n terms of size ~1 in the dtype, then a float64 sum of the rows:
    # about √n·ε relative; δ is one product per entry, a few ε
    eps = np.finfo(dtype).eps
    assert E == pytest.approx(E_ref, rel=10 * np.sqrt(n) * eps)
    np.testing.assert_allclose(dA, dA_ref, rtol=8 * eps, atol=8 * eps * np.abs(dA_ref).max())
