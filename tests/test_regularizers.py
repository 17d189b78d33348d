"""Regularized autoencoders: gradients, values by hand, masks, errors, save/load.

Every gradient is checked in float64 against finite differences (``ae.gradcheck``
reseeds the noise of every evaluation, so corruption and dropout are fixed), and
every penalty's value is compared with its defining formula written out here.
"""
import json

import numpy as np
import pytest

import aenumpy as ae
from aenumpy.regularizers import (Contractive, Dropout, GaussianNoise, KLSparsity, L1Activity,
                                  MaskingNoise, SaltAndPepper, TopK, WeightDecay)

from conftest import assert_passes


def randomize_biases(model, seed=0):
    """Non-zero biases (as tests/test_models.py): a stronger check."""
    r = np.random.default_rng(seed)
    for k, p in model.params.items():
        if k.endswith(".b"):
            p[...] = r.normal(0, 0.3, p.shape)


def away_from_zero(model, eps=0.02):
    """|W| ≥ eps for every weight: L1 is not differentiable at 0, and a finite difference
    with step 2h = 2e-4 must not straddle the kink."""
    for k, p in model.params.items():
        if k.endswith(".W"):
            p[...] = np.where(p >= 0, 1, -1) * np.maximum(np.abs(p), eps)


def sig(a):
    return 1 / (1 + np.exp(-a))


@pytest.fixture
def X8():
    """8 samples, 6 features in (0.02, 0.98): six rows each with one feature high, two
    rows of grey, plus a little noise. The hidden units rank differently from row to
    row, so top-k keeps every unit for some row and no gradient is zero by accident
    (test_topk_gradcheck_is_not_vacuous)."""
    base = np.vstack([0.1 + 0.8 * np.eye(6), np.full((2, 6), 0.5)])
    return np.clip(base + 0.05 * np.random.default_rng(7).standard_normal((8, 6)), 0.02, 0.98)


# ------------------------------------------------------------------ gradient checks
SINGLE = {  # each a function of the hidden sizes
    "gaussian": lambda h: [GaussianNoise(0.2)],
    "masking": lambda h: [MaskingNoise(0.3)],
    "salt_and_pepper": lambda h: [SaltAndPepper(0.3)],
    "kl": lambda h: [KLSparsity(rho=0.1, beta=2.0)],
    "kl_enc0": lambda h: [KLSparsity(rho=0.2, beta=1.5, layer=0)],
    "l1": lambda h: [L1Activity(0.3)],
    "l1_enc0": lambda h: [L1Activity(0.3, layer="enc0")],
    "topk": lambda h: [TopK(h[-1] - 1)],
    "topk_enc0": lambda h: [TopK(3, layer=0)],
    "contractive": lambda h: [Contractive(0.5)],
    "contractive_enc0": lambda h: [Contractive(0.5, layer=0)],
    "wd_l2": lambda h: [WeightDecay(0.1)],
    "wd_l1": lambda h: [WeightDecay(0.1, kind="l1")],
    "wd_l2_enc0": lambda h: [WeightDecay(0.2, layers=["enc0"])],
    "dropout": lambda h: [Dropout(0.3)],
    "dropout_enc0": lambda h: [Dropout(0.3, layer=0)],
}


def _cases():
    """Every regularizer on a one-layer untied sigmoid model and a stacked tied one (tanh
    unless KL); the contractive penalty in all of tied/untied × sigmoid/tanh × depth."""
    seen = set()
    for name in SINGLE:
        act2 = "sigmoid" if name.startswith("kl") else "tanh"
        grid = [([4], False, "sigmoid"), ([5, 3], True, act2)]
        if name == "contractive":
            grid = [(h, t, a) for h in ([4], [5, 3]) for t in (False, True)
                    for a in ("sigmoid", "tanh")]
        for hidden, tied, act in grid:
            if (name, str(hidden), tied, act) in seen:
                continue
            seen.add((name, str(hidden), tied, act))
            yield pytest.param(name, hidden, tied, act,
                               id=f"{name}-{hidden}-{'tied' if tied else 'untied'}-{act}")


