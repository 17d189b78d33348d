"""ae.export without PyTorch: the state dict, the safetensors file, the ONNX graphs (run by
onnx's reference evaluator and, where installed, by onnxruntime), the reverse loader and the
refusals. Every output is held against aenumpy's own forward pass at the float32 bound
derived in ``export_support`` (its docstring gives the derivation)."""
import subprocess
import sys

import numpy as np
import pytest

import aenumpy as ae
from aenumpy import layers as L
from aenumpy.export import NotExportable
from conftest import on_path
from export_support import (MODELS, UNETS, aenumpy_outputs, assert_within, bound, check_outputs,
                            code_inputs, inputs, make, unet_bound)

R = ae.regularizers
KINDS = list(MODELS)


@pytest.fixture
def onnx():
    """The onnx package (in the dev extra; the tests that need it skip without it)."""
    return pytest.importorskip("onnx")


def onnx_outputs(path, X, runtime="reference"):
    """Run the ONNX file at ``path`` on X (its one input) with onnx's reference evaluator or
    with onnxruntime."""
    if runtime == "reference":
        onnx = pytest.importorskip("onnx")
        from onnx.reference import ReferenceEvaluator

        sess = ReferenceEvaluator(onnx.load(path))
        name = sess.input_names[0]
    else:
        ort = pytest.importorskip("onnxruntime")
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
    return sess.run(None, {name: X})


# ------------------------------------------------------------------ the bound itself
@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("part", ["model", "encoder", "decoder"])
def test_aenumpy_float32_lies_within_the_bound_and_the_bound_is_tight(name, part):
    model = make(name)
    X = code_inputs(model) if part == "decoder" else inputs(model)
    for (exact, d), got in zip(bound(model, X, part), aenumpy_outputs(model, X, part)):
        err = np.abs(np.asarray(got, np.float64).reshape(exact.shape) - exact)
        assert np.all(err <= d)
        assert d.max() < 1e-4 * np.abs(exact).max()


def test_the_bound_catches_a_weight_off_by_a_thousandth():
    model = make("dense")
    X = inputs(model)
    wrong = model.copy()
    wrong.params["dec1.W"][3, 5] *= 1.001
    with pytest.raises(AssertionError, match="output 0"):
        check_outputs([wrong.reconstruct(X)], model, X, what="dense")


# ------------------------------------------------------------------ the state dict
def test_dense_state_dict_names_and_layouts():
    model = make("dense")
    sd = ae.export.state_dict(model)
    assert list(sd) == ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
                        "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias"]
    assert sd["encoder.0.weight"].shape == (32, 64)           # Linear: (out, in)
    np.testing.assert_array_equal(sd["encoder.2.weight"], model.params["enc1.W"])
    np.testing.assert_array_equal(sd["decoder.2.bias"], model.params["dec1.b"])
    for v in sd.values():
        assert v.dtype == np.float32 and v.flags.c_contiguous
    sd["encoder.0.weight"][...] = 0                           # copies, not the model's arrays
    assert np.any(model.params["enc0.W"] != 0)


def test_a_tied_decoder_is_exported_untied():
    model = make("dense_tied")
    sd = ae.export.state_dict(model)
    assert list(sd) == ["encoder.0.weight", "encoder.0.bias", "decoder.0.weight", "decoder.0.bias"]
    np.testing.assert_array_equal(sd["decoder.0.weight"], model.params["enc0.W"].T)
    assert sd["decoder.0.weight"].shape == (64, 24)


def test_vae_and_conv_state_dict_names():
    vae = ae.export.state_dict(make("vae_gaussian"))
    assert list(vae) == ["encoder.0.weight", "encoder.0.bias", "mu.weight", "mu.bias",
                         "logvar.weight", "logvar.bias", "decoder.0.weight", "decoder.0.bias",
                         "decoder.2.weight", "decoder.2.bias", "out_logvar.weight",
                         "out_logvar.bias"]
    conv = make("conv_strided")
    sd = ae.export.state_dict(conv)
    assert sd["encoder.0.weight"].shape == (4, 1, 3, 3)        # Conv2d: (out, in, k, k)
    assert sd["decoder.0.weight"].shape == (3, 4, 3, 3)        # ConvTranspose2d: (in, out, k, k)
    np.testing.assert_array_equal(sd["decoder.0.weight"], conv.params["dec0.W"])
    # conv_mixed: Conv2d, Tanh, TopK, MaxPool2d, Flatten, Linear, ReLU | Linear, ReLU,
    # Unflatten, Upsample, ConvTranspose2d, Sigmoid
    assert [k for k in ae.export.state_dict(make("conv_mixed")) if k.endswith("weight")] == [
        "encoder.0.weight", "encoder.5.weight", "decoder.0.weight", "decoder.4.weight"]


