"""ae.export with PyTorch: to_torch against aenumpy's forward pass for every model kind, the
round trip through load_state_dict, and the safetensors file loaded by plain PyTorch code with
no aenumpy at all. Skipped without torch (continuous integration does not install it:
``pip install torch==2.13.0`` to run them). Outputs are held to the float32 bound derived in
``export_support``."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import aenumpy as ae
from export_support import MODELS, UNETS, bound, check_outputs, code_inputs, inputs, make

torch = pytest.importorskip("torch")

KINDS = list(MODELS)


def run(f, *arrays):
    """``f`` on the arrays as tensors, without autograd; the results as arrays (a list)."""
    with torch.no_grad():
        out = f(*(torch.from_numpy(a) for a in arrays))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


@pytest.mark.parametrize("name", KINDS)
def test_to_torch_matches_aenumpy(name):
    model = make(name)
    tm = ae.export.to_torch(model)
    assert isinstance(tm, torch.nn.Module) and not tm.training
    X, Z = inputs(model), code_inputs(model)
    check_outputs(run(tm, X), model, X, "model", f"{name} forward")
    check_outputs(run(tm.encode, X), model, X, "encoder", f"{name} encode")
    decoded = run(tm.decode, Z) + (run(tm.decode_logvar, Z) if name == "vae_gaussian" else [])
    check_outputs(decoded, model, Z, "decoder", f"{name} decode")


@pytest.mark.parametrize("name", KINDS)
def test_module_state_dict_is_the_exported_one(name):
    model = make(name)
    sd = ae.export.state_dict(model)
    tsd = ae.export.to_torch(model).state_dict()
    assert list(tsd) == list(sd)
    for k, v in sd.items():
        assert tsd[k].dtype == torch.float32
        np.testing.assert_array_equal(tsd[k].numpy(), v)


def test_module_structure_follows_the_layers():
    tm = ae.export.to_torch(make("vae_gaussian"))
    nn = torch.nn
    assert [type(m) for m in tm.encoder] == [nn.Linear, nn.Tanh]
    assert isinstance(tm.mu, nn.Linear) and isinstance(tm.logvar, nn.Linear)
    assert [type(m) for m in tm.decoder] == [nn.Linear, nn.Tanh, nn.Linear]   # μ_x: identity
    assert isinstance(tm.out_logvar, nn.Linear)
    conv = ae.export.to_torch(make("conv_mixed"))
    assert [type(m).__name__ for m in conv.encoder] == [
        "Conv2d", "Tanh", "TopK", "MaxPool2d", "Flatten", "Linear", "ReLU"]
    assert [type(m).__name__ for m in conv.decoder] == [
        "Linear", "ReLU", "Unflatten", "Upsample", "ConvTranspose2d", "Sigmoid"]
    reshape = ae.export.to_torch(make("conv_reshape"))
    assert [type(m).__name__ for m in reshape.encoder] == ["Conv2d", "ReLU", "Flatten", "Unflatten"]


@pytest.mark.parametrize("name", KINDS)
def test_round_trip_through_a_pytorch_training_step(name):
    """PyTorch trains the exported module one step; its weights go back into aenumpy, which
    then computes what the module computes (a tied model's, into an untied one)."""
    model = make(name)
    tm = ae.export.to_torch(model)
    X = inputs(model)
    opt = torch.optim.SGD(tm.parameters(), lr=0.1)
    tm.train()
    x = torch.from_numpy(X)
    loss = 0.5 * ((tm(x) - x) ** 2).sum() / len(x)
    loss.backward()
    opt.step()
    tm.eval()
    target = MODELS[name]()
    if name == "dense_tied":      # PyTorch trained the two weights apart: tied no longer holds
        with pytest.raises(ValueError, match="tied=False"):
            ae.export.load_state_dict(target, tm.state_dict())
        target = ae.Autoencoder(64, [24], activation="relu", output_activation="identity")
    back = ae.export.load_state_dict(target, tm.state_dict())     # tensors, as they come
    for k, v in ae.export.state_dict(back).items():
        np.testing.assert_array_equal(v, tm.state_dict()[k].numpy())
    assert not np.array_equal(back.params["enc0.W"], model.params["enc0.W"])
    check_outputs(run(tm, X), back, X, what=f"{name} after a step")


def test_float64_model_exports_in_float64():
    model = make("conv_pool", dtype="float64")
    tm = ae.export.to_torch(model)
    assert all(p.dtype == torch.float64 for p in tm.parameters())
    X = inputs(model)
    (exact, d), = bound(model, X)
    assert d.max() < 1e-12
    check_outputs(run(tm, X), model, X, what="float64")


def test_load_state_dict_refuses_another_dtype_and_bfloat16():
    model = make("dense")
    tsd = ae.export.to_torch(model).double().state_dict()
    with pytest.raises(ValueError, match=r"'encoder.0.weight'\] has dtype float64, the model's "
                                         r"is float32"):
        ae.export.load_state_dict(model, tsd)
    bf = {k: v.to(torch.bfloat16) for k, v in tsd.items()}
    with pytest.raises(TypeError, match=r"'encoder.0.weight'\]: this tensor has no NumPy "
                                        r"equivalent"):
        ae.export.load_state_dict(model, bf)


# ----------------------------------------------------- PyTorch alone, no aenumpy
PLAIN = """
import sys

class NoAenumpy:                      # the interpreter cannot import aenumpy at all
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "aenumpy":
            raise ImportError("aenumpy is not installed here")

sys.meta_path.insert(0, NoAenumpy())
import numpy as np
import torch
from torch import nn
from safetensors.torch import load_file

NETS = {{
    "dense": lambda: (nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh()),
                      nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 64), nn.Sigmoid())),
    "conv_pool": lambda: (
        nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(4, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                      nn.Upsample(scale_factor=2), nn.Conv2d(4, 1, 3, padding=1), nn.Sigmoid())),
}}

class Autoencoder(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))

net = Autoencoder(*NETS["{name}"]())
net.load_state_dict(load_file("{weights}"))
with torch.no_grad():
    np.save("{out}", net(torch.from_numpy(np.load("{x}"))).numpy())
"""


@pytest.mark.parametrize("name", ["dense", "conv_pool"])
def test_safetensors_loads_into_plain_pytorch_without_aenumpy(name, tmp_path):
    pytest.importorskip("safetensors")
    model = make(name)
    X = inputs(model)
    paths = {k: str(tmp_path / f) for k, f in
             (("weights", "m.safetensors"), ("x", "x.npy"), ("out", "out.npy"))}
    ae.export.save_safetensors(model, paths["weights"])
    np.save(paths["x"], X)
    script = tmp_path / "plain.py"
    script.write_text(textwrap.dedent(PLAIN.format(name=name, **paths)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    check_outputs([np.load(paths["out"])], model, X, what=f"plain PyTorch {name}")


def test_readme_continue_in_pytorch_runs_as_written(tmp_path, monkeypatch):
    """The README's "Continue in PyTorch" block, after its "A first look" block."""
    import re
    from pathlib import Path

    pytest.importorskip("onnx")
    pytest.importorskip("safetensors")
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [re.search(r"```python\n(.*?)```", text[text.index(title):], re.S).group(1)
              for title in ("## A first look", "## Continue in PyTorch")]
    monkeypatch.chdir(tmp_path)
    ns = {}
    for title, code in zip(("A first look", "Continue in PyTorch"), blocks):
        exec(compile(code, f"README.md ({title})", "exec"), ns)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "model.onnx").exists()
    check_outputs([ns["Xhat_torch"]], ns["model"], ns["Xte"], what="README")


# ------------------------------------------------------------------ the U-Net
@pytest.mark.parametrize("name", list(UNETS))
def test_unet_to_torch_matches_aenumpy_and_names_its_modules(name):
    net = make(name)
    tm = ae.export.to_torch(net)
    assert isinstance(tm.down0.conv0, torch.nn.Conv2d) and isinstance(tm.head, torch.nn.Conv2d)
    assert list(tm.state_dict()) == list(ae.export.state_dict(net))
    X = inputs(net)
    check_outputs(run(tm, X), net, X, what=f"{name} forward")


def test_unet_round_trip_through_a_pytorch_training_step():
    """PyTorch takes one SGD step of the per-pixel cross-entropy on the exported U-Net; its
    weights go back into aenumpy, which then gives the module's logits."""
    net = make("unet")
    tm = ae.export.to_torch(net)
    X = inputs(net)
    Y = torch.from_numpy(np.random.default_rng(5).integers(0, 3, (len(X), 8, 8)))
    opt = torch.optim.SGD(tm.parameters(), lr=0.5)
    tm.train()
    torch.nn.functional.cross_entropy(tm(torch.from_numpy(X)), Y).backward()
    opt.step()
    tm.eval()
    back = ae.export.load_state_dict(UNETS["unet"](), tm.state_dict())
    assert not np.array_equal(back.params["head.W"], net.params["head.W"])
    for k, v in ae.export.state_dict(back).items():
        np.testing.assert_array_equal(v, tm.state_dict()[k].numpy())
    check_outputs(run(tm, X), back, X, what="unet after a step")
