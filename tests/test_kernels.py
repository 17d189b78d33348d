"""Principle 3: every Numba kernel agrees with its NumPy reference."""
import numpy as np
import pytest

from aenumpy.fast import _jit
from aenumpy.fast.activation import act_backward, bias_act
from aenumpy.fast.loss import output_loss
from aenumpy.fast.optim import adam_update, sgd_update
from aenumpy.fast.noise import add_gaussian, box_muller_ref, n_words, uniforms_ref
from aenumpy.fast.regularizers import contractive_sigmoid, kl_sparsity, topk_mask


@pytest.mark.parametrize("code", [0, 1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_activation_paths_agree(code, dtype, rng):
    A = rng.normal(0, 3, (9, 13)).astype(dtype)
    A[0, 0], A[0, 1] = 80, -80  # far tails of the sigmoid
    b = rng.normal(0, 1, 13).astype(dtype)
    outs = []
    for fn in (bias_act.reference, bias_act.compiled):
        A2, Z = A.copy(), np.empty_like(A)
        fn(A2, b, code, Z)
        outs.append((A2, Z))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=tol)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=tol, atol=tol)


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_activation_backward_paths_agree(code, rng):
    Z = rng.random((7, 5))
    dZ = rng.normal(size=(7, 5))
    a = act_backward.reference(dZ, Z, code, np.empty_like(Z))
    b = act_backward.compiled(dZ, Z, code, np.empty_like(Z))
    np.testing.assert_allclose(a, b, rtol=1e-14)


