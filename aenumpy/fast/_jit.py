"""Compiling the kernels: lazily, cached on disk, on the right number of threads.

Nothing is compiled at import: :func:`jit` wraps a function so that Numba compiles
it (``cache=True``, so a later process loads it from disk) the first time it is
called. A ``parallel`` kernel runs on the threads :mod:`.threads` allows (the CPU
budget, fewer while other work holds cores) when the matrix products run split over
them (:mod:`.blas`), else on one.
"""
from __future__ import annotations

import functools
import time

from . import threads
from .openblas import split_blas

#: names of the kernels compiled in this process (import compiles none)
COMPILED: list = []
_state: dict = {}


#: LLVM fast-math flags the kernels are compiled with: reassociation (so sums over a
#: row vectorise) and fused multiply-add, but no assumption that values are finite,
#: so NaN and inf still propagate (``fit`` relies on that to detect divergence).
FASTMATH = {"reassoc", "contract", "nsz"}


def kernel_threads() -> int:
    """The parts a ``parallel`` kernel splits its work into: the process's CPU budget
    (:func:`.threads.most`), at most Numba's threads (``NUMBA_NUM_THREADS``), when the
    matrix products run split over them (:mod:`aenumpy.fast.blas`), else one.

    The count fixes how the work is cut (a product's stripes, a convolution's partial
    weight gradients), and so the rounding of the results; how many threads run those
    parts at a time is :func:`running_threads`, which may be fewer while the machine is
    busy. The same seed gives the same numbers whatever the load.

    One part, because NumPy's OpenBLAS runs each product on its own threads, which then
    busy-wait on the other cores: a kernel forking onto them right after a product
    costs far more than it saves. The kernels are compiled with ``parallel=True`` even
    then, because Numba's parfor pass outlines the loop with no-alias arrays, which is
    what lets LLVM vectorise it."""
    if not split_blas():
        return 1
    n = _state.get("pool")
    if n is None:
        import numba

        n = _state["pool"] = max(1, int(numba.config.NUMBA_NUM_THREADS))
    return min(n, threads.most())


def running_threads() -> int:
    """Threads a ``parallel`` kernel runs on now: its parts (:func:`kernel_threads`), fewer
    while other work keeps them from running (:func:`.threads.current`)."""
    return min(kernel_threads(), threads.current())


_threads = {}

#: entries below which a kernel runs on one thread even when more are available: the
#: fork and join of a parallel region cost more than a small array's work saves
SMALL_WORK = 1 << 15


def _work(args):
    """Entries in the first array argument (or in a tuple of arrays: Adam's parameters),
    a measure of a kernel call's work."""
    a = args[0]
    size = getattr(a, "size", None)
    if size is not None:
        return size
    if isinstance(a, tuple):
        return sum(getattr(x, "size", 0) for x in a)
    return SMALL_WORK  # a scalar first argument: no measure, use the threads


def _shapes(args):
    """What identifies the work of a kernel call: its arrays' shapes (a tuple of arrays:
    theirs) and its whole-number arguments (a thread count, an activation's code); not
    its real numbers (Adam's bias corrections change at every step)."""
    def shape(a):
        if hasattr(a, "shape"):
            return a.shape
        if isinstance(a, tuple):
            return tuple(shape(x) for x in a)
        return a if isinstance(a, int) else None

    return tuple(shape(a) for a in args)


def _thread_count_accessors(numba):
    """``(get, set)`` for Numba's per-thread thread count.

    The public ``numba.get_num_threads``/``set_num_threads`` check their argument and
    the thread pool on every call, three calls per kernel; once the pool is up, the
    threading layer's own C entry points do the same far faster. Falls back to the
    public functions if a Numba version moves them.
    """
    try:
        from numba.np.ufunc import parallel as p

        p._launch_threads()
        get, set_ = p._get_num_threads, p._set_num_threads
        if callable(get) and callable(set_) and get() >= 1:
            return get, set_
    except Exception:  # pragma: no cover - depends on Numba's internals
        pass
    return numba.get_num_threads, numba.set_num_threads  # pragma: no cover


def jit(parallel: bool = False, fastmath: bool = True):
    """Decorator: compile with ``numba.njit(cache=True)`` on first call, not at import.

    ``fastmath=False`` compiles without the :data:`FASTMATH` flags (bit-exact NumPy rounding)."""

    def deco(py_func):
        compiled = None

        @functools.wraps(py_func)
        def call(*args):
            nonlocal compiled
            if compiled is None:
                import numba

                compiled = numba.njit(cache=True, parallel=parallel, nogil=True,
                                      fastmath=FASTMATH if fastmath else False)(py_func)
                COMPILED.append(py_func.__name__)
                if "get" not in _threads:
                    _threads["get"], _threads["set"] = _thread_count_accessors(numba)
            if not parallel:
                return compiled(*args)
            threads.poll()  # how long the threads waited, looked at every threads.INTERVAL s
            want = running_threads()
            small = _work(args) < SMALL_WORK
            if small:
                want = 1
            old = _threads["get"]()
            if old != want:
                _threads["set"](want)
            try:
                if small or not threads.timing():
                    return compiled(*args)
                t0 = time.perf_counter()  # a trial of another thread count is being judged
                out = compiled(*args)
                threads.record((call, _shapes(args)), time.perf_counter() - t0)
                return out
            finally:
                if old != want:
                    _threads["set"](old)

        call.py_func = py_func
        return call

    return deco
