"""The speed backend's convolution layers agree with the teaching layers they stand in for.

Each fast layer is compared with its teaching layer (forward, the cached A, dX and the
gradients) in float64 and in float32. Both sides round, in different orders, so an
entry that sums K products may differ by twice the rounding bound of one side,
``2 · 4·√K·ε·Σ|terms|`` (see ``test_conv_layers.assert_sums_close``); the sums of
absolute values come from the teaching layer run on absolute values. In float64 each
fast layer also passes ``check_layer`` at 1e-7.
"""
import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import aenumpy.layers as L
from aenumpy import activations
from aenumpy.fast.conv import FastConv2D, FastConvTranspose2D
from aenumpy.fast.pool import FastMaxPool2D, FastUpsample2D
from aenumpy.gradcheck import check_layer
from conftest import assert_passes
import test_conv_layers as T
from test_conv_layers import assert_sums_close

ACTS = ["identity", "relu", "sigmoid", "tanh"]
SMALL_CONV, SMALL_CONVT = T.CONV_CASES, T.CONVT_CASES
CONV_CASES = [  # c_in, c_out, k, stride, padding, H, W: the benchmark's, then small ones
    (1, 16, 3, 1, 1, 28, 28), (16, 8, 3, 1, 1, 14, 14), (8, 16, 3, 1, 1, 14, 14),
    (16, 1, 3, 1, 1, 28, 28), (1, 16, 3, 2, 1, 28, 28), (16, 8, 3, 2, 1, 14, 14),
] + SMALL_CONV
CONVT_CASES = [  # c_in, c_out, k, stride, padding, output_padding, H, W
    (8, 16, 3, 2, 1, 1, 7, 7), (16, 1, 3, 2, 1, 1, 14, 14),
] + SMALL_CONVT


def pair(fast_cls, teach_cls, args, act, dtype, seed):
    """A fast layer and a teaching layer with the same weights (W, b ~ U(±1))."""
    rng = np.random.default_rng(seed)
    fast = fast_cls(*args, activation=act, dtype=dtype)
    teach = teach_cls(*args, activation=act, dtype=dtype)
    for k, v in fast.params.items():
        fast.params[k] = teach.params[k] = rng.uniform(-1, 1, v.shape).astype(dtype)
    return fast, teach


def magnitudes(teach_cls, args, teach, X, G):
    """The teaching layer run on absolute values (|W|, |b|, |X|, the identity, the upstream
    gradient |G|): its A, dX and grads are the sums of absolute values behind each entry."""
    twin = teach_cls(*args, activation="identity", dtype="float64")
    twin.params = {k: np.abs(v).astype(np.float64) for k, v in teach.params.items()}
    twin.forward(np.abs(X).astype(np.float64))
    twin.backward(np.abs(G).astype(np.float64))
    return twin