# ------------------------------------------------------------------ safetensors
@pytest.mark.parametrize("name", KINDS)
def test_safetensors_file_reads_back_with_the_state_dict(name, tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    model = make(name)
    path = ae.export.save_safetensors(model, tmp_path / "m.safetensors")
    back = st.load_file(path)
    sd = ae.export.state_dict(model)
    assert sorted(back) == sorted(sd)
    for k, v in sd.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)
    fresh = MODELS[name]()
    ae.export.load_state_dict(fresh, back)
    X = inputs(model)
    np.testing.assert_array_equal(fresh.reconstruct(X), model.reconstruct(X))


# ------------------------------------------------------------------ ONNX
@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("part", ["model", "encoder", "decoder"])
@pytest.mark.parametrize("runtime", ["reference", "onnxruntime"])
def test_onnx_matches_aenumpy(name, part, runtime, tmp_path, onnx):
    model = make(name)
    path = ae.export.to_onnx(model, tmp_path / f"{name}.onnx", part=part)
    X = code_inputs(model) if part == "decoder" else inputs(model)
    check_outputs(onnx_outputs(path, X, runtime), model, X, part, f"{name} {part} {runtime}")


def test_onnx_graph_is_checked_named_and_takes_any_batch(tmp_path, onnx):
    model = make("vae")
    proto = onnx.load(ae.export.to_onnx(model, tmp_path / "e.onnx", part="encoder"))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["mu", "logvar"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 64
    inits = {i.name for i in proto.graph.initializer}
    assert set(ae.export.state_dict(model)) - inits == {
        k for k in ae.export.state_dict(model) if k.startswith("decoder")}
    for n in (1, 3, 50):
        X = inputs(model, n=n)
        mu, logvar = onnx_outputs(tmp_path / "e.onnx", X)
        assert mu.shape == logvar.shape == (n, 4)


def test_onnx_operators_are_the_listed_ones(tmp_path, onnx):
    ops = {}
    for name in KINDS:
        proto = onnx.load(ae.export.to_onnx(make(name), tmp_path / f"{name}.onnx"))
        ops[name] = {n.op_type for n in proto.graph.node}
    assert ops["dense"] == {"Gemm", "Tanh", "Sigmoid"}
    assert ops["conv_pool"] == {"Conv", "Relu", "MaxPool", "Resize", "Sigmoid"}
    assert ops["conv_strided"] == {"Conv", "Relu", "ConvTranspose", "Sigmoid"}
    assert {"Reshape", "TopK", "ScatterElements", "Gemm"} <= ops["conv_mixed"]


def test_onnx_float64_model(tmp_path, onnx):
    model = make("conv_mixed", dtype="float64")
    path = ae.export.to_onnx(model, tmp_path / "m64.onnx")
    X = inputs(model)
    check_outputs(onnx_outputs(path, X), model, X, what="float64")


def test_onnx_of_the_fast_twins(tmp_path, onnx):
    """The speed backend's models (FastDense keeps W column-major, the fast VAE its heads
    as halves of one array) export the same weights."""
    with on_path(True):
        for name in ("dense", "vae"):
            model = make(name)
            path = ae.export.to_onnx(model, tmp_path / f"{name}.onnx")
            X = inputs(model)
            check_outputs(onnx_outputs(path, X), model, X, what=name)


# ------------------------------------------------------------------ the reverse
def test_load_state_dict_writes_into_the_model_in_place():
    with on_path(True):
        src, dst = make("vae", seed=0), make("vae", seed=5)
        before = {k: v for k, v in dst.params.items()}
        assert ae.export.load_state_dict(dst, ae.export.state_dict(src)) is dst
        for k, v in dst.params.items():
            assert v is before[k]                               # the model's own arrays
            np.testing.assert_array_equal(v, src.params[k])
        X = inputs(src)
        np.testing.assert_array_equal(dst.reconstruct(X), src.reconstruct(X))


def test_load_state_dict_into_a_tied_model():
    src, dst = make("dense_tied", seed=0), make("dense_tied", seed=3)
    sd = ae.export.state_dict(src)
    ae.export.load_state_dict(dst, sd)
    np.testing.assert_array_equal(dst.params["enc0.W"], src.params["enc0.W"])
    sd["decoder.0.weight"] = sd["decoder.0.weight"].copy()
    sd["decoder.0.weight"][0, 0] += 1e-3
    with pytest.raises(ValueError, match=r"\['decoder.0.weight'\] is not 'encoder.0.weight' "
                                         r"transposed.*tied=False"):
        ae.export.load_state_dict(dst, sd)
    untied = ae.Autoencoder(64, [24], activation="relu", output_activation="identity")
    ae.export.load_state_dict(untied, sd)                     # an untied model takes it
    np.testing.assert_array_equal(untied.params["dec0.W"], sd["decoder.0.weight"])


@pytest.mark.parametrize("change,message", [
    (lambda sd: sd.pop("encoder.2.bias"), r"no 'encoder.2.bias' \(expected shape \(16,\)\)"),
    (lambda sd: sd.update(extra=np.zeros(3, np.float32)), "unexpected entry 'extra'"),
    (lambda sd: sd.update({"decoder.0.weight": np.zeros((16, 32), np.float32)}),
     r"'decoder.0.weight'\] has shape \(16, 32\), expected \(32, 16\)"),
    (lambda sd: sd.update({"encoder.0.bias": np.zeros(32)}),
     r"'encoder.0.bias'\] has dtype float64, the model's is float32"),
    (lambda sd: sd["decoder.2.bias"].__setitem__(0, np.nan), r"'decoder.2.bias'\] contains NaN"),
    (lambda sd: sd.update({"encoder.0.bias": [0.0] * 32}), "NumPy array or a torch tensor"),
])
def test_load_state_dict_names_the_first_mismatch_and_writes_nothing(change, message):
    model = make("dense", seed=4)
    before = {k: v.copy() for k, v in model.params.items()}
    sd = ae.export.state_dict(make("dense"))
    change(sd)
    with pytest.raises((ValueError, TypeError), match=message):
        ae.export.load_state_dict(model, sd)
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_takes_a_mapping():
    with pytest.raises(TypeError, match="mapping name → array"):
        ae.export.load_state_dict(make("dense"), [np.zeros(3)])


# ------------------------------------------------------------------ what is refused
class MyDense(L.Dense):
    """A student's own layer (a subclass: its forward may be anything)."""


class Cube(ae.activations.Activation):
    name = "cube"

    def __call__(self, a):
        return a ** 3


def _every_export(model, tmp_path):
    for f in (ae.export.state_dict, ae.export.to_torch,
              lambda m: ae.export.to_onnx(m, tmp_path / "x.onnx"),
              lambda m: ae.export.save_safetensors(m, tmp_path / "x.safetensors")):
        yield f, model


@pytest.mark.parametrize("build,message", [
    (lambda: ae.ConvAutoencoder([MyDense(4, 2, "relu")], [L.Dense(2, 4, "sigmoid")],
                                input_shape=(4,)),
     r"layer enc0 is a MyDense, not one of aenumpy.layers"),
    (lambda: ae.Autoencoder(6, [3], activation=Cube()),
     r"layer enc0 has a custom Activation object \(Cube\)"),
    (lambda: ae.Autoencoder(6, [3], regularizers=[R.MaskingNoise(0.2, at_eval=True)]),
     r"MaskingNoise\(p=0.2, at_eval=True\) corrupts the input at evaluation"),
    (lambda: ae.Autoencoder(6, [4], regularizers=[R.TopK(2), R.TopK(3)]),
     "two TopK regularizers act on encoder layer enc0"),
    (lambda: ae.Autoencoder(6, [3]).decoder, "the export takes an aenumpy model"),
])
def test_what_cannot_be_exported_is_refused_by_name(build, message, tmp_path):
    model = build()
    for f, m in _every_export(model, tmp_path):
        with pytest.raises((NotExportable, TypeError), match=message):
            f(m)
    assert not list(tmp_path.iterdir())                        # nothing written


def test_a_custom_mask_is_refused():
    class Halve(R.HiddenMask):
        def mask(self, Z, rng, training):
            return np.full_like(Z, 0.5)

    with pytest.raises(NotExportable, match="HiddenMask of its own class"):
        ae.export.state_dict(ae.Autoencoder(6, [3], regularizers=[Halve()]))


def test_training_only_regularizers_export_and_topk_keeps_alpha_k(tmp_path, onnx):
    """Dropout, corruption without at_eval and the penalties leave no module; TopK keeps
    int(α·k) units at evaluation, and none when that is every unit."""
    model = make("dense_topk")
    proto = onnx.load(ae.export.to_onnx(model, tmp_path / "m.onnx"))
    k = [n for n in proto.graph.initializer if n.name.endswith(".k")]
    assert len(k) == 1 and onnx.numpy_helper.to_array(k[0]).tolist() == [7]   # int(1.5·5)
    every = ae.Autoencoder(6, [4], regularizers=[R.TopK(2, alpha=2), R.KLSparsity(0.1, 1)])
    assert all(n.op_type != "TopK" for n in
               onnx.load(ae.export.to_onnx(every, tmp_path / "e.onnx")).graph.node)


def test_bad_arguments(tmp_path):
    model = make("dense")
    with pytest.raises(ValueError, match="part must be one of 'model', 'encoder', 'decoder'"):
        ae.export.to_onnx(model, tmp_path / "m.onnx", part="head")
    with pytest.raises(TypeError, match="path must be a file name"):
        ae.export.to_onnx(model, 3)
    with pytest.raises(TypeError, match="path must be a file name"):
        ae.export.save_safetensors(model, None)


# ------------------------------------------------------------------ optional packages
def test_import_aenumpy_imports_no_optional_package():
    code = ("import sys, aenumpy as ae; ae.export.state_dict(ae.Autoencoder(6, [3])); "
            "print(sorted(m for m in ('torch', 'onnx', 'safetensors', 'onnxruntime') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_optional_package_is_named_with_its_install(monkeypatch, tmp_path):
    for name in ("onnx", "safetensors", "safetensors.numpy", "torch"):
        monkeypatch.setitem(sys.modules, name, None)          # import raises ImportError
    model = make("dense")
    with pytest.raises(ImportError, match=r"to_onnx needs the optional package 'onnx'.*"
                                          r"aenumpy\[export\]"):
        ae.export.to_onnx(model, tmp_path / "m.onnx")
    with pytest.raises(ImportError, match=r"save_safetensors needs .*'safetensors'"):
        ae.export.save_safetensors(model, tmp_path / "m.safetensors")
    with pytest.raises(ImportError, match=r"to_torch needs .*'torch'.*torch==2.13.0"):
        ae.export.to_torch(model)


# ------------------------------------------------------------------ the U-Net
@pytest.mark.parametrize("name", list(UNETS))
def test_unet_float32_lies_within_its_bound(name):
    net = make(name)
    X = inputs(net)
    (exact, d), = unet_bound(net, X)
    assert exact.std(axis=0).min() > 1e-3          # the logits depend on the image everywhere
    err = np.abs(np.asarray(net.forward(X), np.float64) - exact)
    assert np.all(err <= d) and d.max() < 1e-4 * np.abs(exact).max()


def test_unet_state_dict_names_its_convolutions_after_the_parameters():
    net = make("unet")
    sd = ae.export.state_dict(net)
    assert list(sd) == [k.replace(".W", ".weight").replace(".b", ".bias") for k in net.params]
    assert list(sd)[:2] == ["down0.conv0.weight", "down0.conv0.bias"]
    assert list(sd)[-2:] == ["head.weight", "head.bias"]
    for k, v in net.params.items():
        np.testing.assert_array_equal(sd[k.replace(".W", ".weight").replace(".b", ".bias")], v)


@pytest.mark.parametrize("name", list(UNETS))
def test_unet_safetensors_round_trip(name, tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    net = make(name)
    back = st.load_file(ae.export.save_safetensors(net, tmp_path / "u.safetensors"))
    fresh = ae.export.load_state_dict(UNETS[name](), back)
    X = inputs(net)
    np.testing.assert_array_equal(fresh.forward(X), net.forward(X))


@pytest.mark.parametrize("name", list(UNETS))
@pytest.mark.parametrize("runtime", ["reference", "onnxruntime"])
def test_unet_onnx_matches_aenumpy(name, runtime, tmp_path, onnx):
    net = make(name)
    path = ae.export.to_onnx(net, tmp_path / f"{name}.onnx")
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert {"Conv", "Relu", "MaxPool", "Resize"} <= ops
    assert ("Concat" in ops) == net.skips
    X = inputs(net)
    check_outputs(onnx_outputs(path, X, runtime), net, X, what=f"{name} {runtime}")


def test_unet_onnx_has_one_part(tmp_path, onnx):
    with pytest.raises(ValueError, match="one graph, part='model'"):
        ae.export.to_onnx(make("unet"), tmp_path / "u.onnx", part="encoder")
