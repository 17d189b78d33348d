"""Property-based tests (hypothesis): every kernel of the speed backend against its NumPy
reference (the teaching object it stands in for) on random shapes and values, and
gradcheck on random small models on both paths.

Tolerances are counts of the dtype's epsilon, derived from the arithmetic each
comparison does. Examples are derandomized so CI sees the same cases every run.
"""
import contextlib
import importlib
import pkgutil

import numpy as np
import pytest
from conftest import assert_passes, on_path
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aenumpy as ae
import aenumpy.fast as fast_pkg
from aenumpy import activations, losses, optim, train
from aenumpy.regularizers import Contractive, KLSparsity, LayerView
from aenumpy.regularizers.topk import topk_mask as topk_teaching

SETTINGS = settings(max_examples=30, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DTYPES = st.sampled_from([np.float32, np.float64])
SHAPES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24)
ACT_NAMES = ["identity", "sigmoid", "tanh", "relu"]


def eps(dtype):
    """The dtype's machine epsilon: every tolerance below is a count of these."""
    return float(np.finfo(dtype).eps)


def arrays(draw, dtype, shape, lo=-60.0, hi=60.0):
    width = 32 if dtype == np.float32 else 64
    return draw(hnp.arrays(dtype, shape, elements=st.floats(lo, hi, width=width,
                                                             allow_subnormal=False)))


#: the public functions of the speed backend's modules that are not kernels (helpers,
#: switches, NumPy references of the fast noise)
NOT_KERNELS = {"activation.code_of", "models.make_fast", "models.work",
               "noise.n_uniforms", "noise.n_words", "noise.uniforms_ref", "noise.box_muller_ref",
               "noise.add_gaussian_ref", "openblas.find_openblas", "openblas.split_blas",
               "openblas.use_split", "_jit.kernel_threads", "_jit.jit",
               "layout.is_column_major", "layout.weight_layout", "layout.flat_view",
               "layout.flat_like", "layout.same_layout", "_math.fexp", "_math.flog1p",
               "conv.forward_taps", "conv.transpose_taps", "conv.tap_runs", "conv.forward_weights",
               "conv.transpose_weights", "conv.new_rows", "conv.images", "conv.is_rows_view",
               "conv.rows_of", "conv.images_out", "buffers.empty", "optim.runs_compiled",
               "pool.planes", "upconv.parity_taps", "upconv.parity_weights", "upconv.parity_pixels",
               "upconv.parity_transpose_taps", "upconv.parity_transpose_weights",
               "upconv.fold_parity_grads",
               "threads.requested", "threads.affinity", "threads.quota", "threads.budget",
               "threads.idle_seconds", "threads.waiting_seconds", "threads.most",
               "threads.current", "threads.poll", "threads.limited", "threads.holding",
               "threads.reset", "threads.timing", "threads.record", "threads.faster",
               "openblas.set_blas_threads", "openblas.one_blas_thread", "_jit.running_threads",
               "_math.flog1m", "_math.flog", "_math.fsincos_turns", "_math.fsigmoid", "_math.ftanh",
               "_math.one_like", "_math.cast_like"}
COVERED = {"activation.bias_act", "activation.act_backward", "loss.output_loss",
           # inlined into act_backward (test_act_backward) and conv.delta_rows_nb (below)
           "activation.delta_row",
           "loss.output_loss_nb",
           "optim.adam_many", "optim.all_finite", "regularizers.contractive_sigmoid",
           "regularizers.topk_mask", "regularizers.kl_sparsity", "noise.add_gaussian",
           "blas.matmul", "gather.gather_rows", "gather.minibatches", "pcg64.raw_words",
           # through the fast conv and pooling layers (test_fast_conv_layers, test_fast_pooling)
           "conv.tap_sums", "conv.tap_sums_nb", "conv.conv_rows", "conv.conv_rows_t",
           "conv.weight_grad_rows", "conv.weight_grad_rows_nb", "conv.delta_rows",
           "conv.delta_rows_nb", "conv.squash", "conv.transpose_nb",
           "pool.maxpool_forward_nb", "pool.maxpool_backward_nb", "pool.maxpool_rows_nb",
           "pool.maxpool_back_rows_nb", "pool.upsample_forward_nb", "pool.upsample_backward_nb",
           "pool.upsample_rows_nb", "pool.upsample_back_rows_nb",
           "pixel_loss.softmax_ce_rows_nb", "pixel_loss.bce_rows_nb",
           # the U-Net decoder's entry, with the table helpers above (test_fast_up_conv)
           "upconv.up_conv_forward", "upconv.up_conv_backward"}


def _kernels():
    """Every public function defined in a module of aenumpy.fast."""
    found = set()
    for mod in pkgutil.iter_modules(fast_pkg.__path__):
        m = importlib.import_module(f"aenumpy.fast.{mod.name}")
        for name, obj in vars(m).items():
            if (callable(obj) and not isinstance(obj, type) and not name.startswith("_")
                    and getattr(obj, "__module__", None) == m.__name__):
                found.add(f"{mod.name}.{name}")
    return found - NOT_KERNELS


def test_every_kernel_has_a_property_test():
    missing = _kernels() - COVERED
    assert not missing, f"kernels without a property test in tests/test_properties.py: {missing}"


