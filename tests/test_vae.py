"""The variational autoencoder: gradients, the loss by hand, σ vs σ², ELBO and IWAE,
extreme log-variances, save/load, warm-up, bad arguments, a short training run."""
import warnings

import numpy as np
import pytest

import aenumpy as ae

from conftest import assert_passes

VAE = ae.VariationalAutoencoder
LOG2PI = np.log(2 * np.pi)


def randomize_biases(model, seed=0, X=None, eps=None):
    """Non-zero biases: a stronger check, and no ReLU pre-activation on its kink.

    With ``X`` and ``eps`` (the check batch and its fixed ε), a ReLU unit that
    would be off for the whole batch gets its bias raised until it is on (by 0.3)
    for at least one sample: a dead unit has an exactly-zero gradient that finite
    differences can only confirm to within their noise."""
    r = np.random.default_rng(seed)
    for k, p in model.params.items():
        if k.endswith(".b"):
            p[...] = r.normal(0, 0.3, p.shape)
    if model.activation.name == "relu" and X is not None:
        for layer in model.encoder + model.decoder:
            model.loss(X, eps=eps)
            A = layer.cache["A"]
            layer.params["b"][...] += np.maximum(0.0, 0.3 - A.max(axis=0))
        model.loss(X, eps=eps)
        for layer in model.encoder + model.decoder:
            assert (layer.cache["A"].max(axis=0) > 0.25).all()
            assert np.abs(layer.cache["A"]).min() > 1e-3


@pytest.fixture
def U8():
    """Eight samples of six features in (0.05, 0.95)."""
    return 0.05 + 0.9 * np.random.default_rng(7).random((8, 6))


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("hidden", [[4], [6, 5]], ids=["shallow", "deep"])
def test_gradcheck_with_fixed_eps(decoder, activation, hidden, U8):
    m = VAE(6, hidden, 3, activation=activation, decoder=decoder, seed=1)
    eps = np.random.default_rng(11).standard_normal((8, 3))
    randomize_biases(m, X=U8, eps=eps)
    report = ae.gradcheck(m, U8, eps=eps)
    assert_passes(report)
    assert {r["name"] for r in report.rows} == set(m.params)


def test_gradcheck_with_beta_and_given_eps(U8):
    m = VAE(6, [5], 2, activation="tanh", decoder="gaussian", beta=3.5, seed=2)
    randomize_biases(m)
    eps = np.random.default_rng(3).standard_normal((8, 2))
    assert_passes(ae.gradcheck(m, U8, eps=eps))


def test_parameter_names_and_shapes():
    m = VAE(784, [512, 256], 20)
    assert list(m.params) == ["enc0.W", "enc0.b", "enc1.W", "enc1.b", "mu.W", "mu.b",
                              "logvar.W", "logvar.b", "dec0.W", "dec0.b", "dec1.W", "dec1.b",
                              "out.W", "out.b"]
    assert m.params["enc0.W"].shape == (512, 784)
    assert m.params["mu.W"].shape == (20, 256)
    assert m.params["logvar.W"].shape == (20, 256)
    assert m.params["dec0.W"].shape == (256, 20)
    assert m.params["dec1.W"].shape == (512, 256)
    assert m.params["out.W"].shape == (784, 512)
    g = VAE(10, [8], 2, decoder="gaussian")
    assert list(g.params)[-4:] == ["out.W", "out.b", "out_logvar.W", "out_logvar.b"]
    assert g.params["out_logvar.W"].shape == (10, 8)
    # the arrays are the model's own
    before = g.decode(np.zeros((1, 2)))
    g.params["out.b"][:] += 1.0
    np.testing.assert_allclose(g.decode(np.zeros((1, 2))), before + 1.0, rtol=1e-6)


def test_float32_default_grads_keys_and_dtype(U8):
    m = VAE(6, [5], 3)
    loss, grads = m.loss_and_grads(U8, rng=np.random.default_rng(0))
    assert set(grads) == set(m.params)
    for k, g in grads.items():
        assert g.shape == m.params[k].shape and g.dtype == np.float32
    assert loss == pytest.approx(m.loss(U8, rng=np.random.default_rng(0)), rel=1e-6)


