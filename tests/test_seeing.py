"""Seeing a step and a run: plot.trace, fit(..., monitor=True), plot.dynamics, the
command line's dynamics.png and trace.png, and the explorers."""
import itertools
import json
import sys
import types

import numpy as np
import pytest

import aenumpy as ae
from aenumpy import cli, explore, plot
from aenumpy.monitor import Monitor
from aenumpy.trace import Trace

EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def digits():
    return ae.datasets.load_digits()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


def render(fig, path):
    """Save to PNG (which closes the figure) and check the file is a real picture."""
    plot.save(fig, path)
    assert path.stat().st_size > 5000, path


def overlapping_texts(fig):
    """Pairs of drawn texts (titles, shape labels, numbers, figure texts) whose boxes overlap."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    arts = list(fig.texts)
    for ax in fig.axes:
        arts += [ax.title, *ax.texts] + ([ax.xaxis.label] if ax.axison else [])
    boxes = [(a.get_text(), a.get_window_extent(r)) for a in arts
             if a.get_visible() and a.get_text().strip()]
    return [(t1, t2) for (t1, b1), (t2, b2) in itertools.combinations(boxes, 2)
            if b1.x0 < b2.x1 - 1 and b2.x0 < b1.x1 - 1 and b1.y0 < b2.y1 - 1 and b2.y0 < b1.y1 - 1]


def titles(fig):
    return {ax.get_title() for ax in fig.axes}


# ------------------------------------------------------------------ plot.trace
MODELS = {
    "one layer": lambda: ae.Autoencoder(64, [16], seed=0),
    "two layers, relu": lambda: ae.Autoencoder(64, [32, 8], activation="relu", seed=0),
    "three layers, tied": lambda: ae.Autoencoder(64, [48, 32, 16], tied=True, seed=0),
    "corrupted, dropout, sparse": lambda: ae.Autoencoder(
        64, [16], seed=0, regularizers=[ae.regularizers.GaussianNoise(0.2),
                                        ae.regularizers.Dropout(0.3),
                                        ae.regularizers.KLSparsity(0.05, 3.0)]),
    "top-k": lambda: ae.Autoencoder(64, [32], seed=0, regularizers=[ae.regularizers.TopK(4)]),
    "vae": lambda: ae.VariationalAutoencoder(64, [32], 2, seed=0),
    "vae gaussian, two layers": lambda: ae.VariationalAutoencoder(64, [32, 16], 4, seed=0,
                                                                  decoder="gaussian"),
}


@pytest.mark.parametrize("name", MODELS)
def test_plot_trace_draws_every_model_kind(name, digits, tmp_path):
    model = MODELS[name]()
    t = ae.trace(model, digits[0][:2])
    fig = plot.trace(t)
    drawn = titles(fig)
    forward = t.keys()[:t.keys().index("E")]
    for key, sym, _, _ in t.entries:           # every forward quantity and every ∂E/∂W
        if key in forward and not key.startswith("E.") and key not in (
                "mu.a", "logvar.a", "kl_weight"):
            assert sym in drawn, (sym, sorted(drawn))
        if key.endswith(".W)"):
            assert sym in drawn, sym
    assert "∂E/∂x̂" in drawn or "∂E/∂μ_x" in drawn
    assert overlapping_texts(fig) == []
    render(fig, tmp_path / "trace.png")


def conv_trace():
    """What a conv autoencoder's trace will hold: (B, C, H, W) entries, conv weights
    (c_out, c_in, k, k), a pooling layer with no pre-activation."""
    r = np.random.default_rng(0)
    t = Trace("a hand-built conv trace")
    shapes = {"x": (2, 1, 8, 8), "enc0.a": (2, 4, 8, 8), "enc0.z": (2, 4, 8, 8),
              "enc1.z": (2, 4, 4, 4), "dec0.z": (2, 4, 8, 8), "dec1.a": (2, 1, 8, 8),
              "dec1.z": (2, 1, 8, 8)}
    for key, shape in shapes.items():
        v = r.random(shape) if key.endswith(".z") or key == "x" else r.standard_normal(shape)
        t.add(key, {"x": "x", "dec1.z": "x̂"}.get(key, key), v, "sigmoid" if key == "dec1.z" else "")
    t.add("E", "E", 3.2)
    for key, shape in [("dE/dxhat", (2, 1, 8, 8)), ("dE/d(dec1.a)", (2, 1, 8, 8)),
                       ("dE/d(dec1.W)", (1, 4, 3, 3)), ("dE/d(dec0.z)", (2, 4, 8, 8)),
                       ("dE/d(enc1.z)", (2, 4, 4, 4)), ("dE/d(enc0.z)", (2, 4, 8, 8)),
                       ("dE/d(enc0.a)", (2, 4, 8, 8)), ("dE/d(enc0.W)", (4, 1, 3, 3))]:
        t.add(key, "∂E/∂" + key[4:], r.standard_normal(shape))
    return t


def test_plot_trace_draws_4d_entries_as_channel_tiles(tmp_path):
    t = conv_trace()
    fig = plot.trace(t)
    images = {ax.get_title(): ax.images[0].get_array() for ax in fig.axes if ax.images}
    # the first sample's 4 channels of 8×8, 2 to a row, one NaN gap between tiles
    assert images["enc0.z"].shape == (17, 17)
    assert np.array_equal(images["enc0.z"][:8, :8], t["enc0.z"][0, 0])
    assert np.array_equal(images["enc0.z"][9:, 9:], t["enc0.z"][0, 3])
    assert images["∂E/∂(enc0.W)"].shape == (4 * 3 + 3, 3)        # a row per output channel
    assert images["x"].shape == (8, 8)
    render(fig, tmp_path / "conv.png")


def test_plot_trace_marks_values_that_are_not_finite():
    t = Trace("nan")
    x = np.linspace(0, 1, 64)[None]
    t.add("x", "x", x)
    t.add("E", "E", 1.0)
    bad = x.copy()
    bad[0, 3] = np.inf
    t.add("dE/dxhat", "∂E/∂x̂", bad)
    fig = plot.trace(t)
    ax = next(a for a in fig.axes if a.get_title() == "x")
    assert len(ax.images) == 1
    close(fig)


def test_plot_trace_refuses_what_is_not_a_trace(digits):
    with pytest.raises(TypeError, match="ae.trace"):
        plot.trace({"x": 1})
    with pytest.raises(ValueError, match="'E'"):
        plot.trace(Trace("empty"))
    with pytest.raises(ValueError, match="max_cols"):
        plot.trace(ae.trace(ae.Autoencoder(64, [8], seed=0), digits[0][:1]), max_cols=1)


# ------------------------------------------------------------------ the monitor
def sumsq_rtol(k):
    """Relative error of a float32 ‖a‖ from a sum of k squares: about √k·ε (the square root
    halves it), plus one rounding."""
    return np.sqrt(k) * EPS32 + EPS32


@pytest.mark.parametrize("optimizer", [ae.optim.SGD(lr=0.5), ae.optim.Adam(lr=1e-2)],
                         ids=["sgd", "adam"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_monitor_on_one_step_measures_the_gradient_and_the_update(digits, optimizer, shuffle):
    X = digits[0][:150]
    regs = [ae.regularizers.GaussianNoise(0.2)]       # the noise makes fit's rng matter
    model = ae.Autoencoder(64, [24, 12], activation="relu", regularizers=regs, seed=3)
    twin = ae.Autoencoder(64, [24, 12], activation="relu", regularizers=regs, seed=3)
    before = {k: v.astype(np.float64) for k, v in model.params.items()}
    opt = type(optimizer)(**{k: v for k, v in optimizer.get_config().items() if k != "name"})
    hist = ae.fit(model, X, epochs=1, batch_size=len(X), optimizer=opt, seed=5, shuffle=shuffle,
                  progress=False, monitor=True)
    # fit's generator: default_rng([seed, epoch]); one permutation when shuffling, then the noise
    rng = np.random.default_rng([5, 0])
    order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
    _, grads = twin.loss_and_grads(X[order], rng=rng)
    assert set(hist["grad_norm"].names()) == set(model.params)
    for k, p in model.params.items():
        g = np.linalg.norm(grads[k].astype(np.float64))
        assert hist["grad_norm"][k] == [pytest.approx(g, rel=sumsq_rtol(p.size) + 4 * EPS32)]
        step = np.linalg.norm(p.astype(np.float64) - before[k])
        size = np.linalg.norm(before[k])
        if size == 0:                                  # a bias at its zero start: no ratio
            assert hist["update_ratio"][k] == [None]
        else:
            assert hist["update_ratio"][k] == [pytest.approx(step / size, rel=3 * sumsq_rtol(p.size))]
    # the activations: the layers' caches still hold this one step's forward pass
    for layer in model.layers:
        Z = layer.cache["Z"].astype(np.float64)
        st = hist["activations"][layer.name][0]
        tol = np.sqrt(Z.size) * EPS32
        assert st["mean"] == pytest.approx(Z.mean(), rel=tol, abs=tol)
        assert st["std"] == pytest.approx(Z.std(), rel=tol, abs=tol)
        if layer.activation.name == "relu":
            assert st["dead"] == np.mean(np.all(Z == 0, axis=0)) and st["saturated"] is None
        else:
            sat = np.mean((layer.cache["Z"] < np.float32(0.01)) | (layer.cache["Z"] > np.float32(0.99)))
            assert st["saturated"] == sat and st["dead"] is None


def test_activation_stats_of_saturated_and_dead_layers():
    from aenumpy.monitor import activation_stats

    Z = np.array([[0.0, 0.5, 1.0, 0.999], [0.005, 0.5, 0.98, 0.2]], np.float32)
    assert activation_stats(Z, "sigmoid")[2] == 4 / 8
    assert activation_stats(np.array([[-1.0, 0.0, 0.995, 0.5]], np.float32), "tanh")[2] == 2 / 4
    R = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]], np.float32)
    mean, std, sat, dead = activation_stats(R, "relu")
    assert (sat, dead) == (None, 1 / 3)
    assert mean == pytest.approx(1.0) and std == pytest.approx(np.std(R))
    assert activation_stats(R, "identity")[2:] == (None, None)


def test_monitor_measures_one_step_in_every(digits):
    X = digits[0][:96]
    hist = ae.fit(ae.Autoencoder(64, [8], seed=0), X, epochs=2, batch_size=32, progress=False,
                  monitor=Monitor(every=3))
    # three steps an epoch, one in three measured: each epoch's first step only
    first = ae.Autoencoder(64, [8], seed=0)
    rng = np.random.default_rng([0, 0])
    _, g = first.loss_and_grads(X[rng.permutation(96)[:32]], rng=rng)
    expect = np.linalg.norm(g["enc0.W"].astype(np.float64))
    assert hist["grad_norm"]["enc0.W"][0] == pytest.approx(expect, rel=sumsq_rtol(8 * 64))
    assert len(hist["grad_norm"]) == 2


def test_monitor_argument_is_checked_before_any_work(digits):
    m = ae.Autoencoder(64, [8], seed=0)
    with pytest.raises(TypeError, match="monitor must be True, False"):
        ae.fit(m, digits[0][:10], epochs=1, monitor="yes", progress=False)
    for every in (0, 1.5, True):
        with pytest.raises(ValueError, match="every"):
            Monitor(every=every)
    h = ae.fit(m, digits[0][:10], epochs=1, progress=False)
    assert "grad_norm" not in h                     # off by default


def test_monitored_history_is_json_and_survives_checkpoint_and_resume(digits, tmp_path):
    X = digits[0][:128]

    def run(epochs, **kw):
        return ae.fit(ae.VariationalAutoencoder(64, [16], 2, seed=1), X, epochs=epochs,
                      batch_size=32, optimizer=ae.optim.Adam(lr=3e-3), seed=2, progress=False,
                      monitor=True, **kw)

    whole = run(4)
    ck = tmp_path / "ck.npz"
    run(2, checkpoint=ck)
    resumed = ae.fit(ae.VariationalAutoencoder(64, [16], 2, seed=1), X, epochs=4, batch_size=32,
                     progress=False, monitor=True, resume=ck)
    for key in ("grad_norm", "update_ratio", "activations"):
        assert resumed[key] == whole[key] and len(whole[key]) == 4
    assert resumed["grad_norm"]["mu.W"] == whole["grad_norm"]["mu.W"]
    back = json.loads(json.dumps(whole))
    assert back["activations"] == whole["activations"]
    assert set(back["activations"][0]) == {"enc0", "mu", "logvar", "dec0", "out"}
    assert back["activations"][0]["mu"]["saturated"] is None       # identity head
    # a run checkpointed without the monitor and resumed with it: None for the first epochs
    ck2 = tmp_path / "ck2.npz"
    ae.fit(ae.Autoencoder(64, [8], seed=0), X, epochs=1, progress=False, checkpoint=ck2)
    h = ae.fit(ae.Autoencoder(64, [8], seed=0), X, epochs=3, progress=False, resume=ck2,
               monitor=True)
    assert h["grad_norm"]["enc0.W"][0] is None and None not in h["grad_norm"]["enc0.W"][1:]
    close(plot.dynamics(h))


# ------------------------------------------------------------------ plot.dynamics
def test_plot_dynamics_draws_a_monitored_history(digits, tmp_path):
    model = ae.Autoencoder(64, [32, 16], activation="relu", seed=0)
    hist = ae.fit(model, digits[0][:300], epochs=3, batch_size=32, X_val=digits[2][:50],
                  progress=False, monitor=True)
    fig = plot.dynamics(hist)
    assert len(fig.axes) == 6
    assert fig.axes[1].get_yscale() == "log" and fig.axes[2].get_yscale() == "log"
    n_lines = len(fig.axes[1].lines)
    assert n_lines == len(model.params)
    render(fig, tmp_path / "dynamics.png")
    again = json.loads(json.dumps(hist))            # what metrics.json holds
    close(plot.dynamics(again))


def test_plot_dynamics_refuses_a_history_without_monitor(digits):
    hist = ae.fit(ae.Autoencoder(64, [8], seed=0), digits[0][:50], epochs=1, progress=False)
    with pytest.raises(ValueError, match="monitor=True"):
        plot.dynamics(hist)
    with pytest.raises(TypeError, match="history"):
        plot.dynamics([1, 2])
    mon = ae.fit(ae.Autoencoder(64, [8], seed=0), digits[0][:50], epochs=1, progress=False,
                 monitor=True)
    with pytest.raises(ValueError, match="band"):
        plot.dynamics(mon, band=(1e-2, 1e-4))


# ------------------------------------------------------------------ command line
def test_cli_train_writes_dynamics_and_trace_writes_its_picture(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "--epochs", "2", "--limit", "200", "--quiet", "--out", str(run)]) == 0
    assert (run / "dynamics.png").stat().st_size > 5000
    m = json.loads((run / "metrics.json").read_text())
    assert len(m["grad_norm"]) == 2 and set(m["grad_norm"][0]) == {"enc0.W", "enc0.b",
                                                                     "dec0.W", "dec0.b"}
    assert set(m["activations"][1]["enc0"]) == {"mean", "std", "saturated", "dead"}
    capsys.readouterr()
    out = tmp_path / "trace"
    assert cli.main(["trace", "--hidden", "16", "8", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "∂E/∂W₁" in text and "trace.png" in text
    assert (out / "trace.png").stat().st_size > 5000


# ------------------------------------------------------------------ explorers
@pytest.fixture(scope="module")
def trained(digits):
    model = ae.Autoencoder(64, [16], seed=0, regularizers=[ae.regularizers.GaussianNoise(0.3)])
    ae.fit(model, digits[0][:300], epochs=2, batch_size=32, progress=False)
    vae = ae.VariationalAutoencoder(64, [16], 2, seed=0)
    ae.fit(vae, digits[0][:300], epochs=2, batch_size=32, progress=False)
    return model, vae


def test_explorers_return_a_figure(trained, digits, tmp_path):
    model, vae = trained
    Xte, yte = digits[2], digits[3]
    render(explore.denoising(model, Xte, 0.4, n=4), tmp_path / "d.png")
    fig = explore.ksparse(model, Xte, k=3, n=4)
    assert "the 3 largest |z| of 16" in fig._suptitle.get_text()
    render(fig, tmp_path / "k.png")
    render(explore.vae_latent(vae, 0.5, -1.0, Xte[:100], yte[:100]), tmp_path / "v.png")
    close(explore.vae_latent(vae, 0.0, 0.0))                       # on the prior's circles
    fig = explore.learning_rate(digits[0][:64], 0.5, epochs=2)
    assert "η = 0.5" in fig._suptitle.get_text()
    render(fig, tmp_path / "lr.png")


def test_learning_rate_explorer_draws_a_run_that_diverges_at_once(digits, monkeypatch):
    # a sigmoid output keeps E finite even at η = 1e38, so the stop is made by hand here
    def diverged(model, X, **kw):
        hist = ae.History()
        hist.stopped_early, hist.message = True, "training diverged at epoch 1, step 1: ..."
        return hist

    monkeypatch.setattr(ae, "fit", diverged)
    fig = explore.learning_rate(digits[0][:64], 10.0, epochs=2)
    assert "training diverged at epoch 1" in fig.texts[0].get_text()
    close(fig)


@pytest.mark.parametrize("call, error, match", [
    (lambda m, v, X: explore.denoising(m, X, -0.1), ValueError, "sigma must be a finite number ≥ 0"),
    (lambda m, v, X: explore.denoising(m, X, "a lot"), TypeError, "sigma must be a number"),
    (lambda m, v, X: explore.denoising(v, X, 0.1), TypeError, "needs an aenumpy.Autoencoder"),
    (lambda m, v, X: explore.denoising(m, X[:, :10], 0.1), ValueError, "n_in = 64"),
    (lambda m, v, X: explore.ksparse(m, X, 0), ValueError, "between 1 and the code size 16"),
    (lambda m, v, X: explore.ksparse(m, X, 17), ValueError, "between 1 and the code size 16"),
    (lambda m, v, X: explore.ksparse(m, X, 2.5), TypeError, "k must be an integer"),
    (lambda m, v, X: explore.ksparse(v, X, 2), TypeError, "needs an aenumpy.Autoencoder"),
    (lambda m, v, X: explore.vae_latent(m, 0, 0), TypeError, "VariationalAutoencoder"),
    (lambda m, v, X: explore.vae_latent(v, float("nan"), 0), ValueError, "z1 must be a finite"),
    (lambda m, v, X: explore.vae_latent(ae.VariationalAutoencoder(64, [8], 3, seed=0), 0, 0),
     ValueError, "n_latent=2"),
    (lambda m, v, X: explore.vae_latent(v, 0, 0, X[:10], np.arange(3)), ValueError, "labels"),
    (lambda m, v, X: explore.vae_latent(v, 0, 0, y=np.arange(3)), ValueError, "give X too"),
    (lambda m, v, X: explore.learning_rate(X, 0.0), ValueError, "lr must be a finite number > 0"),
    (lambda m, v, X: explore.learning_rate(X, 0.1, optimizer="rmsprop"), ValueError, "'sgd' or"),
])
def test_explorers_refuse_bad_arguments(trained, digits, call, error, match):
    model, vae = trained
    with pytest.raises(error, match=match):
        call(model, vae, digits[2])


def test_interactive_without_ipywidgets_says_how_to_install(trained, digits, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)          # import fails
    assert not explore.has_widgets()
    with pytest.raises(ImportError, match=r'pip install "aenumpy\[notebook\]"'):
        explore.interactive("denoising", trained[0], digits[2])
    with pytest.raises(ValueError, match="the explorers are denoising, ksparse"):
        explore.interactive("nothing")


def test_interactive_puts_sliders_on_an_explorer(trained, digits, monkeypatch):
    calls = []
    stub = types.ModuleType("ipywidgets")

    class Slider:
        def __init__(self, value, min, max, step=1, description="", base=None):
            self.value, self.min, self.max = value, min, max

    stub.FloatSlider = stub.IntSlider = stub.FloatLogSlider = Slider

    def interact(f, **sliders):
        calls.append(sliders)
        return f(**{k: s.value for k, s in sliders.items()})

    stub.interact = interact
    monkeypatch.setitem(sys.modules, "ipywidgets", stub)
    monkeypatch.setenv("AENUMPY_WIDGETS", "1")          # as under a front end
    shown = []
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    model, vae = trained
    explore.interactive("ksparse", model, digits[2], n=3)
    assert calls[-1]["k"].max == 16 and calls[-1]["k"].min == 1
    explore.interactive("denoising", model, digits[2], sigma=0.2, n=3)
    assert calls[-1]["sigma"].value == 0.2
    explore.interactive("vae_latent", vae)
    assert set(calls[-1]) == {"z1", "z2"}
    assert len(shown) == 3 and all(hasattr(f, "savefig") for f in shown)


def test_front_end_is_a_kernel_whose_cell_allows_input(monkeypatch):
    """Sliders need a front end: JupyterLab, Notebook and VS Code send cells with
    allow_stdin on; nbclient (nbconvert, nbgrader, papermill) sends them with it off."""
    monkeypatch.delenv("AENUMPY_WIDGETS", raising=False)
    assert not explore.front_end()                       # plain Python: no kernel
    kernel = types.SimpleNamespace(_allow_stdin=True)
    shell = types.SimpleNamespace(kernel=kernel)
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    assert explore.front_end()
    kernel._allow_stdin = False                          # a headless executor
    assert not explore.front_end()
    monkeypatch.setenv("AENUMPY_WIDGETS", "1")
    assert explore.front_end()
    monkeypatch.setenv("AENUMPY_WIDGETS", "0")
    kernel._allow_stdin = True
    assert not explore.front_end()


def test_interactive_without_a_front_end_draws_the_start_and_opens_no_widget(
        trained, digits, monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setenv("AENUMPY_WIDGETS", "0")
    calls = []
    monkeypatch.setitem(explore.EXPLORERS, "denoising",
                        lambda *a, **k: calls.append(k) or explore.denoising(*a, **k))
    shown = []
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    import ipywidgets

    monkeypatch.setattr(ipywidgets, "interact", lambda *a, **k: pytest.fail("a widget was opened"))
    assert explore.interactive("denoising", trained[0], digits[2], sigma=0.2, n=3) is None
    assert calls == [{"n": 3, "sigma": 0.2}]
    assert len(shown) == 1 and hasattr(shown[0], "savefig")


def test_real_sliders_are_built_and_drive_the_explorer(trained, digits, monkeypatch):
    """ipywidgets itself, no kernel and no nbclient: the sliders exist with the explorer's
    ranges, and moving one draws the explorer again at the new value."""
    ipywidgets = pytest.importorskip("ipywidgets")
    monkeypatch.setenv("AENUMPY_WIDGETS", "1")
    calls = []
    monkeypatch.setitem(explore.EXPLORERS, "ksparse",
                        lambda *a, **k: calls.append(k["k"]) or explore.ksparse(*a, **k))
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    monkeypatch.setattr("ipywidgets.widgets.interaction.display", lambda *a, **k: None)
    shown = explore.interactive("ksparse", trained[0], digits[2], k=3, n=2)
    box = shown.widget
    slider = next(c for c in box.children if isinstance(c, ipywidgets.IntSlider))
    assert (slider.min, slider.max, slider.value) == (1, 16, 3)
    assert calls == [3]                                 # drawn once at the start
    slider.value = 9                                    # a student moves the slider
    assert calls == [3, 9]
