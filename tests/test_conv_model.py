"""The convolutional autoencoder: its configurations pass the gradient check on both paths
(regularizers included), it takes images or flat rows, it is named and seeded as the
contract says, it saves and loads, and bad input is refused before any work."""
import numpy as np
import pytest
from conftest import assert_passes, on_path

import aenumpy as ae

L = ae.layers
R = ae.regularizers


def pool_net(code_act="relu"):
    """The benchmark's ``conv`` network, narrowed, on 8×8 images."""
    return ([L.Conv2D(1, 3, 3, padding=1, activation="relu"), L.MaxPool2D(2),
             L.Conv2D(3, 2, 3, padding=1, activation=code_act), L.MaxPool2D(2)],
            [L.Upsample2D(2), L.Conv2D(2, 3, 3, padding=1, activation="relu"),
             L.Upsample2D(2), L.Conv2D(3, 1, 3, padding=1, activation="sigmoid")])


def strided_net(code_act="relu"):
    """The benchmark's ``convt`` network, narrowed, on 8×8 images."""
    return ([L.Conv2D(1, 3, 3, stride=2, padding=1, activation="relu"),
             L.Conv2D(3, 2, 3, stride=2, padding=1, activation=code_act)],
            [L.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1, activation="relu"),
             L.ConvTranspose2D(3, 1, 3, stride=2, padding=1, output_padding=1,
                               activation="sigmoid")])


def dense_code_net(code_act="sigmoid"):
    """Convolutions around a dense code: Flatten → Dense → Dense → Reshape."""
    return ([L.Conv2D(1, 2, 3, padding=1, activation="tanh"), L.MaxPool2D(2), L.Flatten(),
             L.Dense(32, 6, activation=code_act)],
            [L.Dense(6, 32, activation="relu"), L.Reshape((2, 4, 4)), L.Upsample2D(2),
             L.Conv2D(2, 1, 3, padding=1, activation="sigmoid")])


NETS = {"pool": pool_net, "strided": strided_net, "dense_code": dense_code_net}
REGS = {
    "none": lambda: [],
    "gaussian": lambda: [R.GaussianNoise(0.2)],
    "masking": lambda: [R.MaskingNoise(0.3)],
    "salt_and_pepper": lambda: [R.SaltAndPepper(0.2)],
    "kl": lambda: [R.KLSparsity(0.2, 0.5)],
    "l1": lambda: [R.L1Activity(0.05)],
    "topk": lambda: [R.TopK(3)],
    "topk_value": lambda: [R.TopK(3, by="value")],
    "dropout": lambda: [R.Dropout(0.3)],
    "weight_decay": lambda: [R.WeightDecay(0.05)],
    "all": lambda: [R.GaussianNoise(0.1), R.L1Activity(0.02), R.Dropout(0.2), R.WeightDecay(0.01)],
}


def _x(n=4, seed=2):
    return 0.05 + 0.9 * np.random.default_rng(seed).random((n, 64))


def model(net="pool", regs="none", loss="bce", dtype="float64", seed=0, code_act=None):
    kw = {} if code_act is None else {"code_act": code_act}
    if regs == "kl":
        kw["code_act"] = "sigmoid"
    enc, dec = NETS[net](**kw)
    return ae.ConvAutoencoder(enc, dec, input_shape=(1, 8, 8), loss=loss,
                              regularizers=REGS[regs](), seed=seed, dtype=dtype)


def _biases(m, seed=1):
    """Non-zero biases, so no ReLU unit is dead for the whole batch and every gradient is
    checked for real."""
    r = np.random.default_rng(seed)
    for k, p in m.params.items():
        if k.endswith(".b"):
            p[...] = r.uniform(0.05, 0.3, p.shape)


#: how far from a kink (a ReLU at 0, a top-k threshold) every value must be for the
#: finite differences' stencil (±2h, h = 1e-4, times a gradient of order 1) not to cross it
MARGIN = 1e-3


