"""Segmentation's pieces around the U-Net: the per-pixel losses, the metrics, the generated
data, the figure, and training toward a target other than the input (``Y``) for every model.

The losses are checked against their definitions written out pixel by pixel with Python's
``math`` and against finite differences (float64); the metrics against a case worked by hand.
"""
import math

import numpy as np
import pytest
from conftest import assert_passes, on_path

import aenumpy as ae
from aenumpy import losses, metrics
from aenumpy.gradcheck import DEFAULT_H, noise_floor, numerical_gradient, relative_error

EPS64 = np.finfo(np.float64).eps


def assert_gradient(f, A, dA):
    """``dA`` is the gradient of the scalar ``f`` at A: every entry within 1e-7 relative of the
    fourth-order finite difference, or within its rounding noise (``noise_floor``: a tiny
    softmax probability, e^-30, is below what finite differences resolve)."""
    num = numerical_gradient(f, A.copy())
    floor = noise_floor(f(A), DEFAULT_H, 4)
    ok = (relative_error(dA, num) < 1e-7) | (np.abs(dA - num) < floor)
    assert ok.all(), (relative_error(dA, num).max(), np.abs(dA - num).max(), floor)
    assert (relative_error(dA, num) < 1e-7).mean() > 0.9   # and most entries are resolved


# ---------------------------------------------------------------- losses
def softmax_ce_by_pixel(Y, A):
    """``−(1/N) Σ_pixels log(e^(a_y) / Σ_k e^(a_k))``, one pixel at a time with ``math``."""
    B, K, H, W = A.shape
    total = 0.0
    for b, y, x in np.ndindex(B, H, W):
        a = [float(A[b, k, y, x]) for k in range(K)]
        m = max(a)
        total += m + math.log(sum(math.exp(v - m) for v in a)) - a[Y[b, y, x]]
    return total / (B * H * W)


def bce_by_pixel(Y, A):
    """``−(1/N) Σ_pixels [y log σ(a) + (1 − y) log(1 − σ(a))]``, pixel by pixel."""
    total = 0.0
    for b, y, x in np.ndindex(*Y.shape):
        a, t = float(A[b, 0, y, x]), float(Y[b, y, x])
        p = 1 / (1 + math.exp(-a))
        total -= t * math.log(p) + (1 - t) * math.log(1 - p)
    return total / Y.size


def test_softmax_cross_entropy_is_its_definition_and_its_gradient_is_softmax_minus_one_hot(rng):
    A = rng.standard_normal((2, 4, 3, 5)) * 3
    Y = rng.integers(0, 4, (2, 3, 5))
    E, dA = losses.softmax_cross_entropy(Y, A)
    # a sum of N = 30 pixel terms, each a few roundings of numbers of order |a| ≤ 15
    assert E == pytest.approx(softmax_ce_by_pixel(Y, A), rel=0, abs=30 * 64 * EPS64)
    p = np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)
    onehot = np.stack([Y == k for k in range(4)], axis=1)
    np.testing.assert_allclose(dA, (p - onehot) / Y.size, rtol=0, atol=16 * EPS64 / Y.size)
    assert_gradient(lambda a: losses.softmax_cross_entropy(Y, a)[0], A, dA)
    np.testing.assert_allclose(dA.sum(axis=1), 0, atol=16 * EPS64)  # each pixel's sum is 0