def test_adam_paths_agree(rng):
    p, g = rng.normal(size=50), rng.normal(size=50)
    m, v = rng.normal(size=50) * 0.1, rng.random(50) * 0.1
    outs = []
    for fn in (adam_update.reference, adam_update.compiled):
        arrs = [p.copy(), g.copy(), m.copy(), v.copy()]
        fn(*arrs, 1e-3, 0.9, 0.999, 1e-8, 1 - 0.9 ** 3, 1 - 0.999 ** 3)
        outs.append(arrs)
    for x, y in zip(*outs):
        np.testing.assert_allclose(x, y, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_kernel_still_propagates_nan_and_zero_moments(dtype, rng):
    """A NaN gradient gives a NaN parameter (fast-math must not hide it), and v = 0
    (a zero gradient) gives neither inf nor NaN."""
    p = rng.normal(size=40).astype(dtype)
    g = rng.normal(size=40).astype(dtype)
    g[[3, 17]] = np.nan
    g[[5, 6]] = 0.0
    m, v = np.zeros_like(p), np.zeros_like(p)
    old = p.copy()
    adam_update.compiled(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001)
    assert np.isnan(p[[3, 17]]).all()
    assert p[5] == old[5] and p[6] == old[6]
    ok = np.ones(40, bool)
    ok[[3, 17]] = False
    assert np.isfinite(p[ok]).all()


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_paths_agree(nesterov, rng):
    p, g, vel = rng.normal(size=(4, 5)), rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    outs = []
    for fn in (sgd_update.reference, sgd_update.compiled):
        arrs = [p.copy(), g.copy(), vel.copy()]
        fn(*arrs, 0.1, 0.9, nesterov)
        outs.append(arrs)
    for x, y in zip(*outs):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_adam_matches_the_formula(rng):
    """θ ← θ − η m̂/(√v̂ + ε) after one step from zero state: m̂ = g, v̂ = g²."""
    import aenumpy as ae

    p = {"w": rng.normal(size=5)}
    g = {"w": rng.normal(size=5)}
    before = p["w"].copy()
    ae.optim.Adam(lr=0.1).step(p, g)
    np.testing.assert_allclose(p["w"], before - 0.1 * g["w"] / (np.abs(g["w"]) + 1e-8))


# ----------------------------------------------------------- issue 6: fast path

TOL = {np.float32: 2e-6, np.float64: 1e-12}


def test_float32_exp_and_log1p_are_accurate():
    """The written-out float32 e^x and log(1+e) of kernels/_math.py: relative error < 3e-7."""
    import numba

    from aenumpy.fast._math import fexp, flog1p

    @numba.njit
    def run(x, e, out1, out2):
        for i in range(x.shape[0]):
            out1[i] = fexp(x[i])
            out2[i] = flog1p(e[i])

    x = np.linspace(-87, 88, 200001).astype(np.float32)
    e = np.linspace(0, 1, 200001).astype(np.float32)
    o1, o2 = np.empty_like(x), np.empty_like(e)
    run(x, e, o1, o2)
    ref1 = np.exp(x.astype(np.float64))
    ref2 = np.log1p(e.astype(np.float64))
    assert np.max(np.abs(o1 - ref1) / ref1) < 3e-7
    assert np.max(np.abs(o2 - ref2) / np.maximum(ref2, 1e-30)) < 3e-7


def test_float32_log1m_and_sincos_are_accurate():
    """Box–Muller's float32 ln(1 − u) and (cos 2πu, sin 2πu) on every uniform NumPy's float32
    recipe can give near 0, ½ and 1, and on a grid: ln within 3e-7 relative, sin/cos within
    2e-7 absolute."""
    import numba

    from aenumpy.fast._math import flog1m, fsincos_turns

    @numba.njit
    def run(u, out1, out2, out3):
        for i in range(u.shape[0]):
            out1[i] = flog1m(u[i])
            out2[i], out3[i] = fsincos_turns(u[i])

    k = np.concatenate([np.arange(0, 4096), np.arange(2 ** 23 - 4096, 2 ** 23 + 4096),
                        np.arange(2 ** 24 - 4096, 2 ** 24), np.arange(0, 2 ** 24, 997)])
    u = (k * 2.0 ** -24).astype(np.float32)
    o1, o2, o3 = np.empty_like(u), np.empty_like(u), np.empty_like(u)
    run(u, o1, o2, o3)
    u64 = u.astype(np.float64)
    ref = np.log1p(-u64)
    assert np.max(np.abs(o1 - ref) / np.maximum(np.abs(ref), 1e-30)) < 3e-7
    assert np.max(np.abs(o2 - np.cos(2 * np.pi * u64))) < 2e-7
    assert np.max(np.abs(o3 - np.sin(2 * np.pi * u64))) < 2e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss_code,act_code", [(0, 1), (0, 0), (0, 2), (0, 3), (1, 1)])
def test_output_loss_paths_agree(loss_code, act_code, dtype, rng):
    A = rng.normal(0, 4, (11, 17)).astype(dtype)
    A[0, :3] = [60, -60, 0]
    Z = np.empty_like(A)
    bias_act.reference(A.copy(), np.zeros(17, dtype), act_code, Z)
    X = rng.random((11, 17)).astype(dtype)
    d1, d2 = np.empty_like(A), np.empty_like(A)
    E1 = output_loss.reference(X, A, Z, loss_code, act_code, d1)
    E2 = output_loss.compiled(X, A, Z, loss_code, act_code, d2)
    assert E1 == pytest.approx(E2, rel=TOL[dtype])
    # entries near the saturated tails (1 − z² for tanh) lose relative precision to
    # cancellation in either path: compare against the gradient's scale there
    np.testing.assert_allclose(d1, d2, rtol=TOL[dtype], atol=TOL[dtype] * np.abs(d1).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_paths_agree_in_each_dtype(dtype, rng):
    arrs0 = [rng.normal(size=300).astype(dtype), rng.normal(size=300).astype(dtype),
             (rng.normal(size=300) * 0.1).astype(dtype), (rng.random(300) * 0.1).astype(dtype)]
    outs = []
    for fn in (adam_update.reference, adam_update.compiled):
        arrs = [a.copy() for a in arrs0]
        fn(*arrs, 1e-3, 0.9, 0.999, 1e-8, 1 - 0.9 ** 7, 1 - 0.999 ** 7)
        outs.append(arrs)
    for x, y in zip(*outs):
        np.testing.assert_allclose(x, y, rtol=TOL[dtype] * 2, atol=TOL[dtype] * 1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("need_grad", [True, False])
@pytest.mark.parametrize("order", ["C", "F"])
def test_contractive_paths_agree(dtype, need_grad, order, rng):
    """Both paths, with W stored row- or column-major (encoders are column-major)."""
    A = rng.normal(0, 2, (9, 6)).astype(dtype)
    A[0, 0] = 40.0
    W = np.array(rng.normal(0, 0.5, (6, 13)), dtype=dtype, order=order)
    res = []
    for fn in (contractive_sigmoid.reference, contractive_sigmoid.compiled):
        dA = np.empty_like(A) if need_grad else None
        dW = np.empty_like(W) if need_grad else None
        res.append((fn(A, W, 0.3, dA, dW), dA, dW))
    assert res[0][0] == pytest.approx(res[1][0], rel=TOL[dtype])
    if need_grad:
        for k in (1, 2):
            np.testing.assert_allclose(res[0][k], res[1][k], rtol=TOL[dtype],
                                       atol=TOL[dtype] * 1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_contractive_kernel_matches_the_general_penalty(dtype, rng):
    """The fused sigmoid kernel and the regularizer's general formula give the same Ω, dA, dW."""
    import aenumpy as ae
    from aenumpy.regularizers import LayerView

    A = rng.normal(0, 2, (7, 5)).astype(dtype)
    W = rng.normal(0, 0.5, (5, 8)).astype(dtype)
    sig = ae.activations.get("sigmoid")
    view = LayerView(None, A, sig(A), W, sig)
    fast = ae.regularizers.Contractive(0.2).penalty(view, True)

    class General(type(sig)):  # not exactly Sigmoid: takes the general NumPy path
        pass

    slow = ae.regularizers.Contractive(0.2).penalty(LayerView(None, A, sig(A), W, General()), True)
    assert fast.value == pytest.approx(slow.value, rel=TOL[dtype])
    np.testing.assert_allclose(fast.dA, slow.dA, rtol=TOL[dtype] * 5, atol=1e-12)
    np.testing.assert_allclose(fast.dW, slow.dW, rtol=TOL[dtype] * 5, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3, 7, 12])
def test_topk_paths_agree_with_ties(dtype, k, rng):
    Z = rng.random((10, 12)).astype(dtype)
    Z[0] = 0.5                      # all tied: the lowest k indices are kept
    Z[1, ::2] = Z[1, 1]             # many ties around the threshold
    Z[2, :] = np.arange(12)[::-1]   # strictly decreasing
    M1 = topk_mask.reference(Z, k, np.empty_like(Z))
    M2 = topk_mask.compiled(Z, k, np.empty_like(Z))
    np.testing.assert_array_equal(M1, M2)
    assert (M2.sum(axis=1) == k).all()
    np.testing.assert_array_equal(M2[0], (np.arange(12) < k).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("need_grad", [True, False])
def test_kl_sparsity_paths_agree(dtype, need_grad, rng):
    Z = rng.random((16, 9)).astype(dtype) * 0.3
    Z[:, 0] = 0.0  # a dead unit: the clip is active, its gradient is 0
    out = []
    for fn in (kl_sparsity.reference, kl_sparsity.compiled):
        dZ = np.empty_like(Z) if need_grad else None
        v, rh = fn(Z, 0.05, 3.0, 1e-7, dZ)
        out.append((v, rh, dZ))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-10)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-10)
    if need_grad:
        np.testing.assert_allclose(out[0][2], out[1][2], rtol=TOL[dtype])
        assert (out[1][2][:, 0] == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 21), (3, 5), (1, 1), (128, 784)])
