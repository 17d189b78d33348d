"""Property-based tests (hypothesis): every kernel in aenumpy/fast against its NumPy
reference on random shapes and values, and gradcheck on random small models.

Each kernel is a ``dispatch`` object with ``.reference`` (the readable NumPy) and
``.compiled`` (Numba). Examples are derandomized so CI sees the same cases every run.
"""
import contextlib
import importlib
import pkgutil

import numpy as np
import pytest
from conftest import assert_passes
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aenumpy as ae
import aenumpy.fast as fast_pkg

SETTINGS = settings(max_examples=30, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DTYPES = st.sampled_from([np.float32, np.float64])
SHAPES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24)


def tol(dtype):
    """'Agree to rounding': a few ulps of the dtype, relative to the values' scale."""
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


def arrays(draw, dtype, shape, lo=-60.0, hi=60.0):
    width = 32 if dtype == np.float32 else 64
    return draw(hnp.arrays(dtype, shape, elements=st.floats(lo, hi, width=width,
                                                             allow_subnormal=False)))


def both(kernel, *args, out=()):
    """Run reference and compiled on copies of the arrays; return both results and outs."""
    res = []
    for fn in (kernel.reference, kernel.compiled):
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        r = fn(*a)
        res.append((r, [a[i] for i in out]))
    return res


def _kernels():
    """Every dispatch object in every module of aenumpy.fast."""
    found = {}
    for mod in pkgutil.iter_modules(fast_pkg.__path__):
        m = importlib.import_module(f"aenumpy.fast.{mod.name}")
        for name, obj in vars(m).items():
            if hasattr(obj, "reference") and hasattr(obj, "compiled") and callable(obj):
                found[f"{mod.name}.{name}"] = obj
    return found


COVERED = {"activation.bias_act", "activation.act_backward", "loss.output_loss",
           "optim.adam_update", "optim.adam_update_many", "optim.sgd_update", "optim.all_finite", "regularizers.contractive_sigmoid",
           "regularizers.topk_mask", "regularizers.kl_sparsity", "noise.add_gaussian",
           "blas.matmul", "gather.gather_rows", "pcg64.raw_words"}


def test_every_kernel_has_a_property_test():
    missing = set(_kernels()) - COVERED
    assert not missing, f"kernels without a property test in tests/test_properties.py: {missing}"


# ---------------------------------------------------------------- activation kernels
@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.integers(0, 3))
def test_bias_act(data, dtype, shape, code):
    from aenumpy.fast.activation import bias_act

    A = arrays(data.draw, dtype, shape)
    b = arrays(data.draw, dtype, shape[1:], -5, 5)
    (_, (A0, Z0)), (_, (A1, Z1)) = both(bias_act, A, b, code, np.empty_like(A), out=(0, 3))
    np.testing.assert_array_equal(A0, A1)  # A + b: the same single rounding on both paths
    np.testing.assert_allclose(Z1, Z0, **tol(dtype))
    assert Z1.dtype == dtype


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.integers(0, 3))
def test_act_backward(data, dtype, shape, code):
    from aenumpy.fast.activation import act_backward

    lo, hi = {0: (-5, 5), 1: (0, 1), 2: (-1, 1), 3: (0, 5)}[code]
    Z = arrays(data.draw, dtype, shape, lo, hi)
    dZ = arrays(data.draw, dtype, shape, -3, 3)
    (r0, _), (r1, _) = both(act_backward, dZ, Z, code, np.empty_like(Z))
    np.testing.assert_allclose(r1, r0, **tol(dtype))


