"""The speed backend's kernels on the cases a property test would rarely draw, and the
two paths agreeing on whole training steps. Tolerances are counts of the dtype's
epsilon, derived from the arithmetic compared."""
import subprocess
import sys

import numpy as np
import pytest
from conftest import on_path

import aenumpy as ae
from aenumpy.fast.noise import add_gaussian, box_muller_ref, n_words, uniforms_ref
from aenumpy.fast.optim import adam_many
from aenumpy.fast.regularizers import kl_sparsity, topk_mask
from aenumpy.regularizers.sparsity import CLIP
from aenumpy.regularizers.topk import topk_mask as topk_teaching


def eps(dtype):
    return float(np.finfo(dtype).eps)


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
    adam_many((p,), (g,), (m,), (v,), 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001)
    assert np.isnan(p[[3, 17]]).all()
    assert p[5] == old[5] and p[6] == old[6]
    ok = np.ones(40, bool)
    ok[[3, 17]] = False
    assert np.isfinite(p[ok]).all()


def test_adam_matches_the_formula(rng):
    """θ ← θ − η m̂/(√v̂ + ε) after one step from zero state: m̂ = g, v̂ = g², on both paths."""
    for fast in (False, True):
        with on_path(fast):
            opt = ae.optim.Adam(lr=0.1)
        p = {"w": rng.normal(size=5)}
        g = {"w": rng.normal(size=5)}
        before = p["w"].copy()
        with on_path(fast):
            opt.step(p, g)
        expect = before - 0.1 * g["w"] / (np.abs(g["w"]) + 1e-8)
        np.testing.assert_allclose(p["w"], expect, rtol=0, atol=16 * eps(np.float64))


def test_float32_exp_and_log1p_are_accurate():
    """The written-out float32 e^x and log(1+e) of fast/_math.py: within 2.5 ulps
    (relative error < 3e-7) of the float64 values."""
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
    assert np.max(np.abs(o1 - ref1) / ref1) < 2.5 * eps(np.float32)
    assert np.max(np.abs(o2 - ref2) / np.maximum(ref2, 1e-30)) < 2.5 * eps(np.float32)


def test_float32_log1m_and_sincos_are_accurate():
    """Box–Muller's float32 ln(1 − u) and (cos 2πu, sin 2πu) on every uniform NumPy's float32
    recipe can give near 0, ½ and 1, and on a grid: ln within 2.5 ulps relative, sin/cos
    within 2e-7 absolute."""
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
    assert np.max(np.abs(o1 - ref) / np.maximum(np.abs(ref), 1e-30)) < 2.5 * eps(np.float32)
    assert np.max(np.abs(o2 - np.cos(2 * np.pi * u64))) < 2e-7
    assert np.max(np.abs(o3 - np.sin(2 * np.pi * u64))) < 2e-7


def test_float32_log_is_accurate():
    """The float32 ln w of fast/_math.py (a softmax's log Σ e^(a − m), w ≥ 1) within 2.5 ulps
    relative of the float64 value, over every float32 exponent and close to w = 1."""
    import numba

    from aenumpy.fast._math import flog

    @numba.njit
    def run(w, out):
        for i in range(w.shape[0]):
            out[i] = flog(w[i])

    w = np.concatenate([np.geomspace(1e-30, 1e30, 200001), 1 + np.linspace(-1e-3, 1e-3, 20001),
                        np.linspace(1, 64, 20001)]).astype(np.float32)
    w = w[w != 1]                                   # ln 1 = 0 exactly: no relative error
    out = np.empty_like(w)
    run(w, out)
    ref = np.log(w.astype(np.float64))
    assert np.max(np.abs(out - ref) / np.abs(ref)) < 2.5 * eps(np.float32)
    one = np.empty(1, np.float32)
    run(np.ones(1, np.float32), one)
    assert one[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3, 7, 12])
