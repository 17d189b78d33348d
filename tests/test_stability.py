"""Numerical stability at the edges, and what fit does when training diverges.

* sigmoid and softplus are computed without overflow; the cross-entropy of a
  sigmoid output is computed from the pre-activation (``softplus(a) − x a``), on
  the reference path and on the Numba path;
* a whole model driven to pre-activations of ±1e4 gives a finite loss equal to
  the formula, finite gradients, and a passing gradient check;
* KL sparsity stays finite as ρ̂ → 0 and 1; the VAE at log σ² = ±50;
* divergence: fit stops, names the learning rate, and leaves the weights of a
  snapshot whose loss was finite.
"""
import math
import warnings

import numpy as np
import pytest
from conftest import assert_passes

import aenumpy as ae
from conftest import on_path
from aenumpy.fast.activation import bias_act
from aenumpy.fast.loss import output_loss

EXTREME = np.array([-1e4, -800.0, -100.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 100.0, 800.0, 1e4])


# ------------------------------------------------------------------ elementwise
def test_sigmoid_and_softplus_never_overflow():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = ae.activations.sigmoid(EXTREME)
        sp = ae.activations.softplus(EXTREME)
        s32 = ae.activations.sigmoid(EXTREME.astype(np.float32))
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(sp)) and s32.dtype == np.float32
    assert s[0] == 0.0 and s[-1] == 1.0 and s[5] == 0.5
    np.testing.assert_allclose(sp, np.logaddexp(0.0, EXTREME), rtol=1e-15)
    assert sp[-1] == 1e4 and sp[0] == 0.0
    # σ(a) = 1 − σ(−a), to rounding, across the range
    np.testing.assert_allclose(s, 1 - ae.activations.sigmoid(-EXTREME), atol=1e-16)


ACT_NAMES = ["identity", "sigmoid", "tanh", "relu"]


