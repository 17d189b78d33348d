"""The U-Net: its layers and parameter names, its checks, its gradient on both paths, the two
paths' agreement, training, saving, and the concatenation layer it is built with.

Gradient checks of a ReLU network need a batch on which no pre-activation and no
max-pooling choice lies within the finite differences' reach of its kink (1e-3; see
``test_conv_model.MARGIN``): :func:`well_posed` finds one by a seeded search over
positive biases and inputs.
"""
import numpy as np
import pytest
from conftest import assert_passes, on_path

import aenumpy as ae
import aenumpy.layers as L

EPS64 = np.finfo(np.float64).eps
MARGIN = 1e-3


def net(fast=False, n_classes=3, channels=(3, 4, 5), side=8, skips=True, dtype="float64",
        seed=0):
    with on_path(fast):
        return ae.UNet(1, n_classes, channels, input_shape=(1, side, side), skips=skips,
                       seed=seed, dtype=dtype)


def targets(r, m, B):
    """Labels (two or more classes) or targets in [0, 1] (one class) for B images of m."""
    shape = (B, *m.input_shape[1:])
    return r.integers(0, m.n_classes, shape) if m.n_classes > 1 else r.random(shape)


def spread(m, r):
    """Weights ``U(±√(6/fan_in))`` (He's scale: signals keep their size through the ReLUs, so
    the encoder's gradients are well above the finite differences' noise) and biases in
    [0.05, 0.3] (few dead units), drawn from ``r``."""
    for k, p in m.params.items():
        if k.endswith(".b"):
            p[...] = r.uniform(0.05, 0.3, p.shape)
        else:
            bound = np.sqrt(6 / np.prod(p.shape[1:]))
            p[...] = r.uniform(-bound, bound, p.shape)


def well_posed(m, B=1):
    """:func:`spread` weights and a batch ``(X, Y)`` on which every ReLU pre-activation is
    more than MARGIN from 0 and every pooling window's two largest entries are tied exactly
    or more than MARGIN apart (a seeded search)."""
    for seed in range(1, 300):
        r = np.random.default_rng(seed)
        spread(m, r)
        X, Y = r.random((B, *m.input_shape)), targets(r, m, B)
        m.loss(X, Y)
        ok = all(np.abs(layer.cache["A"]).min() > MARGIN for layer in m.layers
                 if getattr(getattr(layer, "activation", None), "name", "") == "relu")
        for layer in m.layers:
            if isinstance(layer, L.MaxPool2D):
                top2 = np.sort(layer.windows(np.asarray(layer.cache["X"])), axis=-1)[..., -2:]
                gap = top2[..., 1] - top2[..., 0]
                ok &= bool(np.all((gap == 0) | (gap > MARGIN)))
        if ok:
            return X, Y
    raise AssertionError("no well-posed batch found")


# ---------------------------------------------------------------- the network
def test_the_layers_and_parameter_names_are_the_design():
    m = ae.UNet(in_channels=1, n_classes=11, channels=(8, 16, 32), input_shape=(1, 32, 32))
    shapes = {k: v.shape for k, v in m.params.items()}
    assert shapes == {
        "down0.conv0.W": (8, 1, 3, 3), "down0.conv0.b": (8,),
        "down0.conv1.W": (8, 8, 3, 3), "down0.conv1.b": (8,),
        "down1.conv0.W": (16, 8, 3, 3), "down1.conv0.b": (16,),
        "down1.conv1.W": (16, 16, 3, 3), "down1.conv1.b": (16,),
        "bottom.conv0.W": (32, 16, 3, 3), "bottom.conv0.b": (32,),
        "bottom.conv1.W": (32, 32, 3, 3), "bottom.conv1.b": (32,),
        "up1.conv0.W": (16, 48, 3, 3), "up1.conv0.b": (16,),
        "up1.conv1.W": (16, 16, 3, 3), "up1.conv1.b": (16,),
        "up0.conv0.W": (8, 24, 3, 3), "up0.conv0.b": (8,),
        "up0.conv1.W": (8, 8, 3, 3), "up0.conv1.b": (8,),
        "head.W": (11, 8, 1, 1), "head.b": (11,)}
    assert list(m.params)[-2:] == ["head.W", "head.b"]
    convs = [layer for layer in m.layers if isinstance(layer, L.Conv2D)]
    assert all(c.padding == 1 and c.kernel_size == 3 and c.activation.name == "relu"
               for c in convs[:-1])
    assert convs[-1].kernel_size == 1 and convs[-1].activation.name == "identity"
    from aenumpy.backend import teaching_class
    assert [teaching_class(type(layer)).__name__ for layer in m.layers
            if not isinstance(layer, L.Conv2D)] == \
        ["MaxPool2D", "MaxPool2D", "Upsample2D", "Concat", "Upsample2D", "Concat"]
    assert m.shapes[m.layers.index(m.concats[1])] == (48, 16, 16)
    plain = ae.UNet(1, 11, (8, 16, 32), input_shape=(1, 32, 32), skips=False)
    assert plain.params["up1.conv0.W"].shape == (16, 32, 3, 3)
    assert plain.params["up0.conv0.W"].shape == (8, 16, 3, 3)
    assert not any(isinstance(layer, L.Concat) for layer in plain.layers)
    assert m.loss_fn.name == "softmax_ce"
    assert ae.UNet(1, 1, (4, 8), input_shape=(1, 8, 8)).loss_fn.name == "bce_logits"