@pytest.mark.parametrize("by", ["abs", "value"])
def test_topk_kernel_with_ties_and_signs(dtype, k, by, rng):
    Z = rng.normal(size=(10, 12)).astype(dtype)
    Z[0] = 0.5                      # all tied: the lowest k indices are kept
    Z[1, ::2] = Z[1, 1]             # many ties around the threshold
    Z[2, :] = np.arange(12)[::-1]   # strictly decreasing
    Z[3, :] = -np.arange(12)        # all ≤ 0: by |z| the most negative win
    M = topk_mask(Z, k, by)
    np.testing.assert_array_equal(M, topk_teaching(Z, k, by))
    assert (M.sum(axis=1) == k).all()
    np.testing.assert_array_equal(M[0], (np.arange(12) < k).astype(dtype))
    expect3 = np.arange(12) >= 12 - k if by == "abs" else np.arange(12) < k
    np.testing.assert_array_equal(M[3], expect3.astype(dtype))


def test_topk_by_abs_and_by_value_differ_only_where_codes_go_negative(rng):
    """The lecture's f_k ranks by |z|, Makhzani & Frey by z: the same units for codes ≥ 0."""
    Z = rng.random((20, 16)).astype(np.float32)
    np.testing.assert_array_equal(topk_mask(Z, 4, "abs"), topk_mask(Z, 4, "value"))
    Zt = np.tanh(rng.normal(0, 2, (20, 16))).astype(np.float32)
    assert not np.array_equal(topk_mask(Zt, 4, "abs"), topk_mask(Zt, 4, "value"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_kernel_zeroes_a_dead_units_gradient(dtype, rng):
    Z = rng.random((16, 9)).astype(dtype) * 0.3
    Z[:, 0] = 0.0  # a dead unit: the clip is active, its gradient is 0
    dZ = np.empty_like(Z)
    v, rho_hat = kl_sparsity(Z, 0.05, 3.0, CLIP, dZ)
    assert np.isfinite(v) and rho_hat[0] == 0.0 and (dZ[:, 0] == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 21), (3, 5), (1, 1), (128, 784)])
def test_gaussian_noise_kernel_against_its_reference(dtype, shape, rng):
    """x + σε with ε by Box–Muller: the Numba polynomials against NumPy's log1p/cos/sin,
    odd sizes included (the last pair makes one normal too many)."""
    X = rng.random(shape).astype(dtype)
    bits = rng.bit_generator.random_raw(n_words(X.size, dtype))
    bits[0] = 0  # u₁ = 0 gives r = 0 (and, in float32, u₂ = 0)
    b = add_gaussian(X, 0.3, bits, np.empty_like(X))
    eps_ = box_muller_ref(uniforms_ref(bits, dtype))[:X.size].reshape(shape)
    # |ε| ≤ 5.8 (float32), the polynomials within 6e-7 of it; one more rounding of x + σε
    tol = 0.3 * 5.8 * 6e-7 + 2 * eps(dtype) if dtype == np.float32 else 32 * eps(dtype)
    np.testing.assert_allclose(b, X + dtype(0.3) * eps_, rtol=0, atol=tol)


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
    eps_ = add_gaussian(X, 1.0, bits, np.empty_like(X)).ravel().astype(np.float64)
    exact = box_muller_ref(uniforms_ref(bits, np.float32).astype(np.float64))
    assert np.abs(eps_ - exact).max() < 1e-6
    assert np.abs(eps_).max() <= np.sqrt(48 * np.log(2)) + 1e-5


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "teaching"])
def test_gaussian_corruption_is_standard_normal(fast):
    """GaussianNoise's ε on each path: mean 0, variance 1, normal quantiles
    (Kolmogorov–Smirnov distance), and the two members of a Box–Muller pair uncorrelated."""
    from math import erf

    X = np.zeros((400, 501), np.float32)  # odd row length: pairs straddle rows
    with on_path(fast):
        m = ae.Autoencoder(501, [2], regularizers=[ae.regularizers.GaussianNoise(1.0)])
    eps_ = m._corrupt(m.regularizers[0], X, np.random.default_rng(3)).astype(np.float64).ravel()
    n = eps_.size
    assert abs(eps_.mean()) < 4 / np.sqrt(n) and abs(eps_.var() - 1) < 4 * np.sqrt(2 / n)
    s = np.sort(eps_[::7])
    cdf = 0.5 * (1 + np.vectorize(erf)(s / np.sqrt(2)))
    ks = np.max(np.abs(cdf - np.arange(1, s.size + 1) / s.size))
    assert ks < 1.63 / np.sqrt(s.size)  # the 1% critical value
    pairs = eps_[: n - n % 2].reshape(-1, 2)
    assert abs(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]) < 4 / np.sqrt(pairs.shape[0])
    assert abs(np.corrcoef(pairs[:, 0] ** 2, pairs[:, 1] ** 2)[0, 1]) < 4 / np.sqrt(pairs.shape[0])