# ---------------------------------------------------------------- activation kernels
@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.integers(0, 3))
def test_bias_act(data, dtype, shape, code):
    """Against the teaching layer's ``A = XWᵀ + b``, ``Z = f(A)`` (here the bias and f)."""
    from aenumpy.fast.activation import bias_act

    A = arrays(data.draw, dtype, shape)
    b = arrays(data.draw, dtype, shape[1:], -5, 5)
    A1, Z1 = A.copy(), np.empty_like(A)
    bias_act(A1, b, code, Z1)
    A0 = A + b
    Z0 = activations.get(ACT_NAMES[code])(A0)
    np.testing.assert_array_equal(A1, A0)  # A + b: the same single rounding on both paths
    # the float32 sigmoid's e^x polynomial is within 2 ulps, NumPy's exp within 1, then a
    # division each: 8 ulps of the value
    np.testing.assert_allclose(Z1, Z0, rtol=8 * eps(dtype), atol=0)
    assert Z1.dtype == dtype


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.integers(0, 3))
def test_act_backward(data, dtype, shape, code):
    """Against the teaching ``δ = dZ ⊙ f'(A)`` (:meth:`Dense.delta`)."""
    from aenumpy.fast.activation import act_backward

    lo, hi = {0: (-5, 5), 1: (0, 1), 2: (-1, 1), 3: (0, 5)}[code]
    Z = arrays(data.draw, dtype, shape, lo, hi)
    dZ = arrays(data.draw, dtype, shape, -3, 3)
    r1 = act_backward(dZ, Z, code, np.empty_like(Z))
    r0 = dZ * activations.get(ACT_NAMES[code]).grad(None, Z)
    # three roundings in another order: 4 ulps of |dZ| |f'| (f' ≤ 1 here)
    np.testing.assert_allclose(r1, r0, rtol=0, atol=4 * eps(dtype) * float(np.abs(dZ).max()))


# ---------------------------------------------------------------- loss kernel
@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.sampled_from([(0, 0), (0, 1), (0, 2), (0, 3), (1, 1)]))
def test_output_loss(data, dtype, shape, codes):
    """Against the teaching :meth:`Loss.value_and_delta`."""
    from aenumpy.fast.loss import output_loss

    loss_code, act_code = codes
    X = arrays(data.draw, dtype, shape, 0, 1)
    A = arrays(data.draw, dtype, shape, -40, 40)
    act = activations.get(ACT_NAMES[act_code])
    Z = act(A)
    loss = (losses.SquaredError, losses.BinaryCrossEntropy)[loss_code]()
    E0, d0 = loss.value_and_delta(X, A, Z, act)
    d1 = np.empty_like(A)
    E1 = output_loss(X, A, Z, loss_code, act_code, d1)
    assert np.isfinite(E0) and np.isfinite(E1)
    # the per-entry terms (each a few ulps of the dtype, up to |a| ≤ 40) are summed in
    # float64 in either order: a few ulps of the dtype times the sum of their sizes
    a64, r64 = A.astype(np.float64), Z.astype(np.float64) - X
    size = float(np.sum(np.abs(a64)) + X.size) if loss_code else 0.5 * float(np.sum(r64 * r64))
    assert abs(E1 - E0) <= 8 * eps(dtype) * size / shape[0]
    np.testing.assert_allclose(d1, d0, rtol=0, atol=8 * eps(dtype) * float(np.abs(d0).max() + 1))
    # the batch's entries arranged otherwise (a sample a column, as a convolution's rows)
    dT = np.empty(shape[::-1], dtype)
    ET = output_loss(X.T.copy(), A.T.copy(), Z.T.copy(), loss_code, act_code, dT, shape[0])
    assert abs(ET - E0) <= 8 * eps(dtype) * size / shape[0]
    np.testing.assert_allclose(dT.T, d0, rtol=0, atol=8 * eps(dtype) * float(np.abs(d0).max() + 1))


# ---------------------------------------------------------------- Adam
@SETTINGS
@given(st.data(), DTYPES, st.lists(st.integers(1, 60), min_size=1, max_size=4),
       st.integers(1, 5000), st.floats(1e-5, 1.0), st.floats(0.0, 0.99),
       st.floats(0.9, 0.99999), st.floats(1e-10, 1e-3))