def _well_posed(m):
    """Biases and a batch for which no ReLU pre-activation, max-pooling choice or top-k
    choice lies within MARGIN of its kink, found by a seeded search (finite differences across a kink measure
    a jump, not the derivative)."""
    for seed in range(1, 200):
        _biases(m, seed)
        X = _x(seed=seed)
        m.loss(X, rng=np.random.default_rng(0))  # gradcheck's noise
        ok = all(np.abs(layer.cache["A"]).min() > MARGIN for layer in m.layers
                 if getattr(getattr(layer, "activation", None), "name", "") == "relu")
        for layer in m.layers:  # a max-pooling window's two largest: tied exactly or apart
            if isinstance(layer, L.MaxPool2D):
                top2 = np.sort(layer.windows(layer.cache["X"]), axis=-1)[..., -2:]
                gap = top2[..., 1] - top2[..., 0]
                ok &= bool(np.all((gap == 0) | (gap > MARGIN)))
        for r in m.regularizers:
            if isinstance(r, R.TopK):
                code = m.encoder[r.layer_index(m)].cache["Z"].reshape(len(X), -1)
                key = np.sort(np.abs(code) if r.by == "abs" else code, axis=1)[:, ::-1]
                ok &= bool(np.all(key[:, r.k - 1] - key[:, r.k] > MARGIN))
        if ok:
            return X
    raise AssertionError("no well-posed batch found")


@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("regs", list(REGS))
def test_every_configuration_passes_gradcheck(net, regs, fast):
    if net == "dense_code" and regs in ("topk", "topk_value"):
        pytest.skip("top-k of a 6-unit code: covered by the other networks")
    with on_path(fast):
        m = model(net, regs)
        X = _well_posed(m)
        assert_passes(ae.gradcheck(m, X, max_entries=16))


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_both_losses_sum_over_pixels_and_average_over_the_batch(loss):
    m = model(loss=loss)
    X = _x(3)
    Xh = m.reconstruct(X)
    if loss == "mse":
        expect = 0.5 * np.sum((X - Xh) ** 2) / 3
    else:
        expect = -np.sum(X * np.log(Xh) + (1 - X) * np.log(1 - Xh)) / 3
    assert m.loss(X) == pytest.approx(expect, rel=1e-12)


def test_images_or_flat_rows_in_the_same_form_out():
    m = model()
    X = _x(5)
    imgs = X.reshape(5, 1, 8, 8)
    assert m.reconstruct(X).shape == (5, 64)
    assert m.reconstruct(imgs).shape == (5, 1, 8, 8)
    np.testing.assert_array_equal(m.reconstruct(X), m.reconstruct(imgs).reshape(5, 64))
    assert m.code_shape == (2, 2, 2)
    Z = m.encode(imgs)
    assert Z.shape == (5, 2, 2, 2) and m.encode(X).shape == (5, 8)
    assert m.decode(Z).shape == (5, 1, 8, 8) and m.decode(Z.reshape(5, 8)).shape == (5, 64)
    assert m.loss(X) == m.loss(imgs)


def test_evaluation_in_batches_is_the_same_as_at_once(monkeypatch):
    m = model()
    X = _x(7)
    whole = m.reconstruct(X)
    monkeypatch.setattr(m, "EVAL_BATCH", 2)
    np.testing.assert_array_equal(m.reconstruct(X), whole)