def test_the_same_seed_gives_the_same_weights_drawn_as_pytorch_does():
    a, b = ae.UNet(seed=3), ae.UNet(seed=3)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["head.W"], ae.UNet(seed=4).params["head.W"])
    for k, v in a.params.items():   # U(±1/√fan_in), fan_in = c_in·k²
        W = a.params[k[:-1] + "W"]
        assert np.abs(v).max() <= 1 / np.sqrt(np.prod(W.shape[1:]))


@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
def test_forward_and_predict(fast):
    m = net(fast, n_classes=4, side=16)
    X = np.random.default_rng(0).random((3, 1, 16, 16))
    A = m.forward(X)
    assert A.shape == (3, 4, 16, 16)
    np.testing.assert_array_equal(m.predict(X), A.argmax(axis=1))
    one = net(fast, n_classes=1, side=16)
    np.testing.assert_array_equal(one.predict(X), (one.forward(X)[:, 0] > 0).astype(int))


@pytest.mark.parametrize("kw, err, match", [
    ({"input_shape": (1, 30, 32)}, ValueError, "multiples of 2"),
    ({"input_shape": (1, 12, 12), "channels": (4, 8, 16, 32)}, ValueError, "multiples of 2"),
    ({"input_shape": (3, 32, 32)}, ValueError, "in_channels"),
    ({"channels": (8,)}, TypeError, "at least two"),
    ({"channels": (8, 0)}, ValueError, "channels"),
    ({"n_classes": 0}, ValueError, "n_classes"),
    ({"n_classes": 1, "loss": "softmax_ce"}, ValueError, "two or more classes"),
    ({"n_classes": 3, "loss": "bce_logits"}, ValueError, "one logit per pixel"),
    ({"skips": 1}, TypeError, "skips"),
])
def test_bad_construction_is_refused(kw, err, match):
    with pytest.raises(err, match=match):
        ae.UNet(**kw)


@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
def test_bad_data_is_refused_before_any_work(fast):
    m = net(fast, n_classes=3, side=8)
    r = np.random.default_rng(0)
    X, Y = r.random((2, 1, 8, 8)), r.integers(0, 3, (2, 8, 8))
    bad = [((X, Y[:1]), ValueError, r"shape \(2, 8, 8\)"),
           ((X, Y[:, :4]), ValueError, r"shape \(2, 8, 8\)"),
           ((X[:, :, :4], Y), ValueError, "input_shape"),
           ((X, np.full_like(Y, 3)), ValueError, r"outside \[0, 3\)"),
           ((X, Y.astype(float)), TypeError, "integer class labels"),
           ((np.full_like(X, np.nan), Y), ValueError, "NaN")]
    for (x, y), err, match in bad:
        with pytest.raises(err, match=match):
            m.loss_and_grads(x, y)
        with pytest.raises(err, match=match):
            ae.fit(m, x, Y=y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="Y=labels"):
        ae.fit(m, X, epochs=1, progress=False)
    one = net(fast, n_classes=1, side=8)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        one.loss_and_grads(X, np.full((2, 8, 8), 1.5))


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
@pytest.mark.parametrize("n_classes", [3, 1])
@pytest.mark.parametrize("skips", [True, False], ids=["skips", "no-skips"])
def test_the_whole_network_passes_gradcheck(fast, n_classes, skips):
    m = net(fast, n_classes=n_classes, skips=skips)
    X, Y = well_posed(m)
    _, grads = m.loss_and_grads(X, Y)
    assert all(np.abs(g).max() > 0 for g in grads.values())   # every weight gets a gradient
    assert_passes(ae.gradcheck(m, X, Y=Y, max_entries=16))