def test_adam_many(data, dtype, sizes, t, lr, b1, b2, e):
    """All the parameters in one call: the teaching :meth:`Adam.step` on each."""
    from aenumpy.backend import use_fast
    from aenumpy.fast.optim import adam_many

    p, g, m, v = ([arrays(data.draw, dtype, (n,), lo, hi) for n in sizes]
                  for lo, hi in ((-5, 5), (-5, 5), (-1, 1), (0, 2)))
    with use_fast(False):
        opt = optim.Adam(lr=lr, beta1=b1, beta2=b2, eps=e)
    opt.t = t - 1
    opt.state = {f"p{i}": {"m": m[i].copy(), "v": v[i].copy()} for i in range(len(sizes))}
    ref = {f"p{i}": x.copy() for i, x in enumerate(p)}
    opt.step(ref, {f"p{i}": x for i, x in enumerate(g)})
    p1, m1, v1 = [x.copy() for x in p], [x.copy() for x in m], [x.copy() for x in v]
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    adam_many(tuple(p1), tuple(g), tuple(m1), tuple(v1), lr, b1, b2, e, bc1, bc2)
    u = 8 * eps(dtype)  # a few roundings, each ≤ ½ ulp, in another order or fused
    for i in range(len(sizes)):
        s = opt.state[f"p{i}"]
        gi = np.abs(g[i].astype(np.float64))
        dm = u * (np.abs(m[i]) + gi)           # m ← β₁m + (1 − β₁)g
        dv = u * (np.abs(v[i]) + gi * gi)      # v ← β₂v + (1 − β₂)g²
        np.testing.assert_array_less(np.abs(m1[i] - s["m"]), dm + 1e-300)
        np.testing.assert_array_less(np.abs(v1[i] - s["v"]), dv + 1e-300)
        # the step η m̂/(√v̂ + ε) to first order in the moments' differences, plus its
        # own roundings and the subtraction from θ
        mh, vh = s["m"].astype(np.float64) / bc1, np.maximum(s["v"].astype(np.float64), 0) / bc2
        den = np.sqrt(vh) + e
        step = lr * np.abs(mh) / den
        sens = lr / bc1 / den * dm + step / (2 * den * np.maximum(np.sqrt(vh), 1e-300)) * dv / bc2
        bound = sens + u * (step + np.abs(p[i]))
        np.testing.assert_array_less(np.abs(p1[i].astype(np.float64) - ref[f"p{i}"]), bound + 1e-300)


SPECIALS = st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-40, -1e-310,
                            np.finfo(np.float32).max, np.finfo(np.float64).max])


@SETTINGS
@given(st.data(), DTYPES, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=20),
       st.lists(st.tuples(st.floats(0, 1), SPECIALS), max_size=4), st.booleans())
def test_all_finite(data, dtype, shape, specials, transpose):
    """Against the teaching :func:`aenumpy.train.all_finite`, exactly."""
    from aenumpy.fast.optim import all_finite

    a = arrays(data.draw, dtype, shape, -1e3, 1e3)
    flat = a.reshape(-1)
    with np.errstate(over="ignore"):
        for where, value in specials:
            if flat.size:
                flat[int(where * (flat.size - 1))] = dtype(value)
    if transpose:
        a = a.T  # a non-contiguous view
    truth = bool(np.isfinite(a).all())
    with threaded():
        assert all_finite({"g": a}) is truth
    assert train.all_finite({"g": a}) is truth


# ---------------------------------------------------------------- matrix products
@contextlib.contextmanager
def threaded():
    """Small inputs through the threaded, compiled paths too (normally they stay on one
    thread or on the teaching code: ``blas.SMALL_PRODUCT``, ``_jit.SMALL_WORK``, the
    backend's ``min_work``), so the stripes and their edges are tested."""
    from aenumpy.backend import use_fast
    from aenumpy.fast import _jit, blas

    old = blas.SMALL_PRODUCT, _jit.SMALL_WORK
    blas.SMALL_PRODUCT, _jit.SMALL_WORK = 0, 0
    try:
        with use_fast(True, min_work=0):
            yield
    finally:
        blas.SMALL_PRODUCT, _jit.SMALL_WORK = old


def _laid_out(draw, dtype, shape):
    """A random ``shape`` operand as the step's products see them: C-ordered,
    F-ordered (a transposed weight), or a column slice of a wider array (a leading
    dimension larger than its width), or with a step the BLAS cannot take."""
    kind = draw(st.sampled_from(["C", "F", "wide", "strided"]))
    if kind == "wide":
        base = arrays(draw, dtype, (shape[0], shape[1] + 3), -2, 2)
        return base[:, 1:1 + shape[1]]
    if kind == "strided":
        return arrays(draw, dtype, (shape[0], 2 * shape[1]), -2, 2)[:, ::2]
    return np.asarray(arrays(draw, dtype, shape, -2, 2), order=kind)


def product_bound(A, B, dtype):
    """A bound on the rounding error of any summation order of ``A @ B`` in ``dtype``:
    ``k·ε·(|A||B|)`` entrywise (Higham, Accuracy and Stability, Thm 3.5, first order)."""
    k = A.shape[1]
    return (k + 1) * eps(dtype) * (np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64)))


@SETTINGS
@given(st.data(), DTYPES, st.integers(1, 80), st.integers(1, 40), st.integers(1, 80))
def test_matmul(data, dtype, m, k, n):
    """Against ``np.matmul``: both within the summation bound of the exact product."""
    from aenumpy.fast.blas import matmul

    A = _laid_out(data.draw, dtype, (m, k))
    B = _laid_out(data.draw, dtype, (k, n))
    exact = A.astype(np.float64) @ B.astype(np.float64)
    bound = product_bound(A, B, dtype)
    with threaded():
        C = matmul(A, B)
    for R in (C, np.matmul(A, B)):
        assert R.shape == (m, n) and R.dtype == dtype
        assert np.all(np.abs(R - exact) <= bound)
    assert C.flags.c_contiguous


