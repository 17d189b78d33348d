"""Principle 4: the same seed gives the same numbers, bit for bit, run after run, on
the reference path and on the Numba path alike; and the two paths agree to rounding."""
import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import aenumpy as ae
from conftest import on_path


def _regs(gaussian=True):
    """Corruption, dropout and KL sparsity. The two paths draw Gaussian noise differently
    (the fast one by Box–Muller from the generator's raw words), so a comparison of the
    paths uses masking noise, which both draw as ``rng.random``."""
    R = ae.regularizers
    return [R.GaussianNoise(0.1) if gaussian else R.MaskingNoise(0.1), R.Dropout(0.2),
            R.KLSparsity(0.1, 0.5)]


def _train(jit, dtype="float32", regs=True, epochs=2, gaussian=True):
    X = ae.datasets.load_digits(dtype=dtype)[0][:256]
    with on_path(jit):
        m = ae.Autoencoder(64, [24, 12], regularizers=_regs(gaussian) if regs else [], seed=7,
                           dtype=dtype)
        h = ae.fit(m, X, epochs=epochs, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3),
                   seed=13, progress=False, X_val=X[:64])
    return m, h


def _digest(model):
    h = hashlib.sha256()
    for k in sorted(model.params):
        h.update(k.encode())
        h.update(np.ascontiguousarray(model.params[k]).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("jit", [False, True], ids=["reference", "numba"])
def test_same_seed_bit_identical_run_to_run(jit):
    (m1, h1), (m2, h2) = _train(jit), _train(jit)
    for k in m1.params:
        np.testing.assert_array_equal(m1.params[k], m2.params[k], err_msg=k)
    assert h1["loss"] == h2["loss"] and h1["val_loss"] == h2["val_loss"]


def test_different_seeds_differ():
    X = ae.datasets.load_digits()[0][:128]
    ms = []
    for seed in (0, 1):
        m = ae.Autoencoder(64, [8], seed=3)
        ae.fit(m, X, epochs=1, batch_size=32, seed=seed, progress=False)
        ms.append(m)
    assert not np.array_equal(ms[0].params["enc0.W"], ms[1].params["enc0.W"])


def _gap(dtype, terms):
    """Rounding gap between two orders of summing ``terms`` products in ``dtype``: each
    within terms·ε of the exact sum (relative to the sum of magnitudes), so within twice that
    of each other."""
    return 2 * terms * float(np.finfo(dtype).eps)


def test_the_paths_agree_after_sixteen_adam_steps():
    """Two epochs (16 Adam steps, lr 3e-3) of the 64-24-12 model on both paths, in float64.

    Bound: each step's gradients differ by at most γ = 2·n·ε relative (n = 64, the longest
    sum). Adam's step η m̂/(√v̂ + ε) moves that by at most 2γ·κ relative, κ ≤ 1e3 the
    largest |m̂|/√v̂ ratio a step sees away from g = 0; the run is smooth (η·L ≲ 0.05 per
    step), so the gaps add up over T = 16 steps with a growth of at most (1 + η·L)^T ≤ 2.
    Hence |Δθ| ≤ T·η·2γ·κ·2, and the loss differs by at most that times its gradient's norm."""
    (mr, hr), (mn, hn) = _train(False, "float64", gaussian=False), _train(True, "float64",
                                                                              gaussian=False)
    gamma = _gap(np.float64, 64)
    bound = 16 * 3e-3 * 2 * gamma * 1e3 * 2
    for k in mr.params:
        np.testing.assert_allclose(mn.params[k], mr.params[k], rtol=0, atol=bound, err_msg=k)
    np.testing.assert_allclose(hn["loss"], hr["loss"], rtol=0, atol=bound * 1e3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_step_agrees_to_rounding(dtype):
    """One step's loss and gradients on both paths: every quantity is a chain of sums of
    at most 64 products (the features) or 32 (the batch, in ∂E/∂W), so each gradient entry
    is within a few such gaps of the largest entry of its array."""
    X = ae.datasets.load_digits(dtype=dtype)[0][:32]
    out = []
    for jit in (False, True):
        with on_path(jit):
            m = ae.Autoencoder(64, [16], loss="bce", seed=1, dtype=dtype)
            E, g = m.loss_and_grads(X, rng=np.random.default_rng(0))
            out.append((E, g))
    tol = 4 * _gap(dtype, 64 + 32)
    assert out[0][0] == pytest.approx(out[1][0], rel=tol)
    for k in out[0][1]:
        scale = np.abs(out[0][1][k]).max()
        np.testing.assert_allclose(out[1][1][k], out[0][1][k], rtol=0, atol=tol * scale,
                                   err_msg=k)


def test_vae_same_seed_bit_identical():
    cls = getattr(ae, "VariationalAutoencoder", None)
    if cls is None:
        pytest.skip("VariationalAutoencoder is not in this tree yet")
    X = ae.datasets.load_digits()[0][:128]
    ms = []
    for _ in range(2):
        v = cls(64, [16], 2, seed=5)
        ae.fit(v, X, epochs=2, batch_size=32, seed=2, progress=False)
        ms.append(v)
    for k in ms[0].params:
        np.testing.assert_array_equal(ms[0].params[k], ms[1].params[k], err_msg=k)


def test_a_fresh_process_gives_the_same_bits():
    """Run to run across processes (Numba loads its on-disk cache there): same digest."""
    m, _ = _train(True, regs=True, epochs=1)
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import test_reproducibility as t
        m, _ = t._train(True, regs=True, epochs=1)
        print(t._digest(m))
    """)
    env = dict(os.environ, AENUMPY_JIT="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == _digest(m)


def test_model_rng_is_seeded():
    a, b = ae.Autoencoder(6, [3], seed=4), ae.Autoencoder(6, [3], seed=4)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
