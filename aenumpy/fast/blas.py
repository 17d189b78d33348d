"""Matrix products on the BLAS, run by the kernels' own threads.

Every matrix product of a training step (``X Wᵀ``, ``dAᵀ X``, ``dA W``) goes
through :func:`matmul`. The reference is ``np.matmul``. The Numba version calls
the *same* BLAS routine (NumPy's bundled OpenBLAS ``sgemm``/``dgemm``) but splits
the product into one stripe of the output per kernel thread; each thread runs its
stripe with a thread-local BLAS thread count of one.

Why: OpenBLAS runs a product on its own thread pool, whose threads then
busy-wait on the other cores for a while. A Numba kernel run on two threads
right after a product fought those spinning threads and was 1.2–3× *slower*
than on one thread, so all the elementwise work of a step (Adam, activations,
loss, noise) had to run on one core. With the products split by the kernels'
own threads, OpenBLAS's pool never wakes during a step, and every kernel runs
on all the threads. Measured on 2 cores (128×784 @ 784×256): NumPy with 2
OpenBLAS threads 279 µs, two single-threaded stripes 267 µs; Adam over the
basic model's 401k parameters then takes 60 µs instead of 117 µs.

The split path needs an OpenBLAS with ``openblas_set_num_threads_local``
(0.3.27 or later, as in NumPy's wheels for Linux and Windows). When NumPy's BLAS
is another one (Accelerate, MKL), when an operand has strides the BLAS cannot
take, or with ``AENUMPY_JIT=0``, :func:`matmul` is ``np.matmul`` and the kernels
keep to one thread (:func:`aenumpy.fast._jit.kernel_threads`).

One shape is worked differently: a product whose output is cut into column stripes
and whose B is a transposed view (``X Wᵀ`` with a row-major W) runs 10–15 % below
OpenBLAS's rate, so it is computed as its transpose ``Cᵀ = Bᵀ Aᵀ`` by row stripes,
each stripe transposed into C by OpenBLAS's ``omatcopy`` (:data:`NT_BY_TRANSPOSE`).
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
from numba import prange, types
from numba.extending import register_jitable

from ._jit import _OFF, _state as _jit_state, dispatch, jit, kernel_threads, switched

# CBLAS constants (row-major storage, no transpose / transpose)
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# the symbols of NumPy's bundled OpenBLAS (scipy-openblas64: 64-bit integers, suffixed)
_SGEMM, _DGEMM, _LOCAL = "scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", "openblas_set_num_threads_local"
_SOMAT, _DOMAT = "scipy_cblas_somatcopy64_", "scipy_cblas_domatcopy64_"


def find_openblas():
    """Path of NumPy's bundled OpenBLAS when it has the five symbols the split path
    calls, else None (looked for next to NumPy: ``numpy.libs`` or ``numpy/.dylibs``)."""
    root = os.path.dirname(np.__file__)
    pats = [os.path.join(root, "..", "numpy.libs", "*openblas64*"),
            os.path.join(root, ".dylibs", "*openblas64*")]
    for path in sorted(p for pat in pats for p in glob.glob(pat)):
        try:
            lib = ctypes.CDLL(path)
            if all(hasattr(lib, s) for s in (_SGEMM, _DGEMM, _LOCAL, _SOMAT, _DOMAT)):
                return os.path.realpath(path)
        except OSError:
            continue
    return None


#: M·N·K below which a product goes to ``np.matmul``: OpenBLAS itself runs those on
#: the calling thread (its ``GEMM_MULTITHREAD_THRESHOLD``: 4 · 65536), so its thread
#: pool stays asleep, and a stripe per thread would only add the fork and join
SMALL_PRODUCT = 4 * 65536

#: compute ``C = A Bᵀ``-shaped products (B a transposed view, as ``X Wᵀ`` with a
#: row-major W) that split by columns as ``Cᵀ = Bᵀ Aᵀ`` split by rows, each stripe then
#: transposed into C by OpenBLAS's ``omatcopy`` (see :func:`_gemm_nb`); a switch so that
#: the benchmark and the tests can run both ways
NT_BY_TRANSPOSE = True


def matmul_ref(A, B):
    """NumPy reference: ``A @ B`` (a new C-ordered array)."""
    return np.matmul(A, B)


def matmul_nb(A, B):
    """``A @ B`` by :func:`_gemm_nb`: the output in one stripe per kernel thread, each
    a single-threaded BLAS call (module docstring). Falls back to ``np.matmul`` for
    what the BLAS cannot take as it lies."""
    if (A.ndim != 2 or B.ndim != 2 or A.dtype != B.dtype or A.dtype.char not in "fd"
            or A.shape[1] != B.shape[0] or not split_blas()
            or A.shape[0] * A.shape[1] * B.shape[1] < SMALL_PRODUCT):
        return np.matmul(A, B)
    C = np.empty((A.shape[0], B.shape[1]), A.dtype)
    # the thread count first: a scalar, so the jit wrapper gives the call all the threads
    # (its small-work rule measures the first argument, and a thin A, 128×20, would
    # otherwise run the stripes one after another on one thread)
    if not _gemm_nb(kernel_threads(), A, B, C, NT_BY_TRANSPOSE):
        np.matmul(A, B, out=C)
    return C


matmul = dispatch(matmul_ref, matmul_nb)


# the BLAS entry points as Numba external functions: called by symbol name, so the
# compiled kernel caches to disk; split_blas() loads the library into LLVM's table
_I32, _I64, _P = types.int32, types.int64, types.uintp
_sgemm, _dgemm = (types.ExternalFunction(name, types.void(_I32, _I32, _I32, _I64, _I64, _I64, t, _P,
                                                          _I64, _P, _I64, t, _P, _I64))
                  for name, t in ((_SGEMM, types.float32), (_DGEMM, types.float64)))
_set_local = types.ExternalFunction(_LOCAL, types.int32(types.int32))
_somatcopy, _domatcopy = (types.ExternalFunction(name, types.void(_I32, _I32, _I64, _I64, t, _P, _I64,
                                                                 _P, _I64))
                          for name, t in ((_SOMAT, types.float32), (_DOMAT, types.float64)))
_split = {}


def _discover():
    """Look once for NumPy's OpenBLAS (unless ``AENUMPY_SPLIT_BLAS=0``) and load it
    into LLVM's symbol table; sets ``_split["found"]`` and ``_split["on"]``."""
    if "found" not in _split:
        path = None
        if os.environ.get("AENUMPY_SPLIT_BLAS", "1").strip().lower() not in _OFF:
            path = find_openblas()
        if path is not None:
            import llvmlite.binding as llvm

            llvm.load_library_permanently(path)
        _split["found"] = _split["on"] = path is not None


