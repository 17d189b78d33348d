"""The convolutional layers of the teaching path: Conv2D, ConvTranspose2D, MaxPool2D,
Upsample2D, Flatten, Reshape.

Each forward is checked against its definition written as plain loops over output
pixels, each backward against finite differences (``check_layer``, float64, 1e-7)
and, when PyTorch is installed, against its autograd. Tolerances for a sum of K
products come from the arithmetic: rounding adds up to about ``√K·ε·Σ|terms|``
(ε of the dtype), so a result may be off by ``4·√K·ε`` times the sum of the absolute
values of its terms, which the loops compute alongside.
"""
import numpy as np
import pytest

import aenumpy.layers as L
from aenumpy import activations
from aenumpy.gradcheck import check_layer
from conftest import assert_passes

ACTS = ["identity", "relu", "sigmoid", "tanh"]


# ---------------------------------------------------------------- the definitions as loops
def pixel_sums(shape, b, terms):
    """``A[n, o, y, x] = b[o] + Σ w·v`` over the pairs ``(w, v)`` that ``terms(n, o, y, x)``
    yields, output pixel by output pixel; also the sums of absolute values (the scale of
    the rounding error) and the largest number of terms in one sum."""
    A, mag, K = np.zeros(shape), np.zeros(shape), 1
    for n, o, y, x in np.ndindex(*shape):
        t = [float(w) * float(v) for w, v in terms(n, o, y, x)] + [float(b[o])]
        A[n, o, y, x], mag[n, o, y, x], K = sum(t), sum(map(abs, t)), max(K, len(t))
    return A, mag, K