def test_the_skips_gradient_is_the_sum_of_its_two_paths():
    """Dropping the concatenation's share of a skip's gradient changes the encoder's
    gradients (which gradcheck verifies with it) and leaves the decoder's as they were."""
    m = net()
    X, Y = well_posed(m)
    m._branch_sum = lambda d_pool, d_skip: d_pool            # drop the skip's path
    _, wrong = m.loss_and_grads(X, Y)
    del m._branch_sum
    _, right = m.loss_and_grads(X, Y)
    assert not np.allclose(wrong["down0.conv0.W"], right["down0.conv0.W"])
    np.testing.assert_array_equal(wrong["up0.conv1.W"], right["up0.conv1.W"])


@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
def test_concat_passes_check_layer_and_splits_the_gradient(fast):
    r = np.random.default_rng(0)
    U, S = r.standard_normal((2, 3, 4, 5)), r.standard_normal((2, 2, 4, 5))
    with on_path(fast):
        c = ae.UNet(1, 2, (2, 3), input_shape=(1, 4, 4)).concats[0] if fast else L.Concat()
    assert_passes(ae.check_layer(c, (U, S)))
    Z = c.forward(U, S)
    np.testing.assert_array_equal(Z, np.concatenate([U, S], axis=1))
    dU, dS = c.backward(np.arange(Z.size, dtype=float).reshape(Z.shape))
    np.testing.assert_array_equal(dU, np.arange(Z.size).reshape(Z.shape)[:, :3])
    np.testing.assert_array_equal(dS, np.arange(Z.size).reshape(Z.shape)[:, 3:])
    with pytest.raises(ValueError, match="same height and width"):
        c.forward(U, S[:, :, :2])
    with pytest.raises(ValueError, match="same batch size"):
        c.forward(U, S[:1])


# ---------------------------------------------------------------- the two paths
@pytest.mark.parametrize("n_classes", [3, 1])
@pytest.mark.parametrize("skips", [True, False], ids=["skips", "no-skips"])
def test_the_fast_path_hands_rows_on_and_agrees_with_the_teaching_path(n_classes, skips):
    from aenumpy.fast.conv import is_rows_view

    t = net(False, n_classes=n_classes, side=16, skips=skips, seed=2)
    f = net(True, n_classes=n_classes, side=16, skips=skips, seed=2)
    assert f.fast and all(type(layer).__name__.startswith("Fast") for layer in f.layers)
    r = np.random.default_rng(5)
    spread(t, r)
    X, Y = r.random((3, 1, 16, 16)), targets(r, t, 3)
    for k in t.params:
        f.params[k][...] = t.params[k]
    E0, g0 = t.loss_and_grads(X, Y)
    E1, g1 = f.loss_and_grads(X, Y)
    fused = set(f.upsamples) | set(c for c in f.concats if c is not None)
    for layer in f.layers:                  # every layer read and handed on rows
        if layer in fused:                  # ... but the upsampled and concatenated blocks,
            assert "Z" not in layer.cache   # never made: up{i}.conv0 read the rows below
            continue
        assert is_rows_view(layer.cache["Z"]), layer.name
    assert all("U" in up[0].cache for up in f.up)
    # float64 sums of at most 9·(5 + 4)·16·16·3 = 62,208 terms of order one, in other orders:
    # a few hundred ε of E and of the largest gradient
    assert E1 == pytest.approx(E0, rel=256 * EPS64)
    for k in g0:
        scale = np.abs(g0[k]).max()
        np.testing.assert_allclose(g1[k], g0[k], rtol=0, atol=1e3 * EPS64 * max(scale, 1e-3))
    np.testing.assert_allclose(f.forward(X), t.forward(X), rtol=0, atol=1e3 * EPS64)


def test_float32_fast_step_agrees_with_the_float64_teaching_step():
    """The float32 fast path against float64 arithmetic: each gradient within a float32
    rounding bound, √K·ε₃₂ relative to its scale (K ≈ 62,000 terms in the largest sum)."""
    t = net(False, side=16, seed=2)
    r = np.random.default_rng(5)
    spread(t, r)
    X, Y = r.random((3, 1, 16, 16)), targets(r, t, 3)
    f = net(True, side=16, seed=2, dtype="float32")
    for k in t.params:
        f.params[k][...] = t.params[k]
    E0, g0 = t.loss_and_grads(X, Y)
    E1, g1 = f.loss_and_grads(X.astype(np.float32), Y)
    eps32 = float(np.finfo(np.float32).eps)
    bound = 4 * np.sqrt(62208) * eps32
    assert E1 == pytest.approx(E0, rel=bound)
    for k in g0:
        np.testing.assert_allclose(g1[k], g0[k], rtol=0, atol=bound * np.abs(g0[k]).max())