def test_gaussian_noise_paths_agree(dtype, shape, rng):
    """x + σε with ε by Box–Muller: the Numba polynomials against NumPy's log1p/cos/sin,
    odd sizes included (the last pair makes one normal too many)."""
    X = rng.random(shape).astype(dtype)
    bits = rng.bit_generator.random_raw(n_words(X.size, dtype))
    bits[0] = 0  # u₁ = 0 gives r = 0 (and, in float32, u₂ = 0)
    a = add_gaussian.reference(X, 0.3, bits, np.empty_like(X))
    b = add_gaussian.compiled(X, 0.3, bits, np.empty_like(X))
    np.testing.assert_allclose(b, a, rtol=0, atol=3e-6 if dtype == np.float32 else 1e-14)
    eps = box_muller_ref(uniforms_ref(bits, dtype))[:X.size].reshape(shape)
    np.testing.assert_allclose(a, X + dtype(0.3) * eps, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniforms_are_numpys_own(dtype):
    """The words become exactly the uniforms rng.random would have drawn."""
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    u = uniforms_ref(a.bit_generator.random_raw(6), dtype)
    np.testing.assert_array_equal(u, b.random(u.size, dtype=dtype))


def test_box_muller_float32_polynomials_are_accurate():
    """The float32 kernel's ε against Box–Muller in float64 of the same uniforms over 2²¹
    draws, with the extremes u = 0 and u = 1 − 2⁻²⁴: within 1e-6 absolute (|ε| < 5.8)."""
    bits = np.random.default_rng(1).bit_generator.random_raw(2 ** 20)
    bits[:3] = [0, 0xFFFFFFFFFFFFFFFF, 0x0000000100000000 * 0x40 + 0xFFFFFFFF]
    X = np.zeros((1, 2 ** 21), np.float32)
    eps = add_gaussian.compiled(X, 1.0, bits, np.empty_like(X)).ravel().astype(np.float64)
    exact = box_muller_ref(uniforms_ref(bits, np.float32).astype(np.float64))
    assert np.abs(eps - exact).max() < 1e-6
    assert np.abs(eps).max() <= np.sqrt(48 * np.log(2)) + 1e-5


@pytest.mark.parametrize("jit", [True, False])
def test_gaussian_corruption_is_standard_normal(jit):
    """GaussianNoise's ε: mean 0, variance 1, normal quantiles (Kolmogorov–Smirnov
    distance), and the two members of a Box–Muller pair uncorrelated."""
    from math import erf

    from aenumpy.regularizers.corruption import _gaussian

    X = np.zeros((400, 501), np.float32)  # odd row length: pairs straddle rows
    with _jit.use_jit(jit):
        eps = _gaussian(X, 1.0, np.random.default_rng(3)).astype(np.float64).ravel()
    n = eps.size
    assert abs(eps.mean()) < 4 / np.sqrt(n) and abs(eps.var() - 1) < 4 * np.sqrt(2 / n)
    s = np.sort(eps[::7])
    cdf = 0.5 * (1 + np.vectorize(erf)(s / np.sqrt(2)))
    ks = np.max(np.abs(cdf - np.arange(1, s.size + 1) / s.size))
    assert ks < 1.63 / np.sqrt(s.size)  # the 1% critical value
    pairs = eps[: n - n % 2].reshape(-1, 2)
    assert abs(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]) < 4 / np.sqrt(pairs.shape[0])
    assert abs(np.corrcoef(pairs[:, 0] ** 2, pairs[:, 1] ** 2)[0, 1]) < 4 / np.sqrt(pairs.shape[0])