def test_pixel_bce_from_the_logit_is_its_definition_with_gradient_sigma_minus_y(rng):
    A = rng.standard_normal((3, 1, 4, 2)) * 3
    Y = rng.random((3, 4, 2))
    E, dA = losses.pixel_bce_logits(Y, A)
    assert E == pytest.approx(bce_by_pixel(Y, A), rel=0, abs=24 * 64 * EPS64)
    np.testing.assert_allclose(dA[:, 0], (1 / (1 + np.exp(-A[:, 0])) - Y) / Y.size,
                               rtol=16 * EPS64)
    assert_gradient(lambda a: losses.pixel_bce_logits(Y, a)[0], A, dA)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pixel_losses_stay_finite_for_huge_logits(dtype):
    A = np.array([[[[1000.0]], [[-1000.0]], [[0.0]]]], dtype=dtype)   # (1, 3, 1, 1)
    E, dA = losses.softmax_cross_entropy(np.array([[[1]]]), A)
    assert E == pytest.approx(2000.0) and np.all(np.isfinite(dA)) and dA.dtype == dtype
    E, dA = losses.pixel_bce_logits(np.array([[[0.0]]]), A[:, :1])
    assert E == pytest.approx(1000.0) and np.all(np.isfinite(dA))


@pytest.mark.parametrize("call, err, match", [
    (lambda: losses.softmax_cross_entropy(np.zeros((1, 2, 2), int), np.zeros((1, 1, 2, 2))),
     ValueError, "two or more classes"),
    (lambda: losses.softmax_cross_entropy(np.full((1, 2, 2), 3), np.zeros((1, 3, 2, 2))),
     ValueError, r"label 3, outside \[0, 3\)"),
    (lambda: losses.softmax_cross_entropy(np.full((1, 2, 2), -1), np.zeros((1, 3, 2, 2))),
     ValueError, "label -1"),
    (lambda: losses.softmax_cross_entropy(np.zeros((1, 2, 3), int), np.zeros((1, 3, 2, 2))),
     ValueError, r"shape \(1, 2, 2\)"),
    (lambda: losses.softmax_cross_entropy(np.zeros((1, 2, 2)), np.zeros((1, 3, 2, 2))),
     TypeError, "astype"),
    (lambda: losses.softmax_cross_entropy(np.zeros((1, 2, 2), int), np.zeros((1, 3, 2))),
     ValueError, r"\(B, K, H, W\)"),
    (lambda: losses.pixel_bce_logits(np.zeros((1, 2, 2)), np.zeros((1, 2, 2, 2))),
     ValueError, "one logit per pixel"),
    (lambda: losses.pixel_bce_logits(np.full((1, 2, 2), 2.0), np.zeros((1, 1, 2, 2))),
     ValueError, r"\[0, 1\]"),
    (lambda: losses.get_pixel_loss("softmax_ce", 1), ValueError, "two or more classes"),
    (lambda: losses.get_pixel_loss("bce_logits", 3), ValueError, "one logit per pixel"),
    (lambda: losses.get_pixel_loss("dice", 3), ValueError, "unknown segmentation loss"),
    (lambda: losses.get("softmax_ce"), ValueError, "ae.UNet"),
    (lambda: ae.Autoencoder(64, [8], loss="softmax_ce"), ValueError, "per-pixel loss"),
])
def test_bad_pixel_loss_inputs_are_refused_before_any_work(call, err, match):
    with pytest.raises(err, match=match):
        call()


