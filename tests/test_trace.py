import numpy as np
import pytest

import aenumpy as ae


def test_trace_follows_the_lecture_by_hand():
    m = ae.Autoencoder(4, [2], dtype="float64", seed=2)
    x = np.array([[0.1, 0.5, 0.9, 0.3]])
    t = ae.trace(m, x)
    W, b = m.params["enc0.W"], m.params["enc0.b"]
    W2, b2 = m.params["dec0.W"], m.params["dec0.b"]
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    a1 = x @ W.T + b
    z = sig(a1)
    a2 = z @ W2.T + b2
    xh = sig(a2)
    E = 0.5 * np.sum((x - xh) ** 2)
    np.testing.assert_allclose(t["Wx + b"], a1)
    np.testing.assert_allclose(t["z"], z)
    np.testing.assert_allclose(t["W'z + b'"], a2)
    np.testing.assert_allclose(t["x̂"], xh)
    assert float(t["E"]) == pytest.approx(E)
    dxh = xh - x
    np.testing.assert_allclose(t["∂E/∂x̂"], dxh)
    d2 = dxh * xh * (1 - xh)
    np.testing.assert_allclose(t["∂E/∂(W'z + b')"], d2)
    np.testing.assert_allclose(t["∂E/∂W'"], d2.T @ z)
    np.testing.assert_allclose(t["∂E/∂b'"], d2[0])
    dz = d2 @ W2
    np.testing.assert_allclose(t["∂E/∂z"], dz)
    d1 = dz * z * (1 - z)
    np.testing.assert_allclose(t["∂E/∂(Wx + b)"], d1)
    np.testing.assert_allclose(t["∂E/∂W"], d1.T @ x)
    np.testing.assert_allclose(t["∂E/∂b"], d1[0])
    # readable by key too, and printable
    np.testing.assert_allclose(t["enc0.z"], z)
    s = str(t)
    for sym in ["Wx + b", "x̂", "∂E/∂W'", "∂E/∂b"]:
        assert sym in s


def test_trace_of_a_stacked_tied_model_names_every_layer(U):
    m = ae.Autoencoder(6, [4, 2], tied=True)
    t = ae.trace(m, U[:2])
    for key in ["enc0.a", "enc1.z", "dec0.a", "dec1.z", "dE/d(enc1.W)", "grad.enc0.W"]:
        assert key in t
    assert "W₁x + b₁" in t.symbols() and "x̂" in t.symbols()
    # the trace does not change the model
    before = {k: v.copy() for k, v in m.params.items()}
    ae.trace(m, U[:1])
    for k in before:
        np.testing.assert_array_equal(before[k], m.params[k])