@SETTINGS
@given(st.data(), DTYPES, st.integers(1, 50), st.integers(1, 30), st.integers(0, 40))
def test_gather_rows(data, dtype, n, d, b):
    """Against ``X[idx]``, exactly; and the minibatches of an epoch against the teaching
    :func:`aenumpy.train.minibatches`, batch by batch."""
    from aenumpy.fast.gather import gather_rows, minibatches

    X = arrays(data.draw, dtype, (n, d))
    idx = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=b, max_size=b)), np.int64)
    out = np.full((b, d), np.nan, dtype)
    with threaded():
        assert gather_rows(X, idx, out) is out
    np.testing.assert_array_equal(out, X[idx])
    size = data.draw(st.integers(1, max(b, 1)))
    Y = np.arange(n)[:, None] * np.ones((1, 3), dtype)
    with threaded():
        pairs = [(tuple(map(np.copy, f)), t) for f, t in
                 zip(minibatches(idx, size, X, Y), train.minibatches(idx, size, X, Y))]
    assert len(pairs) == -(-len(idx) // size)
    for fast, teach in pairs:
        for a, t in zip(fast, teach):
            np.testing.assert_array_equal(a, t)


@pytest.mark.parametrize("bad", [-1, 7])
def test_gather_rows_refuses_an_index_out_of_range(bad):
    from aenumpy.fast.gather import gather_rows

    X = np.arange(14, dtype=np.float32).reshape(7, 2)
    with threaded(), pytest.raises(IndexError, match=r"outside \[0, 7\)"):
        gather_rows(X, np.array([0, bad, 1]), np.empty((3, 2), np.float32))
    if bad >= 0:  # X[idx] counts a negative index from the end
        with pytest.raises(IndexError):
            next(train.minibatches(np.array([0, bad, 1]), 3, X))


@SETTINGS
@given(st.integers(0, 2**63), st.integers(0, 3000), st.integers(0, 5))
def test_raw_words(seed, n, skip):
    """The threaded PCG64 words are random_raw's, bit for bit, and leave the same state."""
    from aenumpy.fast.pcg64 import raw_words

    a, b = np.random.PCG64(seed), np.random.PCG64(seed)
    a.random_raw(skip)  # a generator part-way through its stream
    b.random_raw(skip)
    np.testing.assert_array_equal(raw_words(a, n), b.random_raw(n))
    assert a.state == b.state
    assert a.random_raw() == b.random_raw()


def test_raw_words_other_generators_and_large_counts():
    from aenumpy.fast.pcg64 import raw_words

    for make in (lambda: np.random.Philox(7), lambda: np.random.MT19937(7)):
        a, b = make(), make()
        np.testing.assert_array_equal(raw_words(a, 100), b.random_raw(100))
    a, b = np.random.PCG64(123), np.random.PCG64(123)
    np.testing.assert_array_equal(raw_words(a, 50_177), b.random_raw(50_177))
    assert a.state == b.state


# ---------------------------------------------------------------- regularizer kernels
@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.integers(1, 12), st.floats(0.0, 2.0), st.booleans(),
       st.sampled_from(["C", "F"]))
