"""The teaching path and the speed backend beside it (principle 3).

* the files a student opens import nothing compiled and never mention Numba;
* ``AENUMPY_JIT=0`` runs the teaching path alone (Numba is not even imported);
* with the backend on, building a model or Adam builds its fast twin (a subclass),
  which keeps the teaching code for small work, so the default command compiles nothing;
* what only the twins do (weight layouts, the VAE's joined heads) changes no number.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_passes, on_path

import aenumpy as ae
from aenumpy.layers import Dense

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "aenumpy"
TEACHING = ([PKG / f for f in ("activations.py", "layers.py", "losses.py", "optim.py")]
            + sorted((PKG / "regularizers").glob("*.py")) + sorted((PKG / "models").glob("*.py")))


def _imports(path):
    """Every module a file imports, as written (relative imports resolved to aenumpy.*)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names]
    return out


@pytest.mark.parametrize("path", TEACHING, ids=lambda p: str(p.relative_to(PKG)))
def test_a_teaching_file_imports_nothing_compiled(path):
    text = path.read_text(encoding="utf-8")
    assert "numba" not in text.lower(), f"{path.name} mentions Numba"
    for mod in _imports(path):
        assert not mod.startswith(("numba", "llvmlite", "aenumpy.fast", "ctypes")), \
            f"{path.name} imports {mod}"
        assert mod.split(".")[0] in ("numpy", "aenumpy", "__future__", "dataclasses", "math",
                                     "numbers", "contextlib", "importlib", "os"), \
            f"{path.name} imports {mod}"
        if mod.startswith("aenumpy."):  # and only teaching modules of its own package
            top = mod.split(".")[1]
            assert top in ("activations", "layers", "losses", "optim", "regularizers",
                           "models", "_validate", "backend"), f"{path.name} imports {mod}"


def test_the_switch_module_imports_nothing_compiled():
    for mod in _imports(PKG / "backend.py"):
        assert mod.split(".")[0] in ("__future__", "contextlib", "importlib", "os"), mod


