"""The ``aenumpy`` command, called in-process through ``cli.main`` (fast)."""
import functools
import json
import subprocess
import sys

import numpy as np
import pytest

import aenumpy as ae
from aenumpy import cli

HAS_VAE = hasattr(ae, "VariationalAutoencoder")
REGS = {"GaussianNoise", "MaskingNoise", "SaltAndPepper", "KLSparsity", "L1Activity", "TopK",
        "Contractive", "WeightDecay", "Dropout"}
HAS_REGS = all(hasattr(ae.regularizers, n) for n in REGS)
QUICK = ["--epochs", "1", "--limit", "120", "--quiet"]


def run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_default_train_writes_figures_metrics_and_model(tmp_path, capsys):
    out_dir = tmp_path / "run"
    rc, out, err = run(capsys, "train", "--epochs", "2", "--out", str(out_dir))
    assert rc == 0, err
    for name in ("reconstructions.png", "filters.png", "latent_space.png", "history.png"):
        assert (out_dir / name).stat().st_size > 5000, name
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["epochs_run"] == 2 and len(m["loss"]) == 2 and len(m["val_loss"]) == 2
    assert m["config"]["model"]["hidden"] == [32] and m["config"]["dataset"] == "digits"
    assert m["config"]["n_train"] == 1437 and m["seconds"] > 0
    model = ae.load(out_dir / "model.npz")
    Xte = ae.datasets.load_digits()[2]
    assert m["test_loss"] == pytest.approx(model.reconstruction_error(Xte), rel=1e-5)
    Xh = model.reconstruct(Xte).astype(np.float64)
    expect = 0.5 * np.mean(np.sum((Xte - Xh) ** 2, axis=1))
    assert m["test_reconstruction_error"] == pytest.approx(expect, rel=1e-5)
    assert "done: 2 epochs" in out and str(out_dir) in out
    assert "epoch 2/2" in out                   # the per-epoch progress lines


def test_train_names_its_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, "train", *QUICK, "--no-figures")
    assert rc == 0, err
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("ae-digits-")
    assert sorted(p.name for p in runs[0].iterdir()) == ["metrics.json", "model.npz"]


@pytest.mark.skipif(not HAS_REGS, reason="the regularizers are not in this tree yet")
@pytest.mark.parametrize("flags,name", [
    (["--gaussian-noise", "0.3"], "GaussianNoise"),
    (["--masking-noise", "0.3"], "MaskingNoise"),
    (["--salt-pepper", "0.2"], "SaltAndPepper"),
    (["--kl-sparsity", "0.05", "--sparsity-beta", "2"], "KLSparsity"),
    (["--l1-activity", "1e-3"], "L1Activity"),
    (["--topk", "5", "--topk-alpha", "2", "--topk-start", "10"], "TopK"),
    (["--contractive", "0.1"], "Contractive"),
    (["--weight-decay", "1e-3", "--weight-decay-kind", "l1"], "WeightDecay"),
    (["--dropout", "0.2"], "Dropout"),
])
def test_each_regularizer_flag(tmp_path, capsys, flags, name):
    corruption = name in ("GaussianNoise", "MaskingNoise", "SaltAndPepper")
    extra = [] if corruption else ["--no-figures"]
    rc, out, err = run(capsys, "train", *QUICK, *flags, *extra, "--out", str(tmp_path))
    assert rc == 0, err
    cfg = ae.load(tmp_path / "model.npz").get_config()
    regs = {r["name"]: r for r in cfg["regularizers"]}
    assert list(regs) == [name]
    if name == "KLSparsity":
        assert regs[name]["rho"] == 0.05 and regs[name]["beta"] == 2.0
    if name == "TopK":
        assert regs[name]["k"] == 5 and regs[name]["alpha"] == 2.0 and regs[name]["k_start"] == 10
    if name == "WeightDecay":
        assert regs[name]["kind"] == "l1"
    if corruption:
        assert (tmp_path / "denoising.png").stat().st_size > 5000


def test_model_options_reach_the_model(tmp_path, capsys):
    rc, _, err = run(capsys, "train", *QUICK, "--no-figures", "--hidden", "20", "4", "--tied",
                     "--activation", "tanh", "--loss", "bce", "--optimizer", "momentum",
                     "--lr", "0.01", "--batch-size", "16", "--seed", "3", "--out", str(tmp_path))
    assert rc == 0, err
    cfg = ae.load(tmp_path / "model.npz").get_config()
    assert cfg["hidden"] == [20, 4] and cfg["tied"] and cfg["activation"] == "tanh"
    assert cfg["loss"] == "bce" and cfg["seed"] == 3
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["config"]["optimizer"]["momentum"] == 0.9 and m["config"]["batch_size"] == 16
    assert m["config"]["n_train"] == 120


