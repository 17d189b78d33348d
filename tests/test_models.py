import numpy as np
import pytest

import aenumpy as ae

from conftest import assert_passes

def randomize_biases(model, seed=0):
    """Non-zero biases: a stronger check, and no ReLU pre-activation sits exactly on its kink."""
    r = np.random.default_rng(seed)
    for k, p in model.params.items():
        if k.endswith(".b"):
            p[...] = r.normal(0, 0.3, p.shape)


CONFIGS = [
    dict(hidden=[4]),
    dict(hidden=[4], tied=True),
    dict(hidden=[5, 3]),
    dict(hidden=[5, 3], tied=True),
    dict(hidden=[4], loss="bce"),
    dict(hidden=[5, 3], loss="bce", tied=True, activation="tanh"),
    dict(hidden=[4], activation="tanh", output_activation="identity"),
    dict(hidden=[4], activation="identity", output_activation="identity"),
    dict(hidden=[5, 3], activation="tanh", decoder_activation="sigmoid", output_activation="tanh"),
    dict(hidden=[5, 3], activation="relu", output_activation="sigmoid", seed=3),
    dict(hidden=[8]),  # overcomplete
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_model_passes_gradcheck(cfg, U):
    model = ae.Autoencoder(n_in=6, **cfg)
    randomize_biases(model)
    report = ae.gradcheck(model, U)
    assert_passes(report)
    assert {r["name"] for r in report.rows} == set(model.params)


class SquashedTanh(ae.activations.Activation):
    """A student's own output in (0.1, 0.9): ``0.5 + 0.4 tanh(a)``."""

    name = "squashed_tanh"

    def __call__(self, a):
        return 0.5 + 0.4 * np.tanh(a)

    def grad(self, a, z):
        return 0.4 * (1 - np.tanh(a) ** 2)


def test_custom_loss_path_passes_gradcheck(U):
    """BCE with a custom output in (0, 1) goes through the general path ∂E/∂x̂ ⊙ f'(a)."""
    model = ae.Autoencoder(6, [4], output_activation=SquashedTanh(), loss="bce", seed=1)
    randomize_biases(model)
    assert_passes(ae.gradcheck(model, U))


@pytest.mark.parametrize("output", ["identity", "tanh", "relu"])
def test_bce_with_an_output_outside_0_1_is_refused_when_built(output):
    with pytest.raises(ValueError, match="use output_activation='sigmoid'"):
        ae.Autoencoder(6, [4], output_activation=output, loss="bce")


def test_parameter_names_and_shapes():
    m = ae.Autoencoder(784, [512, 256, 64])
    assert list(m.params) == ["enc0.W", "enc0.b", "enc1.W", "enc1.b", "enc2.W", "enc2.b",
                              "dec0.W", "dec0.b", "dec1.W", "dec1.b", "dec2.W", "dec2.b"]
    assert m.params["enc0.W"].shape == (512, 784)
    assert m.params["dec0.W"].shape == (256, 64)
    assert m.params["dec2.W"].shape == (784, 512)
    t = ae.Autoencoder(784, [512, 256, 64], tied=True)
    assert [k for k in t.params if k.startswith("dec")] == ["dec0.b", "dec1.b", "dec2.b"]


def test_params_are_the_models_own(U):
    m = ae.Autoencoder(6, [4], dtype="float64")
    before = m.reconstruct(U)
    m.params["dec0.b"][:] += 1.0
    assert not np.allclose(before, m.reconstruct(U))


def test_grads_have_the_params_keys_and_shapes(U):
    for tied in (False, True):
        m = ae.Autoencoder(6, [5, 3], tied=tied)
        loss, grads = m.loss_and_grads(U)
        assert set(grads) == set(m.params)
        for k in grads:
            assert grads[k].shape == m.params[k].shape
            assert grads[k].dtype == np.float32
        assert loss == pytest.approx(m.loss(U), rel=1e-6)


def test_float32_default_and_float64():
    m = ae.Autoencoder(6, [4])
    assert all(p.dtype == np.float32 for p in m.params.values())
    X = np.random.default_rng(0).random((3, 6))
    assert m.reconstruct(X).dtype == np.float32
    m64 = m.astype("float64")
    assert all(p.dtype == np.float64 for p in m64.params.values())
    np.testing.assert_allclose(m64.reconstruct(X), m.reconstruct(X), rtol=1e-5)


def test_encode_decode_reconstruct(U):
    m = ae.Autoencoder(6, [5, 3], dtype="float64")
    Z = m.encode(U)
    assert Z.shape == (5, 3)
    np.testing.assert_allclose(m.decode(Z), m.reconstruct(U))


def test_loss_matches_definition_by_hand(U):
    m = ae.Autoencoder(6, [4], dtype="float64")
    W, b = m.params["enc0.W"], m.params["enc0.b"]
    W2, b2 = m.params["dec0.W"], m.params["dec0.b"]
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    z = sig(U @ W.T + b)
    xh = sig(z @ W2.T + b2)
    assert m.loss(U) == pytest.approx(np.mean(0.5 * np.sum((U - xh) ** 2, axis=1)), rel=1e-12)
    mb = ae.Autoencoder(6, [4], dtype="float64", loss="bce")
    mb.params["enc0.W"][...] = W
    mb.params["dec0.W"][...] = W2
    bce = -np.sum(U * np.log(xh) + (1 - U) * np.log(1 - xh), axis=1).mean()
    assert mb.loss(U) == pytest.approx(bce, rel=1e-12)


def test_same_seed_same_model():
    a, b = ae.Autoencoder(10, [4], seed=7), ae.Autoencoder(10, [4], seed=7)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    c = ae.Autoencoder(10, [4], seed=8)
    assert not np.array_equal(a.params["enc0.W"], c.params["enc0.W"])


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_in=0, hidden=[3]), "n_in"),
    (dict(n_in=6, hidden=[]), "hidden"),
    (dict(n_in=6, hidden=[0]), "hidden"),
    (dict(n_in=6, hidden=[3], activation="softmax"), "activation"),
    (dict(n_in=6, hidden=[3], loss="l2"), "loss"),
    (dict(n_in=6, hidden=[3], dtype="float16"), "dtype"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ae.Autoencoder(**kwargs)


def test_bad_data_is_refused_before_work():
    m = ae.Autoencoder(6, [3])
    with pytest.raises(ValueError, match="6 features"):
        m.loss(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="2-D"):
        m.loss(np.zeros(6))
    with pytest.raises(ValueError, match="NaN"):
        m.loss(np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.loss(np.full((2, 6), 3.0))
    with pytest.raises(ValueError, match="255"):
        m.loss(np.full((2, 6), 200, dtype=np.uint8))


class Softplus(ae.activations.Activation):
    """A student's own activation: log(1 + e^a), f' = σ(a), f'' = σ(a)(1 − σ(a))."""

    name = "softplus"

    def __call__(self, a):
        return ae.activations.softplus(a)

    def grad(self, a, z):
        return ae.activations.sigmoid(a)

    def grad2(self, a, z):
        s = ae.activations.sigmoid(a)
        return s * (1 - s)


def test_model_with_a_custom_activation_passes_gradcheck(U):
    model = ae.Autoencoder(6, [5, 3], activation=Softplus(), seed=2)
    randomize_biases(model)
    assert_passes(ae.gradcheck(model, U))
    with pytest.raises(ValueError, match="custom Activation"):
        model.get_config()
    # a built-in activation passed as an object is still saved by name
    assert ae.Autoencoder(6, [3], activation=ae.activations.Tanh()).get_config()["activation"] == "tanh"
