"""Checkpoint and resume: an interrupted run, resumed, equals the uninterrupted one bit for bit.

What must be restored for that: the weights, the optimizer's state (Adam's m, v
and t; SGD's velocity), the shuffling/noise generator of fit, the model's own
generator ``model.rng``, the step count and the history.
"""
import numpy as np
import pytest

import aenumpy as ae
from aenumpy.io import ModelFileError
from conftest import on_path
from aenumpy.regularizers import REGISTRY, InputCorruption


class _OwnRngNoise(InputCorruption):
    """Test-only corruption that draws from the model's own generator ``model.rng``
    (ignoring the rng fit passes), so resume must restore ``model.rng`` as well."""

    _args = ("sigma",)

    def __init__(self, sigma=0.1):
        self.sigma = sigma

    def bind(self, model):
        self.model = model

    def corrupt(self, X, rng):
        return X + self.sigma * self.model.rng.standard_normal(X.shape).astype(X.dtype)


class _Interrupt(Exception):
    pass


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    # the checkpoint's configuration names the regularizer; register it for this test only
    monkeypatch.setitem(REGISTRY, "_OwnRngNoise", _OwnRngNoise)


def _data():
    return ae.datasets.load_digits()[0][:240]


def _model(noise=True):
    regs = [_OwnRngNoise(0.1)] if noise else []
    return ae.Autoencoder(64, [12], output_activation="identity", loss="mse", seed=3,
                          regularizers=regs)


OPTIMIZERS = {"adam": lambda: ae.optim.Adam(lr=3e-3),
              "sgd-momentum": lambda: ae.optim.SGD(lr=0.05, momentum=0.9, nesterov=True)}


def _interrupted_then_resumed(tmp_path, opt_name, jit=True):
    X = _data()
    ckpt = tmp_path / "run.npz"

    def crash_after_third(epoch, history):
        if epoch == 2:
            raise _Interrupt  # e.g. the laptop's battery; the checkpoint of epoch 3 is on disk

    with on_path(jit):
        m1 = _model()
        with pytest.raises(_Interrupt):
            ae.fit(m1, X, epochs=6, batch_size=32, optimizer=OPTIMIZERS[opt_name](), seed=11,
                   progress=False, checkpoint=ckpt, callback=crash_after_third)
        m2 = _model()  # a fresh process would build the model again
        h2 = ae.fit(m2, X, epochs=6, batch_size=32, optimizer=None, seed=11, progress=False,
                    resume=ckpt)
    return m2, h2


def _uninterrupted(opt_name, jit=True):
    with on_path(jit):
        m = _model()
        h = ae.fit(m, _data(), epochs=6, batch_size=32, optimizer=OPTIMIZERS[opt_name](), seed=11,
                   progress=False)
    return m, h


@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path, opt_name):
    m_ref, h_ref = _uninterrupted(opt_name)
    m_res, h_res = _interrupted_then_resumed(tmp_path, opt_name)
    for k in m_ref.params:
        np.testing.assert_array_equal(m_res.params[k], m_ref.params[k], err_msg=k)
    assert h_res["loss"] == h_ref["loss"]
    assert len(h_res["seconds"]) == 6
    assert m_res.rng.bit_generator.state == m_ref.rng.bit_generator.state


def test_resume_is_exact_on_the_reference_path_too(tmp_path):
    m_ref, h_ref = _uninterrupted("adam", jit=False)
    m_res, h_res = _interrupted_then_resumed(tmp_path, "adam", jit=False)
    for k in m_ref.params:
        np.testing.assert_array_equal(m_res.params[k], m_ref.params[k], err_msg=k)
    assert h_res["loss"] == h_ref["loss"]


def test_without_restoring_the_generators_the_run_differs(tmp_path):
    """The control: continuing by hand from the weights and optimizer alone (the
    old start_epoch way) is not the uninterrupted run, so the test above has teeth."""
    X = _data()
    m_ref, _ = _uninterrupted("adam")
    m = _model()
    opt = ae.optim.Adam(lr=3e-3)
    h = ae.fit(m, X, epochs=3, batch_size=32, optimizer=opt, seed=11, progress=False)
    ae.fit(m, X, epochs=6, batch_size=32, optimizer=opt, seed=11, progress=False, history=h,
           start_epoch=3)
    assert any(not np.array_equal(m.params[k], m_ref.params[k]) for k in m.params)