def test_contractive_sigmoid(data, dtype, shape, d_in, lam, need_grad, order):
    """Against the teaching :meth:`Contractive.penalty` of a sigmoid layer (W stored
    row- or column-major)."""
    from aenumpy.fast.regularizers import contractive_sigmoid

    A = arrays(data.draw, dtype, shape, -30, 30)
    W = np.asarray(arrays(data.draw, dtype, (shape[1], d_in), -3, 3), order=order)
    sig = activations.Sigmoid()
    ref = Contractive(lam).penalty(LayerView(None, A, sig(A), W, sig), need_grad)
    dA, dW = (np.empty_like(A), np.empty_like(W)) if need_grad else (None, None)
    value = contractive_sigmoid(A, W, lam, dA, dW)
    # the teaching path sums Σ_i W² (d_in terms) and Σ_b g² (B terms) in the dtype, the
    # kernel in float64: (B + d_in + 8) ulps of the dtype, relative to each sum's size
    B = shape[0]
    c = (B + d_in + 8) * eps(dtype)
    g = sig.grad(None, sig(A).astype(np.float64))
    S = np.sum(W.astype(np.float64) ** 2, axis=1)
    assert abs(value - ref.value) <= c * lam / B * float(np.sum(g * g, axis=0) @ S) + 1e-300
    if need_grad:
        np.testing.assert_allclose(dA, ref.dA, rtol=0,
                                   atol=c * 2 * lam / B * float(np.max(g) ** 2 * S.max()) + 1e-300)
        np.testing.assert_allclose(dW, ref.dW, rtol=0,
                                   atol=c * 2 * lam / B * float(np.sum(g * g, 0).max()
                                                                * np.abs(W).max()) + 1e-300)


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.sampled_from(["abs", "value"]), st.booleans())
def test_topk_mask(data, dtype, shape, by, ties):
    """Against the teaching :func:`~aenumpy.regularizers.topk.topk_mask`, exactly (ties too:
    both keep the lowest index)."""
    from aenumpy.fast.regularizers import topk_mask

    Z = arrays(data.draw, dtype, shape, -5, 5)
    if ties:
        Z = np.round(Z)  # many equal values, and ±0
    kk = data.draw(st.integers(1, shape[1]))
    M1 = topk_mask(Z, kk, by)
    np.testing.assert_array_equal(M1, topk_teaching(Z, kk, by))
    assert np.all(M1.sum(axis=1) == kk)


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.floats(0.01, 0.5), st.floats(0.0, 5.0), st.booleans())
def test_kl_sparsity(data, dtype, shape, rho, beta, need_grad):
    """Against the teaching :meth:`KLSparsity.penalty`."""
    from aenumpy.fast.regularizers import kl_sparsity
    from aenumpy.regularizers.sparsity import CLIP

    Z = arrays(data.draw, dtype, shape, 0, 1)
    ref = KLSparsity(rho, beta).penalty(LayerView(None, None, Z, None, None), need_grad)
    dZ = np.empty_like(Z) if need_grad else None
    v, rho_hat = kl_sparsity(Z, rho, beta, CLIP, dZ)
    # ρ̂ in float64 on both paths (B terms, another order); Ω = β Σ of n logs, each
    # within a few ulps of float64 relative to its size |log ρ̂| ≤ 17
    B, n = shape
    np.testing.assert_allclose(rho_hat, ref.info["rho_hat"], rtol=0,
                               atol=(B + 2) * eps(np.float64))
    assert abs(v - ref.value) <= beta * n * 64 * (B + 2) * eps(np.float64) / CLIP
    if need_grad:
        np.testing.assert_allclose(dZ, ref.dZ, rtol=2 * eps(dtype), atol=0)


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.floats(0.0, 2.0))
def test_add_gaussian(data, dtype, shape, sigma):
    """Against its NumPy reference (Box–Muller in NumPy: no teaching counterpart, the
    teaching path draws ``rng.standard_normal``)."""
    from aenumpy.fast.noise import add_gaussian, add_gaussian_ref, n_words

    X = arrays(data.draw, dtype, shape, 0, 1)
    bits = data.draw(hnp.arrays(np.uint64, (n_words(X.size, dtype),)))
    r1 = add_gaussian(X, sigma, bits, np.empty_like(X))
    r0 = add_gaussian_ref(X, sigma, bits, np.empty_like(X))
    # |ε| ≤ 5.8 in float32 (8.6 in float64); the float32 ln and sin/cos polynomials are
    # within 3e-7 relative / 2e-7 absolute, NumPy's within an ulp: the two ε differ by
    # 5.8·(4e-7 + 2e-7) at most, then σ·ε + x rounds once more (|x| ≤ 1)
    tol = sigma * 8.6 * 8 * eps(dtype) if dtype == np.float64 else sigma * 5.8 * 6e-7
    np.testing.assert_allclose(r1, r0, rtol=0, atol=tol + 2 * eps(dtype) * (1 + 6 * sigma))


# ---------------------------------------------------------------- conv and pooling kernels
@SETTINGS
@given(st.data(), st.sampled_from(["float32", "float64"]), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(3, 11),
       st.integers(3, 11), st.sampled_from(["identity", "relu", "sigmoid", "tanh"]),
       st.booleans())
def test_fast_conv_layers(data, dtype, c_in, c_out, k, s, p, H, W, act, transposed):
    """FastConv2D and FastConvTranspose2D (their forward, delta, weight- and input-gradient
    kernels) against the teaching layers, within the summation bound of each sum
    (test_fast_conv.compare)."""
    from test_fast_conv import compare

    from aenumpy import layers as L
    from aenumpy.fast.conv import FastConv2D, FastConvTranspose2D

    if transposed:
        op = data.draw(st.integers(0, s - 1))
        assume((H - 1) * s - 2 * p + k + op >= 1 and (W - 1) * s - 2 * p + k + op >= 1)
        Ho, Wo = (H - 1) * s - 2 * p + k + op, (W - 1) * s - 2 * p + k + op
        compare(FastConvTranspose2D, L.ConvTranspose2D, (c_in, c_out, k, s, p, op), act, dtype,
                (2, c_in, H, W), c_in * k * k + 1, c_out * k * k, 2 * max(H * W, Ho * Wo))
    else:
        assume(k <= H + 2 * p and k <= W + 2 * p)
        Ho, Wo = L.conv_output_size(H, k, s, p), L.conv_output_size(W, k, s, p)
        compare(FastConv2D, L.Conv2D, (c_in, c_out, k, s, p), act, dtype, (2, c_in, H, W),
                c_in * k * k + 1, c_out * k * k, 2 * Ho * Wo)


@SETTINGS
@given(st.data(), st.sampled_from(["float32", "float64"]), st.integers(1, 4), st.integers(1, 5),
       st.integers(1, 4), st.integers(1, 2), st.integers(0, 2), st.integers(3, 12),
       st.integers(3, 12), st.integers(1, 3), st.booleans())