# --------------------------------------------------------- the loss by hand
def _f(name):
    if name == "tanh":
        return np.tanh, lambda z: 1 - z * z
    return (lambda a: np.maximum(a, 0)), (lambda z: (z > 0).astype(float))


def reference(m, X, eps, w):
    """An independent float64 forward and backward of a one-hidden-layer VAE,
    written from the loss's definition: returns (E, grads)."""
    P = {k: v.astype(np.float64) for k, v in m.params.items()}
    f, df = _f(m.activation.name)
    B = X.shape[0]
    h = f(X @ P["enc0.W"].T + P["enc0.b"])
    mu = h @ P["mu.W"].T + P["mu.b"]
    lv = h @ P["logvar.W"].T + P["logvar.b"]
    s = np.exp(0.5 * lv)
    z = mu + s * eps
    g = f(z @ P["dec0.W"].T + P["dec0.b"])
    a = g @ P["out.W"].T + P["out.b"]
    G = {}
    if m.likelihood == "bernoulli":
        rec = np.sum(np.logaddexp(0, a) - X * a, axis=1)      # −[x log x̂ + (1−x) log(1−x̂)]
        da = (1 / (1 + np.exp(-a)) - X) / B
    else:
        lvx = g @ P["out_logvar.W"].T + P["out_logvar.b"]
        rec = np.sum(0.5 * LOG2PI + 0.5 * lvx + (X - a) ** 2 / (2 * np.exp(lvx)), axis=1)
        da = -(X - a) / np.exp(lvx) / B
        dlx = 0.5 * (1 - (X - a) ** 2 / np.exp(lvx)) / B
        G["out_logvar.W"], G["out_logvar.b"] = dlx.T @ g, dlx.sum(0)
    kl = -0.5 * np.sum(1 + lv - mu ** 2 - np.exp(lv), axis=1)
    E = np.mean(rec + w * kl)
    G["out.W"], G["out.b"] = da.T @ g, da.sum(0)
    dg = da @ P["out.W"] + (dlx @ P["out_logvar.W"] if "out_logvar.W" in P else 0)
    d2 = dg * df(g)
    G["dec0.W"], G["dec0.b"] = d2.T @ z, d2.sum(0)
    dz = d2 @ P["dec0.W"]
    dmu = dz + w * mu / B
    dlv = dz * eps * 0.5 * s + w * 0.5 * (np.exp(lv) - 1) / B
    G["mu.W"], G["mu.b"] = dmu.T @ h, dmu.sum(0)
    G["logvar.W"], G["logvar.b"] = dlv.T @ h, dlv.sum(0)
    d1 = (dmu @ P["mu.W"] + dlv @ P["logvar.W"]) * df(h)
    G["enc0.W"], G["enc0.b"] = d1.T @ X, d1.sum(0)
    return E, G, {"rec": rec.mean(), "kl": kl.mean(), "z": z, "s": s}


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("beta", [1.0, 0.25])
def test_loss_is_the_formula_by_hand(decoder, beta, U8):
    m = VAE(6, [5], 3, activation="tanh", decoder=decoder, beta=beta, seed=4, dtype="float64")
    randomize_biases(m)
    eps = np.random.default_rng(1).standard_normal((8, 3))
    E, G, parts = reference(m, U8, eps, beta)
    loss, grads = m.loss_and_grads(U8, eps=eps)
    assert loss == pytest.approx(E, rel=1e-12)
    assert m.loss(U8, eps=eps) == pytest.approx(E, rel=1e-12)
    assert m.cache["reconstruction"] == pytest.approx(parts["rec"], rel=1e-12)
    assert m.cache["kl"] == pytest.approx(parts["kl"], rel=1e-12)
    for k in m.params:
        np.testing.assert_allclose(grads[k], G[k], rtol=1e-10, atol=1e-14, err_msg=k)
    # elbo uses β = 1 whatever the model's β, with the same ε
    assert m.elbo(U8, eps=eps) == pytest.approx(-(parts["rec"] + parts["kl"]), rel=1e-12)


