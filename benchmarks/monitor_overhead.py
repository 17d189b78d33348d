"""How much slower ``fit(..., monitor=True)`` is than ``fit(...)``.

Two models: MNIST ``784 → 256 → 784`` with batches of 128 (a subset of the
training set, ``--mnist-rows``), and the digits model of the command line
(``64 → 32 → 64``, batches of 32, sigmoid, all 1437 images). For each, runs
with and without the monitor alternate (``--repeats`` pairs, after one warm-up
pair), each a fresh model with the same seed, and the ratio of the median times
(time inside fit, the sum of its epoch times) is printed.

    AENUMPY_DATA=/path/to/data python benchmarks/monitor_overhead.py
"""
from __future__ import annotations

import argparse
import statistics

import aenumpy as ae


def timed(make, X, batch, epochs, monitor):
    """Seconds spent in fit's epochs for a fresh model."""
    hist = ae.fit(make(), X, epochs=epochs, batch_size=batch, optimizer=ae.optim.Adam(lr=1e-3),
                  seed=0, progress=False, monitor=monitor)
    return sum(hist["seconds"])


def compare(name, make, X, batch, epochs, repeats):
    """Alternate runs off/on; print the median times and their ratio."""
    timed(make, X, batch, epochs, False)          # warm-up (compiled kernels, caches)
    timed(make, X, batch, epochs, True)
    off, on = [], []
    for _ in range(repeats):
        off.append(timed(make, X, batch, epochs, False))
        on.append(timed(make, X, batch, epochs, True))
    m_off, m_on = statistics.median(off), statistics.median(on)
    steps = epochs * -(-len(X) // batch)
    print(f"{name}: {steps} steps; off {1e3 * m_off:.1f} ms, on {1e3 * m_on:.1f} ms "
          f"({1e6 * m_off / steps:.0f} vs {1e6 * m_on / steps:.0f} µs a step); "
          f"ratio on/off {m_on / m_off:.3f}")
    return m_on / m_off


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--mnist-rows", type=int, default=12800)
    p.add_argument("--skip-mnist", action="store_true")
    a = p.parse_args()
    Xd = ae.datasets.load_digits()[0]
    compare("digits 64→32→64, batch 32", lambda: ae.Autoencoder(64, [32], seed=0), Xd, 32, 5,
            a.repeats)
    if not a.skip_mnist:
        Xm = ae.datasets.load_mnist("mnist")[0][:a.mnist_rows]
        compare("MNIST 784→256→784, batch 128", lambda: ae.Autoencoder(784, [256], seed=0), Xm,
                128, 1, a.repeats)


if __name__ == "__main__":
    main()
