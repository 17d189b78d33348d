import warnings

import numpy as np
import pytest

import aenumpy as ae
from conftest import on_path


def test_linear_autoencoder_reaches_pca_error():
    """Baldi & Hornik (1989): a linear autoencoder with squared error learns the
    principal subspace, so its best reconstruction error is PCA's."""
    Xtr, _, _, _ = ae.datasets.load_digits(dtype="float64")
    k = 8
    Xc = Xtr - Xtr.mean(0)
    ev = np.linalg.eigvalsh(Xc.T @ Xc / len(Xtr))[::-1]
    pca_error = 0.5 * ev[k:].sum()  # ½ Σ of the discarded variances, per sample
    m = ae.Autoencoder(64, [k], activation="identity", output_activation="identity",
                       dtype="float64", seed=0)
    ae.fit(m, Xtr, epochs=150, batch_size=64, optimizer=ae.optim.Adam(lr=3e-3), progress=False)
    ae_error = m.reconstruction_error(Xtr)
    assert pca_error * (1 - 1e-9) <= ae_error <= 1.02 * pca_error


def test_same_seed_same_parameters():
    Xtr, _, _, _ = ae.datasets.load_digits()
    runs = []
    for _ in range(2):
        m = ae.Autoencoder(64, [16], seed=1, regularizers=[])
        h = ae.fit(m, Xtr, epochs=2, batch_size=32, seed=5, progress=False)
        runs.append((m, h))
    for k in runs[0][0].params:
        np.testing.assert_array_equal(runs[0][0].params[k], runs[1][0].params[k])
    assert runs[0][1]["loss"] == runs[1][1]["loss"]


def test_history_and_validation():
    Xtr, _, Xte, _ = ae.datasets.load_digits()
    m = ae.Autoencoder(64, [16])
    h = ae.fit(m, Xtr, epochs=3, X_val=Xte, progress=False, optimizer=ae.optim.Adam(1e-2))
    assert len(h["loss"]) == len(h["val_loss"]) == len(h["seconds"]) == 3
    assert h["loss"][-1] < h["loss"][0]
    assert h["val_loss"][-1] < h["val_loss"][0]
    assert not h.stopped_early


@pytest.mark.parametrize("reg", [ae.regularizers.Dropout(0.5), ae.regularizers.TopK(4, alpha=2)],
                         ids=["dropout", "topk"])
def test_validation_loss_is_the_objective_in_evaluation_mode(reg):
    """No dropout and top-k at its evaluation α·k: val_loss is model.loss(X_val,
    training=False), which differs from the training-mode objective on the same data."""
    Xtr, _, Xte, _ = ae.datasets.load_digits()
    m = ae.Autoencoder(64, [16], regularizers=[reg], seed=3)
    h = ae.fit(m, Xtr, epochs=2, batch_size=len(Xte), X_val=Xte, progress=False)
    want = m.loss(Xte, rng=np.random.default_rng(0), training=False)
    assert h["val_loss"][-1] == pytest.approx(want, rel=1e-12)
    assert m.loss(Xte, rng=np.random.default_rng(0)) != pytest.approx(want, rel=1e-3)
    assert "val_reconstruction" not in h       # nothing corrupts the input


def test_a_denoising_model_reports_its_clean_reconstruction_beside_the_validation_loss():
    """The denoising objective keeps its corruption at evaluation (the task is x from x̃);
    the clean reconstruction error is recorded beside it, and is the smaller."""
    Xtr, _, Xte, _ = ae.datasets.load_digits()
    m = ae.Autoencoder(64, [16], regularizers=[ae.regularizers.GaussianNoise(0.5)], seed=3)
    h = ae.fit(m, Xtr, epochs=3, X_val=Xte, progress=False, optimizer=ae.optim.Adam(1e-2))
    assert len(h["val_reconstruction"]) == len(h["val_loss"]) == 3
    assert h["val_reconstruction"][-1] == pytest.approx(m.reconstruction_error(Xte), rel=1e-12)
    assert h["val_reconstruction"][-1] < h["val_loss"][-1]