@pytest.mark.parametrize("name,hidden,tied,act", list(_cases()))
def test_each_regularizer_passes_gradcheck(name, hidden, tied, act, X8):
    m = ae.Autoencoder(6, hidden, activation=act, tied=tied, regularizers=SINGLE[name](hidden))
    randomize_biases(m)
    if name == "wd_l1":
        away_from_zero(m)
    report = ae.gradcheck(m, X8)
    assert_passes(report)
    assert {r["name"] for r in report.rows} == set(m.params)


def test_topk_gradcheck_is_not_vacuous(X8):
    """In the checks above every unit is kept by top-k for some sample, so no gradient
    row is zero just because its unit was never kept."""
    for hidden, k, layer in (([4], 3, None), ([5, 3], 2, None), ([4], 3, 0), ([5, 3], 3, 0)):
        m = ae.Autoencoder(6, hidden, regularizers=[TopK(k, layer=layer)], dtype="float64")
        randomize_biases(m)
        m._encode(X8, np.random.default_rng(0), training=True)
        i = len(hidden) - 1 if layer is None else layer
        M = m.encoder[i].cache["M"]
        assert (M.sum(axis=0) > 0).all(), M


COMBOS = {  # each a function of the hidden sizes
    "denoising+sparse": lambda h: [GaussianNoise(0.1), KLSparsity(0.1, 1.0)],
    "contractive+weight_decay": lambda h: [Contractive(0.3), WeightDecay(0.05)],
    "topk+dropout": lambda h: [TopK(h[-1] - 1), Dropout(0.2)],
    "masking+l1+dropout_enc0": lambda h: [MaskingNoise(0.2), L1Activity(0.2),
                                          Dropout(0.25, layer=0)],
    "salt_pepper+contractive_enc0+kl": lambda h: [SaltAndPepper(0.2), Contractive(0.4, layer=0),
                                                  KLSparsity(0.15, 1.0)],
    "kl+contractive_same_layer+dropout": lambda h: [KLSparsity(0.1, 1.0), Contractive(0.3),
                                                    Dropout(0.2)],
    "everything": lambda h: [GaussianNoise(0.05), MaskingNoise(0.1), KLSparsity(0.1, 0.5),
                             L1Activity(0.05), Contractive(0.2), WeightDecay(0.02),
                             Dropout(0.1, layer=0), TopK(h[-1] - 1)],
}


@pytest.mark.parametrize("hidden,tied", [([4], False), ([5, 3], True)], ids=["untied", "stacked-tied"])
@pytest.mark.parametrize("name", list(COMBOS))
def test_combinations_pass_gradcheck(name, tied, hidden, X8):
    m = ae.Autoencoder(6, hidden, tied=tied, regularizers=COMBOS[name](hidden))
    randomize_biases(m)
    assert_passes(ae.gradcheck(m, X8))


def test_combinations_with_bce_and_tanh_pass_gradcheck(X8):
    m = ae.Autoencoder(6, [5, 3], activation="tanh", loss="bce", tied=True,
                       regularizers=[MaskingNoise(0.2), Contractive(0.3), L1Activity(0.1, layer=0),
                                     WeightDecay(0.05, kind="l2", layers=["enc1.W"])])
    randomize_biases(m)
    assert_passes(ae.gradcheck(m, X8))


def test_relu_contractive_passes_gradcheck(X8):
    """ReLU has f'' = 0: only the direct W term of the contractive gradient remains."""
    m = ae.Autoencoder(6, [5], activation="relu", regularizers=[Contractive(0.5)], seed=3)
    randomize_biases(m)
    m.params["enc0.b"][...] = 0.3  # every unit active for some row: no dead ReLU
    assert_passes(ae.gradcheck(m, X8))


@pytest.mark.parametrize("wrong", ["dA", "dW"])
def test_gradcheck_catches_a_factor_two_error_in_the_contractive_gradient(wrong, X8, monkeypatch):
    """The published factor-2 slip (dropping the 2 of d(g²) or of d(W²)) fails the check,
    so the exact gradient above is not passing by accident."""
    m = ae.Autoencoder(6, [4], regularizers=[Contractive(1.0)])
    randomize_biases(m)
    right = Contractive.penalty

    def halved(self, view, need_grad):
        p = right(self, view, need_grad)
        if need_grad:
            setattr(p, wrong, getattr(p, wrong) / 2)
        return p

    monkeypatch.setattr(Contractive, "penalty", halved)
    report = ae.gradcheck(m, X8)
    assert not report.ok
    assert report.max_rel_error > 1e-3


