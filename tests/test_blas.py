"""The split matrix products (aenumpy/fast/blas.py): when they are on, how many
threads the kernels then use, and that a training step gives the same numbers
either way. Tolerances: the rounding bound of a sum of k products, k·ε·(|A||B|)."""
import sys

import numba
import numpy as np
import pytest
from conftest import on_path

import aenumpy as ae
from aenumpy.fast import _jit, blas, openblas


def bound(A, B):
    """Any summation order of A @ B in A's dtype is within this of the exact product."""
    k = A.shape[1]
    eps = np.finfo(A.dtype).eps
    return (k + 1) * eps * (np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64)))


def _numpy_has_scipy_openblas():
    cfg = np.show_config(mode="dicts")
    return cfg["Build Dependencies"]["blas"]["name"] == "scipy-openblas"


@pytest.mark.skipif(sys.platform != "linux" or not _numpy_has_scipy_openblas(),
                    reason="the split path is looked for in NumPy's Linux OpenBLAS wheels")
def test_split_path_is_found_with_numpys_openblas_wheel():
    assert openblas.find_openblas() is not None
    assert openblas.split_blas()


def test_kernel_threads_follow_the_split():
    with openblas.use_split(True):
        on = openblas.split_blas()
        assert _jit.kernel_threads() == (numba.config.NUMBA_NUM_THREADS if on else 1)
    with openblas.use_split(False):
        assert not openblas.split_blas()
        assert _jit.kernel_threads() == 1


def test_env_switch_turns_the_split_off(monkeypatch):
    monkeypatch.setenv("AENUMPY_SPLIT_BLAS", "0")
    monkeypatch.setattr(openblas, "_split", {})
    assert not openblas.split_blas()
    assert _jit.kernel_threads() == 1
    monkeypatch.setattr(openblas, "_split", {})  # the next test looks again


@pytest.mark.parametrize("kind", ["basic", "vae"])
def test_a_training_step_agrees_split_or_not(kind):
    X = np.random.default_rng(0).random((64, 40)).astype(np.float32)
    out = []
    for split in (True, False):
        with on_path(True), openblas.use_split(split):
            if kind == "vae":
                m = ae.VariationalAutoencoder(40, [24], 4, seed=0, dtype="float32")
            else:
                m = ae.Autoencoder(40, hidden=[24], seed=0, dtype="float32")
            E, g = m.loss_and_grads(X, rng=np.random.default_rng(1))
        out.append((E, g))
    (E0, g0), (E1, g1) = out
    # each entry a sum of at most 64 products (the batch) in another order, through two
    # layers: within 4·64 ulps of the largest gradient of its array
    tol = 4 * 64 * float(np.finfo(np.float32).eps)
    assert E1 == pytest.approx(E0, rel=tol)
    for k in g0:
        np.testing.assert_allclose(g1[k], g0[k], rtol=0, atol=tol * np.abs(g0[k]).max(),
                                   err_msg=k)


def test_a_step_sized_product_with_a_transposed_weight_is_right():
    rng = np.random.default_rng(3)
    A = rng.random((128, 784), dtype=np.float32)
    W = np.asarray(rng.random((256, 784), dtype=np.float32), order="F")
    C = blas.matmul(A, W.T)
    exact = A.astype(np.float64) @ W.T.astype(np.float64)
    assert np.all(np.abs(C - exact) <= bound(A, W.T))


def test_small_products_and_small_kernels_stay_on_one_thread():
    """Below OpenBLAS's own threading threshold a product is np.matmul's, bit for bit, and
    a kernel call on fewer than SMALL_WORK entries runs on one thread."""
    rng = np.random.default_rng(5)
    A = rng.random((32, 64), dtype=np.float32)
    B = rng.random((64, 32), dtype=np.float32)
    assert A.shape[0] * A.shape[1] * B.shape[1] < blas.SMALL_PRODUCT
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
        assert np.all(np.abs(C - exact) <= bound(X, W.T))
    # the two routes sum in different orders: each within the bound, so within twice it
    assert np.all(np.abs(out[True] - out[False]) <= 2 * bound(X, W.T))


@pytest.mark.skipif(openblas._blas_lib() is None, reason="NumPy's BLAS is not its OpenBLAS")
def test_one_blas_thread_holds_the_count_and_puts_it_back():
    """NumPy's OpenBLAS counts one thread inside the hold and its old count after; a count
    the thread governor asks for meanwhile is applied when the hold ends, not inside it."""
    get = openblas._blas["get"]
    old = get()
    try:
        openblas.set_blas_threads(2)
        start = get()
        with openblas.one_blas_thread():
            assert get() == 1
            with openblas.one_blas_thread():      # nested: still one, and no early let-go
                assert get() == 1
            assert get() == 1
            openblas.set_blas_threads(1)
            assert get() == 1
        assert get() == 1                         # the count asked for inside the hold
        openblas.set_blas_threads(2)
        with openblas.one_blas_thread():
            pass
        assert get() == start
    finally:
        openblas.set_blas_threads(old)


@pytest.mark.skipif(not openblas.split_blas(), reason="the split path is off")
def test_split_stripes_run_with_openblas_on_one_thread(monkeypatch):
    """Every split product's stripes run while NumPy's OpenBLAS counts one thread (so no
    stripe's gemm runs on OpenBLAS's own pool beside another), the count set and put back
    by the calling thread, never from inside the stripes, and the product is right."""
    get = openblas._blas["get"]
    seen = []
    kernel = blas._gemm_nb

    def watched(*args):
        seen.append(get())
        out = kernel(*args)
        seen.append(get())
        return out

    monkeypatch.setattr(blas, "_gemm_nb", watched)
    r = np.random.default_rng(5)
    A, B = r.random((128, 784), dtype=np.float32), r.random((784, 64), dtype=np.float32)
    old = get()
    openblas.set_blas_threads(2)
    try:
        before = get()
        C = blas.matmul(A, B)
        D, W = r.random((128, 64), dtype=np.float32), r.random((784, 64), dtype=np.float32)
        C2 = blas.matmul(D, W.T)              # split by columns, worked as its transpose
        assert seen == [1, 1, 1, 1]
        assert get() == before
        assert np.all(np.abs(C - A.astype(np.float64) @ B.astype(np.float64)) <= bound(A, B))
        assert np.all(np.abs(C2 - D.astype(np.float64) @ W.T.astype(np.float64)) <= bound(D, W.T))
    finally:
        openblas.set_blas_threads(old)