# ---------------------------------------------------------------- loss kernel
@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.sampled_from([(0, 0), (0, 1), (0, 2), (0, 3), (1, 1)]))
def test_output_loss(data, dtype, shape, codes):
    from aenumpy.fast.activation import bias_act
    from aenumpy.fast.loss import output_loss

    loss_code, act_code = codes
    X = arrays(data.draw, dtype, shape, 0, 1)
    A = arrays(data.draw, dtype, shape, -40, 40)
    Z = np.empty_like(A)
    bias_act.reference(A, np.zeros(shape[1], dtype), act_code, Z)
    (E0, (d0,)), (E1, (d1,)) = both(output_loss, X, A, Z, loss_code, act_code,
                                    np.empty_like(A), out=(5,))
    assert np.isfinite(E0) and np.isfinite(E1)
    assert E1 == pytest.approx(E0, rel=tol(dtype)["rtol"], abs=tol(dtype)["atol"])
    np.testing.assert_allclose(d1, d0, **tol(dtype))


# ---------------------------------------------------------------- optimizer kernels
@SETTINGS
@given(st.data(), DTYPES, st.integers(1, 200), st.integers(1, 5000),
       st.floats(1e-5, 1.0), st.floats(0.0, 0.99), st.floats(0.9, 0.99999), st.floats(1e-10, 1e-3))
def test_adam_update(data, dtype, n, t, lr, b1, b2, eps):
    from aenumpy.fast.optim import adam_update

    p = arrays(data.draw, dtype, (n,), -5, 5)
    g = arrays(data.draw, dtype, (n,), -5, 5)
    m = arrays(data.draw, dtype, (n,), -1, 1)
    v = arrays(data.draw, dtype, (n,), 0, 2)
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    (_, o0), (_, o1) = both(adam_update, p, g, m, v, lr, b1, b2, eps, bc1, bc2, out=(0, 2, 3))
    for a0, a1 in zip(o0, o1):
        np.testing.assert_allclose(a1, a0, rtol=tol(dtype)["rtol"],
                                   atol=tol(dtype)["rtol"] * max(1.0, lr / np.sqrt(bc2)))


@SETTINGS
@given(st.data(), DTYPES, st.lists(st.integers(1, 60), min_size=1, max_size=5),
       st.integers(1, 5000), st.floats(1e-5, 1.0))
def test_adam_update_many(data, dtype, sizes, t, lr):
    """All the parameters in one call: the same as the reference, parameter by parameter."""
    from aenumpy.fast.optim import adam_update_many

    groups = [[arrays(data.draw, dtype, (n,), lo, hi) for n in sizes]
              for lo, hi in ((-5, 5), (-5, 5), (-1, 1), (0, 2))]
    b1, b2, eps = 0.9, 0.999, 1e-8
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    outs = []
    for fn in (adam_update_many.reference, adam_update_many.compiled):
        g = [[a.copy() for a in grp] for grp in groups]
        fn(*g, lr, b1, b2, eps, bc1, bc2)
        outs.append(g)
    for grp0, grp1 in zip(*outs):
        for a0, a1 in zip(grp0, grp1):
            np.testing.assert_allclose(a1, a0, rtol=tol(dtype)["rtol"],
                                       atol=tol(dtype)["rtol"] * max(1.0, lr / np.sqrt(bc2)))


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.floats(1e-5, 2.0), st.floats(0.0, 0.99), st.booleans())
def test_sgd_update(data, dtype, shape, lr, mu, nesterov):
    from aenumpy.fast.optim import sgd_update

    p, g, vel = (arrays(data.draw, dtype, shape, -5, 5) for _ in range(3))
    (_, o0), (_, o1) = both(sgd_update, p, g, vel, lr, mu, nesterov, out=(0, 2))
    for a0, a1 in zip(o0, o1):
        np.testing.assert_allclose(a1, a0, **tol(dtype))


SPECIALS = st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-40, -1e-310,
                            np.finfo(np.float32).max, np.finfo(np.float64).max])


@SETTINGS
@given(st.data(), DTYPES, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=20),
       st.lists(st.tuples(st.floats(0, 1), SPECIALS), max_size=4), st.booleans())