def test_float32_training_keeps_float32_gradients(X8):
    regs = COMBOS["everything"]([5, 3])
    m = ae.Autoencoder(6, [5, 3], regularizers=regs)
    loss, grads = m.loss_and_grads(X8, rng=np.random.default_rng(0))
    assert np.isfinite(loss)
    for k, g in grads.items():
        assert g.dtype == np.float32, k
        assert g.shape == m.params[k].shape


# ------------------------------------------------------------------ values by hand
def _twin(m, regs):
    """A float64 copy of m with other regularizers (same weights)."""
    cfg = m.get_config()
    cfg["regularizers"] = []
    t = ae.Autoencoder.from_config(cfg)
    t.regularizers = regs
    for r in regs:
        r.bind(t)
    for k, v in m.params.items():
        t.params[k][...] = v
    return t


def _one_layer(U, act="sigmoid", tied=False, regs=(), seed=0):
    m = ae.Autoencoder(6, [4], activation=act, tied=tied, regularizers=list(regs),
                       dtype="float64", seed=seed)
    randomize_biases(m)
    return m


def test_kl_sparsity_value_and_gradient_by_hand(U):
    rho, beta = 0.1, 2.5
    m = _one_layer(U, regs=[KLSparsity(rho, beta)])
    plain = _twin(m, [])
    W, b = m.params["enc0.W"], m.params["enc0.b"]
    h = sig(U @ W.T + b)
    rh = h.mean(axis=0)
    kl = rho * np.log(rho / rh) + (1 - rho) * np.log((1 - rho) / (1 - rh))
    assert m.loss(U) - plain.loss(U) == pytest.approx(beta * kl.sum(), rel=1e-10)
    # the UFLDL backprop term, divided by B, is the penalty's dZ
    from aenumpy.regularizers import LayerView
    p = m.regularizers[0].penalty(LayerView(U, U @ W.T + b, h, W, m.activation), True)
    expect = beta * (-rho / rh + (1 - rho) / (1 - rh)) / len(U)
    np.testing.assert_allclose(p.dZ, np.broadcast_to(expect, h.shape), rtol=1e-12)
    np.testing.assert_allclose(p.info["rho_hat"], rh)


def test_kl_sparsity_is_finite_when_rho_hat_reaches_0_or_1():
    """Units always off (ρ̂ = 0) or always on (ρ̂ = 1): ρ̂ is clipped into [1e-7, 1 − 1e-7],
    the value stays finite and the gradient (the derivative of the clipped value) is 0."""
    from aenumpy.regularizers import LayerView
    reg = KLSparsity(0.05, 3.0)
    Z = np.array([[0.0, 1.0, 0.3], [0.0, 1.0, 0.1]])
    p = reg.penalty(LayerView(None, None, Z, None, None), True)
    assert np.isfinite(p.value)
    r = np.array([1e-7, 1 - 1e-7, 0.2])
    kl = 0.05 * np.log(0.05 / r) + 0.95 * np.log(0.95 / (1 - r))
    assert p.value == pytest.approx(3.0 * kl.sum(), rel=1e-12)
    assert np.all(np.isfinite(p.dZ))
    assert np.all(p.dZ[:, :2] == 0) and np.all(p.dZ[:, 2] != 0)
    # float32 saturated sigmoid units in a model: still a finite loss and gradient
    m = ae.Autoencoder(6, [3], regularizers=[KLSparsity(0.05, 3.0)])
    m.params["enc0.b"][...] = [-200.0, 200.0, 0.0]
    loss, grads = m.loss_and_grads(np.full((4, 6), 0.5))
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())


def test_l1_activity_value_by_hand(U):
    m = _one_layer(U, act="tanh", regs=[L1Activity(0.7)])
    W, b = m.params["enc0.W"], m.params["enc0.b"]
    h = np.tanh(U @ W.T + b)
    assert m.loss(U) - _twin(m, []).loss(U) == pytest.approx(
        0.7 * np.abs(h).sum(axis=1).mean(), rel=1e-10)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