def compare(fast_cls, teach_cls, args, act, dtype, shape, k_fwd, k_dx, k_dw):
    """Forward (A and Z), then dA, dX and the grads of the two layers on the same batch,
    with K terms per entry of A, dX and dW (db sums as many as dW). The backward passes
    start from the same cache (the fast layer's A and Z), so that each sum is compared on
    the same inputs and a rounding difference in Z does not travel on."""
    fast, teach = pair(fast_cls, teach_cls, args, act, dtype, 1)
    X = np.random.default_rng(2).uniform(-1, 1, shape).astype(dtype)
    Z, Zf = teach.forward(X), fast.forward(X)
    dZ = np.random.default_rng(3).standard_normal(Z.shape).astype(dtype)
    mag = magnitudes(teach_cls, args, teach, X, dZ)
    both = 2  # both sides round
    assert Zf.dtype == Z.dtype == np.dtype(dtype)
    assert_sums_close(fast.cache["A"], teach.cache["A"], both * mag.cache["A"], k_fwd, dtype, "A")
    # Z = f(A): |f'| ≤ 1 carries A's error, plus a rounding or two of f itself
    assert_sums_close(Zf, Z, both * (mag.cache["A"] + np.abs(Z)), k_fwd + 2, dtype, "Z")
    teach.cache.update(A=fast.cache["A"], Z=Zf)
    dX, dXf = teach.backward(dZ), fast.backward(dZ)
    dA = teach.cache["dA"]
    assert dXf.dtype == np.dtype(dtype)
    # dA = dZ ⊙ f'(A) is off by a few ε·|dZ|, not ε·|dA|: f' = 1 − z² (or z(1 − z)) cancels
    # where the activation saturates. Every sum of dA inherits that, so the scales of the
    # sums below take |dZ| (≥ |dA|, as |f'| ≤ 1) in place of |dA|, and 4 more terms.
    assert_sums_close(fast.cache["dA"], dA, both * np.abs(dZ), 4, dtype, "dA")
    assert_sums_close(dXf, dX, both * mag.cache["dX"], k_dx + 4, dtype, "dX")
    assert_sums_close(fast.grads["W"], teach.grads["W"], both * mag.grads["W"], k_dw + 4, dtype,
                      "dW")
    assert_sums_close(fast.grads["b"], teach.grads["b"], both * mag.grads["b"], k_dw + 4, dtype,
                      "db")
    assert {k: v.dtype for k, v in fast.grads.items()} == {"W": np.dtype(dtype), "b": np.dtype(dtype)}
    return fast, teach


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", CONV_CASES)
def test_fast_conv2d_agrees_with_the_teaching_layer(case, act, dtype):
    c_in, c_out, k, s, p, H, W = case
    args = (c_in, c_out, k, s, p)
    Ho, Wo = L.conv_output_size(H, k, s, p), L.conv_output_size(W, k, s, p)
    fast, _ = compare(FastConv2D, L.Conv2D, args, act, dtype, (3, c_in, H, W),
                      c_in * k * k + 1, c_out * k * k, 3 * Ho * Wo)
    assert set(fast.cache) == {"X", "A", "Z", "dZ", "dA", "dX"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", CONVT_CASES)
def test_fast_conv_transpose2d_agrees_with_the_teaching_layer(case, act, dtype):
    c_in, c_out, k, s, p, op, H, W = case
    args = (c_in, c_out, k, s, p, op)
    Ho, Wo = (H - 1) * s - 2 * p + k + op, (W - 1) * s - 2 * p + k + op
    fast, _ = compare(FastConvTranspose2D, L.ConvTranspose2D, args, act, dtype,
                      (3, c_in, H, W), c_in * k * k + 1, c_out * k * k, 3 * max(H * W, Ho * Wo))
    assert set(fast.cache) == {"X", "A", "Z", "dZ", "dA", "dX"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(3, 16, 28, 28), (2, 1, 7, 5), (2, 3, 9, 11), (1, 2, 2, 3)])
@pytest.mark.parametrize("size", [2, 3])
def test_fast_pool_and_upsample_agree_with_the_teaching_layers(size, shape, dtype):
    rng = np.random.default_rng(4)
    X = rng.standard_normal(shape).astype(dtype)
    X[0, 0, :size, :size] = 1.5  # one window of ties
    if min(shape[2:]) >= size:
        fast, teach = FastMaxPool2D(size), L.MaxPool2D(size)
        Z = teach.forward(X)
        np.testing.assert_array_equal(fast.forward(X), Z)
        np.testing.assert_array_equal(fast.cache["argmax"], teach.cache["argmax"])
        dZ = rng.standard_normal(Z.shape).astype(dtype)
        np.testing.assert_array_equal(fast.backward(dZ), teach.backward(dZ))  # moved, not summed
        assert set(fast.cache) == set(teach.cache) == {"X", "argmax", "Z", "dZ", "dX"}
    fast, teach = FastUpsample2D(size), L.Upsample2D(size)
    Z = teach.forward(X)
    np.testing.assert_array_equal(fast.forward(X), Z)
    dZ = rng.standard_normal(Z.shape).astype(dtype)
    assert_sums_close(fast.backward(dZ), teach.backward(dZ), 2 * teach.backward(np.abs(dZ)),
                      size * size, dtype, "dX")
    assert set(fast.cache) == set(teach.cache) == {"X", "Z", "dZ", "dX"}