def conv2d_loops(X, W, b, s, p):
    """``A[n, o, y, x] = b[o] + Σ_(c,i,j) W[o, c, i, j] · X[n, c, y·s + i − p, x·s + j − p]``,
    the terms outside the image being the zero padding."""
    N, C, H, Wd = X.shape
    O, _, k, _ = W.shape

    def terms(n, o, y, x):
        for c, i, j in np.ndindex(C, k, k):
            yy, xx = y * s + i - p, x * s + j - p
            if 0 <= yy < H and 0 <= xx < Wd:
                yield W[o, c, i, j], X[n, c, yy, xx]

    return pixel_sums((N, O, (H + 2 * p - k) // s + 1, (Wd + 2 * p - k) // s + 1), b, terms)


def conv_transpose2d_loops(X, W, b, s, p, op):
    """``A[n, o, y, x] = b[o] + Σ X[n, c, yy, xx] · W[c, o, i, j]`` over the input pixels
    ``(yy, xx)`` and taps ``(i, j)`` with ``yy·s + i − p = y`` and ``xx·s + j − p = x``: the
    input pixels whose stamp of the kernel covers output pixel (y, x)."""
    N, C, H, Wd = X.shape
    _, O, k, _ = W.shape

    def terms(n, o, y, x):
        for c, i, j in np.ndindex(C, k, k):
            (yy, ry), (xx, rx) = divmod(y + p - i, s), divmod(x + p - j, s)
            if ry == rx == 0 and 0 <= yy < H and 0 <= xx < Wd:
                yield W[c, o, i, j], X[n, c, yy, xx]

    shape = (N, O, (H - 1) * s - 2 * p + k + op, (Wd - 1) * s - 2 * p + k + op)
    return pixel_sums(shape, b, terms)


def maxpool_loops(X, size):
    N, C, H, Wd = X.shape
    Z = np.zeros((N, C, H // size, Wd // size), X.dtype)
    for n in range(N):
        for c in range(C):
            for y in range(H // size):
                for x in range(Wd // size):
                    Z[n, c, y, x] = max(X[n, c, y * size + i, x * size + j]
                                        for i in range(size) for j in range(size))
    return Z


def upsample_loops(X, scale):
    N, C, H, Wd = X.shape
    Z = np.zeros((N, C, H * scale, Wd * scale), X.dtype)
    for y in range(H * scale):
        for x in range(Wd * scale):
            Z[:, :, y, x] = X[:, :, y // scale, x // scale]
    return Z


def assert_sums_close(got, want, mag, n_terms, dtype, what=""):
    """``|got − want| ≤ 4·√K·ε·mag`` entrywise: ``mag`` the sum of the absolute values of
    the K terms behind each entry, ε that of ``dtype``."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    tol = 4 * np.sqrt(n_terms) * np.finfo(dtype).eps * np.asarray(mag) + np.finfo(dtype).tiny
    err = np.abs(got - want)
    assert np.all(err <= tol), (f"{what}: {(err > tol).sum()} of {err.size} entries off, the "
                                f"worst {np.max(err / tol):.3g} times its tolerance")


def away_from_the_kink(layer, shape, seed):
    """A uniform(−1, 1) input whose pre-activations all lie at least 1e-3 from ReLU's kink
    (redrawn, seed after seed, until they do): the finite differences of ``check_layer``
    move a pre-activation by up to ``2h·Σ|∂A/∂θ|`` (h = 1e-4), and a stencil that straddles
    the kink measures neither slope. Other activations take the first draw."""
    for attempt in range(100):
        X = np.random.default_rng(seed + 1000 * attempt).uniform(-1, 1, shape)
        layer.forward(X)
        if layer.activation.name != "relu" or np.abs(layer.cache["A"]).min() > 1e-3:
            return X
    raise AssertionError(f"no draw of {shape} keeps {layer!r} away from the kink: use fewer pixels")


def weights(layer, seed):
    """Draw W and b again, spread beyond the init's ±1/√fan_in so every term matters."""
    rng = np.random.default_rng(seed)
    for k, v in layer.params.items():
        layer.params[k] = rng.uniform(-1, 1, v.shape).astype(v.dtype)
    return layer


# ---------------------------------------------------------------- forward = the loops
CONV_CASES = [  # c_in, c_out, k, stride, padding, H, W
    (1, 1, 3, 1, 0, 5, 5),
    (1, 3, 3, 1, 1, 7, 5),
    (2, 3, 3, 2, 1, 7, 5),
    (3, 2, 2, 3, 2, 7, 5),
    (2, 2, 1, 1, 0, 4, 3),
    (3, 4, 5, 2, 2, 7, 6),
    (2, 3, 3, 3, 0, 7, 5),
    (2, 1, 4, 2, 1, 5, 7),
]
CONVT_CASES = [  # c_in, c_out, k, stride, padding, output_padding, H, W
    (1, 1, 3, 1, 0, 0, 3, 3),
    (1, 3, 3, 2, 1, 1, 4, 3),
    (2, 3, 3, 2, 1, 0, 3, 5),
    (3, 2, 2, 3, 2, 2, 4, 3),
    (2, 2, 1, 1, 0, 0, 4, 3),
    (3, 4, 5, 2, 2, 1, 3, 4),
    (2, 1, 4, 3, 0, 1, 3, 2),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_forward_is_the_loop_formula(case, dtype):
    c_in, c_out, k, s, p, H, W = case
    layer = weights(L.Conv2D(c_in, c_out, k, s, p, activation="tanh", dtype=dtype), 1)
    X = np.random.default_rng(2).uniform(-1, 1, (2, c_in, H, W)).astype(dtype)
    Z = layer.forward(X)
    A, mag, K = conv2d_loops(X, layer.params["W"], layer.params["b"], s, p)
    assert Z.dtype == np.dtype(dtype) and Z.shape == A.shape == (2, *layer.output_shape(X.shape[1:]))
    assert_sums_close(layer.cache["A"], A, mag, K, dtype, "A")
    # Z = tanh(A): |tanh'| ≤ 1 carries A's error, plus one rounding of tanh itself
    assert_sums_close(Z, np.tanh(A), mag + np.abs(np.tanh(A)), K + 1, dtype, "Z")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_forward_is_the_loop_formula(case, dtype):
    c_in, c_out, k, s, p, op, H, W = case
    layer = weights(L.ConvTranspose2D(c_in, c_out, k, s, p, op, activation="identity",
                                      dtype=dtype), 3)
    X = np.random.default_rng(4).uniform(-1, 1, (2, c_in, H, W)).astype(dtype)
    Z = layer.forward(X)
    A, mag, K = conv_transpose2d_loops(X, layer.params["W"], layer.params["b"], s, p, op)
    assert Z.dtype == np.dtype(dtype) and Z.shape == A.shape == (2, *layer.output_shape(X.shape[1:]))
    assert_sums_close(Z, A, mag, K, dtype, "Z")


@pytest.mark.parametrize("size", [2, 3])
def test_maxpool_and_upsample_forward_are_the_loop_formulas(size):
    X = np.random.default_rng(5).standard_normal((2, 3, 7, 5))
    np.testing.assert_array_equal(L.MaxPool2D(size).forward(X), maxpool_loops(X, size))
    np.testing.assert_array_equal(L.Upsample2D(size).forward(X), upsample_loops(X, size))


def test_the_docstrings_hand_examples():
    ones = np.ones((1, 1, 3, 3))
    conv = L.Conv2D(1, 1, 3, activation="identity", dtype="float64")
    conv.params["W"][:] = 1
    conv.params["b"][:] = 0
    assert conv.forward(ones).ravel().tolist() == [9.0]
    conv.padding = 1
    np.testing.assert_array_equal(conv.forward(ones)[0, 0], [[4, 6, 4], [6, 9, 6], [4, 6, 4]])
    one = L.Conv2D(1, 1, 1, activation="identity", dtype="float64")
    one.params["W"][:], one.params["b"][:] = 1, 0
    X = np.random.default_rng(0).random((2, 1, 4, 5))
    np.testing.assert_array_equal(one.forward(X), X)
    t = L.ConvTranspose2D(1, 1, 3, activation="identity", dtype="float64")
    t.params["b"][:] = 0
    np.testing.assert_array_equal(t.forward(np.ones((1, 1, 1, 1)))[0, 0], t.params["W"][0, 0])
    pool = L.MaxPool2D(2)
    assert pool.forward(np.array([[[[1.0, 3.0], [3.0, 2.0]]]])).item() == 3.0
    np.testing.assert_array_equal(pool.backward(np.array([[[[5.0]]]]))[0, 0], [[0, 5], [0, 0]])
    up = L.Upsample2D(2)
    np.testing.assert_array_equal(up.forward(np.array([[[[1.0, 2.0]]]]))[0, 0],
                                  [[1, 1, 2, 2], [1, 1, 2, 2]])
    np.testing.assert_array_equal(up.backward(np.ones((1, 1, 2, 4))), [[[[4.0, 4.0]]]])


# ---------------------------------------------------------------- backward: finite differences
def conv_passes_check_layer(cls, case, act, seed):
    """``check_layer`` on a float64 ``cls(*case[:-2])`` (a Conv2D's or ConvTranspose2D's
    arguments, then H and W) over a batch of two kept away from ReLU's kink."""
    layer = cls(*case[:-2], activation=act, rng=np.random.default_rng(seed), dtype="float64")
    X = away_from_the_kink(layer, (2, case[0], *case[-2:]), seed + 1)
    assert_passes(check_layer(layer, X, max_entries=60))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_passes_check_layer(case, act):
    conv_passes_check_layer(L.Conv2D, case, act, 6)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_passes_check_layer(case, act):
    conv_passes_check_layer(L.ConvTranspose2D, case, act, 8)


@pytest.mark.parametrize("layer", [L.MaxPool2D(2), L.MaxPool2D(3), L.Upsample2D(2),
                                   L.Upsample2D(3), L.Flatten()], ids=repr)
@pytest.mark.parametrize("channels", [1, 3])
def test_pool_upsample_flatten_pass_check_layer(layer, channels):
    X = np.random.default_rng(10).standard_normal((2, channels, 7, 5))
    assert_passes(check_layer(layer, X, max_entries=70))


def test_reshape_passes_check_layer():
    X = np.random.default_rng(11).standard_normal((3, 24))
    layer = L.Reshape((2, 3, 4))
    assert layer.shape == (2, 3, 4)
    assert layer.forward(X).shape == (3, 2, 3, 4)
    assert_passes(check_layer(layer, X))
    np.testing.assert_array_equal(L.Flatten().forward(layer.forward(X)), X)


def test_backward_without_dX_gives_the_same_grads(rng):
    X = rng.standard_normal((2, 2, 7, 5))
    for make in (lambda: L.Conv2D(2, 3, 3, 2, 1, "sigmoid", dtype="float64"),
                 lambda: L.ConvTranspose2D(2, 3, 3, 2, 1, 1, "sigmoid", dtype="float64")):
        a, b = make(), make()
        dY = rng.standard_normal(a.forward(X).shape)
        b.forward(X)
        b.needs_dX = False                    # a model's first layer: its input is the data
        assert a.backward(dY).shape == X.shape
        assert b.backward(dY) is None
        for k in a.grads:
            np.testing.assert_array_equal(a.grads[k], b.grads[k])


def test_the_caches_hold_what_the_docstrings_say(rng):
    X = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    conv = L.Conv2D(2, 3, 3, padding=1)
    Z = conv.forward(X)
    assert set(conv.cache) == {"X", "cols", "A", "Z"}
    assert conv.cache["cols"].shape == (2, 2 * 9, 36) and conv.cache["cols"].dtype == np.float32
    conv.backward(np.ones_like(Z))
    assert set(conv.cache) == {"X", "cols", "A", "Z", "dZ", "dA", "dX"}
    assert {k: v.dtype for k, v in conv.grads.items()} == {"W": np.float32, "b": np.float32}
    t = L.ConvTranspose2D(2, 3, 3, 2, 1, 1)
    t.backward(np.ones_like(t.forward(X)))
    assert set(t.cache) == {"X", "A", "Z", "dZ", "dA", "dcols", "dX"}


# ---------------------------------------------------------------- a broken backward is caught
def _fails(layer, X):
    report = check_layer(layer, X)
    assert not report.ok, str(report)
    return report


def test_a_convolution_in_place_of_the_cross_correlation_is_caught(monkeypatch, rng):
    """The classic slip: the input gradient with the kernel not flipped back."""
    X = rng.standard_normal((2, 2, 6, 5))
    layer = L.Conv2D(2, 3, 3, 1, 1, "identity", rng=rng, dtype="float64")
    assert check_layer(layer, X).ok
    good = L.conv2d_input_grad
    monkeypatch.setattr(L, "conv2d_input_grad",
                        lambda dA, W, *a: good(dA, W[:, :, ::-1, ::-1], *a))
    assert _fails(layer, X)["X"]["failed"] > 0


def test_a_dropped_activation_derivative_is_caught(monkeypatch, rng):
    X = rng.standard_normal((2, 2, 6, 5))
    for layer in (L.Conv2D(2, 3, 3, 2, 1, "sigmoid", rng=rng, dtype="float64"),
                  L.ConvTranspose2D(2, 3, 3, 2, 1, 1, "sigmoid", rng=rng, dtype="float64")):
        monkeypatch.setattr(layer.activation, "grad", lambda a, z: np.ones_like(z))
        report = _fails(layer, X)
        assert all(r["failed"] > 0 for r in report.rows)


def test_a_transposed_weight_gradient_is_caught(monkeypatch, rng):
    X = rng.standard_normal((2, 2, 6, 5))
    good = L.conv2d_weight_grad
    monkeypatch.setattr(L, "conv2d_weight_grad",
                        lambda *a: good(*a).transpose(0, 1, 3, 2))
    for layer in (L.Conv2D(2, 3, 3, 1, 1, "tanh", rng=rng, dtype="float64"),
                  L.ConvTranspose2D(2, 3, 3, 2, 1, 1, "tanh", rng=rng, dtype="float64")):
        assert _fails(layer, X)["W"]["failed"] > 0


def test_a_transposed_convolution_with_a_wrong_backward_is_caught(monkeypatch, rng):
    X = rng.standard_normal((2, 2, 4, 3))
    layer = L.ConvTranspose2D(2, 3, 3, 2, 1, 1, "identity", rng=rng, dtype="float64")
    good = L.weights_times_cols
    monkeypatch.setattr(L, "weights_times_cols", lambda W, *a: good(W[:, :, ::-1, ::-1], *a))
    assert _fails(layer, X)["X"]["failed"] > 0


def test_pooling_and_upsampling_with_a_wrong_backward_are_caught(rng):
    class TopLeft(L.MaxPool2D):  # every window's gradient to its top-left cell
        def backward(self, dZ):
            self.cache["argmax"] = np.zeros_like(self.cache["argmax"])
            return super().backward(dZ)

    class Mean(L.Upsample2D):  # the block mean instead of the block sum
        def backward(self, dZ):
            return super().backward(dZ) / self.scale ** 2

    X = rng.standard_normal((2, 2, 6, 4))
    _fails(TopLeft(2), X)
    _fails(Mean(2), X)


# ---------------------------------------------------------------- max pooling: ties
def test_maxpool_ties_send_the_gradient_to_the_first_maximum():
    X = np.zeros((1, 2, 4, 4))
    X[0, 0, :2, :2] = 7.0                        # four equal values: the first, (0, 0), wins
    X[0, 0, 2:, 2:] = [[1.0, 5.0], [5.0, 5.0]]   # three tie for 5: the first is (0, 1)
    X[0, 1] = 3.0                                # every window of channel 1 ties
    pool = L.MaxPool2D(2)
    Z = pool.forward(X)
    dZ = np.arange(1.0, 9.0).reshape(1, 2, 2, 2)
    dX = pool.backward(dZ)
    np.testing.assert_array_equal(Z[0, 0], [[7, 0], [0, 5]])
    assert dX[0, 0, 0, 0] == 1.0 and dX[0, 0, 2, 3] == 4.0
    np.testing.assert_array_equal(dX[0, 1, ::2, ::2], dZ[0, 1])  # each window's first cell
    assert dX[0, 0].sum() == dZ[0, 0].sum() and np.count_nonzero(dX) == 8


def test_maxpool_drops_the_odd_edge(rng):
    X = rng.standard_normal((2, 1, 5, 7))
    pool = L.MaxPool2D(2)
    assert pool.forward(X).shape == (2, 1, 2, 3)
    dX = pool.backward(np.ones((2, 1, 2, 3)))
    assert not dX[:, :, 4, :].any() and not dX[:, :, :, 6].any()
    assert dX.sum() == 12


# ---------------------------------------------------------------- shapes and initialisation
def test_output_shapes_of_the_benchmark_networks():
    conv = [L.Conv2D(1, 16, 3, padding=1), L.MaxPool2D(2), L.Conv2D(16, 8, 3, padding=1),
            L.MaxPool2D(2), L.Upsample2D(2), L.Conv2D(8, 16, 3, padding=1), L.Upsample2D(2),
            L.Conv2D(16, 1, 3, padding=1, activation="sigmoid")]
    convt = [L.Conv2D(1, 16, 3, 2, 1), L.Conv2D(16, 8, 3, 2, 1),
             L.ConvTranspose2D(8, 16, 3, 2, 1, 1), L.ConvTranspose2D(16, 1, 3, 2, 1, 1, "sigmoid")]
    for net, code in ((conv, (8, 7, 7)), (convt, (8, 7, 7))):
        shape, shapes = (1, 28, 28), []
        for layer in net:
            shape = layer.output_shape(shape)
            shapes.append(shape)
        assert shape == (1, 28, 28) and code in shapes
        X = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
        for layer, want in zip(net, shapes):
            X = layer.forward(X)
            assert X.shape == (3, *want) and X.dtype == np.float32
    assert L.Flatten().output_shape((8, 7, 7)) == (392,)
    assert L.Reshape((8, 7, 7)).output_shape((392,)) == (8, 7, 7)


def test_init_is_pytorchs_default_and_seeded():
    for make, fan_in in ((lambda r: L.Conv2D(16, 32, 3, rng=r), 16 * 9),
                         (lambda r: L.ConvTranspose2D(8, 16, 3, rng=r), 16 * 9),
                         (lambda r: L.ConvTranspose2D(32, 4, 5, rng=r), 4 * 25)):
        a, b = make(np.random.default_rng(3)), make(np.random.default_rng(3))
        bound = 1 / np.sqrt(fan_in)
        for k in ("W", "b"):
            np.testing.assert_array_equal(a.params[k], b.params[k])
            assert a.params[k].dtype == np.float32
            assert np.abs(a.params[k]).max() <= bound
        W = a.params["W"]
        # U(±r) fills its interval: over ≥ 1600 draws the extremes come within 2 % of r
        assert W.max() > 0.98 * bound and W.min() < -0.98 * bound
        assert abs(W.std() - bound / np.sqrt(3)) < 0.1 * bound / np.sqrt(3)
        c = make(np.random.default_rng(4))
        assert not np.array_equal(a.params["W"], c.params["W"])
        c.init_params(np.random.default_rng(3))
        np.testing.assert_array_equal(a.params["W"], c.params["W"])


def test_layers_expose_their_settings():
    conv = L.Conv2D(2, 3, 5, stride=2, padding=1, activation="tanh")
    assert (conv.c_in, conv.c_out, conv.kernel_size, conv.stride, conv.padding) == (2, 3, 5, 2, 1)
    assert isinstance(conv.activation, activations.Activation) and conv.activation.name == "tanh"
    assert conv.params["W"].shape == (3, 2, 5, 5) and conv.params["b"].shape == (3,)
    t = L.ConvTranspose2D(2, 3, 5, 2, 1, 1)
    assert t.params["W"].shape == (2, 3, 5, 5) and t.output_padding == 1
    assert t.activation.name == "relu"
    for layer in (L.MaxPool2D(2), L.Upsample2D(2), L.Flatten(), L.Reshape((1, 2))):
        assert layer.params == {} and layer.grads == {}


# ---------------------------------------------------------------- bad inputs
def _raises(match, fn, *args, **kw):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kw)


def test_bad_images_are_refused_before_any_work():
    conv = L.Conv2D(3, 4, 3, padding=1)
    conv.cache = {"sentinel": 1}
    _raises(r"\(B, C, H, W\).*got shape \(3, 8, 8\).*X\[None\]", conv.forward,
            np.zeros((3, 8, 8), np.float32))
    _raises(r"expected 3 input channels.*got 2", conv.forward, np.zeros((1, 2, 8, 8), np.float32))
    _raises("empty batch", conv.forward, np.zeros((0, 3, 8, 8), np.float32))
    _raises(r"5×5 kernel is larger than the padded input 4×6 \(input 2×4, padding 1\)",
            L.Conv2D(3, 1, 5, padding=1).forward, np.zeros((1, 3, 2, 4), np.float32))
    assert conv.cache == {"sentinel": 1}
    with pytest.raises(TypeError, match="float"):
        conv.forward(np.zeros((1, 3, 8, 8), np.uint8))
    _raises("expected 1 input channel ", L.ConvTranspose2D(1, 2, 3).forward,
            np.zeros((1, 4, 5, 5)))
    _raises("crops the whole output", L.ConvTranspose2D(1, 1, 1, padding=1).forward,
            np.zeros((1, 1, 1, 1)))
    _raises(r"2×1 image is smaller than one 2×2 pooling window", L.MaxPool2D(2).forward,
            np.zeros((1, 1, 2, 1)))
    _raises(r"\(B, C, H, W\)", L.Upsample2D(2).forward, np.zeros((4, 4)))
    _raises(r"\(B, C, H, W\)", L.Flatten().forward, np.zeros((4, 4)))


def test_bad_settings_are_refused_when_the_layer_is_built():
    _raises(r"output_padding must be smaller than the stride \(2\), got 2",
            L.ConvTranspose2D, 1, 1, 3, stride=2, output_padding=2)
    _raises("output_padding must be smaller than the stride", L.ConvTranspose2D, 1, 1, 3,
            output_padding=1)
    _raises("c_in must be >= 1, got 0", L.Conv2D, 0, 1, 3)
    _raises("c_out must be >= 1, got 0", L.ConvTranspose2D, 1, 0, 3)
    _raises("kernel_size must be >= 1, got 0", L.Conv2D, 1, 1, 0)
    _raises("stride must be >= 1, got 0", L.Conv2D, 1, 1, 3, stride=0)
    _raises("padding must be >= 0, got -1", L.Conv2D, 1, 1, 3, padding=-1)
    _raises("size must be >= 1, got 0", L.MaxPool2D, 0)
    _raises("scale must be >= 1, got -2", L.Upsample2D, -2)
    _raises("size must be >= 1, got 0", L.Reshape, (3, 0))
    _raises("unknown activation", L.Conv2D, 1, 1, 3, activation="softmax")


def test_a_reshape_whose_size_does_not_match_is_refused():
    layer = L.Reshape((8, 7, 7))
    _raises(r"cannot reshape a sample of shape \(390,\) \(390 numbers\) to \(8, 7, 7\) \(392 numbers\)",
            layer.forward, np.zeros((2, 390)))
    _raises("cannot reshape", layer.output_shape, (8, 7, 6))


# ---------------------------------------------------------------- against PyTorch
def _torch_grads(fn, inputs, dY):
    """Autograd of ``Σ fn(*inputs) ⊙ dY`` with respect to every input (float64)."""
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in inputs]
    out = fn(*ts)
    out.backward(torch.tensor(dY))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _torch_magnitudes(fn, inputs, dA):
    """The sums of absolute values behind the forward and each gradient: the same sums
    with every factor replaced by its absolute value (the bias gradient sums |dA| alone)."""
    return _torch_grads(fn, [np.abs(a) for a in inputs], np.abs(dA))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(case, act):
    F = pytest.importorskip("torch.nn.functional")
    c_in, c_out, k, s, p, H, W = case
    rng = np.random.default_rng(12)
    layer = weights(L.Conv2D(c_in, c_out, k, s, p, act, dtype="float64"), 13)
    X = rng.uniform(-1, 1, (3, c_in, H, W))
    Z = layer.forward(X)
    dZ = rng.standard_normal(Z.shape)
    dX = layer.backward(dZ)
    dA = layer.cache["dA"]
    Wt, bt = layer.params["W"], layer.params["b"]
    conv = lambda x, w, b: F.conv2d(x, w, b, s, p)  # noqa: E731
    A_ref, (dX_ref, dW_ref, db_ref) = _torch_grads(conv, [X, Wt, bt], dA)
    mag, (mdX, mdW, mdb) = _torch_magnitudes(conv, [X, Wt, bt], dA)
    K = c_in * k * k + 1
    assert_sums_close(layer.cache["A"], A_ref, mag, K, np.float64, "A")
    assert_sums_close(dX, dX_ref, mdX, c_out * k * k, np.float64, "dX")
    n = 3 * Z.shape[2] * Z.shape[3]
    assert_sums_close(layer.grads["W"], dW_ref, mdW, n, np.float64, "dW")
    assert_sums_close(layer.grads["b"], db_ref, mdb, n, np.float64, "db")


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_matches_torch(case, act):
    F = pytest.importorskip("torch.nn.functional")
    c_in, c_out, k, s, p, op, H, W = case
    rng = np.random.default_rng(14)
    layer = weights(L.ConvTranspose2D(c_in, c_out, k, s, p, op, act, dtype="float64"), 15)
    X = rng.uniform(-1, 1, (3, c_in, H, W))
    Z = layer.forward(X)
    dZ = rng.standard_normal(Z.shape)
    dX = layer.backward(dZ)
    dA = layer.cache["dA"]
    convt = lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op)  # noqa: E731
    inputs = [X, layer.params["W"], layer.params["b"]]
    A_ref, (dX_ref, dW_ref, db_ref) = _torch_grads(convt, inputs, dA)
    mag, (mdX, mdW, mdb) = _torch_magnitudes(convt, inputs, dA)
    assert_sums_close(layer.cache["A"], A_ref, mag, c_in * k * k + 1, np.float64, "A")
    assert_sums_close(dX, dX_ref, mdX, c_out * k * k, np.float64, "dX")
    n = 3 * H * W
    assert_sums_close(layer.grads["W"], dW_ref, mdW, n, np.float64, "dW")
    n = 3 * Z.shape[2] * Z.shape[3]
    assert_sums_close(layer.grads["b"], db_ref, mdb, n, np.float64, "db")


@pytest.mark.parametrize("shape", [(2, 1, 6, 6), (3, 4, 7, 5), (2, 3, 9, 11)])
def test_pooling_and_upsampling_match_torch(shape):
    F = pytest.importorskip("torch.nn.functional")
    rng = np.random.default_rng(16)
    X = rng.standard_normal(shape)  # continuous draws: no ties
    for layer, fn in ((L.MaxPool2D(2), lambda x: F.max_pool2d(x, 2)),
                      (L.MaxPool2D(3), lambda x: F.max_pool2d(x, 3)),
                      (L.Upsample2D(2), lambda x: F.interpolate(x, scale_factor=2, mode="nearest")),
                      (L.Upsample2D(3), lambda x: F.interpolate(x, scale_factor=3, mode="nearest"))):
        Z = layer.forward(X)
        dZ = rng.standard_normal(Z.shape)
        Z_ref, (dX_ref,) = _torch_grads(fn, [X], dZ)
        np.testing.assert_array_equal(Z, Z_ref)
        # max pooling moves each gradient unchanged; upsampling adds scale² of them
        n = getattr(layer, "scale", 1) ** 2
        _, (mag,) = _torch_grads(fn, [X], np.abs(dZ))
        assert_sums_close(layer.backward(dZ), dX_ref, mag, n, np.float64, repr(layer))
