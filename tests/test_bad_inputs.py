"""Bad inputs at every public entry point: each ends in a clear ValueError/TypeError
from aenumpy that says what was expected, raised before any work (principle 6).

One parametrized case per bad input. Entry points that other issues are adding
(regularizers, the VAE, plots) are covered when present and skipped otherwise.
"""
import numpy as np
import pytest

import aenumpy as ae

R = np.random.default_rng(0)
X = R.random((5, 6)).astype(np.float32)            # valid data for a 6-input model
X64 = X.astype(np.float64)
NAN = X.copy()
NAN[2, 3] = np.nan
INF = X.copy()
INF[0, 0] = np.inf
U8 = (X * 255).astype(np.uint8)                    # images as students load them
BIG = X * 255                                      # floats, but 0..255
NEG = X - 0.5                                      # outside [0, 1]


def AE(**kw):
    return ae.Autoencoder(6, [3], **kw)


def D64():
    return ae.layers.Dense(6, 3, dtype="float64")


def reg(name, *a, **kw):
    cls = getattr(ae.regularizers, name, None)
    if cls is None:
        pytest.skip(f"ae.regularizers.{name} is not in this tree yet")
    return cls(*a, **kw)


def vae_cls():
    cls = getattr(ae, "VariationalAutoencoder", None)
    if cls is None:
        pytest.skip("ae.VariationalAutoencoder is not in this tree yet")
    return cls


def VAE(**kw):
    return vae_cls()(6, [4], 2, **kw)


def reg_fn(name):
    fn = getattr(ae.regularizers, name, None)
    if fn is None:
        pytest.skip(f"ae.regularizers.{name} is not in this tree yet")
    return fn


def info(name):
    mod = getattr(ae.regularizers, "information", None)
    if mod is None:
        pytest.skip("ae.regularizers.information is not in this tree yet")
    return getattr(mod, name)


class _Fig:
    def savefig(self, *a, **k):
        raise AssertionError("must not be reached")


def plot(name):
    pytest.importorskip("matplotlib")
    fn = getattr(ae.plot, name, None)
    if fn is None:
        pytest.skip(f"ae.plot.{name} is not in this tree yet")
    return fn