def test_runs_of_pixels_change_no_number(data, dtype, C, O, k, s, p, H, W, parts, transposed):
    """:func:`aenumpy.fast.conv.tap_sums_nb` summing runs of pixels as one (``run`` of
    :func:`~aenumpy.fast.conv.tap_runs`) gives, bit for bit, what it gives one pixel at a time
    (every run 1): the same products, added in the same order, for the forward and the
    transposed tables, with a bias and a ReLU, over 1–3 parts. And a run never reaches the
    zero row, nor a pixel with other weights."""
    from aenumpy import layers as L
    from aenumpy.fast.conv import forward_taps, new_rows, tap_sums_nb, transpose_taps

    assume(k <= H + 2 * p and k <= W + 2 * p)
    Ho, Wo = L.conv_output_size(H, k, s, p), L.conv_output_size(W, k, s, p)
    r = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    B = data.draw(st.integers(1, 20))
    if transposed:      # the input gradient: from O·Ho·Wo rows to C·H·W outputs
        taps, table, groups, run = transpose_taps(O, Ho, Wo, k, s, p, H, W)
        n_in, n_out, zero = O * Ho * Wo, C, O * Ho * Wo
        Wt = r.uniform(-1, 1, (C, O * k * k + 1)).astype(dtype)
    else:
        taps, table, groups, run = forward_taps(C, H, W, k, s, p)
        n_in, n_out, zero = C * H * W, O, C * H * W
        Wt = r.uniform(-1, 1, (O, taps.shape[1])).astype(dtype)
    X = new_rows(n_in, B, np.dtype(dtype))
    X[:-1] = r.uniform(-1, 1, (n_in, B))
    bias = r.uniform(-1, 1, n_out).astype(dtype)
    U = len(table)
    out = []
    for runs in (run, np.ones_like(run)):
        A, Z = (np.full((n_out, U, B), np.nan, dtype) for _ in range(2))
        tap_sums_nb(X, taps, table, groups, runs, Wt, bias, True, A, Z, parts, False)
        out.append((A, Z))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    for u in np.flatnonzero(run > 1):
        n = 9 * groups[u]
        assert (table[u, :n] != zero).all() and (table[u + 1, :n] == table[u, :n] + 1).all()
        assert (taps[u + 1] == taps[u]).all() and run[u + 1] == run[u] - 1


@SETTINGS
@given(st.data(), DTYPES, st.integers(1, 40), st.integers(1, 40))
def test_transpose_and_rows(data, dtype, n, m):
    """``transpose_nb`` is ``Sᵀ`` exactly, wide or tall; images in rows and back are the
    images (NumPy reference: ``np.copyto(D, S.T)``)."""
    from aenumpy.fast.conv import images, images_out, is_rows_view, rows_of, transpose_nb

    S = arrays(data.draw, dtype, (n, m))
    np.testing.assert_array_equal(transpose_nb(S, np.empty((m, n), dtype), 2), S.T)
    X = S.reshape(n, 1, 1, m)
    R = rows_of(X)
    assert R.shape == (m + 1, n) and not R[-1].any()
    V = images(R, X.shape)
    assert is_rows_view(V) and rows_of(V) is R
    np.testing.assert_array_equal(V, X)
    np.testing.assert_array_equal(images_out(R, X.shape, False), X)
    assert images_out(R, X.shape, False).flags.c_contiguous


@SETTINGS
@given(st.data(), DTYPES, st.integers(1, 3), st.integers(1, 3), st.integers(1, 9),
       st.integers(1, 9), st.integers(1, 3), st.booleans())
def test_fast_pooling(data, dtype, B, C, H, W, size, as_rows):
    """FastMaxPool2D exactly as the teaching layer (ties to the first), FastUpsample2D's
    block sums within their summation bound; on images as planes or as the rows of a fast
    convolution (then handed on as rows)."""
    from test_conv_layers import assert_sums_close

    from aenumpy import layers as L
    from aenumpy.fast.conv import images, is_rows_view, rows_of
    from aenumpy.fast.pool import FastMaxPool2D, FastUpsample2D

    def handed(A):  # the form a fast layer is handed its input or upstream gradient in
        return images(rows_of(A), A.shape) if as_rows else A

    X = np.round(arrays(data.draw, dtype, (B, C, H, W), -3, 3))  # rounded: many ties
    if H >= size and W >= size:
        fast, teach = FastMaxPool2D(size), L.MaxPool2D(size)
        Z = teach.forward(X)
        Zf = fast.forward(handed(X))
        np.testing.assert_array_equal(Zf, Z)
        np.testing.assert_array_equal(fast.cache["argmax"], teach.cache["argmax"])
        assert is_rows_view(Zf) == as_rows
        dZ = arrays(data.draw, dtype, Z.shape, -3, 3)
        dX = fast.backward(handed(dZ))
        np.testing.assert_array_equal(dX, teach.backward(dZ))
        assert is_rows_view(dX) == as_rows
    fast, teach = FastUpsample2D(size), L.Upsample2D(size)
    Z = teach.forward(X)
    Zf = fast.forward(handed(X))
    np.testing.assert_array_equal(Zf, Z)
    assert is_rows_view(Zf) == as_rows
    dZ = arrays(data.draw, dtype, Z.shape, -3, 3)
    dX = fast.backward(handed(dZ))
    assert_sums_close(dX, teach.backward(dZ), 2 * teach.backward(np.abs(dZ)), size * size,
                      dtype, "dX")
    assert is_rows_view(dX) == as_rows