def test_fast_maxpool_ties_and_nan_follow_the_teaching_rule():
    X = np.zeros((1, 1, 4, 4))
    X[0, 0, :2, 2:] = [[1.0, 5.0], [5.0, 5.0]]
    X[0, 0, 2:, :2] = [[1.0, np.nan], [9.0, np.nan]]  # a NaN is the maximum, the first one wins
    fast, teach = FastMaxPool2D(2), L.MaxPool2D(2)
    np.testing.assert_array_equal(fast.forward(X), teach.forward(X))
    np.testing.assert_array_equal(fast.cache["argmax"][0, 0], [[0, 1], [1, 0]])
    dZ = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(fast.backward(dZ), teach.backward(dZ))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", SMALL_CONV)
def test_fast_conv2d_passes_check_layer(case, act):
    T.conv_passes_check_layer(FastConv2D, case, act, 5)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", SMALL_CONVT)
def test_fast_conv_transpose2d_passes_check_layer(case, act):
    T.conv_passes_check_layer(FastConvTranspose2D, case, act, 7)


@pytest.mark.parametrize("layer", [FastMaxPool2D(2), FastMaxPool2D(3), FastUpsample2D(2),
                                   FastUpsample2D(3)], ids=repr)
def test_fast_pool_and_upsample_pass_check_layer(layer):
    X = np.random.default_rng(9).standard_normal((2, 3, 7, 5))
    assert_passes(check_layer(layer, X, max_entries=70))


def test_fast_backward_without_dX_gives_the_same_grads(rng):
    X = rng.standard_normal((3, 2, 9, 7)).astype(np.float32)
    for make in (lambda: FastConv2D(2, 3, 3, 2, 1, "sigmoid", rng=np.random.default_rng(1)),
                 lambda: FastConvTranspose2D(2, 3, 3, 2, 1, 1, "relu", rng=np.random.default_rng(1))):
        a, b = make(), make()
        dY = rng.standard_normal(a.forward(X).shape).astype(np.float32)
        b.forward(X)
        b.needs_dX = False                    # a model's first layer: its input is the data
        assert a.backward(dY).shape == X.shape
        assert b.backward(dY) is None and b.cache["dX"] is None
        for k in a.grads:
            np.testing.assert_array_equal(a.grads[k], b.grads[k])


def test_a_broken_fast_kernel_is_caught(monkeypatch):
    """The check can fail: the weight gradient with its kernel flipped."""
    from aenumpy.fast import conv

    layer = FastConv2D(2, 3, 3, 1, 1, "tanh", rng=np.random.default_rng(10), dtype="float64")
    X = np.random.default_rng(11).standard_normal((2, 2, 6, 5))
    good = conv.weight_grad_rows
    monkeypatch.setattr(conv, "weight_grad_rows", lambda *a: good(*a)[:, :, ::-1, ::-1])
    report = check_layer(layer, X)
    assert not report.ok and report["W"]["failed"] > 0


def chain(net, fast):
    """The benchmark's ``convt`` (``net="strided"``) or ``conv`` (``"pool"``) network, narrowed
    to 2–3 channels on 8×8 images, float64."""
    import aenumpy as ae
    from conftest import on_path

    last = dict(activation="sigmoid")
    if net == "strided":
        enc = [L.Conv2D(1, 3, 3, stride=2, padding=1), L.Conv2D(3, 2, 3, stride=2, padding=1)]
        dec = [L.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1),
               L.ConvTranspose2D(3, 1, 3, stride=2, padding=1, output_padding=1, **last)]
    else:
        enc = [L.Conv2D(1, 3, 3, padding=1), L.MaxPool2D(2), L.Conv2D(3, 2, 3, padding=1),
               L.MaxPool2D(2)]
        dec = [L.Upsample2D(2), L.Conv2D(2, 3, 3, padding=1), L.Upsample2D(2),
               L.Conv2D(3, 1, 3, padding=1, **last)]
    with on_path(fast):
        return ae.ConvAutoencoder(enc, dec, input_shape=(1, 8, 8), loss="bce", seed=3,
                                  dtype="float64")


