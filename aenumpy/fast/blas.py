"""Matrix products on the BLAS, run by the kernels' own threads.

Every matrix product of a fast training step (``X Wᵀ``, ``δᵀ X``, ``δ W``) goes
through :func:`matmul`. Its NumPy reference is ``np.matmul``. It calls the *same*
BLAS routine (NumPy's bundled OpenBLAS ``sgemm``/``dgemm``) but splits the product
into one stripe of the output per kernel thread; each thread runs its stripe as a
single-threaded BLAS call, OpenBLAS held at one thread meanwhile
(:func:`.openblas.one_blas_thread`).

Why: OpenBLAS runs a product on its own thread pool, whose threads then busy-wait
on the other cores for a while, and a Numba kernel run on all threads right after a
product fights those spinning threads. With the products split by the kernels' own
threads, OpenBLAS's pool never wakes during a step, and every elementwise kernel
(Adam, activations, loss, noise) runs on all the threads.

When NumPy's BLAS cannot be split (:mod:`.openblas`), when an operand has strides the
BLAS cannot take, or for a small product, :func:`matmul` is ``np.matmul``.

One shape is worked differently: a product whose output is cut into column stripes
and whose B is a transposed view (``X Wᵀ`` with a row-major W) runs below OpenBLAS's
rate, so it is computed as its transpose ``Cᵀ = Bᵀ Aᵀ`` by row stripes, each stripe
transposed into C by OpenBLAS's ``omatcopy`` (:data:`NT_BY_TRANSPOSE`).
"""
from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import register_jitable

from ._jit import jit, kernel_threads
from .openblas import DGEMM, DOMAT, SGEMM, SOMAT, one_blas_thread, split_blas

# CBLAS constants (row-major storage, no transpose / transpose)
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


#: M·N·K below which a product goes to ``np.matmul``: OpenBLAS itself runs those on
#: the calling thread (its ``GEMM_MULTITHREAD_THRESHOLD``: 4 · 65536), so its thread
#: pool stays asleep, and a stripe per thread would only add the fork and join
SMALL_PRODUCT = 4 * 65536

#: compute ``C = A Bᵀ``-shaped products (B a transposed view, as ``X Wᵀ`` with a
#: row-major W) that split by columns as ``Cᵀ = Bᵀ Aᵀ`` split by rows, each stripe then
#: transposed into C by OpenBLAS's ``omatcopy`` (see :func:`_gemm_nb`); a switch so that
#: the benchmark and the tests can run both ways
NT_BY_TRANSPOSE = True


def matmul(A, B):
    """``A @ B`` by :func:`_gemm_nb`: the output in one stripe per kernel thread, each
    a single-threaded BLAS call (module docstring). NumPy reference: ``np.matmul``, which
    it falls back to for what the BLAS cannot take as it lies and for small products."""
    if (A.ndim != 2 or B.ndim != 2 or A.dtype != B.dtype or A.dtype.char not in "fd"
            or A.shape[1] != B.shape[0] or not split_blas()
            or A.shape[0] * A.shape[1] * B.shape[1] < SMALL_PRODUCT):
        return np.matmul(A, B)
    C = np.empty((A.shape[0], B.shape[1]), A.dtype)
    # the thread count first: a scalar, so the jit wrapper gives the call all the threads
    # (its small-work rule measures the first argument, and a thin A, 128×20, would
    # otherwise run the stripes one after another on one thread)
    with one_blas_thread():
        done = _gemm_nb(kernel_threads(), A, B, C, NT_BY_TRANSPOSE)
    if not done:
        np.matmul(A, B, out=C)
    return C


# the BLAS entry points as Numba external functions: called by symbol name, so the
# compiled kernel caches to disk; split_blas() loads the library into LLVM's table
_I32, _I64, _P = types.int32, types.int64, types.uintp
_sgemm, _dgemm = (types.ExternalFunction(name, types.void(_I32, _I32, _I32, _I64, _I64, _I64, t, _P,
                                                          _I64, _P, _I64, t, _P, _I64))
                  for name, t in ((SGEMM, types.float32), (DGEMM, types.float64)))