@SETTINGS
@given(st.data(), DTYPES, st.integers(1, 9), st.integers(1, 4), st.integers(1, 12))
def test_pixel_losses_on_rows(data, dtype, B, K, P):
    """The per-pixel losses on the logits' rows against the teaching
    :func:`losses.softmax_cross_entropy` (K ≥ 2) and :func:`losses.pixel_bce_logits` (K = 1).
    A pixel's term ``m + log Σ e^(a − m) − a_y`` (``softplus(a) − y a``) comes from a few
    roundings of e^x, log and sums of numbers of size ``|m| + |a_y| + log K``: within 8ε of
    that each; each entry of ``dA = (p − onehot)/N`` within 16ε/N (``p ≤ 1``, e^x within 2 ulps,
    then a division and a product)."""
    from aenumpy.fast.conv import rows_of
    from aenumpy.fast.pixel_loss import bce_rows_nb, softmax_ce_rows_nb

    H = P
    A = arrays(data.draw, dtype, (B, K, H, 1), -30, 30)
    R, N = rows_of(A), B * H
    dR = np.empty_like(R)
    if K >= 2:
        Y = data.draw(hnp.arrays(np.int64, (B, H, 1), elements=st.integers(0, K - 1)))
        E1 = softmax_ce_rows_nb(R, np.ascontiguousarray(Y.reshape(B, -1).T), K, dR, N, 1)
        E0, dA0 = losses.softmax_cross_entropy(Y, A)
        a_y = np.take_along_axis(A, Y[:, None], axis=1)
        size = np.abs(A).max(axis=1, keepdims=True) + np.abs(a_y) + np.log(K)
    else:
        Y = arrays(data.draw, dtype, (B, H, 1), 0, 1)
        E1 = bce_rows_nb(R, np.ascontiguousarray(Y.reshape(B, -1).T), dR, N, 1)
        E0, dA0 = losses.pixel_bce_logits(Y, A)
        size = np.abs(A) + 1
    assert abs(E1 - E0) <= 8 * eps(dtype) * float(np.mean(size)) + 1e-300
    dA1 = dR[:-1].reshape(K, H, 1, B).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(dA1, dA0, rtol=0, atol=16 * eps(dtype) / N)


def test_parity_kernels_are_the_fold_matrices():
    """The 2×2 kernels folded by slicing (:func:`~aenumpy.fast.upconv.parity_weights`, and
    their transposed rows) are ``FOLD[py] W FOLD[px]ᵀ``, the matrix form of the rule, and
    :func:`~aenumpy.fast.upconv.fold_parity_grads` is ``Σ_k FOLD[py]ᵀ g_k FOLD[px]``: float64,
    to the rounding of sums of at most four terms."""
    from aenumpy.fast.upconv import (FOLD, fold_parity_grads, parity_transpose_weights,
                                     parity_weights)

    r = np.random.default_rng(7)
    O, C = 3, 5
    W = r.uniform(-1, 1, (O, C, 3, 3))
    F = [f.astype(np.float64) for f in FOLD]
    Wp = parity_weights(W)
    assert Wp.shape == (O, 16 * C + 1) and (Wp[:, -1] == 0).all()
    cols = Wp[:, :-1].reshape(O, 4, C, 2, 2)
    T = parity_transpose_weights(Wp, O, C)[:, :-1].reshape(C, O, 4, 2, 2)
    g = r.uniform(-1, 1, (4, O, 4 * C))
    dW = np.zeros((O, C, 3, 3))
    for py in range(2):
        for px in range(2):
            k = 2 * py + px
            np.testing.assert_allclose(cols[:, k], F[py] @ W @ F[px].T, rtol=0, atol=8 * 2e-16)
            np.testing.assert_array_equal(T[:, :, k], cols[:, k].transpose(1, 0, 2, 3))
            dW += F[py].T @ g[k].reshape(O, C, 2, 2) @ F[px]
    np.testing.assert_allclose(fold_parity_grads(g, C), dW, rtol=0, atol=16 * 2e-16 * 4)


@SETTINGS
@given(st.data(), st.sampled_from(["float32", "float64"]), st.integers(1, 3), st.integers(0, 3),
       st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3))