@pytest.mark.parametrize("tied", [False, True])
def test_contractive_value_is_the_closed_form(act, tied, U):
    lam = 0.8
    m = _one_layer(U, act=act, tied=tied, regs=[Contractive(lam)])
    W, b = m.params["enc0.W"], m.params["enc0.b"]
    h = (sig if act == "sigmoid" else np.tanh)(U @ W.T + b)
    fprime = h * (1 - h) if act == "sigmoid" else 1 - h ** 2
    per_sample = (fprime ** 2 * (W ** 2).sum(axis=1)).sum(axis=1)  # Σ_j f'(a_j)² Σ_i W_ji²
    assert m.loss(U) - _twin(m, []).loss(U) == pytest.approx(lam * per_sample.mean(), rel=1e-10)
    assert ae.regularizers.jacobian_norm(m, U) == pytest.approx(per_sample.mean(), rel=1e-12)


def test_contractive_value_is_the_jacobian_norm_by_finite_differences(U):
    """‖J‖²_F from central differences of the layer's output equals the closed form."""
    m = _one_layer(U, regs=[Contractive(1.0)])
    eps = 1e-6
    norms = []
    for x in U:
        J = np.empty((4, 6))
        for i in range(6):
            e = np.zeros(6)
            e[i] = eps
            J[:, i] = (m.encode((x + e)[None]) - m.encode((x - e)[None]))[0] / (2 * eps)
        norms.append((J ** 2).sum())
    assert m.loss(U) - _twin(m, []).loss(U) == pytest.approx(np.mean(norms), rel=1e-7)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_full_jacobian_of_a_stacked_encoder_matches_finite_differences(act, U):
    m = ae.Autoencoder(6, [5, 3], activation=act, dtype="float64", seed=4)
    randomize_biases(m)
    x = U[0]
    J = ae.regularizers.jacobian(m, x)
    assert J.shape == (3, 6)
    num = np.empty((3, 6))
    for i in range(6):
        e = np.zeros(6)
        e[i] = 1e-6
        num[:, i] = (m.encode((x + e)[None]) - m.encode((x - e)[None]))[0] / 2e-6
    np.testing.assert_allclose(J, num, rtol=1e-6, atol=1e-9)
    # for the code layer alone, ‖J_h‖² (w.r.t. h₁) is jacobian_norm(layer=1);
    # for a one-layer encoder the full Jacobian's norm is jacobian_norm
    m1 = _one_layer(U, act=act)
    assert (ae.regularizers.jacobian(m1, U[2]) ** 2).sum() == pytest.approx(
        ae.regularizers.jacobian_norm(m1, U[2:3]), rel=1e-12)


def test_jacobian_follows_the_evaluation_mode_masks(X8):
    """With a top-k code (α·k kept at evaluation) and dropout (off at evaluation), the
    Jacobian is that of the function encode() computes."""
    m = ae.Autoencoder(6, [5, 4], regularizers=[Dropout(0.5, layer=0), TopK(2, alpha=1.0),
                                                GaussianNoise(0.3)], dtype="float64", seed=5)
    randomize_biases(m)
    x = X8[3]
    J = ae.regularizers.jacobian(m, x)
    num = np.empty((4, 6))
    for i in range(6):
        e = np.zeros(6)
        e[i] = 1e-6
        num[:, i] = (m.encode((x + e)[None]) - m.encode((x - e)[None]))[0] / 2e-6
    np.testing.assert_allclose(J, num, rtol=1e-6, atol=1e-9)
    assert (np.abs(J).sum(axis=1) > 0).sum() == 2  # only the two kept code units move


def test_jacobian_norm_of_a_chosen_layer(U):
    m = ae.Autoencoder(6, [5, 3], dtype="float64", seed=1)
    randomize_biases(m)
    W0, b0 = m.params["enc0.W"], m.params["enc0.b"]
    h1 = sig(U @ W0.T + b0)
    expect = ((h1 * (1 - h1)) ** 2 * (W0 ** 2).sum(axis=1)).sum(axis=1).mean()
    assert ae.regularizers.jacobian_norm(m, U, layer=0) == pytest.approx(expect, rel=1e-12)
    assert ae.regularizers.jacobian_norm(m, U, layer="enc0") == pytest.approx(expect, rel=1e-12)
    with pytest.raises(ValueError, match="encoder layer"):
        ae.regularizers.jacobian_norm(m, U, layer=2)
    with pytest.raises(ValueError, match="one sample"):
        ae.regularizers.jacobian(m, U)