def test_bernoulli_nll_is_the_binary_cross_entropy(U8):
    m = VAE(6, [5], 2, seed=3, dtype="float64")
    mu, _ = m.encode(U8)
    xhat = m.decode(mu)
    np.testing.assert_allclose(m.reconstruct(U8), xhat)
    eps = np.zeros((8, 2))  # z = μ exactly
    m.loss(U8, eps=eps)
    assert m.cache["reconstruction"] == pytest.approx(ae.losses.binary_cross_entropy(U8, xhat),
                                                      rel=1e-10)


# ---------------------------------------------------------- σ, not σ²
def test_reparameterisation_uses_the_standard_deviation():
    """For one input, the spread of z over many ε is exp(½ log σ²), not the variance."""
    Xtr = ae.datasets.load_digits()[0]
    m = VAE(64, [16], 3, seed=0)
    m.params["logvar.W"][...] = 0
    lv = np.array([-1.5, 0.8, 2.0], dtype=np.float32)  # σ = 0.47, 1.49, 2.72; σ² = 0.22, 2.2, 7.4
    m.params["logvar.b"][...] = lv
    X = np.repeat(Xtr[:1], 20000, axis=0)
    mu, lv_enc = m.encode(X[:1])
    np.testing.assert_allclose(lv_enc[0], lv)
    sd = np.exp(0.5 * lv)
    m.loss(X, rng=np.random.default_rng(0))          # the training path
    z_train = m.cache["z"]
    z_post = m.sample_posterior(X, rng=np.random.default_rng(1))
    for z in (z_train, z_post):
        np.testing.assert_allclose(z.mean(0), mu[0], atol=4 * sd.max() / np.sqrt(len(X)))
        np.testing.assert_allclose(z.std(0), sd, rtol=0.03)
        assert not np.allclose(z.std(0), np.exp(lv), rtol=0.2)


def test_sample_decodes_the_prior():
    m = VAE(64, [16], 3, seed=0)
    x = m.sample(5, rng=np.random.default_rng(9))
    Z = np.random.default_rng(9).standard_normal((5, 3), dtype=np.float32)
    np.testing.assert_array_equal(x, m.decode(Z))
    assert x.shape == (5, 64) and np.all((x > 0) & (x < 1))
    # seeded: the model's own Generator gives the same samples for the same seed
    np.testing.assert_array_equal(VAE(64, [16], 3, seed=0).sample(4), VAE(64, [16], 3, seed=0).sample(4))


# ------------------------------------------------------------ ELBO and IWAE
@pytest.fixture(scope="module")
def trained_digits_vae():
    Xtr, _, Xte, _ = ae.datasets.load_digits()
    m = VAE(64, [32], 4, seed=0)
    ae.fit(m, Xtr, epochs=8, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3), seed=0,
           progress=False)
    return m, Xte


def test_iwae_with_one_sample_is_the_elbo_in_expectation(trained_digits_vae):
    m, Xte = trained_digits_vae
    X = np.repeat(Xte[:40], 50, axis=0)  # 2000 rows: the average over many ε
    ll1 = m.log_likelihood(X, k=1, rng=np.random.default_rng(0), per_sample=True)
    elbo = m.elbo(X, rng=np.random.default_rng(1))
    se = ll1.std() / np.sqrt(len(ll1))
    assert abs(ll1.mean() - elbo) < 4 * se + 0.05, (ll1.mean(), elbo, se)


def test_iwae_with_many_samples_bounds_the_elbo(trained_digits_vae):
    m, Xte = trained_digits_vae
    X = Xte[:100]
    elbo = np.mean([m.elbo(X, rng=np.random.default_rng(s)) for s in range(20)])
    ll = m.log_likelihood(X, k=200, rng=np.random.default_rng(0), per_sample=True)
    assert ll.shape == (100,) and np.all(np.isfinite(ll))
    assert ll.mean() >= elbo
    ll10 = m.log_likelihood(X, k=10, rng=np.random.default_rng(2))
    assert elbo <= ll10 <= ll.mean() + 0.5
    assert m.log_likelihood(X, k=200, rng=np.random.default_rng(0)) == pytest.approx(ll.mean())