def split_blas() -> bool:
    """True when products run split over the kernel threads: the JIT is on, NumPy's
    OpenBLAS has what it takes, and ``AENUMPY_SPLIT_BLAS`` is not ``0``."""
    if not _jit_state["jit"]:
        return False
    _discover()
    return _split["on"]


def use_split(enabled: bool):
    """Run the body with the split products on (when available) or off; the kernels'
    thread count follows (tests use it to run both ways)."""
    _discover()
    return switched(_split, "on", bool(enabled) and _split["found"])


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
    each a multiple of 16 wide, one BLAS call each with the calling thread's BLAS thread
    count set to one; False (nothing done) when an operand has strides the BLAS cannot
    take or a size is zero. With `nt_by_transpose`, a product split by columns whose B
    is a transposed view and A row-major (the forward X Wᵀ of a row-major W, or δ W of a
    column-major one) is worked as its transpose: stripe t computes rows lo:hi of Cᵀ =
    Bᵀ Aᵀ (B's stored rows lo:hi times Aᵀ) into a scratch, then transposes them into C's
    columns lo:hi. OpenBLAS runs the transposed problem 5–30 % faster (128×256 @
    256×784: 300 against 340 µs, transpose included), and the numbers come out the same."""
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
            _set_local(1)
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
            _set_local(0)
    return True