@pytest.mark.parametrize("tied", [False, True])
def test_weight_decay_values_by_hand(tied, U):
    m = ae.Autoencoder(6, [5, 3], tied=tied, dtype="float64",
                       regularizers=[WeightDecay(0.3)])
    plain = _twin(m, [])
    Ws = [v for k, v in m.params.items() if k.endswith(".W")]
    assert len(Ws) == (2 if tied else 4)  # a tied W counts once
    assert m.loss(U) - plain.loss(U) == pytest.approx(0.15 * sum((W ** 2).sum() for W in Ws),
                                                      rel=1e-10)
    l1 = _twin(m, [WeightDecay(0.3, kind="l1")])
    assert l1.loss(U) - plain.loss(U) == pytest.approx(0.3 * sum(np.abs(W).sum() for W in Ws),
                                                       rel=1e-10)
    only = _twin(m, [WeightDecay(0.3, layers=["enc0", "enc1.W"])])
    W0, W1 = m.params["enc0.W"], m.params["enc1.W"]
    assert only.loss(U) - plain.loss(U) == pytest.approx(
        0.15 * ((W0 ** 2).sum() + (W1 ** 2).sum()), rel=1e-10)
    # biases are not decayed
    _, g = only.loss_and_grads(U)
    _, g0 = plain.loss_and_grads(U)
    for k in g:
        if k.endswith(".b") or k.startswith("dec"):
            np.testing.assert_allclose(g[k], g0[k], rtol=1e-12, atol=1e-15)


def test_gaussian_denoising_loss_is_against_the_clean_input(U):
    sigma = 0.3
    m = _one_layer(U, regs=[GaussianNoise(sigma)])
    # μ_T, no clipping: x̃ = x + σ·ε, ε = rng.standard_normal on the teaching path
    Xt = U + sigma * np.random.default_rng(5).standard_normal(U.shape)
    W, b = m.params["enc0.W"], m.params["enc0.b"]
    W2, b2 = m.params["dec0.W"], m.params["dec0.b"]
    xh = sig(sig(Xt @ W.T + b) @ W2.T + b2)
    expect = np.mean(0.5 * np.sum((U - xh) ** 2, axis=1))
    assert m.loss(U, rng=np.random.default_rng(5)) == pytest.approx(expect, rel=1e-12)
    # the same draws as the plain function
    np.testing.assert_allclose(ae.regularizers.corrupt(U, "gaussian", sigma,
                                                       np.random.default_rng(5)), Xt,
                               rtol=0, atol=0)