def test_all_finite(data, dtype, shape, specials, transpose):
    from aenumpy.fast import optim as kopt

    if not hasattr(kopt, "all_finite"):
        pytest.skip("all_finite is not in this tree")
    a = arrays(data.draw, dtype, shape, -1e3, 1e3)
    flat = a.reshape(-1)
    with np.errstate(over="ignore"):
        for where, value in specials:
            if flat.size:
                flat[int(where * (flat.size - 1))] = dtype(value)
    if transpose:
        a = a.T  # a non-contiguous view
    truth = bool(np.isfinite(a).all())
    assert kopt.all_finite.reference(a) is truth
    assert kopt.all_finite.compiled(a) is truth


# ---------------------------------------------------------------- matrix products
@contextlib.contextmanager
def _threaded():
    """Small inputs through the threaded paths too (normally they stay on one thread:
    ``blas.SMALL_PRODUCT``, ``_jit.SMALL_WORK``), so the stripes and their edges are tested."""
    from aenumpy.fast import _jit, blas

    old = blas.SMALL_PRODUCT, _jit.SMALL_WORK
    blas.SMALL_PRODUCT, _jit.SMALL_WORK = 0, 0
    try:
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


@SETTINGS
@given(st.data(), DTYPES, st.integers(1, 80), st.integers(1, 40), st.integers(1, 80))
def test_matmul(data, dtype, m, k, n):
    from aenumpy.fast.blas import matmul

    A = _laid_out(data.draw, dtype, (m, k))
    B = _laid_out(data.draw, dtype, (k, n))
    exact = A.astype(np.float64) @ B.astype(np.float64)
    for fn in (matmul.reference, matmul.compiled):
        with _threaded():
            C = fn(A, B)
        assert C.shape == (m, n) and C.dtype == dtype and C.flags.c_contiguous
        np.testing.assert_allclose(C, exact, rtol=0, atol=k * (3e-6 if dtype == np.float32 else 1e-14))


@SETTINGS
@given(st.data(), DTYPES, st.integers(1, 50), st.integers(1, 30), st.integers(0, 40))
def test_gather_rows(data, dtype, n, d, b):
    from aenumpy.fast.gather import gather_rows

    X = arrays(data.draw, dtype, (n, d))
    idx = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=b, max_size=b)), np.int64)
    for fn in (gather_rows.reference, gather_rows.compiled):
        out = np.full((b, d), np.nan, dtype)
        with _threaded():
            assert fn(X, idx, out) is out
        np.testing.assert_array_equal(out, X[idx])


@pytest.mark.parametrize("bad", [-1, 7])
def test_gather_rows_refuses_an_index_out_of_range(bad):
    from aenumpy.fast.gather import gather_rows

    X = np.arange(14, dtype=np.float32).reshape(7, 2)
    for fn in (gather_rows.reference, gather_rows.compiled):
        with pytest.raises(IndexError, match=r"outside \[0, 7\)"):
            fn(X, np.array([0, bad, 1]), np.empty((3, 2), np.float32))


@SETTINGS
@given(st.integers(0, 2**63), st.integers(0, 3000), st.integers(0, 5))
def test_raw_words(seed, n, skip):
    """The threaded PCG64 words are random_raw's, bit for bit, and leave the same state."""
    from aenumpy.fast.pcg64 import raw_words

    a, b = np.random.PCG64(seed), np.random.PCG64(seed)
    a.random_raw(skip)  # a generator part-way through its stream
    b.random_raw(skip)
    np.testing.assert_array_equal(raw_words.compiled(a, n), raw_words.reference(b, n))
    assert a.state == b.state
    assert a.random_raw() == b.random_raw()


def test_raw_words_other_generators_and_large_counts():
    from aenumpy.fast.pcg64 import raw_words

    for make in (lambda: np.random.Philox(7), lambda: np.random.MT19937(7)):
        a, b = make(), make()
        np.testing.assert_array_equal(raw_words.compiled(a, 100), b.random_raw(100))
    a, b = np.random.PCG64(123), np.random.PCG64(123)
    np.testing.assert_array_equal(raw_words.compiled(a, 50_177), b.random_raw(50_177))
    assert a.state == b.state