@pytest.mark.skipif(not HAS_VAE, reason="ae.VariationalAutoencoder not in this tree yet")
def test_vae_writes_its_generative_figures(tmp_path, capsys):
    rc, out, err = run(capsys, "train", "--model", "vae", "--latent", "2", "--hidden", "16",
                       "--beta", "0.5", "--kl-warmup", "2", *QUICK, "--out", str(tmp_path))
    assert rc == 0, err
    for name in ("samples.png", "manifold.png", "interpolation.png", "reconstructions.png",
                 "latent_space.png", "history.png", "filters.png"):
        assert (tmp_path / name).stat().st_size > 5000, name
    v = ae.load(tmp_path / "model.npz")
    assert v.family == "vae" and v.n_latent == 2 and v.beta == 0.5
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["config"]["model_family"] == "vae" and np.isfinite(m["test_loss"])


def test_gradcheck_prints_the_table_and_exits_0(capsys):
    rc, out, err = run(capsys, "gradcheck", "--hidden", "6", "--samples", "3")
    assert rc == 0, out + err
    assert "enc0.W" in out and "dec0.b" in out and "OK" in out


def test_gradcheck_exits_1_when_a_gradient_is_wrong(capsys, monkeypatch):
    real = ae.Autoencoder._backward

    def wrong(self, *args):
        g = real(self, *args)
        g["enc0.W"] = 2 * g["enc0.W"]           # a missing factor ½ somewhere
        return g

    monkeypatch.setattr(ae.Autoencoder, "_backward", wrong)
    rc, out, err = run(capsys, "gradcheck", "--hidden", "6", "--samples", "3")
    assert rc == 1
    assert "FAIL" in out


@pytest.mark.skipif(not HAS_REGS, reason="the regularizers are not in this tree yet")
def test_gradcheck_with_a_regularizer(capsys):
    rc, out, err = run(capsys, "gradcheck", "--hidden", "6", "--kl-sparsity", "0.1")
    assert rc == 0, out + err


def test_trace_prints_one_step(tmp_path, capsys):
    rc, out, err = run(capsys, "trace", "--hidden", "5", "--index", "3")
    assert rc == 0, err
    for sym in ("x̂", "∂E/∂x̂", "∂E/∂W", "Wx + b"):
        assert sym in out
    assert "batch of 1" in out
    # a saved model is traced as it is
    run(capsys, "train", *QUICK, "--no-figures", "--hidden", "5", "--out", str(tmp_path))
    rc, out2, err = run(capsys, "trace", "--load", str(tmp_path / "model.npz"))
    assert rc == 0, err
    assert out2 != out


def test_diverged_training_says_so_and_exits_1(tmp_path, capsys):
    rc, out, err = run(capsys, "train", *QUICK, "--optimizer", "sgd", "--lr", "1e4",
                       "--activation", "relu", "--output-activation", "identity",
                       "--out", str(tmp_path))
    assert rc == 1
    assert err.startswith("aenumpy: warning: training diverged") and len(err.splitlines()) == 1
    assert out.startswith("stopped early")
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["stopped_early"] and "learning rate" in m["message"]
    assert np.all(np.isfinite(list(ae.load(tmp_path / "model.npz").params["enc0.W"].flat)))