@pytest.mark.parametrize("opt", [ae.optim.SGD(lr=0.5), ae.optim.SGD(lr=0.2, momentum=0.9),
                                 ae.optim.SGD(lr=0.2, momentum=0.9, nesterov=True),
                                 ae.optim.Adam(lr=1e-2)])
def test_every_optimizer_lowers_the_loss(opt):
    Xtr, _, _, _ = ae.datasets.load_digits()
    m = ae.Autoencoder(64, [16])
    before = m.loss(Xtr)
    ae.fit(m, Xtr, epochs=5, optimizer=opt, progress=False)
    assert m.loss(Xtr) < 0.8 * before


def test_divergence_stops_and_keeps_last_good_weights():
    Xtr, _, _, _ = ae.datasets.load_digits()
    m = ae.Autoencoder(64, [16], activation="identity", output_activation="identity")
    with pytest.warns(ae.TrainingDiverged, match="learning rate"):
        h = ae.fit(m, Xtr, epochs=5, optimizer=ae.optim.SGD(lr=10.0), progress=False)
    assert h.stopped_early and "diverged" in h.message
    assert all(np.isfinite(p).all() for p in m.params.values())
    assert np.isfinite(m.loss(Xtr))


def test_progress_bar_can_be_turned_off(capsys):
    Xtr, _, _, _ = ae.datasets.load_digits()
    ae.fit(ae.Autoencoder(64, [8]), Xtr[:100], epochs=1, progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    ae.fit(ae.Autoencoder(64, [8]), Xtr[:100], epochs=1, progress=True)
    out = capsys.readouterr()
    assert "epoch 1/1" in out.out


def test_minibatches_cover_every_row_once_per_epoch(monkeypatch):
    X = np.random.default_rng(0).random((50, 6)).astype(np.float32)
    m = ae.Autoencoder(6, [3])
    seen = []
    orig = m.loss_and_grads

    def spy(xb, rng=None, checked=False):
        seen.append(xb.copy())
        return orig(xb, rng=rng, checked=checked)

    monkeypatch.setattr(m, "loss_and_grads", spy)
    ae.fit(m, X, epochs=1, batch_size=16, progress=False)
    assert [len(b) for b in seen] == [16, 16, 16, 2]
    rows = np.concatenate(seen)
    assert sorted(map(tuple, rows)) == sorted(map(tuple, X))


def test_fit_rejects_bad_arguments():
    m = ae.Autoencoder(6, [3])
    X = np.random.default_rng(0).random((10, 6))
    with pytest.raises(ValueError, match="batch_size"):
        ae.fit(m, X, batch_size=0)
    with pytest.raises(TypeError, match="epochs"):
        ae.fit(m, X, epochs=2.5)
    with pytest.raises(TypeError, match="optimizer"):
        ae.fit(m, X, optimizer="adam")
    with pytest.raises(ValueError, match="lr"):
        ae.optim.Adam(lr=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ae.fit(m, X, epochs=1, progress=False)


@pytest.mark.parametrize("fast", [False, True], ids=["teaching", "fast"])
@pytest.mark.parametrize("opt", [lambda: ae.optim.Adam(1e-2),
                                 lambda: ae.optim.SGD(0.1, momentum=0.9, nesterov=True)])
def test_optimizers_step_any_memory_layout(opt, fast, rng):
    """A column-major weight, a gradient in the other layout and a state restored
    row-major (as a checkpoint gives it) update exactly as all-row-major arrays do."""
    W = rng.normal(size=(5, 8)).astype(np.float32)
    pc, pf = {"W": W.copy()}, {"W": np.asfortranarray(W)}
    with on_path(fast):
        oc, of = opt(), opt()
    for step in range(4):
        g = rng.normal(size=(5, 8)).astype(np.float32)
        with on_path(fast):
            oc.step(pc, {"W": g})
            of.step(pf, {"W": g if step % 2 else np.asfortranarray(g)})
        if step == 1:
            of.load_state_dict({k: np.array(v, order="C") for k, v in of.state_dict().items()})
    assert pf["W"].flags.f_contiguous
    np.testing.assert_array_equal(pf["W"], pc["W"])