def test_corruption_statistics():
    X = np.full((400, 500), 0.5)
    r = np.random.default_rng(0)
    g = GaussianNoise(0.2).corrupt(X, r)
    assert abs((g - X).std() - 0.2) < 0.003 and abs((g - X).mean()) < 0.003
    assert g.max() > 1.0  # no clipping
    mk = MaskingNoise(0.3).corrupt(X, r)
    assert set(np.unique(mk)) == {0.0, 0.5}
    assert abs((mk == 0).mean() - 0.3) < 0.005
    sp = SaltAndPepper(0.4).corrupt(X, r)
    assert set(np.unique(sp)) == {0.0, 0.5, 1.0}
    assert abs((sp == 0).mean() - 0.2) < 0.005 and abs((sp == 1).mean() - 0.2) < 0.005
    sp2 = SaltAndPepper(0.5, low=-1.0, high=2.0).corrupt(X, r)
    assert set(np.unique(sp2)) == {-1.0, 0.5, 2.0}
    assert X.max() == 0.5 and X.min() == 0.5  # the input is untouched
    assert MaskingNoise(0.3).corrupt(X.astype(np.float32), r).dtype == np.float32
    assert GaussianNoise(0.3).corrupt(X.astype(np.float32), r).dtype == np.float32
    for kind, cls, lvl in (("gaussian", GaussianNoise, 0.1), ("masking", MaskingNoise, 0.2),
                           ("salt_and_pepper", SaltAndPepper, 0.2)):
        np.testing.assert_array_equal(
            ae.regularizers.corrupt(X[:5], kind, lvl, np.random.default_rng(3)),
            cls(lvl).corrupt(X[:5], np.random.default_rng(3)))
    with pytest.raises(ValueError, match="kind"):
        ae.regularizers.corrupt(X, "speckle", 0.1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        ae.regularizers.corrupt(X, "gaussian", 0.1, None)


def test_corruption_at_evaluation_only_when_asked(U):
    clean = _one_layer(U)
    for cls, lvl in ((GaussianNoise, 0.3), (MaskingNoise, 0.4), (SaltAndPepper, 0.4)):
        off = _twin(clean, [cls(lvl)])
        np.testing.assert_array_equal(off.encode(U), clean.encode(U))
        on = _twin(clean, [cls(lvl, at_eval=True)])
        a = on.encode(U, rng=np.random.default_rng(1))
        assert not np.allclose(a, clean.encode(U))
        np.testing.assert_array_equal(a, on.encode(U, rng=np.random.default_rng(1)))


def test_topk_keeps_exactly_k_in_training_and_alpha_k_at_evaluation(X8):
    m = ae.Autoencoder(6, [7], regularizers=[TopK(3, alpha=2.0)], dtype="float64")
    randomize_biases(m)
    Zfull = _twin(m, []).encode(X8)
    Ztr = m._encode(X8, np.random.default_rng(0), training=True)
    assert ((Ztr != 0).sum(axis=1) == 3).all()
    for row, full in zip(Ztr, Zfull):  # the kept units are the 3 largest, unchanged
        kept = np.sort(np.argsort(-full)[:3])
        np.testing.assert_array_equal(np.flatnonzero(row), kept)
        np.testing.assert_array_equal(row[kept], full[kept])
    Zev = m.encode(X8)
    assert ((Zev != 0).sum(axis=1) == 6).all()  # int(2.0 · 3)
    big = ae.Autoencoder(6, [7], regularizers=[TopK(5, alpha=3.0)])
    assert ((big.encode(X8) != 0).sum(axis=1) == 7).all()  # min(n, int(α·k))


def test_topk_gradient_flows_only_through_the_kept_units(X8):
    m = ae.Autoencoder(6, [7], regularizers=[TopK(2)], dtype="float64")
    randomize_biases(m)
    m.loss_and_grads(X8, rng=np.random.default_rng(0))
    c = m.encoder[0].cache
    assert ((c["M"] == 0) <= (c["dA"] == 0)).all()  # no error reaches a dropped unit


@pytest.mark.parametrize("by", ["abs", "value"])
@pytest.mark.parametrize("act", ["tanh", "identity"])
def test_topk_on_a_signed_code_passes_gradcheck(by, act, X8):
    """A tanh or linear code has negative units, where the lecture's rule (|z|) and
    Makhzani & Frey's (z) keep different units: each passes the gradient check."""
    m = ae.Autoencoder(6, [5], activation=act, regularizers=[TopK(2, by=by)], dtype="float64",
                       seed=3)
    randomize_biases(m)
    assert_passes(ae.gradcheck(m, X8))


def test_topk_by_abs_keeps_the_strongly_negative_units_by_value_drops_them():
    """The lecture's f_k: b_i = 1 for the k largest |x_i|; Makhzani & Frey: the k largest x_i."""
    Z = np.array([[-0.9, 0.1, 0.5, -0.2], [0.3, -0.8, -0.7, 0.6]])
    np.testing.assert_array_equal(TopK(2).mask(Z, None, True), [[1, 0, 1, 0], [0, 1, 1, 0]])
    np.testing.assert_array_equal(TopK(2, by="value").mask(Z, None, True),
                                  [[0, 1, 1, 0], [1, 0, 0, 1]])
    Zs = np.abs(Z)  # a code that is never negative (sigmoid, ReLU): the same units either way
    np.testing.assert_array_equal(TopK(2).mask(Zs, None, True),
                                  TopK(2, by="value").mask(Zs, None, True))
    with pytest.raises(ValueError, match="by"):
        TopK(2, by="magnitude")
    assert TopK(3, by="value").get_config()["by"] == "value"


def test_topk_ties_are_broken_deterministically():
    from aenumpy.regularizers.topk import topk_mask
    Z = np.array([[0.5, 0.5, 0.5, 0.1], [0.2, 0.9, 0.9, 0.9], [1.0, 1.0, 1.0, 1.0]])
    M = topk_mask(Z, 2)
    np.testing.assert_array_equal(M, [[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 0]])
    np.testing.assert_array_equal(topk_mask(Z, 2), M)


def test_topk_schedule_lowers_k_linearly_over_the_first_half():
    r = TopK(4, k_start=10)
    assert r.k_current == 4  # the target k until fit() starts the schedule
    seen = []
    for e in range(10):
        r.on_epoch_begin(e, 10)
        seen.append(r.k_current)
    assert seen == [10, 9, 8, 6, 5, 4, 4, 4, 4, 4]
    r1 = TopK(4, k_start=10)
    r1.on_epoch_begin(0, 1)
    assert r1.k_current == 4  # one epoch: straight to k
    # through fit(): the model keeps k_current units in training, α·k at evaluation
    X = np.random.default_rng(0).random((64, 6))
    topk = TopK(2, k_start=6)
    m = ae.Autoencoder(6, [8], regularizers=[topk])
    ks = []
    ae.fit(m, X, epochs=4, batch_size=32, progress=False,
           callback=lambda e, h: ks.append(topk.k_current))
    assert ks == [6, 4, 2, 2]
    assert ((m.encode(X) != 0).sum(axis=1) == 2).all()


def test_dropout_mask_in_training_and_none_at_evaluation(U):
    p = 0.4
    m = _one_layer(U, regs=[Dropout(p)])
    plain = _twin(m, [])
    np.testing.assert_array_equal(m.encode(U), plain.encode(U))  # off at evaluation
    np.testing.assert_array_equal(m.encode(U), m.encode(U))
    big = ae.Autoencoder(6, [500], regularizers=[Dropout(p)], dtype="float64")
    X = np.random.default_rng(1).random((200, 6))
    big.loss_and_grads(X, rng=np.random.default_rng(0))
    M = big.encoder[0].cache["M"]
    assert set(np.unique(M)) == {0.0, 1 / (1 - p)}
    assert abs((M == 0).mean() - p) < 0.01
    assert abs(M.mean() - 1.0) < 0.02  # inverted dropout: E[m] = 1
    np.testing.assert_allclose(big.encoder[0].cache["H"], big.encoder[0].cache["Z"] * M)
    assert Dropout(0.0).mask(np.ones((2, 3)), np.random.default_rng(0), True) is None


def test_trace_shows_the_regularized_step(U):
    m = ae.Autoencoder(6, [4], regularizers=[MaskingNoise(0.3), TopK(2), KLSparsity(0.1, 1.0),
                                             WeightDecay(0.01)])
    t = ae.trace(m, U)
    assert "x̃" in t and "enc0.mask" in t and "E.KLSparsity" in t and "E.WeightDecay" in t


# ------------------------------------------------------------------ errors and config
@pytest.mark.parametrize("make,match", [
    (lambda: KLSparsity(rho=0.0), "rho"),
    (lambda: KLSparsity(rho=1.0), "rho"),
    (lambda: KLSparsity(rho=1.5), "rho"),
    (lambda: KLSparsity(rho=0.05, beta=-1), "beta"),
    (lambda: L1Activity(-0.1), "lam"),
    (lambda: Contractive(-1e-3), "lam"),
    (lambda: WeightDecay(-0.1), "lam"),
    (lambda: WeightDecay(0.1, kind="l3"), "kind"),
    (lambda: WeightDecay(0.1, layers=[]), "layers"),
    (lambda: GaussianNoise(-0.1), "sigma"),
    (lambda: GaussianNoise(float("nan")), "sigma"),
    (lambda: MaskingNoise(1.0), "p"),
    (lambda: MaskingNoise(-0.1), "p"),
    (lambda: SaltAndPepper(1.2), "p"),
    (lambda: SaltAndPepper(0.1, low=1.0, high=0.0), "low"),
    (lambda: Dropout(1.0), "p"),
    (lambda: Dropout(-0.5), "p"),
    (lambda: TopK(0), "k"),
    (lambda: TopK(-3), "k"),
    (lambda: TopK(4, alpha=0), "alpha"),
    (lambda: TopK(4, alpha=0.1), "alpha"),
    (lambda: TopK(4, k_start=2), "k_start"),
    (lambda: L1Activity(0.1, layer=-1), "layer"),
    (lambda: Dropout(0.1, layer="dec0"), "layer"),
])
def test_bad_hyperparameters_are_refused_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make,match", [
    (lambda: TopK(1.5), "integer"),
    (lambda: Dropout(0.1, layer=1.0), "layer"),
    (lambda: WeightDecay(0.1, layers=[0]), "layers"),
    (lambda: GaussianNoise("0.1"), "number"),
])
def test_wrong_types_are_refused(make, match):
    with pytest.raises(TypeError, match=match):
        make()