def test_fast_up_conv(data, dtype, Cu, Cs, O, h, w, B):
    """The fused decoder entry (:mod:`aenumpy.fast.upconv`) against the teaching functions one
    after the other: nearest upsampling ×2, the concatenation with the skip (none when
    Cs = 0), a 3×3 convolution with padding 1 and a ReLU; the backward from the same δ. Both
    sides round their sums, in other orders (the 2×2 kernels' entries are sums of up to four
    weights): each result within twice the summation bound ``4·√K·ε·Σ|terms|``
    (test_conv_layers.assert_sums_close) of its K terms, the sums of absolute values from the
    same functions on absolute values."""
    from test_conv_layers import assert_sums_close

    from aenumpy import layers as L
    from aenumpy.fast.conv import images, rows_of
    from aenumpy.fast.upconv import up_conv_backward, up_conv_forward

    r = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    U = r.uniform(-1, 1, (B, Cu, h, w)).astype(dtype)
    S = r.uniform(-1, 1, (B, Cs, 2 * h, 2 * w)).astype(dtype) if Cs else None
    W = r.uniform(-1, 1, (O, Cu + Cs, 3, 3)).astype(dtype)
    bias = r.uniform(-1, 1, O).astype(dtype)
    G = r.standard_normal((B, O, 2 * h, 2 * w)).astype(dtype)

    def entry(U, S):       # the teaching layers' upsampled and concatenated input
        x = U.repeat(2, axis=2).repeat(2, axis=3)
        return x if S is None else np.concatenate([x, S], axis=1)

    def sums(X, W, b, dA):  # forward A, dW, dX of the convolution, as the teaching layer
        cols = L.im2col(X, 3, 1, 1)
        A = L.weights_times_cols(W, cols, X.shape[2:]) + b[:, None, None]
        return A, L.conv2d_weight_grad(dA, cols, W.shape), L.conv2d_input_grad(dA, W, X.shape, 1, 1)

    def blocks(dX):        # the upsampling's backward: the 2×2 block sums, for U
        return dX[:, :Cu].reshape(B, Cu, h, 2, w, 2).sum(axis=(3, 5))

    rows = lambda X: None if X is None else images(rows_of(X), X.shape)  # noqa: E731
    Ar, Zr, shape, Wp = up_conv_forward(rows(U), rows(S), W, bias, True)
    A, Z = images(Ar, shape), images(Zr, shape)
    np.testing.assert_array_equal(Z, np.maximum(A, 0))
    dA0 = G * (Z > 0)                                         # δ from the fast side's Z
    A0, dW0, dX0 = sums(entry(U, S), W, bias, dA0)
    absS = None if S is None else np.abs(S).astype(np.float64)
    mA, mW, mX = sums(entry(np.abs(U).astype(np.float64), absS), np.abs(W).astype(np.float64),
                      np.abs(bias).astype(np.float64), np.abs(G).astype(np.float64))
    assert_sums_close(A, A0, 2 * mA, 9 * (Cu + Cs) + 4, dtype, "A")
    dA, dW, db, dU, dS = up_conv_backward(rows(U), rows(S), W, Wp, rows(G), Zr, 3)
    np.testing.assert_array_equal(dA, dA0)
    P = 4 * h * w
    assert_sums_close(dW, dW0, 2 * mW, P * B + 4, dtype, "dW")
    assert_sums_close(db, dA0.sum(axis=(0, 2, 3)), 2 * np.abs(G).sum(axis=(0, 2, 3)), P * B, dtype,
                      "db")
    assert_sums_close(dU, blocks(dX0), 2 * blocks(mX), 36 * O + 4, dtype, "dU")
    if S is None:
        assert dS is None
    else:
        assert_sums_close(dS, dX0[:, Cu:], 2 * mX[:, Cu:], 9 * O + 4, dtype, "dS")


# ---------------------------------------------------------------- gradcheck on random models
def _regularizer(name, activation, n_code):
    R = ae.regularizers
    if name is None or not hasattr(R, name):
        return None
    if name in ("KLSparsity", "Contractive") and activation != "sigmoid":
        return None
    return {"WeightDecay": lambda: R.WeightDecay(0.05),
            "L1Activity": lambda: R.L1Activity(0.05),
            "KLSparsity": lambda: R.KLSparsity(0.2, 0.5),
            "Contractive": lambda: R.Contractive(0.1),
            "GaussianNoise": lambda: R.GaussianNoise(0.1),
            "Dropout": lambda: R.Dropout(0.3)}[name]()


@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(n_in=st.integers(2, 6),
       hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       activation=st.sampled_from(["sigmoid", "tanh", "relu", "identity"]),
       output=st.sampled_from(["sigmoid", "identity", "tanh"]),
       tied=st.booleans(),
       loss=st.sampled_from(["mse", "bce"]),
       reg=st.sampled_from([None, "WeightDecay", "L1Activity", "KLSparsity", "Contractive",
                            "GaussianNoise", "Dropout"]),
       batch=st.integers(1, 4),
       seed=st.integers(0, 2 ** 16),
       fast=st.booleans())
def test_gradcheck_random_small_models(n_in, hidden, activation, output, tied, loss, reg, batch,
                                       seed, fast):
    """Random small models on either path pass the gradient check."""
    assume(not (loss == "bce" and output != "sigmoid"))  # BCE needs x̂ in (0, 1)
    r = _regularizer(reg, activation, hidden[-1])
    if reg == "L1Activity" and activation in ("tanh", "identity"):
        r = None  # |h| has a kink at 0 that finite differences may straddle
    with on_path(fast):
        m = ae.Autoencoder(n_in, hidden, activation=activation, output_activation=output,
                           tied=tied, loss=loss, regularizers=[r] if r else [], seed=seed % 1000,
                           dtype="float64")
    rng = np.random.default_rng(seed)
    for k in m.params:
        if k.endswith(".b"):
            m.params[k][...] = rng.uniform(-0.5, 0.5, m.params[k].shape)
    X = rng.uniform(0.05, 0.95, (batch, n_in))
    # relu: skip draws where a pre-activation sits within reach of the stencil (the kink),
    # or where a unit is dead for the whole batch (its gradients are exactly 0: nothing to check)
    m.loss_and_grads(X, rng=np.random.default_rng(0))
    for layer in m.encoder + m.decoder:
        if layer.activation.name == "relu":
            A = layer.cache["A"]
            assume(np.abs(A).min() > 1e-2 and (A > 0).any(axis=0).all())
    assert_passes(ae.gradcheck(m, X))
