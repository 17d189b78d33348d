"""NumPy's bundled OpenBLAS, found once: whether the products can run split over the
kernels' own threads (:mod:`.blas`).

The split path needs NumPy's own OpenBLAS (``scipy-openblas64``, as in NumPy's wheels for
Linux and Windows): its ``gemm`` and ``omatcopy`` and its thread-count calls. When NumPy's
BLAS is another one (Accelerate, MKL), or with ``AENUMPY_SPLIT_BLAS=0`` in the environment,
products are ``np.matmul`` and the kernels keep to one thread (:func:`._jit.kernel_threads`).

**One BLAS thread while the stripes run** (:func:`one_blas_thread`). Each kernel thread's
stripe must be a single-threaded ``gemm``. OpenBLAS has ``openblas_set_num_threads_local``
for that, but in this pthreads build it sets the *global* count (a thread that sets 1 and
then 0 changes what every thread sees). Called from inside the parallel region, one
stripe's "back to the default" can let the other stripe's ``gemm`` start threaded on
OpenBLAS's own pool while a second product runs beside it, and the two can then wait for
each other's threads forever, spinning. So the count is set once, to 1, by the calling
thread before the stripes start, and put back after they end; nothing inside the parallel
region touches it.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os

import numpy as np

from ..backend import env_on

# the symbols of NumPy's bundled OpenBLAS (scipy-openblas64: 64-bit integers, suffixed)
SGEMM, DGEMM = "scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"
SOMAT, DOMAT = "scipy_cblas_somatcopy64_", "scipy_cblas_domatcopy64_"
GET_THREADS, SET_THREADS = "scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"
_split: dict = {}
_blas: dict = {}


def find_openblas():
    """Path of NumPy's bundled OpenBLAS when it has the six symbols the split path
    calls, else None (looked for next to NumPy: ``numpy.libs`` or ``numpy/.dylibs``)."""
    root = os.path.dirname(np.__file__)
    pats = [os.path.join(root, "..", "numpy.libs", "*openblas64*"),
            os.path.join(root, ".dylibs", "*openblas64*")]
    for path in sorted(p for pat in pats for p in glob.glob(pat)):
        try:
            lib = ctypes.CDLL(path)
            if all(hasattr(lib, s) for s in (SGEMM, DGEMM, SOMAT, DOMAT, GET_THREADS,
                                             SET_THREADS)):
                return os.path.realpath(path)
        except OSError:
            continue
    return None


def _discover():
    """Look once for NumPy's OpenBLAS (unless ``AENUMPY_SPLIT_BLAS=0``) and load it
    into LLVM's symbol table (so compiled kernels can call it by name)."""
    if "found" not in _split:
        path = None
        if env_on("AENUMPY_SPLIT_BLAS"):
            path = find_openblas()
        if path is not None:
            import llvmlite.binding as llvm

            llvm.load_library_permanently(path)
        _split["found"] = _split["on"] = path is not None


def split_blas() -> bool:
    """True when products run split over the kernel threads: NumPy's OpenBLAS has
    what it takes and ``AENUMPY_SPLIT_BLAS`` is not ``0``."""
    _discover()
    return _split["on"]


@contextlib.contextmanager
def use_split(enabled: bool):
    """Run the body with the split products on (when available) or off; the kernels'
    thread count follows (tests use it to run both ways)."""
    _discover()
    old = _split["on"]
    _split["on"] = bool(enabled) and _split["found"]
    try:
        yield
    finally:
        _split["on"] = old


def _blas_lib():
    """NumPy's OpenBLAS as a ctypes library (None when NumPy's BLAS is another one), with
    the thread count it started with (``OPENBLAS_NUM_THREADS``, else the CPUs)."""
    if "lib" not in _blas:
        path = find_openblas()
        lib = ctypes.CDLL(path) if path else None
        _blas["lib"] = lib
        if lib is not None:
            _blas["get"], _blas["set"] = getattr(lib, GET_THREADS), getattr(lib, SET_THREADS)
            _blas["most"] = _blas["get"]()
        _blas["held"], _blas["after"] = False, None
    return _blas["lib"]


def set_blas_threads(n: int):
    """Run NumPy's OpenBLAS (when it is NumPy's BLAS) on ``n`` threads for the products
    it threads itself, never more than it started with: :mod:`.threads` calls it when its
    count changes. While :func:`one_blas_thread` holds the count at one, the new count
    waits until it lets go."""
    if _blas_lib() is None:
        return
    n = max(1, min(int(n), _blas["most"]))
    if _blas["held"]:
        _blas["after"] = n
    else:
        _blas["set"](n)


@contextlib.contextmanager
def one_blas_thread():
    """Hold NumPy's OpenBLAS at one thread for the body (the split products' stripes,
    module docstring), set and put back by the calling thread; a count asked for meanwhile
    (:func:`set_blas_threads`) is applied when the body ends."""
    if _blas_lib() is None or _blas["held"]:
        yield
        return
    old = _blas["get"]()
    if old != 1:
        _blas["set"](1)
    _blas["held"], _blas["after"] = True, None
    try:
        yield
    finally:
        new = old if _blas["after"] is None else _blas["after"]
        _blas["held"], _blas["after"] = False, None
        if new != 1:
            _blas["set"](new)