def test_logsumexp_is_stable():
    from aenumpy.models.vae import logsumexp

    a = np.array([[-1000.0, -1000.0], [1000.0, 1000.0 + np.log(3)]])
    np.testing.assert_allclose(logsumexp(a, axis=1), [-1000 + np.log(2), 1000 + np.log(4)])


# -------------------------------------------------------- extreme log σ²
EXTREMES = [("bernoulli", "logvar"), ("gaussian", "logvar"), ("gaussian", "out_logvar")]


def _extreme(decoder, head, value, dtype="float64"):
    m = VAE(6, [5], 3, activation="tanh", decoder=decoder, seed=5, dtype=dtype)
    randomize_biases(m)
    m.params[f"{head}.W"][...] = 0
    m.params[f"{head}.b"][...] = value
    return m


@pytest.mark.parametrize("decoder,head", EXTREMES)
@pytest.mark.parametrize("value", [-50.0, 50.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logvar_is_finite_without_overflow(decoder, head, value, dtype, U8):
    m = _extreme(decoder, head, value, dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        loss, grads = m.loss_and_grads(U8, rng=np.random.default_rng(0))
        values = [loss, m.elbo(U8, rng=np.random.default_rng(0)),
                  m.log_likelihood(U8, k=20, rng=np.random.default_rng(0))]
        arrays = list(grads.values()) + [m.reconstruct(U8), m.sample(3), *m.encode(U8)]
    assert all(np.isfinite(v) for v in values), values
    assert all(np.all(np.isfinite(a)) for a in arrays)


def test_extreme_logvar_relu_bernoulli_is_finite(U8):
    m = VAE(6, [5], 3, activation="relu", seed=5)
    m.params["logvar.W"][...] = 0
    for v in (-50.0, 50.0):
        m.params["logvar.b"][...] = v
        with np.errstate(over="raise", invalid="raise"):
            loss, grads = m.loss_and_grads(U8, rng=np.random.default_rng(0))
        assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("decoder,head", EXTREMES)
@pytest.mark.parametrize("value", [-50.0, 50.0])
def test_extreme_logvar_gradients_are_correct(decoder, head, value, U8):
    """The whole gradient against the formulas (float64), and against finite
    differences wherever they can resolve it: the extreme head always; every
    parameter when the loss stays moderate (finite differences cannot see an
    O(1) gradient of a loss of 1e21, see gradcheck's noise floor)."""
    m = _extreme(decoder, head, value)
    eps = np.random.default_rng([0, 99]).standard_normal((8, 3))
    E, G, _ = reference(m, U8, eps, 1.0)
    loss, grads = m.loss_and_grads(U8, eps=eps)
    assert loss == pytest.approx(E, rel=1e-12)
    for k in m.params:
        np.testing.assert_allclose(grads[k], G[k], rtol=1e-9, atol=1e-12 * max(1.0, abs(E)),
                                   err_msg=k)
    assert_passes(ae.gradcheck(m, U8, params=[f"{head}.W", f"{head}.b"]))
    # every parameter is checkable when the loss stays moderate, except with σ²_x = e⁵⁰,
    # where the gradients of the decoder's mean are e⁻⁵⁰ times smaller than the loss
    if abs(E) < 1e6 and not (head == "out_logvar" and value > 0):
        assert_passes(ae.gradcheck(m, U8))
    # float32 computes the same gradient (no overflow, no cancellation blow-up)
    l32, g32 = m.astype("float32").loss_and_grads(U8, eps=eps)
    assert l32 == pytest.approx(loss, rel=1e-4)
    for k in m.params:
        scale = np.abs(grads[k]).max() + 1e-6
        assert np.abs(g32[k] - grads[k]).max() <= 1e-3 * scale, k


# ------------------------------------------------------------ save / load
@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_save_load_round_trip(decoder, tmp_path, U8):
    m = VAE(6, [5, 4], 3, activation="tanh", decoder=decoder, beta=2.0, kl_warmup=3, seed=6)
    randomize_biases(m)
    m.on_epoch_begin(1, 10)
    path = ae.save(m, tmp_path / "vae")
    m2 = ae.load(path)
    assert isinstance(m2, VAE) and m2.get_config() == m.get_config()
    assert m2.kl_weight == pytest.approx(2.0 / 3)
    for k in m.params:
        np.testing.assert_array_equal(m.params[k], m2.params[k])
    eps = np.random.default_rng(0).standard_normal((8, 3))
    assert m2.loss(U8, eps=eps) == m.loss(U8, eps=eps)
    for a, b in zip(m.encode(U8), m2.encode(U8)):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------- β and warm-up
def test_beta_weights_the_kl(U8):
    eps = np.random.default_rng(0).standard_normal((8, 3))
    losses = {}
    for beta in (0.0, 1.0, 4.0):
        m = VAE(6, [5], 3, beta=beta, seed=1, dtype="float64")
        losses[beta] = m.loss(U8, eps=eps)
        rec, kl = m.cache["reconstruction"], m.cache["kl"]
        assert losses[beta] == pytest.approx(rec + beta * kl)
        assert m.elbo(U8, eps=eps) == pytest.approx(-(rec + kl))
    assert losses[4.0] - losses[1.0] == pytest.approx(3 * (losses[1.0] - losses[0.0]))


def test_kl_warmup_schedule(U8):
    m = VAE(64, [16], 2, beta=2.0, kl_warmup=4, seed=0)
    assert [m.kl_weight_at(e) for e in (0, 1, 2, 4, 9)] == [0.0, 0.5, 1.0, 2.0, 2.0]
    assert VAE(6, [3], 2, beta=0.5).kl_weight == 0.5  # no warm-up: β from the start
    seen = []
    Xtr = ae.datasets.load_digits()[0][:256]
    ae.fit(m, Xtr, epochs=6, batch_size=64, seed=0, progress=False,
           callback=lambda epoch, h: seen.append(m.kl_weight))
    assert seen == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    # the weight enters the objective
    m.on_epoch_begin(0, 6)
    eps = np.zeros((5, 2), dtype=np.float32)
    assert m.loss(Xtr[:5], eps=eps) == pytest.approx(m.cache["reconstruction"], rel=1e-6)
    m.on_epoch_begin(2, 6)
    assert m.loss(Xtr[:5], eps=eps) == pytest.approx(
        m.cache["reconstruction"] + 1.0 * m.cache["kl"], rel=1e-6)


# ------------------------------------------------------------ bad arguments
def test_bad_arguments_are_refused(U8):
    with pytest.raises(ValueError, match="n_latent"):
        VAE(6, [4], 0)
    with pytest.raises(TypeError, match="n_latent"):
        VAE(6, [4], 2.5)
    with pytest.raises(ValueError, match="decoder"):
        VAE(6, [4], 2, decoder="poisson")
    with pytest.raises(ValueError, match="beta"):
        VAE(6, [4], 2, beta=-0.1)
    with pytest.raises(ValueError, match="kl_warmup"):
        VAE(6, [4], 2, kl_warmup=-1)
    with pytest.raises(ValueError, match="hidden"):
        VAE(6, [], 2)
    with pytest.raises(ValueError, match="activation"):
        VAE(6, [4], 2, activation="swish")
    m = VAE(6, [4], 2)
    bad = U8.copy()
    bad[0, 0] = 1.5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.loss(bad)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ae.fit(m, bad, epochs=1, progress=False)
    VAE(6, [4], 2, decoder="gaussian").loss(bad, rng=np.random.default_rng(0))  # fine for Gaussian
    with pytest.raises(ValueError, match="eps"):
        m.loss(U8, eps=np.zeros((8, 3)))
    with pytest.raises(ValueError, match="eps"):
        m.loss_and_grads(U8, eps=np.zeros((7, 2)))
    with pytest.raises(ValueError, match="eps"):
        m.loss(U8, eps=np.full((8, 2), np.nan))
    with pytest.raises(TypeError, match="rng"):
        m.loss(U8, rng=42)
    with pytest.raises(ValueError, match="k must"):
        m.log_likelihood(U8, k=0)
    with pytest.raises(ValueError, match="n must"):
        m.sample(0)
    with pytest.raises(ValueError, match="features"):
        m.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="features"):
        m.loss(np.zeros((2, 5)))


# ------------------------------------------------------------ trace
@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_trace_records_the_vae_step(decoder, U8):
    m = VAE(6, [5], 3, activation="tanh", decoder=decoder, seed=2)
    randomize_biases(m)
    eps = np.random.default_rng(4).standard_normal((2, 3))
    t = ae.trace(m, U8[:2], eps=eps)
    np.testing.assert_allclose(t["σ"], np.exp(0.5 * t["log σ²"]))
    np.testing.assert_allclose(t["z"], t["μ"] + t["σ"] * t["ε"])
    assert float(t["E"]) == pytest.approx(float(t["−log p(x|z)"]) + float(t["KL"]))
    np.testing.assert_allclose(t["∂E/∂μ"], t["∂E/∂z"] + t["μ"] / 2)
    np.testing.assert_allclose(t["∂E/∂log σ²"], t["∂E/∂z"] * t["ε"] * 0.5 * t["σ"]
                               + 0.5 * (t["σ"] ** 2 - 1) / 2)
    loss, grads = m.astype("float64").loss_and_grads(U8[:2], eps=eps)
    assert float(t["E"]) == pytest.approx(loss)
    for k, g in grads.items():
        np.testing.assert_allclose(t[f"grad.{k}"], g)
    for sym in ["x", "h", "μ", "log σ²", "σ", "ε", "z", "g", "∂E/∂W_μ", "∂E/∂W", "∂E/∂b"]:
        assert sym in t
    assert ("x̂" if decoder == "bernoulli" else "μ_x") in t
    assert "∂E/∂z" in str(t)
    # the model itself is untouched and deterministic
    t2 = ae.trace(m, U8[:2], eps=eps)
    np.testing.assert_array_equal(t["E"], t2["E"])


# ------------------------------------------------------------ training
def test_training_on_the_digits_lowers_the_loss():
    Xtr, _, Xte, _ = ae.datasets.load_digits()
    m = VAE(64, [32], 4, seed=0)
    before = -m.elbo(Xte, rng=np.random.default_rng(0))
    h = ae.fit(m, Xtr, epochs=10, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3), X_val=Xte,
               seed=0, progress=False)
    assert not h.stopped_early
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    assert h["val_loss"][-1] < h["val_loss"][0]
    after = -m.elbo(Xte, rng=np.random.default_rng(0))
    assert after < 0.8 * before
    # the same seed gives the same run
    m2 = VAE(64, [32], 4, seed=0)
    h2 = ae.fit(m2, Xtr, epochs=2, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3), seed=0,
                progress=False)
    assert h2["loss"] == h["loss"][:2]


def test_gaussian_decoder_trains():
    Xtr = ae.datasets.load_digits()[0]
    m = VAE(64, [32], 4, decoder="gaussian", activation="tanh", seed=0)
    h = ae.fit(m, Xtr, epochs=6, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3), seed=0,
               progress=False)
    assert not h.stopped_early and h["loss"][-1] < h["loss"][0]


def test_vae_with_a_custom_activation_passes_gradcheck():
    """astype keeps a student's own Activation object, so the whole VAE can be checked."""
    from test_models import Softplus

    rng = np.random.default_rng(4)
    X = 0.05 + 0.9 * rng.random((5, 6))
    vae = ae.VariationalAutoencoder(6, [5], n_latent=2, activation=Softplus(), seed=1)
    assert_passes(ae.gradcheck(vae, X))
    with pytest.raises(ValueError, match="custom Activation"):
        vae.get_config()
    assert ae.VariationalAutoencoder(6, [5], 2, activation=ae.activations.Tanh()).get_config()[
        "activation"] == "tanh"