@pytest.mark.parametrize("net", ["strided", "pool"])
def test_fast_layers_hand_on_their_rows_and_agree_with_the_teaching_model(net):
    """In a fast model each layer hands the next its images as a view of its rows (no copy
    in between; the output layer hands them to the fused loss), and the loss and every
    gradient are the teaching model's."""
    from aenumpy.fast.conv import is_rows_view, rows_of

    fast, teach = chain(net, True), chain(net, False)
    assert fast.fast and all(type(layer).__name__.startswith("Fast") for layer in fast.layers)
    X = np.random.default_rng(4).uniform(0.05, 0.95, (5, 64))
    E, grads = fast.loss_and_grads(X)
    E0, grads0 = teach.loss_and_grads(X)
    for layer, after in zip(fast.layers, fast.layers[1:] + [None]):
        Z = layer.cache["Z"]
        assert is_rows_view(Z) and rows_of(Z) is Z.base
        if after is not None:
            assert after.cache["X"] is Z and is_rows_view(after.cache["dX"])
    out = fast.layers[-1].cache  # the fused loss read the output's rows and gave dA as rows
    assert is_rows_view(out["A"]) and is_rows_view(out["dA"])
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(E, E0, rtol=64 * eps)
    for k in grads0:  # sums of at most a few hundred terms of order one
        np.testing.assert_allclose(grads[k], grads0[k], rtol=0, atol=1e3 * eps)


def test_reused_buffers_are_never_handed_out_while_held(monkeypatch):
    """buffers.empty gives an array out again only when nothing refers to it any more, and
    keeps none beyond its byte budget."""
    from aenumpy.fast import buffers
    from aenumpy.fast.buffers import empty

    monkeypatch.setattr(buffers, "_kept", {})  # none kept by the tests before this one
    monkeypatch.setattr(buffers, "_bytes", [0])
    a = empty((3, 5), np.float32)
    view = a[1:]
    first = id(a)
    del a
    b = empty((3, 5), np.float32)
    assert id(b) != first  # its view still holds the first one
    del view
    c = empty((3, 5), np.float32)
    assert id(c) == first and c.shape == (3, 5) and c.dtype == np.float32
    assert id(empty((3, 5), np.float32)) not in (id(b), id(c))  # b and c are held
    assert empty((3, 5), np.float64).dtype == np.float64
    monkeypatch.setattr(buffers, "KEEP_BYTES", buffers._bytes[0])
    d = empty((7, 11), np.float32)
    first = id(d)
    del d
    assert not any(id(a) == first for a in buffers._kept[((7, 11), np.dtype(np.float32))])


# ---------------------------------------------------------------- the cases the kernels leave
class Softsign(activations.Activation):
    """A student's own activation: ``a / (1 + |a|)``, derivative ``(1 − |z|)²``."""

    name = "softsign"

    def __call__(self, a):
        return a / (1 + np.abs(a))

    def grad(self, a, z):
        return (1 - np.abs(z)) ** 2


@pytest.mark.parametrize("why", ["own activation", "mixed dtypes"])
def test_what_the_kernels_do_not_cover_runs_the_teaching_path(why):
    act = Softsign() if why == "own activation" else "tanh"
    rng = np.random.default_rng(12)
    X = rng.standard_normal((2, 2, 6, 5))
    for fast_cls, teach_cls, args in ((FastConv2D, L.Conv2D, (2, 3, 3, 2, 1)),
                                      (FastConvTranspose2D, L.ConvTranspose2D, (2, 3, 3, 2, 1, 1))):
        dtype = "float32" if why == "mixed dtypes" else "float64"
        fast, teach = (cls(*args, activation=act, rng=np.random.default_rng(13), dtype=dtype)
                       for cls in (fast_cls, teach_cls))
        Z = fast.forward(X)
        dY = rng.standard_normal(Z.shape)
        dX = fast.backward(dY)
        np.testing.assert_array_equal(Z, teach.forward(X))
        np.testing.assert_array_equal(dX, teach.backward(dY))
        for k in teach.grads:
            np.testing.assert_array_equal(fast.grads[k], teach.grads[k])
    assert_passes(check_layer(FastConv2D(2, 3, 3, 1, 1, act, dtype="float64"), X))


