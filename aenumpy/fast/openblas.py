"""NumPy's bundled OpenBLAS, found once: whether the products can run split over the
kernels' own threads (:mod:`.blas`).

The split path needs an OpenBLAS with ``openblas_set_num_threads_local`` (0.3.27 or
later, as in NumPy's wheels for Linux and Windows). When NumPy's BLAS is another one
(Accelerate, MKL), or with ``AENUMPY_SPLIT_BLAS=0`` in the environment, products are
``np.matmul`` and the kernels keep to one thread (:func:`._jit.kernel_threads`).
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os

import numpy as np

from ..backend import env_on

# the symbols of NumPy's bundled OpenBLAS (scipy-openblas64: 64-bit integers, suffixed)
SGEMM, DGEMM, LOCAL = "scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", "openblas_set_num_threads_local"
SOMAT, DOMAT = "scipy_cblas_somatcopy64_", "scipy_cblas_domatcopy64_"
GET_THREADS, SET_THREADS = "scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"
_split: dict = {}
_blas: dict = {}


def find_openblas():
    """Path of NumPy's bundled OpenBLAS when it has the five symbols the split path
    calls, else None (looked for next to NumPy: ``numpy.libs`` or ``numpy/.dylibs``)."""
    root = os.path.dirname(np.__file__)
    pats = [os.path.join(root, "..", "numpy.libs", "*openblas64*"),
            os.path.join(root, ".dylibs", "*openblas64*")]
    for path in sorted(p for pat in pats for p in glob.glob(pat)):
        try:
            lib = ctypes.CDLL(path)
            if all(hasattr(lib, s) for s in (SGEMM, DGEMM, LOCAL, SOMAT, DOMAT)):
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


def set_blas_threads(n: int):
    """Run NumPy's OpenBLAS (when it is NumPy's BLAS) on ``n`` threads for the products
    it threads itself, never more than it started with (``OPENBLAS_NUM_THREADS``, else
    the CPUs): :mod:`.threads` calls it when its count changes."""
    if "lib" not in _blas:
        path = find_openblas()
        lib = ctypes.CDLL(path) if path else None
        if lib is not None and not all(hasattr(lib, s) for s in (GET_THREADS, SET_THREADS)):
            lib = None
        _blas["lib"] = lib
        _blas["most"] = getattr(lib, GET_THREADS)() if lib is not None else 0
    if _blas["lib"] is not None:
        getattr(_blas["lib"], SET_THREADS)(max(1, min(int(n), _blas["most"])))