def _run(code, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_jit_off_runs_the_teaching_path_alone():
    code = ("import sys, numpy as np, aenumpy as ae\n"
            "X = np.random.default_rng(0).random((256, 784), dtype=np.float32)\n"
            "m = ae.Autoencoder(784, [256], regularizers=[ae.regularizers.GaussianNoise(0.1)])\n"
            "v = ae.VariationalAutoencoder(784, [64], 4)\n"
            "o = ae.optim.Adam()\n"
            "ae.fit(m, X, epochs=1, progress=False, optimizer=o)\n"
            "ae.fit(v, X, epochs=1, progress=False)\n"
            "print(type(m).__name__, type(v).__name__, type(o).__name__, 'numba' in sys.modules)")
    assert _run(code, AENUMPY_JIT="0") == "Autoencoder VariationalAutoencoder Adam False"


def test_backend_on_builds_the_fast_twins():
    m = ae.Autoencoder(784, [256])
    v = ae.VariationalAutoencoder(784, [400], 20)
    o = ae.optim.Adam()
    for obj, cls in ((m, ae.Autoencoder), (v, ae.VariationalAutoencoder), (o, ae.optim.Adam)):
        assert isinstance(obj, cls) and type(obj) is not cls
        assert type(obj).__module__.startswith("aenumpy.fast.")
    assert m.fast and v.fast
    with ae.backend.use_fast(False):
        assert type(ae.Autoencoder(784, [256])) is ae.Autoencoder
        assert type(ae.optim.Adam()) is ae.optim.Adam


def _models():
    """One model of each kind, built under whatever switch is on."""
    L = ae.layers
    return [ae.Autoencoder(784, [256]), ae.VariationalAutoencoder(784, [400], 20),
            ae.ConvAutoencoder([L.Conv2D(1, 16, 3, padding=1), L.MaxPool2D(2)],
                               [L.Upsample2D(2), L.Conv2D(16, 1, 3, padding=1,
                                                          activation="sigmoid")],
                               input_shape=(1, 28, 28))]


@pytest.mark.parametrize("built_fast", [False, True], ids=["teaching", "fast"])
def test_astype_keeps_the_class_whatever_the_switch_says(built_fast):
    """A copy keeps the class of its original: a teaching model copied while the backend is
    on stays a teaching model, and a fast twin copied while it is off stays a fast twin."""
    with ae.backend.use_fast(built_fast):
        models = _models()
    with ae.backend.use_fast(not built_fast):
        for m in models:
            for copy in (m.astype("float64"), m.copy()):
                assert type(copy) is type(m)
                assert all(np.array_equal(copy.params[k], v) for k, v in m.params.items())
    assert all(type(m).__module__.startswith("aenumpy.fast") == built_fast for m in models)


def test_small_models_keep_the_teaching_code_even_with_the_backend_on():
    """A digits-sized model (4,096 multiply-adds per sample) stays on the teaching layers."""
    m = ae.Autoencoder(64, [32])
    assert not m.fast and all(type(layer) is Dense for layer in m.layers)
    assert ae.Autoencoder(784, [256]).fast  # 401,408 per sample
    assert ae.backend.min_work() == ae.backend.MIN_WORK == 65536


def test_adam_compiles_for_a_compiled_model_however_few_its_weights(monkeypatch):
    """Adam's kernel updates a model that runs compiled even when its weights are fewer
    than min_work (the benchmark's convt model: 2,633); a small model on the teaching
    path keeps the teaching update."""
    from aenumpy.fast import optim as fast_optim

    calls = []
    kernel = fast_optim.adam_many
    monkeypatch.setattr(fast_optim, "adam_many", lambda *a: calls.append(1) or kernel(*a))
    L = ae.layers
    conv = ae.ConvAutoencoder(
        [L.Conv2D(1, 16, 3, 2, 1), L.Conv2D(16, 8, 3, 2, 1)],
        [L.ConvTranspose2D(8, 16, 3, 2, 1, 1), L.ConvTranspose2D(16, 1, 3, 2, 1, 1, "sigmoid")],
        input_shape=(1, 28, 28), loss="bce")
    assert conv.fast and sum(p.size for p in conv.params.values()) < ae.backend.min_work()
    small = ae.Autoencoder(64, [32])
    for m, X, used in ((conv, np.full((2, 784), 0.5), [1]), (small, np.full((2, 64), 0.5), [])):
        calls.clear()
        opt = ae.optim.Adam()
        opt.step(m.params, m.loss_and_grads(X)[1])
        assert calls == used


@pytest.mark.slow
def test_the_default_training_command_compiles_nothing(tmp_path):
    """`aenumpy train` on the embedded digits: no kernel compiled, so a fresh install
    pays no compile on its first command."""
    code = ("import sys\nfrom aenumpy import cli\nfrom aenumpy.fast import _jit\n"
            f"rc = cli.main(['train', '--out', {str(tmp_path / 'run')!r}, '--epochs', '3'])\n"
            "print(rc, _jit.COMPILED)")
    out = _run(code, MPLBACKEND="Agg").splitlines()
    assert out[-1] == "0 []"
    assert out[0].startswith("training Autoencoder(") and out[0].endswith(", teaching path)")


def test_the_repr_says_which_implementation_runs():
    """The speed backend, or the teaching path (off, or a model too small to compile)."""
    for m in _models():
        assert repr(m).endswith(", speed backend)") and m.runs_on == "speed backend"
    assert repr(ae.Autoencoder(64, [32])).endswith(", teaching path)")   # below min_work
    with ae.backend.use_fast(False):
        for m in _models():
            assert repr(m).endswith(", teaching path)") and m.runs_on == "teaching path"


# ---------------------------------------------------------------- what only the twins do
def test_a_fast_layer_stores_a_narrowing_w_column_major(rng):
    """A narrowing layer's W is column-major on the fast path (its gradient product is
    faster so); shape, values, forward and gradient are the teaching layer's."""
    from aenumpy.fast.dense import FastDense

    enc = FastDense(10, 4, rng=np.random.default_rng(5), dtype="float64")
    dec = FastDense(4, 10, dtype="float64")
    assert enc.W.shape == (4, 10) and enc.W.flags.f_contiguous and not enc.W.flags.c_contiguous
    assert dec.W.flags.c_contiguous
    twin = Dense(10, 4, rng=np.random.default_rng(5), dtype="float64")
    np.testing.assert_array_equal(twin.W, enc.W)
    X = rng.normal(size=(7, 10))
    dZ = rng.normal(size=(7, 4))
    for layer in (enc, twin):
        layer.forward(X)
        layer.backward(dZ)
    # a sum of 7 products in another order: 8 ulps of the largest entry
    tol = 8 * np.finfo(np.float64).eps * np.abs(twin.grads["W"]).max()
    np.testing.assert_allclose(enc.grads["W"], twin.grads["W"], rtol=0, atol=tol)
    assert enc.grads["W"].flags.f_contiguous  # the gradient comes in W's layout
    assert_passes(ae.check_layer(enc, rng.uniform(-1, 1, (4, 10))))


def test_loaded_weights_keep_the_fast_memory_layout(tmp_path):
    """The file stores values row-major; a loaded encoder W is column-major again, so a
    loaded model trains as fast as a fresh one."""
    with on_path(True):
        m = ae.Autoencoder(20, [6], seed=1, dtype="float64")
        m.params["enc0.W"][...] = np.arange(120.0).reshape(6, 20) / 120
        ae.save(m, tmp_path / "m.npz")
        back = ae.load(tmp_path / "m.npz")
    for k, v in m.params.items():
        np.testing.assert_array_equal(back.params[k], v)
        assert back.params[k].flags.f_contiguous == v.flags.f_contiguous
    assert back.params["enc0.W"].flags.f_contiguous


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_the_joined_heads_are_the_two_heads(decoder, tmp_path):
    """The fast VAE runs μ and log σ² as one product on the stacked [W_μ; W_logvar]: the
    same loss, gradients and caches as the two heads one by one (which run again as soon
    as a head's W is replaced by another array); a loaded model has its heads joined."""
    U8 = 0.05 + 0.9 * np.random.default_rng(7).random((8, 6))
    with on_path(True):
        m = ae.VariationalAutoencoder(6, [5], 3, decoder=decoder, seed=2, dtype="float64")
        eps = np.random.default_rng(4).standard_normal((U8.shape[0], 3))
        assert m._heads_joined()
        assert m.params["mu.W"].flags.c_contiguous and m.params["logvar.W"].flags.c_contiguous
        E1, g1 = m.loss_and_grads(U8, eps=eps)
        caches1 = {k: m.mu_head.cache[k].copy() for k in ("A", "Z", "dA")}
        m2 = m.copy()
        assert m2._heads_joined()
        for head in (m2.mu_head, m2.logvar_head):  # a plain array: the heads run one by one
            head.params["W"] = head.params["W"].copy()
            m2.params[f"{head.name}.W"] = head.params["W"]
        assert not m2._heads_joined()
        E2, g2 = m2.loss_and_grads(U8, eps=eps)
        ae.save(m, tmp_path / "vae.npz")
        back = ae.load(tmp_path / "vae.npz")
    tol = 64 * np.finfo(np.float64).eps  # a few sums of ≤ 8 terms in another order
    assert E1 == pytest.approx(E2, rel=tol)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=0, atol=tol * np.abs(g2[k]).max())
    for k, v in caches1.items():
        np.testing.assert_allclose(v, m2.mu_head.cache[k], rtol=0, atol=tol * np.abs(v).max())
    assert back._heads_joined()
    np.testing.assert_array_equal(back.params["logvar.W"], m.params["logvar.W"])
    assert back.loss(U8, eps=eps) == pytest.approx(E1, rel=tol)