@pytest.mark.parametrize("jit", [False, True], ids=["teaching", "fast"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_bias_and_activation_at_extremes(jit, dtype, code):
    """Z = f(A + b) at |a| up to 1e4: the teaching activation and the fused kernel."""
    A = np.tile(EXTREME.astype(dtype), (3, 1))
    b = np.zeros(A.shape[1], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        if jit:
            Z = np.empty_like(A)
            bias_act(A, b, code, Z)
        else:
            Z = ae.activations.get(ACT_NAMES[code])(A + b)
    assert np.all(np.isfinite(Z)) and Z.dtype == dtype
    ref = {0: EXTREME, 1: 1 / (1 + np.exp(-np.clip(EXTREME, -700, 700))), 2: np.tanh(EXTREME),
           3: np.maximum(EXTREME, 0)}[code]
    np.testing.assert_allclose(Z[0], ref.astype(dtype), rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=1e-30)


@pytest.mark.parametrize("jit", [False, True], ids=["teaching", "fast"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_from_logits_at_extremes(jit, dtype):
    """BCE of x̂ = σ(a) computed from a: finite for |a| = 1e4 where log σ(a) would be log 0."""
    A = np.tile(EXTREME.astype(dtype), (2, 1))
    X = np.vstack([np.zeros(A.shape[1]), np.ones(A.shape[1])]).astype(dtype)
    Z = ae.activations.sigmoid(A)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        if jit:
            dA = np.empty_like(A)
            E = output_loss(X, A, Z, 1, 1, dA)
        else:
            E, dA = ae.losses.BinaryCrossEntropy().value_and_delta(X, A, Z,
                                                                   ae.activations.Sigmoid())
    a = A.astype(np.float64)
    expected = float(np.sum(np.logaddexp(0.0, a) - X * a)) / 2
    assert math.isfinite(E)
    assert E == pytest.approx(expected, rel=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(dA, (Z - X) / 2, rtol=1e-6, atol=1e-30)
    assert np.all(np.isfinite(dA))


# ------------------------------------------------------------------ whole model at 1e4
def _saturated(loss, activation="sigmoid", dtype="float64", scale=1e4):
    """A 4-3-4 model whose first two output units have pre-activations beyond ±scale
    (weights and biases scaled up) while the others stay moderate, so the gradient
    check has real gradients to compare: the saturated units' own, through BCE, and
    the moderate units' through every layer."""
    m = ae.Autoencoder(4, [3], activation=activation, output_activation="sigmoid", loss=loss,
                       seed=0, dtype=dtype)
    r = np.random.default_rng(1)
    m.params["enc0.W"][...] = r.uniform(-1, 1, (3, 4))
    m.params["enc0.b"][...] = r.uniform(-0.5, 0.5, 3)
    W = r.uniform(-1, 1, (4, 3))
    W[:2] = r.choice([-1.0, 1.0], (2, 3)) * scale / 4
    m.params["dec0.W"][...] = W
    m.params["dec0.b"][...] = [scale, -scale, 0.1, -0.2]
    X = np.array([[0.0, 1.0, 0.3, 0.9], [1.0, 0.0, 0.6, 0.1], [0.5, 0.5, 0.5, 0.5]], dtype=dtype)
    return m, X


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_model_at_preactivations_of_1e4(jit, loss):
    with on_path(jit):
        m, X = _saturated(loss)
    with on_path(jit), np.errstate(over="raise", invalid="raise", divide="raise"):
        E, grads = m.loss_and_grads(X)
        A = m.decoder[-1].cache["A"]
    assert np.abs(A[:, :2]).min() >= 0.25 * 1e4 and np.abs(A).max() >= 1e4  # at the edge
    assert math.isfinite(E) and all(np.isfinite(g).all() for g in grads.values())
    a = A.astype(np.float64)
    if loss == "bce":
        expected = float(np.sum(np.logaddexp(0.0, a) - X * a)) / len(X)
    else:
        xh = 1 / (1 + np.exp(-np.clip(a, -700, 700)))
        expected = 0.5 * float(np.sum((X - xh) ** 2)) / len(X)
    assert E == pytest.approx(expected, rel=1e-12)
    # |E| ~ 1e4 here, so the finite difference's rounding noise 1.5·ε·|E|/h is ~3e-8 at
    # h = 1e-4; h = 1e-2 brings it to 3e-10, and the truncation error stays negligible
    # because the saturated logits enter the loss linearly (softplus(a) = a for a ≫ 1).
    with on_path(jit):
        assert_passes(ae.gradcheck(m, X, h=1e-2 if loss == "bce" else 1e-4))


@pytest.mark.parametrize("jit", [False, True])
def test_float32_model_at_1e4_trains_without_nan(jit):
    with on_path(jit):
        m, X = _saturated("bce", dtype="float32")
    X = np.tile(X, (8, 1))
    with on_path(jit), warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning, no TrainingDiverged
        E, grads = m.loss_and_grads(X)
        h = ae.fit(m, X, epochs=3, batch_size=4,
                   optimizer=ae.optim.SGD(lr=0.1), progress=False)
    assert math.isfinite(E) and all(np.isfinite(g).all() for g in grads.values())
    assert not h.stopped_early and all(map(math.isfinite, h["loss"]))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_other_encoders_at_1e4(activation):
    m, X = _saturated("bce", activation=activation)
    E, grads = m.loss_and_grads(X)
    assert math.isfinite(E) and all(np.isfinite(g).all() for g in grads.values())


class _Linear(ae.activations.Identity):
    """A student's own linear output (not the built-in class, so it is not refused)."""

    name = "my_linear"


def test_bce_with_a_custom_output_outside_0_1_clips_and_stays_finite():
    m = ae.Autoencoder(4, [3], output_activation=_Linear(), loss="bce", dtype="float64")
    m.params["dec0.b"][...] = [-5.0, 5.0, 0.0, 2.0]  # x̂ far outside (0, 1)
    X = np.array([[0.0, 1.0, 0.5, 1.0]])
    E, grads = m.loss_and_grads(X)
    assert math.isfinite(E) and all(np.isfinite(g).all() for g in grads.values())


# ------------------------------------------------------------------ KL sparsity edges
def _kl_model(bias):
    reg = getattr(ae.regularizers, "KLSparsity", None)
    if reg is None:
        pytest.skip("KLSparsity is not in this tree yet")
    m = ae.Autoencoder(5, [4], regularizers=[reg(rho=0.05, beta=3.0)], dtype="float64", seed=2)
    m.params["enc0.b"][...] = bias
    return m


# Which gradients finite differences can resolve at each edge:
# * ρ̂ → 0 (bias −60): z ≈ 1e-26, so σ'(a) and every gradient through z are ~1e-26
#   (checked finite and tiny); dec0.b is checked;
# * ρ̂ → 1 (bias +60): z = 1 exactly, the clip is active (KL gradient 0), σ' = 0;
#   the decoder's gradients are checked;
# * ρ̂ ≈ 1e-6 (bias −14): dec0.W's gradient is ∝ z ≈ 1e-6, below the noise; the rest is checked;
# * ρ̂ ≈ 1 − 1e-6 (bias +14): all checked, the KL gradient is ~1/(1 − ρ̂) ≈ 1e6 here.
#   1 − ρ̂ is only known to ~ε/1e-6 ≈ 2e-10 relative (cancellation), which is the
#   loss's own noise; h = 1e-2 lowers the finite difference's share of it.
KL_EDGES = [(-60.0, "rho_hat -> 0", ["dec0.b"], 1e-4),
            (60.0, "rho_hat -> 1", ["dec0.W", "dec0.b"], 1e-4),
            (-14.0, "rho_hat ~ 1e-6", ["enc0.W", "enc0.b", "dec0.b"], 1e-4),
            (14.0, "rho_hat ~ 1 - 1e-6", None, 1e-2)]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("bias, what, params, h", KL_EDGES, ids=[e[1] for e in KL_EDGES])
def test_kl_sparsity_at_its_edges(jit, bias, what, params, h):
    with on_path(jit):
        m = _kl_model(bias)
    X = np.random.default_rng(0).uniform(0.05, 0.95, (6, 5))
    with on_path(jit), np.errstate(over="raise", invalid="raise", divide="raise"):
        E, grads = m.loss_and_grads(X)
    assert math.isfinite(E) and all(np.isfinite(g).all() for g in grads.values()), what
    rho_hat = 1 / (1 + np.exp(-(X @ m.params["enc0.W"].T + bias))).mean(0)
    assert (rho_hat.max() < 1e-5) if bias < 0 else (rho_hat.min() > 1 - 1e-5)
    with on_path(jit):
        assert_passes(ae.gradcheck(m, X, params=params, h=h))
    if bias == -60.0:
        assert max(np.abs(grads[k]).max() for k in ("enc0.W", "enc0.b", "dec0.W")) < 1e-20


# ------------------------------------------------------------------ VAE log σ² = ±50
@pytest.mark.parametrize("logvar", [-50.0, 50.0])
@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_vae_at_extreme_log_variance(logvar, decoder):
    cls = getattr(ae, "VariationalAutoencoder", None)
    if cls is None:
        pytest.skip("VariationalAutoencoder is not in this tree yet")
    vae = cls(5, [4], 2, activation="tanh", decoder=decoder, dtype="float64", seed=0)
    vae.params["logvar.W"][...] = 0.0
    vae.params["logvar.b"][...] = logvar
    X = np.random.default_rng(0).uniform(0.05, 0.95, (3, 5))
    eps = np.random.default_rng(1).standard_normal((3, 2))
    E, grads = vae.loss_and_grads(X, eps=eps)
    assert math.isfinite(E) and all(np.isfinite(g).all() for g in grads.values())
    # the KL term −½ Σ (1 + log σ² − μ² − σ²) at log σ² = ±50 is dominated by ½(σ² − log σ²)
    mu, lv = vae.encode(X)
    kl = -0.5 * np.sum(1 + lv - mu ** 2 - np.exp(lv), axis=1).mean()
    assert math.isfinite(kl) and kl > 20
    # at log σ² = 50 the loss is ~½σ² ≈ 2.6e21: only what moves it at that scale (the
    # log σ² head) is within reach of finite differences; at −50 everything is
    params = ["logvar.b", "logvar.W"] if logvar > 0 else ["logvar.b", "logvar.W", "mu.b", "enc0.W"]
    assert_passes(ae.gradcheck(vae, X, eps=eps, params=params))


# ------------------------------------------------------------------ divergence
def _digits(n=300):
    return ae.datasets.load_digits()[0][:n]


class _Recorder:
    """Wraps model.loss_and_grads: keeps the parameters each loss was computed at."""

    def __init__(self, model, inject=None):
        self.model, self.inject = model, inject or {}
        self.params, self.losses = [], []
        self._orig = model.loss_and_grads
        model.loss_and_grads = self

    def __call__(self, X, rng=None, checked=False):
        self.params.append({k: v.copy() for k, v in self.model.params.items()})
        E, grads = self._orig(X, rng=rng, checked=checked)
        step = len(self.losses) + 1
        if step in self.inject:
            E, grads = self.inject[step](E, grads)
        self.losses.append(E)
        return E, grads


def _assert_left_at_a_good_snapshot(model, rec, snapshot_every, history):
    stop = len(rec.losses)  # the step on which fit noticed
    good = (stop - 1) // snapshot_every * snapshot_every  # steps done at the last snapshot
    snap = rec.params[good]  # the parameters the (good + 1)-th loss was computed at
    assert math.isfinite(rec.losses[good])
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], snap[k], err_msg=k)
        assert np.isfinite(model.params[k]).all()
    assert f"from step {good} of the run" in history.message


@pytest.mark.parametrize("opt", [ae.optim.SGD(lr=10.0), ae.optim.Adam(lr=10.0)], ids=["sgd", "adam"])
def test_lr_10_on_a_linear_model_stops_and_names_the_learning_rate(opt):
    m = ae.Autoencoder(64, [16], activation="identity", output_activation="identity")
    rec = _Recorder(m)
    with pytest.warns(ae.TrainingDiverged, match=r"learning rate is too large \(lr=10\.0\)"):
        h = ae.fit(m, _digits(), epochs=5, batch_size=32, optimizer=opt, progress=False)
    assert h.stopped_early and "diverged" in h.message and h.epochs == 0
    _assert_left_at_a_good_snapshot(m, rec, 10, h)
    assert np.isfinite(m.loss(_digits()))


def test_slower_divergence_keeps_a_later_snapshot():
    m = ae.Autoencoder(64, [16], activation="identity", output_activation="identity")
    rec = _Recorder(m)
    with pytest.warns(ae.TrainingDiverged, match="lr=0.1"):
        h = ae.fit(m, _digits(), epochs=5, batch_size=32, optimizer=ae.optim.SGD(lr=0.1),
                   progress=False, snapshot_every=2)
    assert len(rec.losses) > 3
    _assert_left_at_a_good_snapshot(m, rec, 2, h)


@pytest.mark.parametrize("opt", [ae.optim.SGD(lr=10.0), ae.optim.Adam(lr=10.0)], ids=["sgd", "adam"])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_lr_10_on_a_sigmoid_model_stays_finite(opt, loss):
    """A sigmoid output bounds the loss and the stable sigmoid never overflows: lr = 10
    trains badly but gives no NaN, and fit does not cry wolf."""
    m = ae.Autoencoder(64, [16], output_activation="sigmoid", loss=loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = ae.fit(m, _digits(), epochs=3, batch_size=32, optimizer=opt, progress=False)
    assert not h.stopped_early and all(map(math.isfinite, h["loss"]))
    assert all(np.isfinite(p).all() for p in m.params.values())


@pytest.mark.parametrize("bad", ["nan loss", "inf loss", "nan gradient", "exploding loss"])
def test_injected_failure_mid_training(bad):
    m = ae.Autoencoder(64, [16])
    inject = {
        "nan loss": lambda E, g: (float("nan"), g),
        "inf loss": lambda E, g: (float("inf"), g),
        "nan gradient": lambda E, g: (E, {**g, "enc0.b": np.full_like(g["enc0.b"], np.nan)}),
        "exploding loss": lambda E, g: (1e9, g),
    }[bad]
    rec = _Recorder(m, {23: inject})
    opt = ae.optim.Adam(lr=1e-3)
    with pytest.warns(ae.TrainingDiverged, match=r"lr=0\.001"):
        h = ae.fit(m, _digits(), epochs=5, batch_size=32, optimizer=opt, progress=False)
    assert len(rec.losses) == 23 and h.stopped_early
    assert "epoch 3, step 3" in h.message  # 10 batches per epoch
    _assert_left_at_a_good_snapshot(m, rec, 10, h)
    # the optimizer is rolled back with the weights: its step count is the snapshot's
    assert opt.t == 20
    if bad in ("nan loss", "inf loss"):
        assert f"the loss became {bad.split()[0]}" in h.message
        assert "(not finite)" in h.message


def test_divergence_detected_on_the_reference_path_too():
    with on_path(False):
        m = ae.Autoencoder(64, [16], activation="identity", output_activation="identity")
    assert type(m) is ae.Autoencoder
    with pytest.warns(ae.TrainingDiverged, match="lr=10"):
        h = ae.fit(m, _digits(), epochs=2, optimizer=ae.optim.SGD(lr=10.0), progress=False)
    assert h.stopped_early and all(np.isfinite(p).all() for p in m.params.values())


def test_a_checkpointed_run_that_diverges_keeps_its_last_good_checkpoint(tmp_path):
    m = ae.Autoencoder(64, [16])
    ckpt = tmp_path / "c.npz"
    _Recorder(m, {23: lambda E, g: (float("nan"), g)})
    with pytest.warns(ae.TrainingDiverged):
        ae.fit(m, _digits(), epochs=5, batch_size=32, progress=False, checkpoint=ckpt)
    _, _, extra = ae.io.load_checkpoint(ckpt)
    assert extra["training"]["epoch"] == 2  # the file of the last finished epoch is intact