def test_names_by_position_and_weights_from_the_models_seed():
    m1, m2 = model(seed=3), model(seed=3)
    assert [layer.name for layer in m1.layers] == ["enc0", "enc1", "enc2", "enc3", "dec0",
                                                   "dec1", "dec2", "dec3"]
    assert list(m1.params) == ["enc0.W", "enc0.b", "enc2.W", "enc2.b", "dec1.W", "dec1.b",
                               "dec3.W", "dec3.b"]
    for k in m1.params:
        np.testing.assert_array_equal(m1.params[k], m2.params[k])
    enc, dec = pool_net()
    enc[0].params["W"][...] = 7.0  # what the layers held before does not matter
    m3 = ae.ConvAutoencoder(enc, dec, (1, 8, 8), loss="bce", seed=3, dtype="float64")
    np.testing.assert_array_equal(m3.params["enc0.W"], m1.params["enc0.W"])
    assert not np.array_equal(model(seed=4).params["enc0.W"], m1.params["enc0.W"])
    assert m1.params["enc0.W"].shape == (3, 1, 3, 3) and m1.params["dec3.b"].shape == (1,)


@pytest.mark.parametrize("down, up", [("pool", "upsample"), ("stride", "transposed")])
def test_conv_layers_mirror_the_encoder_back_to_one_channel(down, up):
    """conv_layers([16, 8]) is the benchmark's conv network, with ("stride", "transposed")
    its convt: each encoder step halves 28 → 14 → 7, the decoder doubles back to 1×28×28,
    ReLU inside and a sigmoid at the output."""
    enc, dec = ae.models.conv_layers([16, 8], down, up)
    m = ae.ConvAutoencoder(enc, dec, (1, 28, 28), loss="bce")
    assert m.code_shape == (8, 7, 7)
    kinds = [ae.backend.teaching_class(type(layer)).__name__ for layer in m.layers]
    if down == "pool":
        assert kinds == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Upsample2D", "Conv2D",
                         "Upsample2D", "Conv2D"]
        assert m.shapes == [(16, 28, 28), (16, 14, 14), (8, 14, 14), (8, 7, 7), (8, 14, 14),
                            (16, 14, 14), (16, 28, 28), (1, 28, 28)]
    else:
        assert kinds == ["Conv2D", "Conv2D", "ConvTranspose2D", "ConvTranspose2D"]
        assert m.shapes == [(16, 14, 14), (8, 7, 7), (16, 14, 14), (1, 28, 28)]
        assert all(layer.stride == 2 for layer in m.layers)
    convs = [layer for layer in m.layers if hasattr(layer, "activation")]
    assert [c.activation.name for c in convs] == ["relu"] * (len(convs) - 1) + ["sigmoid"]
    assert all(c.kernel_size == 3 and c.padding == 1 for c in convs)


@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
def test_training_lowers_the_loss_and_save_load_round_trips(fast, tmp_path):
    X = ae.datasets.load_digits()[0][:512]
    with on_path(fast):
        m = model(net="strided", regs="gaussian", dtype="float32")
        h = ae.fit(m, X, epochs=4, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3),
                   progress=False, X_val=X[:128])
        ae.save(m, tmp_path / "conv.npz")
        back = ae.load(tmp_path / "conv.npz")
    assert h["loss"][-1] < h["loss"][0] and h["val_loss"][-1] < h["val_loss"][0]
    assert type(back).__name__.endswith("ConvAutoencoder") and back.get_config() == m.get_config()
    np.testing.assert_array_equal(back.reconstruct(X[:5]), m.reconstruct(X[:5]))


def test_the_trace_has_every_feature_map_and_gradient():
    m = model(regs="topk")
    t = ae.trace(m, _x(1))
    for key in ("x", "enc0.a", "enc0.z", "enc1.z", "enc3.z", "enc3.mask", "dec3.z", "E",
                "dE/dxhat", "dE/d(dec3.a)", "dE/d(enc0.W)", "grad.enc0.W"):
        assert key in t, key
    assert t["enc0.z"].shape == (1, 3, 8, 8) and t["z"].shape == (1, 2, 2, 2)
    _, g = m.loss_and_grads(_x(1), rng=np.random.default_rng(0))
    np.testing.assert_allclose(t["grad.enc0.W"], g["enc0.W"], rtol=0,
                               atol=8 * np.finfo(np.float64).eps * np.abs(g["enc0.W"]).max())


