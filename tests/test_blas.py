"""The split matrix products (aenumpy/fast/blas.py): when they are on, how many
threads the kernels then use, and that a training step gives the same numbers
either way."""
import sys

import numba
import numpy as np
import pytest

import aenumpy as ae
from aenumpy.fast import _jit, blas


def _numpy_has_scipy_openblas():
    cfg = np.show_config(mode="dicts")
    return cfg["Build Dependencies"]["blas"]["name"] == "scipy-openblas"


@pytest.mark.skipif(sys.platform != "linux" or not _numpy_has_scipy_openblas(),
                    reason="the split path is looked for in NumPy's Linux OpenBLAS wheels")
def test_split_path_is_found_with_numpys_openblas_wheel():
    assert blas.find_openblas() is not None
    with ae.fast.use_jit(True):
        assert blas.split_blas()


def test_kernel_threads_follow_the_split():
    with ae.fast.use_jit(True):
        with blas.use_split(True):
            on = blas.split_blas()
            assert _jit.kernel_threads() == (numba.config.NUMBA_NUM_THREADS if on else 1)
        with blas.use_split(False):
            assert not blas.split_blas()
            assert _jit.kernel_threads() == 1
    with ae.fast.use_jit(False):
        assert not blas.split_blas()


def test_env_switch_turns_the_split_off(monkeypatch):
    monkeypatch.setenv("AENUMPY_SPLIT_BLAS", "0")
    monkeypatch.setattr(blas, "_split", {})
    with ae.fast.use_jit(True):
        assert not blas.split_blas()
        assert _jit.kernel_threads() == 1
    monkeypatch.setattr(blas, "_split", {})  # the next test looks again


@pytest.mark.parametrize("kind", ["basic", "vae"])
def test_a_training_step_agrees_split_or_not(kind):
    X = np.random.default_rng(0).random((64, 40)).astype(np.float32)
    out = []
    for split in (True, False):
        if kind == "vae":
            m = ae.VariationalAutoencoder(40, [24], 4, seed=0, dtype="float32")
        else:
            m = ae.Autoencoder(40, hidden=[24], seed=0, dtype="float32")
        with ae.fast.use_jit(True), blas.use_split(split):
            E, g = m.loss_and_grads(X, rng=np.random.default_rng(1))
        out.append((E, g))
    (E0, g0), (E1, g1) = out
    assert E1 == pytest.approx(E0, rel=1e-5)
    for k in g0:
        np.testing.assert_allclose(g1[k], g0[k], rtol=1e-4, atol=1e-6)


def test_a_step_sized_product_with_a_transposed_weight_is_right():
    rng = np.random.default_rng(3)
    A = rng.random((128, 784), dtype=np.float32)
    W = np.asarray(rng.random((256, 784), dtype=np.float32), order="F")
    with ae.fast.use_jit(True):
        C = blas.matmul(A, W.T)
    np.testing.assert_allclose(C, A.astype(np.float64) @ W.T.astype(np.float64), rtol=1e-5)


def test_use_split_works_with_the_jit_off():
    with ae.fast.use_jit(False), blas.use_split(True):
        assert not blas.split_blas()
        A = np.ones((3, 2), np.float32)
        np.testing.assert_array_equal(blas.matmul(A, A.T), np.full((3, 3), 2, np.float32))


def test_small_products_and_small_kernels_stay_on_one_thread():
    """Below OpenBLAS's own threading threshold a product is np.matmul's, bit for bit, and
    a kernel call on fewer than SMALL_WORK entries runs on one thread."""
    rng = np.random.default_rng(5)
    A = rng.random((32, 64), dtype=np.float32)
    B = rng.random((64, 32), dtype=np.float32)
    assert A.shape[0] * A.shape[1] * B.shape[1] < blas.SMALL_PRODUCT
    with ae.fast.use_jit(True):
        np.testing.assert_array_equal(blas.matmul(A, B), np.matmul(A, B))
    small = np.zeros(_jit.SMALL_WORK - 1, np.float32)
    big = np.zeros(_jit.SMALL_WORK, np.float32)
    assert _jit._work((small, 1.0)) < _jit.SMALL_WORK <= _jit._work((big,))
    assert _jit._work(((small, small), 0)) == 2 * small.size
    assert _jit._work((3, small)) == _jit.SMALL_WORK  # no array first: use the threads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(128, 256, 784), (128, 64, 256), (100, 30, 333)])
def test_a_product_with_a_row_major_weight_worked_as_its_transpose(dtype, m, k, n):
    """X Wᵀ with W row-major (a decoder's forward) splits by columns, so the kernel
    computes Cᵀ = W Xᵀ by rows and transposes each stripe into C: the same numbers as
    the column stripes, and right against float64."""
    rng = np.random.default_rng(7)
    X = rng.random((m, k)).astype(dtype)
    W = rng.random((n, k)).astype(dtype)  # row-major, so W.T is a transposed view
    exact = X.astype(np.float64) @ W.T.astype(np.float64)
    out = {}
    with ae.fast.use_jit(True):
        old = blas.SMALL_PRODUCT, blas.NT_BY_TRANSPOSE
        try:
            blas.SMALL_PRODUCT = 0
            for flip in (True, False):
                blas.NT_BY_TRANSPOSE = flip
                out[flip] = blas.matmul(X, W.T)
        finally:
            blas.SMALL_PRODUCT, blas.NT_BY_TRANSPOSE = old
    for C in out.values():
        assert C.shape == (m, n) and C.dtype == dtype and C.flags.c_contiguous
        np.testing.assert_allclose(C, exact, rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(out[True], out[False], rtol=1e-6 if dtype == np.float32 else 1e-14)