# ---------------------------------------------------------------- training and files
@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
def test_fit_lowers_the_loss_and_the_model_saves_and_loads(fast, tmp_path):
    X, Y = ae.datasets.make_segmentation(n=64, canvas=16, max_digits=1, seed=0)
    with on_path(fast):
        m = ae.UNet(1, 11, (4, 8), input_shape=(1, 16, 16), seed=0)
        h = ae.fit(m, X, Y=Y, X_val=X[:16], Y_val=Y[:16], epochs=4, batch_size=16,
                   optimizer=ae.optim.Adam(lr=1e-2), progress=False, monitor=True)
    assert h["loss"][-1] < h["loss"][0] and h["val_loss"][-1] < h["val_loss"][0]
    assert "down0.conv0.W" in h["grad_norm"].names()
    path = ae.save(m, tmp_path / "unet.npz")
    back = ae.load(path)
    assert type(back).__name__.endswith("UNet") and back.get_config() == m.get_config()
    np.testing.assert_array_equal(back.predict(X[:4]), m.predict(X[:4]))
    with pytest.raises(TypeError, match="UNet"):
        ae.trace(m, X[:1])


@pytest.mark.parametrize("skips", [True, False], ids=["skips", "no-skips"])
def test_loss_and_gradients_are_pytorchs(skips):
    """The same network written with PyTorch's ops (conv2d, max_pool2d, nearest interpolate,
    cat, cross_entropy) and differentiated by its autograd, in float64: a few hundred ε."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m = net(n_classes=4, side=16, skips=skips, seed=1)
    r = np.random.default_rng(0)
    X, Y = r.random((3, 1, 16, 16)), r.integers(0, 4, (3, 16, 16))
    E, grads = m.loss_and_grads(X, Y)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in m.params.items()}

    def conv(name, h, relu=True):
        a = F.conv2d(h, P[name + ".W"], P[name + ".b"], padding=P[name + ".W"].shape[-1] // 2)
        return torch.relu(a) if relu else a

    h, kept = torch.tensor(X), []
    for i in range(2):
        h = conv(f"down{i}.conv1", conv(f"down{i}.conv0", h))
        kept.append(h)
        h = F.max_pool2d(h, 2)
    h = conv("bottom.conv1", conv("bottom.conv0", h))
    for i in (1, 0):
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = torch.cat([h, kept[i]], dim=1) if skips else h
        h = conv(f"up{i}.conv1", conv(f"up{i}.conv0", h))
    loss = F.cross_entropy(conv("head", h, relu=False), torch.tensor(Y))
    loss.backward()
    assert E == pytest.approx(loss.item(), rel=64 * EPS64)
    for k, g in grads.items():
        np.testing.assert_allclose(g, P[k].grad.numpy(), rtol=0,
                                   atol=256 * EPS64 * np.abs(g).max())


def test_fit_on_the_two_paths_ends_at_the_same_weights():
    """Four epochs of ``fit`` (24 Adam steps, the fast path's reused buffers and caches
    carried from step to step) end at the same weights on both paths in float64: each step's
    rounding differs by a few ε and Adam's normalised steps carry it on without growth at
    this size, so 1e-10 of each weight's scale is far above the rounding and far below any
    step that read a stale array."""
    X, Y = ae.datasets.make_segmentation(n=96, canvas=16, max_digits=2, seed=0)
    X = X.astype(np.float64)
    params, losses = [], []
    for fast in (False, True):
        with on_path(fast):
            m = ae.UNet(1, 11, (4, 8, 8), input_shape=(1, 16, 16), seed=0, dtype="float64")
            h = ae.fit(m, X, Y=Y, epochs=4, batch_size=16, optimizer=ae.optim.Adam(lr=3e-3),
                       progress=False, seed=0)
        assert type(m).__name__ == ("FastUNet" if fast else "UNet")
        params.append({k: v.copy() for k, v in m.params.items()})
        losses.append(h["loss"])
    assert losses[1][-1] < 0.5 * losses[1][0]            # it trained
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-10)
    for k, w in params[0].items():
        np.testing.assert_allclose(params[1][k], w, rtol=0, atol=1e-10 * np.abs(w).max(), err_msg=k)