# ------------------------------------------------------------------ refused before any work
def _build(enc, dec, shape=(1, 8, 8), **kw):
    return lambda: ae.ConvAutoencoder(enc, dec, input_shape=shape, **kw)


BAD = [
    ("a batch of the wrong shape",
     lambda: model().loss(np.zeros((2, 1, 7, 7))), ValueError, r"\(batch, 1, 8, 8\)"),
    ("flat rows of the wrong width",
     lambda: model().loss(np.zeros((2, 63))), ValueError, r"flat rows \(batch, 64\)"),
    ("channels that do not chain",
     _build([L.Conv2D(1, 4, 3, padding=1), L.Conv2D(3, 2, 3, padding=1)],
            [L.Conv2D(2, 1, 3, padding=1, activation="sigmoid")]),
     ValueError, r"expected 3 input channels.*got 4"),
    ("a kernel larger than the padded input",
     _build([L.Conv2D(1, 2, 11)], [L.Conv2D(2, 1, 1)]), ValueError,
     r"11×11 kernel is larger than the padded input 8×8"),
    ("output_padding >= stride",
     lambda: L.ConvTranspose2D(2, 1, 3, stride=2, output_padding=2), ValueError,
     "output_padding must be smaller than the stride"),
    ("a decoder that does not give back the input's shape",
     _build([L.Conv2D(1, 2, 3, padding=1), L.MaxPool2D(2)],
            [L.Conv2D(2, 1, 3, padding=1, activation="sigmoid")]),
     ValueError, r"output shape \(1, 4, 4\) is not the input's shape \(1, 8, 8\)"),
    ("a layer list that is not layers",
     _build([L.Conv2D(1, 2, 3, padding=1), "relu"], [L.Conv2D(2, 1, 3, padding=1)]),
     TypeError, r"encoder\[1\] must be a layer"),
    ("an empty decoder", _build([L.Conv2D(1, 1, 3, padding=1)], []), TypeError,
     "decoder must be a non-empty list"),
    ("the same layer twice",
     lambda: (lambda c: ae.ConvAutoencoder([c], [c], (1, 8, 8)))(L.Conv2D(1, 1, 3, padding=1)),
     ValueError, "appears twice"),
    ("a contractive penalty",
     lambda: model(regs="none").__class__(*pool_net(), (1, 8, 8),
                                         regularizers=[R.Contractive(0.1)]),
     ValueError, "Contractive does not apply to a ConvAutoencoder"),
    ("bce with a relu output",
     _build([L.Conv2D(1, 1, 3, padding=1)], [L.Conv2D(1, 1, 3, padding=1, activation="relu")],
            loss="bce"), ValueError, "use output_activation='sigmoid'"),
    ("KL sparsity on a ReLU code", lambda: model(regs="none").__class__(
        *pool_net(), (1, 8, 8), regularizers=[R.KLSparsity(0.1, 1.0)]),
     ValueError, "KLSparsity needs hidden units in \\(0, 1\\)"),
    ("top-k larger than the code", lambda: model(regs="none").__class__(
        *pool_net(), (1, 8, 8), regularizers=[R.TopK(9)]), ValueError, "k must be in 1..8"),
    ("a NaN image", lambda: model().loss(np.full((2, 64), np.nan)), ValueError, "NaN"),
    ("pixels outside [0, 1] for a sigmoid output",
     lambda: model().loss(np.full((2, 64), 2.0)), ValueError, r"\[0, 1\]"),
    ("conv_layers with an even kernel", lambda: ae.models.conv_layers([4], kernel=4), ValueError,
     "kernel must be odd"),
    ("conv_layers with an unknown way down", lambda: ae.models.conv_layers([4], down="avg"),
     ValueError, "down must be one of 'pool', 'stride'"),
    ("conv_layers without channels", lambda: ae.models.conv_layers([]), TypeError,
     "channels must be a non-empty list"),
]


@pytest.mark.parametrize("what, call, exc, match", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_clearly(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