@pytest.mark.parametrize("kwargs,regs,match", [
    (dict(hidden=[4]), lambda: [TopK(5)], r"k must be in 1\.\.4"),
    (dict(hidden=[5, 3]), lambda: [TopK(4)], r"1\.\.3"),
    (dict(hidden=[5, 3]), lambda: [TopK(2, k_start=4)], "k_start"),
    (dict(hidden=[5, 3]), lambda: [TopK(5, layer=0)], None),  # fits enc0: accepted
    (dict(hidden=[4]), lambda: [KLSparsity(layer=1)], "encoder layer"),
    (dict(hidden=[5, 3]), lambda: [Dropout(0.1, layer="enc2")], "encoder layer"),
    (dict(hidden=[4], activation="tanh"), lambda: [KLSparsity()], "sigmoid"),
    (dict(hidden=[5, 3], activation="relu"), lambda: [KLSparsity(layer=0)], "sigmoid"),
    (dict(hidden=[4], tied=True), lambda: [WeightDecay(0.1, layers=["dec0"])], "tied"),
    (dict(hidden=[4]), lambda: [WeightDecay(0.1, layers=["enc3"])], "enc3"),
])
def test_bad_hyperparameters_are_refused_when_the_model_is_built(kwargs, regs, match):
    if match is None:
        ae.Autoencoder(6, regularizers=regs(), **kwargs)
        return
    with pytest.raises(ValueError, match=match):
        ae.Autoencoder(6, regularizers=regs(), **kwargs)


