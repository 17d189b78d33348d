import numpy as np
import pytest

from aenumpy.gradcheck import check_layer
from aenumpy.layers import Dense
from conftest import assert_passes

NAMES = ["sigmoid", "tanh", "relu", "identity"]


@pytest.mark.parametrize("act", NAMES)
def test_dense_backward_passes_gradcheck(act, rng):
    layer = Dense(6, 4, act, rng=np.random.default_rng(1), dtype="float64")
    layer.params["b"][:] = rng.normal(0, 0.5, 4)
    X = rng.uniform(-1, 1, (5, 6))
    report = check_layer(layer, X)
    assert_passes(report)


def test_dense_shapes_and_cache(rng):
    layer = Dense(6, 4, "sigmoid", rng=rng, dtype="float32")
    assert layer.W.shape == (4, 6) and layer.b.shape == (4,)
    X = rng.random((3, 6)).astype(np.float32)
    Z = layer.forward(X)
    assert Z.shape == (3, 4) and Z.dtype == np.float32
    np.testing.assert_array_equal(layer.cache["A"], X @ layer.W.T + layer.b)  # the same ops
    # the stable σ against 1/(1 + e⁻ᵃ): an exp and a division each, in float32
    np.testing.assert_allclose(Z, 1 / (1 + np.exp(-layer.cache["A"])),
                               rtol=8 * float(np.finfo(np.float32).eps))
    dX = layer.backward(np.ones_like(Z))
    assert dX.shape == X.shape
    assert set(layer.grads) == {"W", "b"}
    assert layer.grads["W"].shape == (4, 6)


def test_glorot_init_is_seeded_and_bounded():
    a = Dense(100, 50, rng=np.random.default_rng(3)).W
    b = Dense(100, 50, rng=np.random.default_rng(3)).W
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= np.sqrt(6 / 150)
    assert abs(a.std() - np.sqrt(6 / 150) / np.sqrt(3)) < 0.01


def test_tied_layer_uses_partner_transpose(rng):
    enc = Dense(6, 4, rng=rng, dtype="float64")
    dec = Dense(4, 6, tied_to=enc, dtype="float64")
    assert "W" not in dec.params
    assert np.shares_memory(dec.W, enc.params["W"])
    np.testing.assert_array_equal(dec.W, enc.params["W"].T)
    with pytest.raises(ValueError, match="tied"):
        Dense(4, 5, tied_to=enc)