@pytest.mark.parametrize("variant", ["basic", "denoising", "sparse_kl", "ksparse", "contractive",
                                     "deep"])
def test_a_training_step_agrees_on_both_paths(variant, rng):
    """One loss_and_grads of each benchmark model: JIT on and off give the same numbers."""
    import aenumpy as ae

    R = ae.regularizers
    regs = {"denoising": [R.GaussianNoise(0.3)], "sparse_kl": [R.KLSparsity(0.05, 3.0)],
            "ksparse": [R.TopK(4)], "contractive": [R.Contractive(0.1)]}.get(variant, [])
    hidden = [12, 8, 5] if variant == "deep" else [10]
    X = rng.random((16, 20)).astype(np.float32)
    res = []
    for on in (True, False):
        m = ae.Autoencoder(20, hidden, tied=variant == "contractive", regularizers=regs, seed=3)
        with _jit.use_jit(on):
            res.append(m.loss_and_grads(X, rng=np.random.default_rng(1)))
    assert res[0][0] == pytest.approx(res[1][0], rel=1e-5)
    for k in res[0][1]:
        np.testing.assert_allclose(res[0][1][k], res[1][1][k], rtol=1e-4, atol=1e-6)


def test_importing_compiles_nothing():
    """Principle 3 / cold start: kernels compile on first use, never at import."""
    import subprocess
    import sys

    code = ("import aenumpy, aenumpy.fast._jit as j, aenumpy.regularizers, "
            "aenumpy.fast.regularizers; print(len(j.COMPILED))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_all_finite_paths_agree(dtype, bad, rng):
    """fit's divergence check: the one-pass kernel sees a single NaN or inf anywhere."""
    from aenumpy.fast.optim import all_finite

    for where in (0, 517, 999):
        a = rng.normal(size=(10, 100)).astype(dtype)
        if bad is not None:
            a.reshape(-1)[where] = bad
        expect = bad is None
        assert all_finite.reference(a) is expect
        assert all_finite.compiled(a) is expect
        assert all_finite.compiled(a.T) is expect  # any layout