# ---------------------------------------------------------------- metrics
def test_metrics_on_a_case_worked_by_hand():
    Y = np.array([[0, 1], [1, 2]])
    P = np.array([[0, 1], [2, 2]])
    # class 0: T = P = {0}; class 1: T = {1, 2}, P = {1}; class 2: T = {3}, P = {2, 3}
    np.testing.assert_array_equal(metrics.confusion_matrix(Y, P, 3),
                                  [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(metrics.iou(Y, P, 3), [1, 1 / 2, 1 / 2])
    np.testing.assert_allclose(metrics.dice(Y, P, 3), [1, 2 / 3, 2 / 3])
    assert metrics.mean_iou(Y, P, 3) == pytest.approx(2 / 3)
    assert metrics.mean_dice(Y, P, 3) == pytest.approx(7 / 9)
    assert metrics.pixel_accuracy(Y, P) == 0.75
    # a class in neither: NaN, left out of the means
    iou4 = metrics.iou(Y, P, 4)
    assert np.isnan(iou4[3]) and metrics.mean_iou(Y, P, 4) == pytest.approx(2 / 3)
    # a class in the truth never predicted: IoU 0, and it counts
    assert metrics.iou(Y, np.zeros_like(Y), 3)[2] == 0.0


def test_dice_is_two_iou_over_one_plus_iou_and_a_perfect_match_scores_one(rng):
    Y = rng.integers(0, 5, (3, 7, 7))
    P = np.where(rng.random(Y.shape) < 0.3, rng.integers(0, 5, Y.shape), Y)
    i, d = metrics.iou(Y, P, 5), metrics.dice(Y, P, 5)
    np.testing.assert_allclose(d, 2 * i / (1 + i), rtol=4 * EPS64)
    assert metrics.mean_iou(Y, Y, 5) == 1.0 and metrics.pixel_accuracy(Y, Y, 5) == 1.0


@pytest.mark.parametrize("call, err", [
    (lambda: metrics.iou(np.zeros((2, 2), int), np.zeros((2, 3), int), 2), ValueError),
    (lambda: metrics.iou(np.zeros((2, 2), int), np.full((2, 2), 2), 2), ValueError),
    (lambda: metrics.iou(np.zeros((2, 2)), np.zeros((2, 2), int), 2), TypeError),
    (lambda: metrics.mean_iou(np.zeros((0,), int), np.zeros((0,), int), 2), ValueError),
    (lambda: metrics.dice(np.zeros(2, int), np.zeros(2, int), 0), ValueError),
])
def test_metrics_refuse_bad_labels(call, err):
    with pytest.raises(err):
        call()


# ---------------------------------------------------------------- data
def test_make_segmentation_shapes_labels_and_seed():
    X, Y = ae.datasets.make_segmentation(n=40, canvas=24, max_digits=3, seed=5)
    assert X.shape == (40, 1, 24, 24) and X.dtype == np.float32
    assert Y.shape == (40, 24, 24) and Y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0 and set(np.unique(Y)) <= set(range(11))
    # a digit's pixel is one where its intensity exceeds 0.5, and what is drawn over it is
    # at least as bright (the brighter shows)
    assert np.all(X[:, 0][Y > 0] > 0.5)
    # every image has at least one digit, and the labels cover most of the bright pixels
    assert np.all((Y > 0).reshape(40, -1).any(axis=1))
    X2, Y2 = ae.datasets.make_segmentation(n=40, canvas=24, max_digits=3, seed=5)
    assert np.array_equal(X, X2) and np.array_equal(Y, Y2)
    X3, _ = ae.datasets.make_segmentation(n=40, canvas=24, max_digits=3, seed=6)
    assert not np.array_equal(X, X3)


def test_make_segmentation_takes_its_digits_from_the_split_asked_for(monkeypatch):
    """Training digits all 0.6, test digits all 0.9: every image shows its split's value."""
    from aenumpy import datasets

    def fake_digits(dtype="float32"):
        return (np.full((5, 64), 0.6), np.arange(5), np.full((4, 64), 0.9), np.arange(4))

    monkeypatch.setattr(datasets, "load_digits", fake_digits)
    for split, value in (("train", 0.6), ("test", 0.9)):
        X, Y = ae.datasets.make_segmentation(n=6, canvas=16, split=split, seed=0)
        assert set(np.unique(X)) == {0.0, np.float32(value)}
        assert set(np.unique(Y)) <= {0} | {1 + d for d in range(5)}


def test_clutter_is_background_and_its_fraction_is_as_asked():
    X0, Y0 = ae.datasets.make_segmentation(n=200, canvas=32, clutter=0.0, seed=1)
    X1, Y1 = ae.datasets.make_segmentation(n=200, canvas=32, clutter=1.0, seed=1)
    lit0 = ((X0[:, 0] > 0) & (Y0 == 0)).reshape(200, -1).sum(axis=1)
    lit1 = ((X1[:, 0] > 0) & (Y1 == 0)).reshape(200, -1).sum(axis=1)
    # without clutter, the background is lit only by the faint strokes of the digits
    assert lit1.mean() > 2 * lit0.mean()
    Xh, _ = ae.datasets.make_segmentation(n=400, canvas=32, clutter=0.5, seed=2)
    X_, _ = ae.datasets.make_segmentation(n=400, canvas=32, clutter=0.0, seed=2)
    assert Xh.shape == X_.shape


@pytest.mark.parametrize("kw, err", [
    ({"source": "cifar"}, ValueError), ({"canvas": 6}, ValueError), ({"clutter": 1.5}, ValueError),
    ({"split": "val"}, ValueError), ({"n": 0}, ValueError), ({"max_digits": 0}, ValueError),
    ({"canvas": 32.0}, TypeError), ({"dtype": "int8"}, ValueError),
])
def test_make_segmentation_refuses_bad_arguments(kw, err):
    with pytest.raises(err):
        ae.datasets.make_segmentation(**{"n": 4, **kw})


@pytest.mark.slow
def test_make_segmentation_from_mnist_with_fashion_clutter(shared_data):
    X, Y = ae.datasets.make_segmentation(n=20, source="mnist", canvas=56, clutter=1.0,
                                         split="test", seed=0, path=shared_data)
    assert X.shape == (20, 1, 56, 56) and Y.shape == (20, 56, 56)
    assert np.all(X[:, 0][Y > 0] > 0.5)
    assert ((X[:, 0] > 0.2) & (Y == 0)).sum() > 0


# ---------------------------------------------------------------- the figure
def test_plot_segmentation_draws_images_masks_and_iou_bars():
    X, Y = ae.datasets.make_segmentation(n=10, canvas=16, seed=0)
    P = Y.copy()
    P[:, :4] = 0
    fig = ae.plot.segmentation(X, Y, P, 11, n=4)
    assert len(fig.axes) == 3 * 4 + 1
    bars = fig.axes[-1]
    assert f"{metrics.mean_iou(Y, P, 11):.3f}" in bars.get_title()
    with pytest.raises(ValueError):
        ae.plot.segmentation(X, Y[:, :8], P, 11)
    with pytest.raises(TypeError):
        ae.plot.segmentation(X, Y.astype(float), P, 11)


# ---------------------------------------------------------------- targets other than the input
@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
def test_an_autoencoder_trained_toward_Y_compares_its_output_with_Y(fast, rng):
    X = rng.uniform(0.05, 0.95, (6, 64))
    T = rng.uniform(0.05, 0.95, (6, 64))
    with on_path(fast):
        m = ae.Autoencoder(64, [16], loss="mse", seed=0, dtype="float64")
    E, grads = m.loss_and_grads(X, Y=T)
    Xh = m.reconstruct(X)
    assert E == pytest.approx(0.5 * np.sum((T - Xh) ** 2) / 6, rel=64 * EPS64)
    assert m.loss(X, Y=T) == pytest.approx(E, rel=16 * EPS64)
    E0, _ = m.loss_and_grads(X)                  # without Y: as before, the input itself
    assert E0 == pytest.approx(0.5 * np.sum((X - Xh) ** 2) / 6, rel=64 * EPS64)
    assert_passes(ae.gradcheck(m, X, Y=T))


@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
def test_a_conv_autoencoder_and_a_vae_take_targets_too(fast, rng):
    X = rng.uniform(0.05, 0.95, (4, 64))
    T = rng.uniform(0.05, 0.95, (4, 64))
    L = ae.layers
    with on_path(fast):
        conv = ae.ConvAutoencoder([L.Conv2D(1, 2, 3, padding=1, activation="tanh")],
                                  [L.Conv2D(2, 1, 3, padding=1, activation="sigmoid")],
                                  input_shape=(1, 8, 8), loss="bce", seed=0, dtype="float64")
        vae = ae.VariationalAutoencoder(64, [8], n_latent=2, activation="tanh", seed=0,
                                        dtype="float64")
    assert_passes(ae.gradcheck(conv, X.reshape(4, 1, 8, 8), Y=T))
    assert_passes(ae.gradcheck(vae, X, Y=T))
    Xh = conv.reconstruct(X).astype(np.float64)
    bce = -np.sum(T * np.log(Xh) + (1 - T) * np.log(1 - Xh)) / 4
    assert conv.loss(X, Y=T) == pytest.approx(bce, rel=1e-9)


def test_fit_trains_toward_Y_and_checks_it(rng):
    X = rng.uniform(0.05, 0.95, (40, 64)).astype(np.float32)
    T = np.clip(X + 0.1, 0, 1)
    m = ae.Autoencoder(64, [16], seed=0)
    h = ae.fit(m, X, Y=T, X_val=X[:8], Y_val=T[:8], epochs=3, batch_size=8, progress=False)
    assert h["val_loss"][-1] == pytest.approx(m.loss(X[:8], Y=T[:8]), rel=1e-5)
    bad = [({"Y": T[:30]}, "one target per input"),
           ({"Y": T, "X_val": X[:8]}, "Y_val with X_val"),
           ({"Y_val": T[:8]}, "Y_val needs X_val"),
           ({"X_val": X[:8], "Y_val": T[:8]}, "same kind of targets"),
           ({"Y": T * 3}, r"\[0, 1\]")]
    for kw, match in bad:
        with pytest.raises(ValueError, match=match):
            ae.fit(m, X, epochs=1, progress=False, **kw)


# ---------------------------------------------------------------- the command
def test_train_unet_writes_the_segmentation_figure_and_the_mean_iou(tmp_path, capsys):
    import json

    from aenumpy import cli

    rc = cli.main(["train", "--model", "unet", "--epochs", "1", "--limit", "64", "--channels",
                   "4", "8", "--canvas", "16", "--quiet", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert {"segmentation.png", "metrics.json", "model.npz"} <= {p.name for p in tmp_path.iterdir()}
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["config"]["model_family"] == "unet" and m["config"]["model"]["skips"] is True
    assert 0.0 <= m["test_mean_iou"] <= 1.0 and len(m["test_iou_per_class"]) == 11
    assert "test mean IoU" in out
    net = ae.load(tmp_path / "model.npz")
    Xte, Yte = ae.datasets.make_segmentation(500, canvas=16, split="test", seed=1)
    assert m["test_mean_iou"] == pytest.approx(metrics.mean_iou(Yte, net.predict(Xte), 11))
    rc = cli.main(["train", "--model", "unet", "--no-skips", "--epochs", "1", "--limit", "32",
                   "--channels", "4", "8", "--canvas", "16", "--quiet", "--no-figures", "--out",
                   str(tmp_path / "plain")])
    assert rc == 0
    cfg = json.loads((tmp_path / "plain" / "metrics.json").read_text())["config"]["model"]
    assert cfg["skips"] is False


@pytest.mark.parametrize("argv", [
    ["train", "--model", "unet", "--hidden", "8"],
    ["train", "--model", "unet", "--gaussian-noise", "0.3"],
    ["train", "--model", "unet", "--activation", "tanh"],
    ["train", "--model", "unet", "--dataset", "fashion"],
    ["train", "--model", "unet", "--canvas", "30"],          # not a multiple of 4
    ["train", "--model", "unet", "--clutter", "2"],
    ["train", "--no-skips"],
    ["train", "--model", "conv", "--canvas", "32"],
    ["gradcheck", "--model", "unet"],
    ["trace", "--model", "unet"],
])
def test_bad_unet_options_give_one_line_and_exit_2(capsys, argv, tmp_path):
    from aenumpy import cli

    rc = cli.main(argv + (["--out", str(tmp_path), "--quiet", "--limit", "8"]
                          if argv[0] == "train" else []))
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "error" in err, err