def test_checkpoint_every_and_contents(tmp_path):
    X = _data()
    ckpt = tmp_path / "c.npz"
    seen = []

    def spy(epoch, history):
        if not ckpt.exists():
            seen.append((epoch + 1, None, None))
            return
        _, opt, extra = ae.io.load_checkpoint(ckpt)
        seen.append((epoch + 1, extra["training"]["epoch"], opt.t))

    m = _model(noise=False)
    ae.fit(m, X, epochs=5, batch_size=60, checkpoint=ckpt, checkpoint_every=2, callback=spy,
           progress=False)
    # written after epochs 2, 4 and the last (5); 4 steps per epoch
    assert [s[1] for s in seen] == [None, 2, 2, 4, 5]
    assert seen[-1][2] == 5 * 4
    model, opt, extra = ae.io.load_checkpoint(ckpt)
    st = extra["training"]
    assert st["epoch"] == 5 and st["step"] == 20 and len(st["history"]["loss"]) == 5
    for k in m.params:
        np.testing.assert_array_equal(model.params[k], m.params[k])


def test_resume_a_finished_run_does_nothing_more(tmp_path):
    X = _data()
    ckpt = tmp_path / "c.npz"
    m = _model(noise=False)
    ae.fit(m, X, epochs=2, batch_size=60, checkpoint=ckpt, progress=False)
    m2 = _model(noise=False)
    h = ae.fit(m2, X, epochs=2, batch_size=60, resume=ckpt, progress=False)
    assert h.epochs == 2
    for k in m.params:
        np.testing.assert_array_equal(m2.params[k], m.params[k])


def test_resume_refuses_a_different_model(tmp_path):
    X = _data()
    ckpt = tmp_path / "c.npz"
    ae.fit(_model(noise=False), X, epochs=1, batch_size=60, checkpoint=ckpt, progress=False)
    other = ae.Autoencoder(64, [8], seed=3)
    with pytest.raises(ValueError, match="checkpoint holds a model"):
        ae.fit(other, X, epochs=2, resume=ckpt, progress=False)


def test_resume_refuses_a_different_optimizer(tmp_path):
    X = _data()
    ckpt = tmp_path / "c.npz"
    ae.fit(_model(noise=False), X, epochs=1, batch_size=60, checkpoint=ckpt, progress=False,
           optimizer=ae.optim.Adam(lr=1e-3))
    with pytest.raises(ValueError, match="trained with"):
        ae.fit(_model(noise=False), X, epochs=2, resume=ckpt, progress=False,
               optimizer=ae.optim.SGD(lr=0.1))


def test_resume_refuses_a_plain_model_file(tmp_path):
    path = ae.save(_model(noise=False), tmp_path / "plain.npz")
    with pytest.raises(ModelFileError, match="not a training checkpoint"):
        ae.fit(_model(noise=False), _data(), epochs=2, resume=path, progress=False)


def test_resume_with_history_or_start_epoch_is_refused(tmp_path):
    with pytest.raises(ValueError, match="resume"):
        ae.fit(_model(noise=False), _data(), epochs=2, resume=tmp_path / "x.npz",
               start_epoch=1, progress=False)


def test_resume_from_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        ae.fit(_model(noise=False), _data(), epochs=2, resume=tmp_path / "nope.npz",
               progress=False)


def test_checkpoint_name_without_suffix(tmp_path):
    X = _data()
    m = _model(noise=False)
    ae.fit(m, X, epochs=1, batch_size=60, checkpoint=tmp_path / "run", progress=False)
    assert (tmp_path / "run.npz").exists()
    h = ae.fit(_model(noise=False), X, epochs=2, batch_size=60, resume=tmp_path / "run",
               progress=False)
    assert h.epochs == 2


def _models_with_fit_rng_noise():
    out = {}
    R = ae.regularizers
    if hasattr(R, "GaussianNoise") and hasattr(R, "Dropout"):
        out["noise+dropout"] = lambda: ae.Autoencoder(
            64, [16], seed=2, regularizers=[R.GaussianNoise(0.2), R.Dropout(0.3)])
    if hasattr(ae, "VariationalAutoencoder"):
        out["vae-warmup"] = lambda: ae.VariationalAutoencoder(64, [16], 2, seed=2, kl_warmup=4)
    return out


@pytest.mark.parametrize("name", sorted(_models_with_fit_rng_noise()))
def test_resume_with_noise_drawn_from_fits_generator(tmp_path, name):
    """Corruption, dropout and the VAE's ε draw from the generator fit passes; the VAE's
    KL warm-up depends on the epoch. Both survive an interrupt."""
    make = _models_with_fit_rng_noise()[name]
    X = _data()
    ref = make()
    ae.fit(ref, X, epochs=5, batch_size=48, seed=4, progress=False)
    ckpt = tmp_path / "c.npz"

    def crash(epoch, history):
        if epoch == 1:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        ae.fit(make(), X, epochs=5, batch_size=48, seed=4, progress=False, checkpoint=ckpt,
               callback=crash)
    m = make()
    ae.fit(m, X, epochs=5, batch_size=48, progress=False, resume=ckpt)
    for k in ref.params:
        np.testing.assert_array_equal(m.params[k], ref.params[k], err_msg=k)