# ---------------------------------------------------------------- regularizer kernels
def _reg_kernel(name):
    mod = pytest.importorskip("aenumpy.fast.regularizers")
    return getattr(mod, name)


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.integers(1, 12), st.floats(0.0, 2.0), st.booleans())
def test_contractive_sigmoid(data, dtype, shape, d_in, lam, need_grad):
    k = _reg_kernel("contractive_sigmoid")
    A = arrays(data.draw, dtype, shape, -30, 30)
    W = arrays(data.draw, dtype, (shape[1], d_in), -3, 3)
    dA, dW = (np.empty_like(A), np.empty_like(W)) if need_grad else (None, None)
    (v0, o0), (v1, o1) = both(k, A, W, lam, dA, dW, out=(3, 4))
    assert v1 == pytest.approx(v0, rel=tol(dtype)["rtol"], abs=tol(dtype)["atol"])
    if need_grad:
        for a0, a1 in zip(o0, o1):
            np.testing.assert_allclose(a1, a0, **tol(dtype))


@SETTINGS
@given(st.data(), DTYPES, SHAPES)
def test_topk_mask(data, dtype, shape):
    k = _reg_kernel("topk_mask")
    Z = arrays(data.draw, dtype, shape, -5, 5)
    kk = data.draw(st.integers(1, shape[1]))
    (M0, _), (M1, _) = both(k, Z, kk, np.empty_like(Z))
    np.testing.assert_array_equal(M1, M0)  # ties too: both keep the lowest index
    assert np.all(M0.sum(axis=1) == kk)


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.floats(0.01, 0.5), st.floats(0.0, 5.0), st.booleans())
def test_kl_sparsity(data, dtype, shape, rho, beta, need_grad):
    k = _reg_kernel("kl_sparsity")
    Z = arrays(data.draw, dtype, shape, 0, 1)
    dZ = np.empty_like(Z) if need_grad else None
    ((v0, r0), o0), ((v1, r1), o1) = both(k, Z, rho, beta, 1e-7, dZ, out=(4,))
    assert v1 == pytest.approx(v0, rel=1e-9, abs=1e-12)  # ρ̂ and Ω in float64 on both paths
    np.testing.assert_allclose(r1, r0, rtol=1e-12, atol=1e-15)
    if need_grad:
        np.testing.assert_allclose(o1[0], o0[0], **tol(dtype))


@SETTINGS
@given(st.data(), DTYPES, SHAPES, st.floats(0.0, 2.0))
def test_add_gaussian(data, dtype, shape, sigma):
    from aenumpy.fast.noise import add_gaussian, n_words

    X = arrays(data.draw, dtype, shape, 0, 1)
    bits = data.draw(hnp.arrays(np.uint64, (n_words(X.size, dtype),)))
    (r0, _), (r1, _) = both(add_gaussian, X, sigma, bits, np.empty_like(X))
    np.testing.assert_allclose(r1, r0, rtol=0, atol=(4e-6 if dtype == np.float32 else 1e-13))


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
       seed=st.integers(0, 2 ** 16))
def test_gradcheck_random_small_models(n_in, hidden, activation, output, tied, loss, reg, batch,
                                       seed):
    assume(not (loss == "bce" and output != "sigmoid"))  # BCE needs x̂ in (0, 1)
    r = _regularizer(reg, activation, hidden[-1])
    if reg == "L1Activity" and activation in ("tanh", "identity"):
        r = None  # |h| has a kink at 0 that finite differences may straddle
    m = ae.Autoencoder(n_in, hidden, activation=activation, output_activation=output, tied=tied,
                       loss=loss, regularizers=[r] if r else [], seed=seed % 1000,
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