_somatcopy, _domatcopy = (types.ExternalFunction(name, types.void(_I32, _I32, _I64, _I64, t, _P, _I64,
                                                                 _P, _I64))
                          for name, t in ((SOMAT, types.float32), (DOMAT, types.float64)))


@register_jitable
def _operand_nb(X):
    """(transpose flag, leading dimension) of a 2-D operand the BLAS can read as it lies
    (row-major, or a transposed view of one); (0, 0) when it cannot"""
    size = X.itemsize
    r, c = X.strides
    if c == size and r % size == 0 and r >= size * max(1, X.shape[1]):
        return _NO_TRANS, r // size
    if r == size and c % size == 0 and c >= size * max(1, X.shape[0]):
        return _TRANS, c // size
    return 0, 0


@register_jitable
def _gemm_call(size, ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
    """``c = op(a) op(b)`` (c m×n, row-major, leading dimension ldc) by the BLAS's
    ``sgemm`` or ``dgemm``, as ``size`` (the operands' item size) says."""
    if size == 4:
        _sgemm(_ROW_MAJOR, ta, tb, m, n, k, np.float32(1.0), a, lda, b, ldb, np.float32(0.0), c, ldc)
    else:
        _dgemm(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc)


@register_jitable
def _transpose_into(size, rows, cols, src, lds, dst, ldd):
    """``dst = srcᵀ`` (src rows×cols with leading dimension lds, dst cols×rows with ldd)
    by the BLAS's ``somatcopy`` or ``domatcopy``."""
    if size == 4:
        _somatcopy(_ROW_MAJOR, _TRANS, rows, cols, np.float32(1.0), src, lds, dst, ldd)
    else:
        _domatcopy(_ROW_MAJOR, _TRANS, rows, cols, 1.0, src, lds, dst, ldd)


@jit(parallel=True)
def _gemm_nb(parts, A, B, C, nt_by_transpose):
    """C = A B (C row-major) in `parts` stripes of C's rows (when it is tall) or columns,
    each a multiple of 16 wide, one BLAS call each (single-threaded: the caller holds
    OpenBLAS at one thread, :func:`.openblas.one_blas_thread`); False (nothing done) when an operand has strides the BLAS cannot
    take or a size is zero. With `nt_by_transpose`, a product split by columns whose B
    is a transposed view and A row-major (the forward X Wᵀ of a row-major W, or δ W of a
    column-major one) is worked as its transpose: stripe t computes rows lo:hi of Cᵀ =
    Bᵀ Aᵀ (B's stored rows lo:hi times Aᵀ) into a scratch, then transposes them into C's
    columns lo:hi; the numbers come out the same."""
    M, K = A.shape
    N = B.shape[1]
    ta, lda = _operand_nb(A)
    tb, ldb = _operand_nb(B)
    if ta == 0 or tb == 0 or M == 0 or N == 0 or K == 0:
        return False
    size = A.itemsize
    by_rows = M >= N
    flip = nt_by_transpose and not by_rows and ta == _NO_TRANS and tb == _TRANS
    S = np.empty((N if flip else 0, M), C.dtype)  # the rows of Cᵀ, when flipped
    a, b, c, s = A.ctypes.data, B.ctypes.data, C.ctypes.data, S.ctypes.data
    n = M if by_rows else N
    width = ((n + parts - 1) // parts + 15) // 16 * 16
    for t in prange(parts):
        lo = min(n, t * width)
        hi = min(n, lo + width)
        if hi > lo:
            if flip:
                _gemm_call(size, _NO_TRANS, _TRANS, hi - lo, M, K, b + size * lo * ldb, ldb,
                           a, lda, s + size * lo * M, M)
                _transpose_into(size, hi - lo, M, s + size * lo * M, M, c + size * lo, N)
            elif by_rows:
                offa = lo * lda if ta == _NO_TRANS else lo
                _gemm_call(size, ta, tb, hi - lo, N, K, a + size * offa, lda, b, ldb,
                           c + size * lo * N, N)
            else:
                offb = lo if tb == _NO_TRANS else lo * ldb
                _gemm_call(size, ta, tb, M, hi - lo, K, a, lda, b + size * offb, ldb,
                           c + size * lo, N)
    return True