def test_contractive_refuses_an_activation_without_second_derivative():
    class Soft(ae.activations.Activation):
        name = "softsign"

        def __call__(self, a):
            return a / (1 + np.abs(a))

        def grad(self, a, z):
            return (1 - np.abs(z)) ** 2

    with pytest.raises(ValueError, match="second derivative"):
        ae.Autoencoder(6, [4], activation=Soft(), regularizers=[Contractive(0.1)])


ALL = [GaussianNoise(0.1, at_eval=True), MaskingNoise(0.2), SaltAndPepper(0.1, low=0.0, high=1.0),
       KLSparsity(0.07, 2.0, layer=0), L1Activity(0.01, layer="enc1"), TopK(3, alpha=1.5, k_start=4),
       Contractive(0.1, layer=0), WeightDecay(1e-3, kind="l1", layers=["enc0", "dec1.W"]),
       Dropout(0.2, layer=0)]


def test_every_regularizer_is_registered_and_its_config_round_trips():
    from aenumpy.regularizers import REGISTRY, from_config
    assert {type(r).__name__ for r in ALL} <= set(REGISTRY)
    assert len({type(r) for r in ALL}) == 9
    for r in ALL:
        cfg = r.get_config()
        json.dumps(cfg)
        again = from_config({"name": type(r).__name__, **cfg})
        assert type(again) is type(r) and again.get_config() == cfg
        assert repr(again) == repr(r)


def test_save_load_round_trip_with_every_regularizer(tmp_path, X8):
    m = ae.Autoencoder(6, [5, 4], regularizers=ALL, seed=3)
    ae.fit(m, X8, epochs=2, batch_size=4, progress=False)
    path = ae.save(m, tmp_path / "reg.npz")
    m2 = ae.load(path)
    assert m2.get_config() == m.get_config()
    assert [type(r).__name__ for r in m2.regularizers] == [type(r).__name__ for r in ALL]
    for k in m.params:
        np.testing.assert_array_equal(m2.params[k], m.params[k])
    assert m2.loss(X8, rng=np.random.default_rng(9)) == m.loss(X8, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(m2.encode(X8, rng=np.random.default_rng(2)),
                                  m.encode(X8, rng=np.random.default_rng(2)))
