"""How much slower ``fit(..., monitor=True)`` is than ``fit(...)``.

Two models: MNIST ``784 → 256 → 784`` with batches of 128 (a subset of the
training set, ``--mnist-rows``), and the digits model of the command line
(``64 → 32 → 64``, batches of 32, sigmoid, all 1437 images). For each, runs
with and without the monitor alternate (``--repeats`` pairs, after one warm-up
pair), each a fresh model with the same seed, and the ratio of the fastest times
(time inside fit, the sum of its epoch times) is printed, and that of the medians.
Then, less disturbed by other work on the machine (both shares of one run), the
time spent inside the monitor's calls over the rest of fit's time.

    AENUMPY_DATA=/path/to/data python benchmarks/monitor_overhead.py [--every 1 4 8]
"""
from __future__ import annotations

import argparse
import statistics
import time

import aenumpy as ae
from aenumpy.monitor import Monitor


def timed(make, X, batch, epochs, monitor):
    """Seconds spent in fit's epochs for a fresh model."""
    hist = ae.fit(make(), X, epochs=epochs, batch_size=batch, optimizer=ae.optim.Adam(lr=1e-3),
                  seed=0, progress=False, monitor=monitor)
    return sum(hist["seconds"])


class TimedMonitor(Monitor):
    """A Monitor that also adds up the seconds spent in its own calls."""

    seconds = 0.0

    def before_step(self, grads):
        t0 = time.perf_counter()
        super().before_step(grads)
        self.seconds += time.perf_counter() - t0

    def after_step(self):
        t0 = time.perf_counter()
        super().after_step()
        self.seconds += time.perf_counter() - t0


def compare(name, make, X, batch, epochs, repeats, every=None):
    """Alternate runs off/on; print the fastest times, and the ratio on/off of the fastest
    (the least disturbed by other work on the machine) and of the medians."""
    monitor = Monitor(every=every)
    timed(make, X, batch, epochs, False)          # warm-up (compiled kernels, caches)
    timed(make, X, batch, epochs, monitor)
    off, on = [], []
    for _ in range(repeats):
        off.append(timed(make, X, batch, epochs, False))
        on.append(timed(make, X, batch, epochs, monitor))
    inside = []                                   # the monitor's own share of a run
    for _ in range(repeats):
        mon = TimedMonitor(every=monitor.every)
        total = timed(make, X, batch, epochs, mon)
        inside.append(mon.seconds / (total - mon.seconds))
    steps = epochs * -(-len(X) // batch)
    best = min(on) / min(off)
    print(f"{name}, {monitor!r}: {steps} steps; fastest off {1e6 * min(off) / steps:.0f} µs, "
          f"on {1e6 * min(on) / steps:.0f} µs a step; on/off {best:.3f} (fastest), "
          f"{statistics.median(on) / statistics.median(off):.3f} (medians); time in the "
          f"monitor's calls / the rest of fit: {statistics.median(inside):.3f} (median)")
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--every", type=int, nargs="+", default=[None],
                   help="measure one step in EVERY (default: the Monitor's default)")
    p.add_argument("--mnist-rows", type=int, default=12800)
    p.add_argument("--skip-mnist", action="store_true")
    a = p.parse_args()
    Xd = ae.datasets.load_digits()[0]
    Xm = None if a.skip_mnist else ae.datasets.load_mnist("mnist")[0][:a.mnist_rows]
    for every in a.every:
        compare("digits 64→32→64, batch 32", lambda: ae.Autoencoder(64, [32], seed=0), Xd, 32, 5,
                a.repeats, every)
        if Xm is not None:
            compare("MNIST 784→256→784, batch 128", lambda: ae.Autoencoder(784, [256], seed=0), Xm,
                    128, 1, a.repeats, every)


if __name__ == "__main__":
    main()