@pytest.mark.parametrize("argv", [
    ["train", "--epochs", "many"],
    ["train", "--no-such-option"],
    ["train", "--model", "gan"],
    ["train", "--latent", "3"],                        # vae-only option for ae
    ["train", "--model", "vae", "--tied"],             # ae-only option for vae
    ["train", "--hidden", "0"],                        # the library's ValueError
    ["train", "--lr", "-1"],
    ["train", "--gaussian-noise", "-0.5"],
    ["train", "--dropout", "1.5"],
    ["train", "--topk", "99", "--hidden", "8"],
    ["train", "--sparsity-beta", "2"],                 # without --kl-sparsity
    ["train", "--topk-start", "20"],                   # without --topk
    ["train", "--limit", "0"],
    ["train", "--data-path", "/tmp"],                  # digits are embedded
    ["train", "--model", "conv", "--hidden", "8"],    # ae/vae sizes for conv
    ["train", "--model", "conv", "--tied"],
    ["train", "--model", "conv", "--contractive", "0.1"],
    ["train", "--model", "conv", "--latent", "2"],
    ["train", "--model", "conv", "--beta", "2"],
    ["train", "--model", "conv", "--decoder", "gaussian"],
    ["train", "--model", "conv", "--kl-warmup", "3"],
    ["train", "--channels", "4"],                      # conv-only options for ae
    ["train", "--kernel", "3"],
    ["train", "--model", "vae", "--down", "stride"],
    ["train", "--model", "vae", "--up", "transposed"],
    ["train", "--model", "conv", "--kernel", "4"],     # even: padding k//2 changes the size
    ["train", "--model", "conv", "--kernel", "-1"],
    ["train", "--model", "conv", "--channels", "4", "4", "4", "4"],   # 8 → 4 → 2 → 1 → ½
    ["train", "--model", "conv", "--channels", "4", "0"],            # the library's error
    ["train", "--model", "conv", "--loss", "bce", "--output-activation", "relu"],
    ["gradcheck", "--model", "conv", "--tied"],
    ["trace", "--up", "upsample"],
    ["trace", "--index", "100000"],
    ["gradcheck", "--load", "/no/such/model.npz"],
    ["frobnicate"],
])
def test_bad_options_give_one_line_and_exit_2(capsys, argv, tmp_path):
    rc = cli.main(argv + (["--out", str(tmp_path), "--quiet"] if argv[0] == "train" else []))
    out, err = capsys.readouterr()
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error" in lines[0] and "Traceback" not in err


