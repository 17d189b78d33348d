import os
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _close_figures():
    """Every figure a test drew is closed after it (pyplot keeps them otherwise)."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def U(rng):
    """A small well-conditioned float64 batch in (0.05, 0.95): 5 samples, 6 features."""
    return 0.05 + 0.9 * rng.random((5, 6))


@pytest.fixture(scope="session")
def shared_data():
    """The shared MNIST copies (AENUMPY_DATA or ../shared/data); skip when absent."""
    env = os.environ.get("AENUMPY_DATA")
    for p in ([Path(env)] if env else []) + [SHARED_DATA]:
        if (p / "mnist" / "train-images-idx3-ubyte.gz").exists():
            return p
    pytest.skip("the shared MNIST copy is not available")


def assert_passes(report, tol=1e-7):
    """The report passes at ``tol``: every entry has relative error < tol, except
    entries so small that their absolute error is within finite-difference noise;
    and those are few (so the check is not passing vacuously)."""
    assert report.tol <= tol, report.tol
    assert report.ok, str(report)
    checked = sum(r["checked"] for r in report.rows)
    in_noise = sum(r["within_noise"] for r in report.rows)
    assert in_noise <= 0.1 * checked, str(report)


def on_path(fast):
    """Run on the teaching path (False) or the speed backend (True), the backend then
    standing in for work of every size (small models, so the tests stay quick)."""
    from aenumpy.backend import use_fast

    return use_fast(fast, min_work=0)