VARIANTS = ["basic", "denoising", "sparse_kl", "ksparse", "ksparse_value", "contractive", "deep",
            "bce", "tanh_l1", "dropout", "vae"]


def _variant(name):
    R = ae.regularizers
    if name == "vae":
        return ae.VariationalAutoencoder(20, [12], 3, seed=3, dtype="float64")
    regs = {"denoising": [R.GaussianNoise(0.3)], "sparse_kl": [R.KLSparsity(0.05, 3.0)],
            "ksparse": [R.TopK(4)], "ksparse_value": [R.TopK(4, by="value")],
            "contractive": [R.Contractive(0.1)], "tanh_l1": [R.L1Activity(0.01)],
            "dropout": [R.Dropout(0.3), R.WeightDecay(0.01)]}.get(name, [])
    return ae.Autoencoder(20, [12, 8, 5] if name == "deep" else [10],
                          activation="tanh" if name == "tanh_l1" else "sigmoid",
                          loss="bce" if name == "bce" else "mse",
                          tied=name == "contractive", regularizers=regs, seed=3, dtype="float64")


def _fixed_noise(model, monkeypatch):
    """Hold Gaussian corruption fixed as an array: the two paths draw it differently."""
    noise = np.random.default_rng(11).standard_normal((16, 20))
    monkeypatch.setattr(model, "_corrupt", lambda r, X, rng: X + r.sigma * noise)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_training_step_agrees_on_both_paths(variant, rng, monkeypatch):
    """One loss_and_grads of each kind of model, teaching and fast, in float64: the same
    numbers to rounding (each gradient entry a sum of at most 20 products per layer)."""
    X = rng.random((16, 20))
    eps_ = rng.standard_normal((16, 3))
    res = []
    for fast in (False, True):
        with on_path(fast):
            m = _variant(variant)
            assert (type(m).__module__ == "aenumpy.fast.models") == fast  # its twin when on
            if variant == "denoising":
                _fixed_noise(m, monkeypatch)
            kw = {"eps": eps_} if variant == "vae" else {"rng": np.random.default_rng(1)}
            res.append(m.loss_and_grads(X, **kw))
    (E0, g0), (E1, g1) = res
    tol = 1e3 * eps(np.float64)
    assert E1 == pytest.approx(E0, rel=tol)
    for k in g0:
        scale = np.abs(g0[k]).max() + 1e-300
        np.testing.assert_allclose(g1[k], g0[k], rtol=0, atol=tol * scale, err_msg=k)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_passes_the_gradient_check_on_the_fast_path(variant):
    from conftest import assert_passes

    X = np.random.default_rng(2).uniform(0.05, 0.95, (16, 20))
    with on_path(True):
        m = _variant(variant)
        assert m.fast
        assert_passes(ae.gradcheck(m, X, max_entries=12))


def test_importing_compiles_nothing():
    """Principle 3 / cold start: kernels compile on first use, never at import."""
    code = ("import aenumpy, aenumpy.fast._jit as j, aenumpy.fast.models, "
            "aenumpy.fast.regularizers; print(len(j.COMPILED))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_all_finite_sees_one_bad_entry_anywhere(dtype, bad, rng):
    """fit's divergence check: the one-pass kernel sees a single NaN or inf anywhere."""
    from aenumpy.fast.optim import all_finite

    for where in (0, 517, 99_999):
        a = rng.normal(size=(100, 1000)).astype(dtype)
        if bad is not None:
            a.reshape(-1)[where] = bad
        expect = bad is None
        assert all_finite({"g": a}) is expect
        assert all_finite({"g": a.T}) is expect  # any layout
        assert ae.train.all_finite({"g": a}) is expect