# (id, call, exception, part of the message)
CASES = [
    # ------------------------------------------------------------ Autoencoder(...)
    ("ae n_in zero", lambda: ae.Autoencoder(0, [3]), ValueError, "n_in must be >= 1"),
    ("ae n_in float", lambda: ae.Autoencoder(6.0, [3]), TypeError, "n_in must be an integer"),
    ("ae n_in str", lambda: ae.Autoencoder("784", [3]), TypeError, "n_in must be an integer"),
    ("ae n_in bool", lambda: ae.Autoencoder(True, [3]), TypeError, "n_in must be an integer"),
    ("ae hidden empty", lambda: ae.Autoencoder(6, []), ValueError, "hidden must be a non-empty"),
    ("ae hidden zero", lambda: ae.Autoencoder(6, [0]), ValueError, r"hidden\[0\] must be >= 1"),
    ("ae hidden negative", lambda: ae.Autoencoder(6, [4, -2]), ValueError, r"hidden\[1\]"),
    ("ae hidden float", lambda: ae.Autoencoder(6, [2.5]), TypeError, r"hidden\[0\]"),
    ("ae hidden str", lambda: ae.Autoencoder(6, "32"), ValueError, "hidden"),
    ("ae activation unknown", lambda: AE(activation="sigmod"), ValueError, "unknown activation"),
    ("ae activation not a name", lambda: AE(activation=["relu"]), TypeError, "activation must be"),
    ("ae output activation unknown", lambda: AE(output_activation="softmax"), ValueError,
     "unknown activation"),
    ("ae decoder activation unknown", lambda: AE(decoder_activation="elu"), ValueError,
     "unknown activation"),
    ("ae loss unknown", lambda: AE(loss="mae"), ValueError, "unknown loss"),
    ("ae loss not a name", lambda: AE(loss=["mse"]), TypeError, "loss must be"),
    ("ae tied str", lambda: AE(tied="yes"), TypeError, "tied must be True or False"),
    ("ae seed negative", lambda: AE(seed=-1), ValueError, "seed must be >= 0"),
    ("ae seed float", lambda: AE(seed=1.5), TypeError, "seed must be an integer"),
    ("ae dtype float16", lambda: AE(dtype="float16"), ValueError, "float32' or 'float64"),
    ("ae dtype int", lambda: AE(dtype="int32"), ValueError, "float32' or 'float64"),
    ("ae dtype nonsense", lambda: AE(dtype=object()), TypeError, "dtype"),
    ("ae regularizers str", lambda: AE(regularizers="GaussianNoise"), TypeError,
     "regularizers must be a list"),
    ("ae regularizer not a list", lambda: AE(regularizers=reg("GaussianNoise", 0.1)), TypeError,
     "regularizers must be a list"),
    ("ae regularizer not a regularizer", lambda: AE(regularizers=[0.1]), TypeError,
     "aenumpy.regularizers objects"),
    # ------------------------------------------------------------ model methods: data
    ("encode 1-D sample", lambda: AE().encode(X[0]), ValueError, r"2-D .*X\[None, :\]"),
    ("encode 3-D images", lambda: AE().encode(X.reshape(5, 2, 3)), ValueError, "flatten"),
    ("encode wrong width", lambda: AE().encode(X[:, :5]), ValueError, "6 features per row"),
    ("encode empty", lambda: AE().encode(X[:0]), ValueError, "empty"),
    ("encode NaN", lambda: AE().encode(NAN), ValueError, r"NaN or inf \(first at row 2, column 3"),
    ("encode inf", lambda: AE().encode(INF), ValueError, "NaN or inf"),
    ("encode uint8 images", lambda: AE().encode(U8), ValueError, "/ 255"),
    ("encode strings", lambda: AE().encode(np.array([["a"] * 6])), TypeError, "must hold numbers"),
    ("encode None", lambda: AE().encode(None), TypeError, "must be an array"),
    ("encode object array", lambda: AE().encode(np.array([[object()] * 6])), TypeError,
     "must hold numbers"),
    ("encode rng int", lambda: AE().encode(X, rng=3), TypeError, "numpy.random.Generator"),
    ("reconstruct NaN", lambda: AE().reconstruct(NAN), ValueError, "NaN"),
    ("decode wrong width", lambda: AE().decode(np.zeros((2, 4))), ValueError, "code size"),
    ("decode NaN", lambda: AE().decode(np.full((2, 3), np.nan)), ValueError, "NaN"),
    ("loss 0..255 floats for a sigmoid", lambda: AE().loss(BIG), ValueError, r"\[0, 1\].*255"),
    ("loss negatives for a sigmoid", lambda: AE().loss(NEG), ValueError, r"must be in \[0, 1\]"),
    ("bce with an identity output", lambda: AE(output_activation="identity", loss="bce"),
     ValueError, r"needs outputs x̂ in \(0, 1\).*use output_activation='sigmoid'"),
    ("bce with a tanh output", lambda: AE(output_activation="tanh", loss="bce"),
     ValueError, r"activation 'tanh' does not give them"),
    ("bce with a relu output", lambda: AE(output_activation="relu", loss="bce"),
     ValueError, r"activation 'relu' does not give them"),
    ("loss_and_grads wrong width", lambda: AE().loss_and_grads(X[:, :4]), ValueError,
     "6 features"),
    ("loss_and_grads rng", lambda: AE().loss_and_grads(X, rng=np.random.RandomState(0)),
     TypeError, "Generator"),
    ("reconstruction_error NaN", lambda: AE().reconstruction_error(NAN), ValueError, "NaN"),
    # ------------------------------------------------------------ Dense
    ("dense n_out zero", lambda: ae.layers.Dense(6, 0), ValueError, "n_out must be >= 1"),
    ("dense activation unknown", lambda: ae.layers.Dense(6, 3, "swish"), ValueError,
     "unknown activation"),
    ("dense rng int", lambda: ae.layers.Dense(6, 3, rng=42), TypeError, "Generator"),
    ("dense tied_to str", lambda: ae.layers.Dense(6, 3, tied_to="enc0"), TypeError,
     "tied_to must be a Dense"),
    ("dense tied_to wrong sizes", lambda: ae.layers.Dense(6, 3, tied_to=ae.layers.Dense(6, 3)),
     ValueError, "partner"),
    ("dense name int", lambda: ae.layers.Dense(6, 3, name=3), TypeError, "name must be"),
    ("dense dtype", lambda: ae.layers.Dense(6, 3, dtype="int8"), ValueError, "float32"),
    ("dense forward wrong width", lambda: D64().forward(np.zeros((2, 5))), ValueError,
     r"shape \(batch, 6\)"),
    ("dense forward 1-D", lambda: D64().forward(np.zeros(6)), ValueError, r"shape \(batch, 6\)"),
    ("dense forward ints", lambda: D64().forward(np.zeros((2, 6), int)), TypeError,
     "float NumPy array"),
    ("dense forward list", lambda: D64().forward([[0.0] * 6]), TypeError, "float NumPy array"),
    ("dense backward before forward", lambda: D64().backward(np.zeros((2, 3))), ValueError,
     "call forward"),
    ("dense backward wrong shape",
     lambda: (lambda l: (l.forward(X64), l.backward(np.zeros((5, 4)))))(D64()), ValueError,
     "output's shape"),
    # ------------------------------------------------------------ losses
    ("squared_error shapes", lambda: ae.losses.squared_error(X64, X64[:, :4]), ValueError,
     "same shape"),
    ("squared_error 1-D", lambda: ae.losses.squared_error(X64[0], X64[0]), ValueError, "2-D"),
    ("squared_error list", lambda: ae.losses.squared_error([[0.0]], [[0.0]]), TypeError,
     "NumPy array"),
    ("squared_error_grad shapes", lambda: ae.losses.squared_error_grad(X64, X64.T), ValueError,
     "same shape"),
    ("bce targets outside [0,1]", lambda: ae.losses.binary_cross_entropy(BIG, X), ValueError,
     r"targets X in \[0, 1\]"),
    ("bce grad targets", lambda: ae.losses.binary_cross_entropy_grad(NEG, X), ValueError,
     r"\[0, 1\]"),
    ("bce shapes", lambda: ae.losses.binary_cross_entropy(X, X[:3]), ValueError, "same shape"),
    ("bce logits shapes", lambda: ae.losses.binary_cross_entropy_logits(X, X[:, :2]), ValueError,
     "same shape"),
    ("bce logits targets", lambda: ae.losses.binary_cross_entropy_logits(BIG, X), ValueError,
     r"\[0, 1\]"),
    ("losses.get unknown", lambda: ae.losses.get("hinge"), ValueError, "unknown loss"),
    ("losses.get not a name", lambda: ae.losses.get(1), TypeError, "loss must be a name"),
    ("activations.get unknown", lambda: ae.activations.get("gelu"), ValueError,
     "unknown activation"),
    ("activations.get not a name", lambda: ae.activations.get(None), TypeError,
     "activation must be"),
    # ------------------------------------------------------------ optimizers
    ("sgd lr zero", lambda: ae.optim.SGD(lr=0), ValueError, "lr must be in"),
    ("sgd lr negative", lambda: ae.optim.SGD(lr=-0.1), ValueError, "lr must be in"),
    ("sgd lr str", lambda: ae.optim.SGD(lr="0.1"), TypeError, "lr must be a number"),
    ("sgd lr nan", lambda: ae.optim.SGD(lr=float("nan")), ValueError, "finite"),
    ("sgd momentum one", lambda: ae.optim.SGD(momentum=1.0), ValueError, "momentum"),
    ("sgd momentum negative", lambda: ae.optim.SGD(momentum=-0.1), ValueError, "momentum"),
    ("sgd nesterov without momentum", lambda: ae.optim.SGD(nesterov=True), ValueError,
     "momentum > 0"),
    ("sgd nesterov str", lambda: ae.optim.SGD(momentum=0.9, nesterov="yes"), TypeError,
     "nesterov must be True or False"),
    ("adam lr inf", lambda: ae.optim.Adam(lr=float("inf")), ValueError, "finite"),
    ("adam beta1 one", lambda: ae.optim.Adam(beta1=1.0), ValueError, "beta1"),
    ("adam beta2 negative", lambda: ae.optim.Adam(beta2=-0.5), ValueError, "beta2"),
    ("adam eps zero", lambda: ae.optim.Adam(eps=0), ValueError, "eps"),
    ("adam step missing grads", lambda: ae.optim.Adam().step(AE().params, {}), ValueError,
     "no entry for parameter"),
    ("adam step wrong shape", lambda: ae.optim.Adam().step(
        AE().params, {k: np.zeros(2) for k in AE().params}), ValueError, "has shape"),
    ("sgd step grads not a dict", lambda: ae.optim.SGD().step(AE().params, [1]), TypeError,
     "grads must be a dict"),
    ("optim.from_config unknown", lambda: ae.optim.from_config({"name": "RMSprop"}), ValueError,
     "unknown optimizer"),
    ("optim.from_config not a dict", lambda: ae.optim.from_config("Adam"), TypeError,
     "configuration is a dict"),
    # ------------------------------------------------------------ fit
    ("fit model str", lambda: ae.fit("model", X), TypeError, "aenumpy model"),
    ("fit epochs negative", lambda: ae.fit(AE(), X, epochs=-1), ValueError, "epochs must be >= 0"),
    ("fit epochs float", lambda: ae.fit(AE(), X, epochs=2.5), TypeError, "epochs must be an integer"),
    ("fit batch_size zero", lambda: ae.fit(AE(), X, batch_size=0), ValueError, "batch_size"),
    ("fit optimizer str", lambda: ae.fit(AE(), X, optimizer="adam"), TypeError, "ae.optim.Adam"),
    ("fit optimizer class", lambda: ae.fit(AE(), X, optimizer=ae.optim.Adam), TypeError,
     "aenumpy.optim optimizer"),
    ("fit X uint8", lambda: ae.fit(AE(), U8, progress=False), ValueError, "/ 255"),
    ("fit X NaN", lambda: ae.fit(AE(), NAN, progress=False), ValueError, "NaN"),
    ("fit X wrong width", lambda: ae.fit(AE(), X[:, :5], progress=False), ValueError, "6 features"),
    ("fit X outside [0,1]", lambda: ae.fit(AE(), BIG, progress=False), ValueError, r"\[0, 1\]"),
    ("fit X_val wrong width", lambda: ae.fit(AE(), X, X_val=X[:, :5], progress=False),
     ValueError, "X_val must have 6"),
    ("fit X_val NaN", lambda: ae.fit(AE(), X, X_val=NAN, progress=False), ValueError, "X_val"),
    ("fit seed negative", lambda: ae.fit(AE(), X, seed=-3), ValueError, "seed"),
    ("fit progress str", lambda: ae.fit(AE(), X, progress="no"), TypeError, "progress must be"),
    ("fit shuffle int", lambda: ae.fit(AE(), X, shuffle=1, progress=False), TypeError, "shuffle"),
    ("fit snapshot_every zero", lambda: ae.fit(AE(), X, snapshot_every=0), ValueError,
     "snapshot_every"),
    ("fit explode_factor below one", lambda: ae.fit(AE(), X, explode_factor=0.5, progress=False),
     ValueError, "explode_factor"),
    ("fit callback not callable", lambda: ae.fit(AE(), X, callback=3, progress=False), TypeError,
     "callback must be a function"),
    ("fit history list", lambda: ae.fit(AE(), X, history=[], progress=False), TypeError,
     "history"),
    ("fit start_epoch negative", lambda: ae.fit(AE(), X, start_epoch=-1, progress=False),
     ValueError, "start_epoch"),
    ("fit checkpoint int", lambda: ae.fit(AE(), X, checkpoint=3, progress=False), TypeError,
     "checkpoint must be a file name"),
    ("fit checkpoint_every zero", lambda: ae.fit(AE(), X, checkpoint_every=0), ValueError,
     "checkpoint_every"),
    ("fit resume int", lambda: ae.fit(AE(), X, resume=3, progress=False), TypeError,
     "resume must be a file name"),
    # ------------------------------------------------------------ gradcheck & co
    ("gradcheck model str", lambda: ae.gradcheck("model", X), TypeError, "aenumpy model"),
    ("gradcheck X NaN", lambda: ae.gradcheck(AE(), NAN), ValueError, "NaN"),
    ("gradcheck X wrong width", lambda: ae.gradcheck(AE(), X[:, :3]), ValueError, "6 features"),
    ("gradcheck h zero", lambda: ae.gradcheck(AE(), X, h=0), ValueError, "h must be in"),
    ("gradcheck order 3", lambda: ae.gradcheck(AE(), X, order=3), ValueError, "order must be 2"),
    ("gradcheck max_entries zero", lambda: ae.gradcheck(AE(), X, max_entries=0), ValueError,
     "max_entries"),
    ("gradcheck tol negative", lambda: ae.gradcheck(AE(), X, tol=-1), ValueError, "tol"),
    ("gradcheck seed negative", lambda: ae.gradcheck(AE(), X, seed=-1), ValueError, "seed"),
    ("gradcheck params unknown", lambda: ae.gradcheck(AE(), X, params=["W"]), ValueError,
     "unknown parameter names"),
    ("gradcheck params str", lambda: ae.gradcheck(AE(), X, params="enc0.W"), TypeError,
     "list of parameter names"),
    ("check_layer not a layer", lambda: ae.check_layer("dense", X64), TypeError,
     "a layer needs a params dict"),
    ("check_layer X NaN", lambda: ae.check_layer(D64(), NAN), ValueError, "NaN"),
    ("check_layer X wrong width", lambda: ae.check_layer(D64(), X64[:, :4]), ValueError,
     r"shape \(batch, 6\)"),
    ("check_layer dY shape", lambda: ae.check_layer(D64(), X64, dY=np.zeros((2, 2))), ValueError,
     "dY must have shape"),
    ("check_layer h negative", lambda: ae.check_layer(D64(), X64, h=-1e-4), ValueError, "h must"),
    ("check_layer float32 layer", lambda: ae.check_layer(ae.layers.Dense(6, 3), X64), TypeError,
     "float64"),
    ("numerical_gradient f not callable", lambda: ae.numerical_gradient(3, np.zeros(3)),
     TypeError, "f must be a function"),
    ("numerical_gradient float32", lambda: ae.numerical_gradient(np.sum, np.zeros(3, np.float32)),
     TypeError, "float64"),
    ("numerical_gradient h zero", lambda: ae.numerical_gradient(np.sum, np.zeros(3), h=0),
     ValueError, "h must"),
    ("numerical_gradient order", lambda: ae.numerical_gradient(np.sum, np.zeros(3), order=6),
     ValueError, "order"),
    ("numerical_gradient indices out of range",
     lambda: ae.numerical_gradient(np.sum, np.zeros(3), indices=[3]), ValueError, "indices"),
    ("numerical_gradient indices negative",
     lambda: ae.numerical_gradient(np.sum, np.zeros(3), indices=[-1]), ValueError, "indices"),
    ("trace model str", lambda: ae.trace("model", X[:1]), TypeError, "aenumpy model"),
    ("trace X wrong width", lambda: ae.trace(AE(), X[:1, :4]), ValueError, "6 features"),
    ("trace X NaN", lambda: ae.trace(AE(), NAN), ValueError, "NaN"),
    ("trace seed negative", lambda: ae.trace(AE(), X[:1], seed=-1), ValueError, "seed"),
    # ------------------------------------------------------------ save / load
    ("save not a model", lambda: ae.save("model", "m.npz"), TypeError, "aenumpy model"),
    ("save path int", lambda: ae.save(AE(), 3), TypeError, "path must be"),
    ("save optimizer str", lambda: ae.save(AE(), "m.npz", optimizer="adam"), TypeError,
     "optimizer must be"),
    ("save extra not JSON", lambda: ae.save(AE(), "m.npz", extra={"f": object()}), TypeError,
     "JSON"),
    ("load path int", lambda: ae.load(3), TypeError, "path must be"),
    ("load_checkpoint path None", lambda: ae.io.load_checkpoint(None), TypeError, "path must be"),
    # ------------------------------------------------------------ datasets
    ("load_digits dtype", lambda: ae.datasets.load_digits("int8"), ValueError, "float32"),
    ("load_mnist name", lambda: ae.datasets.load_mnist("cifar10"), ValueError,
     "unknown dataset name"),
    ("load_mnist dtype", lambda: ae.datasets.load_mnist("mnist", dtype="uint8", download=False),
     ValueError, "float32"),
    ("load_mnist path int", lambda: ae.datasets.load_mnist("mnist", path=3, download=False),
     TypeError, "path must be a file name"),
    ("load_mnist download str", lambda: ae.datasets.load_mnist("mnist", download="no"),
     TypeError, "download must be True or False"),
    # ------------------------------------------------------------ regularizers
    ("GaussianNoise sigma negative", lambda: reg("GaussianNoise", -0.1), ValueError, "sigma"),
    ("MaskingNoise p one", lambda: reg("MaskingNoise", 1.0), ValueError, "p"),
    ("SaltAndPepper p str", lambda: reg("SaltAndPepper", "0.1"), TypeError, "p"),
    ("KLSparsity rho zero", lambda: reg("KLSparsity", rho=0.0), ValueError, "rho"),
    ("KLSparsity rho one", lambda: reg("KLSparsity", rho=1.0), ValueError, "rho"),
    ("KLSparsity beta negative", lambda: reg("KLSparsity", beta=-1.0), ValueError, "beta"),
    ("L1Activity lam nan", lambda: reg("L1Activity", float("nan")), ValueError, "lam"),
    ("TopK k zero", lambda: reg("TopK", 0), ValueError, "k"),
    ("TopK k larger than the code", lambda: AE(regularizers=[reg("TopK", 5)]), ValueError, "k"),
    ("TopK k float", lambda: reg("TopK", 2.5), TypeError, "k"),
    ("Contractive lam negative", lambda: reg("Contractive", -1.0), ValueError, "lam"),
    ("WeightDecay kind", lambda: reg("WeightDecay", 0.1, kind="l3"), ValueError, "kind"),
    ("Dropout p one", lambda: reg("Dropout", 1.0), ValueError, "p"),
    ("Dropout layer out of range", lambda: AE(regularizers=[reg("Dropout", 0.5, layer=3)]),
     ValueError, "layer"),
    ("KLSparsity layer str", lambda: reg("KLSparsity", layer="code"), ValueError, "layer"),
    # ------------------------------------------------------------ VariationalAutoencoder
    ("vae n_latent zero", lambda: vae_cls()(6, [4], 0), ValueError, "n_latent"),
    ("vae decoder unknown", lambda: VAE(decoder="poisson"), ValueError, "decoder"),
    ("vae beta negative", lambda: VAE(beta=-1.0), ValueError, "beta"),
    ("vae hidden empty", lambda: vae_cls()(6, [], 2), ValueError, "hidden"),
    ("vae bernoulli X outside [0,1]", lambda: VAE().loss(BIG), ValueError, r"\[0, 1\]"),
    ("vae X NaN", lambda: VAE().encode(NAN), ValueError, "NaN"),
    ("vae eps wrong shape", lambda: VAE().loss(X, eps=np.zeros((5, 3))), ValueError, "eps"),
    ("vae eps NaN", lambda: VAE().loss(X, eps=np.full((5, 2), np.nan)), ValueError, "eps"),
    ("vae sample n zero", lambda: VAE().sample(0), ValueError, "n"),
    ("vae decode wrong width", lambda: VAE().decode(np.zeros((2, 3))), ValueError, "Z"),
    ("vae fit uint8", lambda: ae.fit(VAE(), U8, progress=False), ValueError, "/ 255"),
    ("vae log_likelihood k zero", lambda: VAE().log_likelihood(X, k=0), ValueError, "k must be"),
    ("vae elbo NaN", lambda: VAE().elbo(NAN), ValueError, "NaN"),
    ("vae rng int", lambda: VAE().loss(X, rng=3), TypeError, "Generator"),
    ("vae kl_warmup negative", lambda: VAE(kl_warmup=-1), ValueError, "kl_warmup"),
    ("vae decode_logvar bernoulli", lambda: VAE().decode_logvar(np.zeros((2, 2))), ValueError,
     "gaussian"),
    # ------------------------------------------------------------ regularizer helpers
    ("corrupt unknown kind", lambda: reg_fn("corrupt")(X, "blur", 0.1, R), ValueError, "kind"),
    ("corrupt rng int", lambda: reg_fn("corrupt")(X, "gaussian", 0.1, 3), TypeError, "Generator"),
    ("corrupt X NaN", lambda: reg_fn("corrupt")(NAN, "gaussian", 0.1, R), ValueError, "NaN"),
    ("corrupt level", lambda: reg_fn("corrupt")(X, "masking", 2.0, R), ValueError, "p"),
    ("jacobian_norm not a model", lambda: reg_fn("jacobian_norm")("m", X), TypeError,
     "aenumpy model"),
    ("jacobian_norm X wrong width", lambda: reg_fn("jacobian_norm")(AE(), X[:, :3]), ValueError,
     "6 features"),
    ("jacobian two samples", lambda: reg_fn("jacobian")(AE(), X[:2]), ValueError, "one sample"),
    ("entropy negative", lambda: info("entropy")([-0.5, 1.5]), ValueError, "non-negative"),
    ("kl_divergence shapes", lambda: info("kl_divergence")([0.5, 0.5], [1.0]), ValueError,
     "same number"),
    ("bernoulli_kl rho 2", lambda: info("bernoulli_kl")(2.0, 0.5), ValueError, "probability"),
    # ------------------------------------------------------------ plots
    ("plot save not a figure", lambda: plot("save")(None, "f.png"), TypeError,
     "fig must be a matplotlib Figure"),
    ("plot save path int", lambda: plot("save")(_Fig(), 3), TypeError, "path must be"),
    ("plot denoising corruption str", lambda: plot("denoising")(AE(), X, "gauss"), TypeError,
     "corrupt"),
    ("plot samples of an autoencoder", lambda: plot("samples")(AE()), TypeError, "sample"),
    ("plot region_mask not square", lambda: plot("region_mask")(5), ValueError, "square"),
    ("plot latent_space y length", lambda: plot("latent_space")(AE(), X, y=np.zeros(3)),
     ValueError, "labels"),
    ("plot reconstructions X wrong width", lambda: plot("reconstructions")(AE(), X[:, :4]),
     ValueError, "6 features"),
    ("plot reconstructions not square", lambda: plot("reconstructions")(AE(), X), ValueError,
     "square image"),
    ("plot reconstructions not a model", lambda: plot("reconstructions")(3, X[:, :4]),
     TypeError, "aenumpy model"),
    ("plot reconstructions n zero", lambda: plot("reconstructions")(AE(), X, n=0), ValueError,
     "n must be >= 1"),
    ("plot latent_space not a model", lambda: plot("latent_space")(3, X), TypeError,
     "aenumpy model"),
    ("plot history not a history", lambda: plot("history")(3), ValueError, "no 'loss' values"),
    ("plot filters n float", lambda: plot("filters")(AE(), n=2.5), TypeError, "n must be"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(call, exc, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # save cases must not write into the repository
    with pytest.raises(exc, match=match):
        call()


def test_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_refused_before_any_work(tmp_path):
    """A bad argument leaves everything as it was: no training step, no file."""
    m = AE()
    before = {k: v.copy() for k, v in m.params.items()}
    opt = ae.optim.Adam()
    for bad in (dict(X_val=NAN), dict(batch_size=0), dict(callback=3),
                dict(checkpoint=tmp_path / "c.npz", checkpoint_every=0)):
        with pytest.raises((ValueError, TypeError)):
            ae.fit(m, X, epochs=2, optimizer=opt, progress=False, **bad)
    for k in before:
        np.testing.assert_array_equal(m.params[k], before[k])
    assert opt.t == 0 and not opt.state
    assert not (tmp_path / "c.npz").exists()
    with pytest.raises(TypeError):
        ae.save(m, tmp_path / "m.npz", extra={"f": object()})
    assert list(tmp_path.iterdir()) == []  # not even a temporary file


def test_errors_are_value_or_type_errors_from_aenumpy():
    """The model-file error is a ValueError too, so `except ValueError` catches all of them."""
    assert issubclass(ae.io.ModelFileError, ValueError)


def test_good_inputs_still_work():
    """The checks refuse what is wrong, not what is unusual: bool and float64 data, a
    single row as (1, d), uint8 that is already 0/1, Path objects."""
    m = AE()
    m.loss(X.astype(bool))
    m.loss(X64)
    m.encode(X[:1])
    m.loss((X > 0.5).astype(np.uint8))
    ae.gradcheck(m, X64, max_entries=2)
    ae.fit(m, X, epochs=1, progress=False, shuffle=False)