def test_missing_data_files_show_the_loaders_message(capsys, monkeypatch, tmp_path):
    real = ae.datasets.load_mnist
    monkeypatch.setattr(ae.datasets, "load_mnist", functools.partial(real, download=False))
    monkeypatch.delenv("AENUMPY_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rc, out, err = run(capsys, "train", "--dataset", "fashion", "--data-path", str(tmp_path))
    assert rc == 2
    assert err.startswith("aenumpy train: error: Could not find the fashion-mnist files")
    assert "t10k-labels-idx1-ubyte.gz" in err and "Traceback" not in err


def test_train_help_groups_the_options(capsys):
    rc, out, err = run(capsys, "train", "--help")
    assert rc == 0
    for group in ("model:", "data:", "regularizers", "training:", "output:"):
        assert group in out
    for opt in ("--gaussian-noise", "--kl-sparsity", "--topk", "--contractive", "--latent",
                "--limit", "--no-figures", "--weight-decay-kind", "--channels", "--down", "--up",
                "--kernel"):
        assert opt in out
    assert "convolutional (conv only):" in out


def test_python_dash_m_help():
    out = subprocess.run([sys.executable, "-m", "aenumpy", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "train" in out.stdout and "gradcheck" in out.stdout and "trace" in out.stdout


@pytest.mark.slow
def test_train_on_mnist_subset(shared_data, tmp_path, capsys):
    rc, out, err = run(capsys, "train", "--dataset", "mnist", "--data-path", str(shared_data),
                       "--hidden", "32", "--epochs", "1", "--limit", "500", "--quiet",
                       "--out", str(tmp_path))
    assert rc == 0, err
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["config"]["n_train"] == 500 and m["config"]["n_test"] == 10000
    assert (tmp_path / "filters.png").stat().st_size > 5000


# ------------------------------------------------------------ --model conv
def _layers(cfg, part):
    """``(layer class, its arguments)`` of each layer of a saved conv model's config."""
    return [(c["layer"], {k: v for k, v in c.items() if k != "layer"}) for c in cfg[part]]


def test_conv_default_is_the_benchmarks_conv_network_and_learns_the_digits(tmp_path, capsys):
    """The default trains in seconds and learns: its test error ½Σ(x − x̂)² is below half
    that of the best constant guess, the mean training image (which explains no variance)."""
    rc, out, err = run(capsys, "train", "--model", "conv", "--quiet", "--out", str(tmp_path))
    assert rc == 0, err
    for name in ("reconstructions.png", "filters.png", "feature_maps.png", "latent_space.png",
                 "history.png", "dynamics.png"):
        assert (tmp_path / name).stat().st_size > 5000, name
    assert not (tmp_path / "denoising.png").exists()
    model = ae.load(tmp_path / "model.npz")
    assert isinstance(model, ae.ConvAutoencoder) and model.input_shape == (1, 8, 8)
    cfg = model.get_config()
    conv = {"kernel_size": 3, "stride": 1, "padding": 1}
    assert _layers(cfg, "encoder") == [
        ("Conv2D", {"c_in": 1, "c_out": 16, **conv, "activation": "relu"}), ("MaxPool2D", {"size": 2}),
        ("Conv2D", {"c_in": 16, "c_out": 8, **conv, "activation": "relu"}), ("MaxPool2D", {"size": 2})]
    assert _layers(cfg, "decoder") == [
        ("Upsample2D", {"scale": 2}), ("Conv2D", {"c_in": 8, "c_out": 16, **conv, "activation": "relu"}),
        ("Upsample2D", {"scale": 2}),
        ("Conv2D", {"c_in": 16, "c_out": 1, **conv, "activation": "sigmoid"})]
    assert cfg["loss"] == "bce" and model.code_shape == (8, 2, 2)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["config"]["model_family"] == "conv" and m["epochs_run"] == 30
    assert m["config"]["lr"] == 1e-2 and m["config"]["batch_size"] == 32
    Xtr, _, Xte, _ = ae.datasets.load_digits()
    assert m["test_loss"] == pytest.approx(model.reconstruction_error(Xte), rel=1e-5)
    mean_guess = 0.5 * np.mean(np.sum((Xte - Xtr.mean(axis=0)) ** 2, axis=1))
    assert m["test_reconstruction_error"] < 0.5 * mean_guess
    assert set(m["grad_norm"][0]) == set(model.params)       # the run was monitored


def test_conv_architecture_flags_reach_the_model(tmp_path, capsys):
    rc, out, err = run(capsys, "train", "--model", "conv", *QUICK, "--channels", "4", "2", "3",
                       "--down", "stride", "--up", "transposed", "--kernel", "5", "--loss", "mse",
                       "--activation", "tanh", "--gaussian-noise", "0.2", "--out", str(tmp_path))
    assert rc == 0, err
    model = ae.load(tmp_path / "model.npz")
    cfg = model.get_config()
    conv = {"kernel_size": 5, "stride": 2, "padding": 2, "activation": "tanh"}
    assert _layers(cfg, "encoder") == [("Conv2D", {"c_in": a, "c_out": b, **conv})
                                       for a, b in ((1, 4), (4, 2), (2, 3))]
    assert _layers(cfg, "decoder") == [
        ("ConvTranspose2D", {"c_in": a, "c_out": b, **conv, "output_padding": 1,
                             "activation": act})
        for a, b, act in ((3, 2, "tanh"), (2, 4, "tanh"), (4, 1, "sigmoid"))]
    assert model.code_shape == (3, 1, 1) and cfg["loss"] == "mse"
    assert [r["name"] for r in cfg["regularizers"]] == ["GaussianNoise"]
    assert (tmp_path / "denoising.png").stat().st_size > 5000


def test_conv_gradcheck_and_trace(tmp_path, capsys):
    rc, out, err = run(capsys, "gradcheck", "--model", "conv", "--channels", "3", "2",
                       "--samples", "2")
    assert rc == 0, out + err
    assert "ConvAutoencoder" in out and "enc0.W" in out and "dec3.W" in out and "OK" in out
    rc, out, err = run(capsys, "trace", "--model", "conv", "--channels", "3", "2", "--down",
                       "stride", "--up", "transposed", "--out", str(tmp_path / "t"))
    assert rc == 0, err
    assert "W₁ ⋆ x + b₁" in out and "⋆ᵀ" in out and "∂E/∂x̂" in out
    assert (tmp_path / "t" / "trace.png").stat().st_size > 5000
    # a saved conv model is traced and checked as it is (a smooth one: tanh, no pooling, so
    # no kink of a ReLU or a max lies within the finite differences' reach after training)
    run(capsys, "train", "--model", "conv", *QUICK, "--no-figures", "--channels", "3", "2",
        "--down", "stride", "--up", "transposed", "--activation", "tanh",
        "--out", str(tmp_path / "run"))
    for cmd in ("trace", "gradcheck"):
        rc, out, err = run(capsys, cmd, "--load", str(tmp_path / "run" / "model.npz"))
        assert rc == 0, out + err


def test_conv_options_are_refused_for_other_models_with_the_reason(capsys, tmp_path):
    cases = {("--model", "conv", "--hidden", "8"):
             "--hidden applies to --model ae and vae only (a conv model's sizes are --channels)",
             ("--channels", "8"): "--channels applies to --model conv and unet only",
             ("--model", "conv", "--contractive", "0.1"):
             "--contractive applies to --model ae only (the contractive penalty needs a dense "
             "layer's Jacobian)",
             ("--model", "conv", "--dataset", "mnist", "--channels", "2", "2", "2"):
             "--channels with 3 values halves the 28×28 images 3 times, which needs a side "
             "divisible by 8; give at most 2 for --dataset mnist"}
    for argv, message in cases.items():
        rc, out, err = run(capsys, "train", *argv, "--out", str(tmp_path))
        assert rc == 2 and err == f"aenumpy train: error: {message}\n"
    assert not list(tmp_path.iterdir())            # refused before any work


@pytest.mark.slow
def test_train_conv_on_mnist_subset(shared_data, tmp_path, capsys):
    rc, out, err = run(capsys, "train", "--model", "conv", "--dataset", "mnist", "--data-path",
                       str(shared_data), "--limit", "256", "--epochs", "1", "--quiet",
                       "--out", str(tmp_path))
    assert rc == 0, err
    model = ae.load(tmp_path / "model.npz")
    assert model.input_shape == (1, 28, 28) and model.code_shape == (8, 7, 7)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["config"]["n_train"] == 256 and m["config"]["lr"] == 1e-3
    assert (tmp_path / "feature_maps.png").stat().st_size > 5000


def test_export_writes_onnx_and_safetensors_next_to_the_model(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    st = pytest.importorskip("safetensors.numpy")
    from onnx.reference import ReferenceEvaluator
    from export_support import check_outputs

    out_dir = tmp_path / "run"
    rc, out, err = run(capsys, "train", "--model", "vae", *QUICK, "--no-figures",
                       "--out", str(out_dir))
    assert rc == 0, err
    for fmt in ("onnx", "safetensors"):
        rc, out, err = run(capsys, "export", str(out_dir), "--format", fmt)
        assert rc == 0 and out == f"wrote {out_dir / ('model.' + fmt)}\n", err
    rc, out, err = run(capsys, "export", str(out_dir / "model.npz"), "--format", "onnx",
                       "--part", "encoder")
    assert rc == 0 and out == f"wrote {out_dir / 'model-encoder.onnx'}\n", err
    model = ae.load(out_dir / "model.npz")
    X = ae.datasets.load_digits()[2][:9]
    got = ReferenceEvaluator(onnx.load(out_dir / "model.onnx")).run(None, {"x": X})
    check_outputs(got, model, X, what="model.onnx")
    got = ReferenceEvaluator(onnx.load(out_dir / "model-encoder.onnx")).run(None, {"x": X})
    check_outputs(got, model, X, "encoder", what="model-encoder.onnx")
    back = st.load_file(out_dir / "model.safetensors")
    for k, v in ae.export.state_dict(model).items():
        np.testing.assert_array_equal(back[k], v)


def test_export_of_a_unet_run(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator
    from export_support import check_outputs

    out_dir = tmp_path / "run"
    rc, out, err = run(capsys, "train", "--model", "unet", "--epochs", "1", "--limit", "32",
                       "--channels", "4", "8", "--canvas", "16", "--quiet", "--no-figures",
                       "--out", str(out_dir))
    assert rc == 0, err
    rc, out, err = run(capsys, "export", str(out_dir), "--format", "onnx")
    assert rc == 0 and out == f"wrote {out_dir / 'model.onnx'}\n", err
    net = ae.load(out_dir / "model.npz")
    X = np.random.default_rng(0).random((3, 1, 16, 16)).astype(np.float32)
    check_outputs(ReferenceEvaluator(onnx.load(out_dir / "model.onnx")).run(None, {"x": X}),
                  net, X, what="unet model.onnx")
    rc, out, err = run(capsys, "export", str(out_dir), "--format", "onnx", "--part", "decoder")
    assert rc == 2 and "one graph, part='model'" in err


def test_export_errors_are_one_line(tmp_path, capsys):
    rc, out, err = run(capsys, "export", str(tmp_path), "--format", "onnx")
    assert rc == 2 and err == (
        f"aenumpy export: error: {tmp_path / 'model.npz'} does not exist: RUN_DIR must be a run "
        f"folder written by 'aenumpy train' (holding model.npz), or a model .npz file\n")
    ae.save(ae.Autoencoder(6, [3]), tmp_path / "model.npz")
    rc, out, err = run(capsys, "export", str(tmp_path), "--format", "safetensors",
                       "--part", "decoder")
    assert rc == 2 and err == ("aenumpy export: error: --part applies to --format onnx (a "
                               "safetensors file holds every weight)\n")
    rc, out, err = run(capsys, "export", str(tmp_path))
    assert rc == 2 and "--format" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