def test_pooling_the_kernels_do_not_cover_runs_the_teaching_path(rng):
    X = rng.standard_normal((2, 3, 6, 5)).astype("float16")
    for fast, teach in ((FastMaxPool2D(2), L.MaxPool2D(2)), (FastUpsample2D(2), L.Upsample2D(2))):
        Z = fast.forward(X)
        dY = rng.standard_normal(Z.shape).astype(X.dtype)
        dX = fast.backward(dY)
        np.testing.assert_array_equal(Z, teach.forward(X))
        np.testing.assert_array_equal(dX, teach.backward(dY))
        if isinstance(fast, FastMaxPool2D):  # the teaching forward ran: NumPy's argmax, not uint8
            assert fast.cache["argmax"].dtype == np.intp


def test_a_backward_from_a_given_delta_agrees_with_one_from_dz(rng):
    """A model holding δ (a loss from the logits, a penalty on A) calls backward_from_delta(δ):
    the same gradients as backward(dZ) with δ = dZ ⊙ f'(A)."""
    X = rng.standard_normal((2, 2, 6, 5))
    for cls in (FastConv2D, FastConvTranspose2D):
        a, b = (cls(2, 3, 3, 2, 1, activation="sigmoid", rng=np.random.default_rng(14),
                    dtype="float64") for _ in range(2))
        dY = rng.standard_normal(a.forward(X).shape)
        b.forward(X)
        dX = a.backward(dY)
        np.testing.assert_array_equal(b.backward_from_delta(b.delta(dY)), dX)
        for k in a.grads:
            eps = np.finfo(np.float64).eps
            np.testing.assert_allclose(b.grads[k], a.grads[k], rtol=0,
                                       atol=64 * eps * np.abs(a.grads[k]).max())


def test_bad_inputs_are_refused_as_on_the_teaching_path():
    for layer, X in ((FastConv2D(3, 4, 3), np.zeros((1, 2, 8, 8), np.float32)),
                     (FastConvTranspose2D(3, 4, 3), np.zeros((3, 8, 8), np.float32)),
                     (FastMaxPool2D(2), np.zeros((1, 1, 1, 5), np.float32))):
        layer.cache = {"sentinel": 1}
        with pytest.raises(ValueError):
            layer.forward(X)
        assert layer.cache == {"sentinel": 1}
    with pytest.raises(ValueError, match="forward"):
        FastConv2D(1, 1, 3).backward(np.zeros((1, 1, 3, 3), np.float32))


# ---------------------------------------------------------------- the teaching path stays apart
def test_layers_py_imports_nothing_compiled():
    tree = ast.parse(pathlib.Path(L.__file__).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in names if "numba" in m or "fast" in m], names


def test_importing_the_fast_layers_compiles_nothing():
    code = ("import aenumpy.fast.conv, aenumpy.fast.pool\n"
            "from aenumpy.fast import _jit\nprint(len(_jit.COMPILED))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=pathlib.Path(L.__file__).parents[1])
    assert out.stdout.strip() == "0"


def test_buffers_can_be_switched_off():
    """AENUMPY_REUSE_BUFFERS=0 keeps no array: every one is a fresh np.empty."""
    code = ("from aenumpy.fast import buffers; import numpy as np; "
            "a = buffers.empty((4, 3), np.float32); "
            "print(buffers.KEEP_BYTES, len(buffers._kept[((4, 3), np.dtype(np.float32))]))")
    for value, want in (("0", "0 0"), ("1", f"{256 << 20} 1")):
        env = dict(os.environ, AENUMPY_REUSE_BUFFERS=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        assert " ".join(out) == want
