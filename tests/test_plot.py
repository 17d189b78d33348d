"""Every figure of aenumpy.plot renders to a non-trivial PNG, headless."""
import subprocess
import sys

import numpy as np
import pytest

import aenumpy as ae
from aenumpy import plot

HAS_VAE = hasattr(ae, "VariationalAutoencoder")
HAS_CORRUPTION = all(hasattr(ae.regularizers, n) for n in ("GaussianNoise", "MaskingNoise",
                                                           "SaltAndPepper"))


@pytest.fixture(scope="module")
def digits():
    return ae.datasets.load_digits()


@pytest.fixture(scope="module")
def model(digits):
    Xtr = digits[0]
    m = ae.Autoencoder(64, [16], seed=0)
    hist = ae.fit(m, Xtr[:400], epochs=3, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3),
                  X_val=digits[2][:100], seed=0, progress=False)
    return m, hist


class StandInVAE:
    """The VAE interface aenumpy.plot relies on (encode -> (mu, logvar), decode, sample)."""

    family = "vae"
    dtype = np.dtype("float64")

    def __init__(self, n_in=64, n_latent=2, seed=0):
        r = np.random.default_rng(seed)
        self.n_in, self.n_latent = n_in, n_latent
        self.E = r.standard_normal((n_in, 2 * n_latent)) * 0.1
        self.D = r.standard_normal((n_latent, n_in))
        self.params = {"enc0.W": self.E.T.copy()}

    def encode(self, X):
        H = np.asarray(X, np.float64) @ self.E
        return H[:, :self.n_latent], H[:, self.n_latent:]

    def decode(self, Z):
        return 1.0 / (1.0 + np.exp(-np.asarray(Z, np.float64) @ self.D))

    def sample(self, n, rng=None):
        rng = np.random.default_rng(0) if rng is None else rng
        return self.decode(rng.standard_normal((n, self.n_latent)))


def render(fig, path):
    """Save to PNG and check the file is a real picture (not blank, not tiny)."""
    import matplotlib.image as mpimg

    plot.save(fig, path)
    assert path.exists() and path.stat().st_size > 5000, path
    img = mpimg.imread(str(path))
    assert img.shape[0] >= 100 and img.shape[1] >= 250, img.shape
    assert img[..., :3].std() > 0.05      # something is drawn
    return img


def test_autoencoder_figures(model, digits, tmp_path):
    m, hist = model
    _, _, Xte, yte = digits
    render(plot.reconstructions(m, Xte, n=10), tmp_path / "rec.png")
    render(plot.filters(m, "enc0", n=16), tmp_path / "filters.png")
    render(plot.filters(m, "dec0", n=16, per_unit=True), tmp_path / "dec_filters.png")
    render(plot.latent_space(m, Xte, yte), tmp_path / "latent.png")
    render(plot.latent_space(m, Xte), tmp_path / "latent_nolabel.png")
    render(plot.history(hist), tmp_path / "history.png")
    render(plot.interpolation(m, Xte[0], Xte[1], steps=6), tmp_path / "interp.png")
    render(plot.completion(m, Xte, "bottom", n=6), tmp_path / "completion.png")
    render(plot.completion(m, Xte, plot.region_mask(64, "center"), iterations=3),
           tmp_path / "completion3.png")


def test_every_figure_has_a_title_and_a_sensible_size(model, digits):
    m, hist = model
    _, _, Xte, yte = digits
    figs = [plot.reconstructions(m, Xte), plot.filters(m), plot.latent_space(m, Xte, yte),
            plot.history(hist), plot.interpolation(m, Xte[0], Xte[1]),
            plot.completion(m, Xte)]
    for fig in figs:
        titles = [fig._suptitle.get_text()] if fig._suptitle is not None else []
        titles += [ax.get_title() for ax in fig.axes]
        assert any(t.strip() for t in titles)
        w, h = fig.get_size_inches()
        assert 2 <= w <= 16 and 1.5 <= h <= 16, (w, h)


def test_filters_use_a_symmetric_shared_colour_scale(model):
    m, _ = model
    fig = plot.filters(m, "enc0", n=64)
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi
    assert hi == pytest.approx(np.abs(m.params["enc0.W"]).max())


def test_latent_space_projects_wide_codes_on_principal_components(model, digits):
    m, _ = model
    fig = plot.latent_space(m, digits[2], digits[3])
    assert "principal component 1" in fig.axes[0].get_xlabel()
    fig2 = plot.latent_space(ae.Autoencoder(64, [8, 2], seed=0), digits[2], digits[3])
    assert fig2.axes[0].get_xlabel() == "z₁"


def test_history_plots_both_curves(model):
    _, hist = model
    fig = plot.history(hist)
    assert len(fig.axes[0].lines) == 2
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), hist["loss"])


def test_stand_in_vae_figures(digits, tmp_path):
    _, _, Xte, yte = digits
    v = StandInVAE()
    render(plot.samples(v, n=16, rng=np.random.default_rng(1)), tmp_path / "samples.png")
    render(plot.manifold(v, n=7), tmp_path / "manifold.png")
    render(plot.interpolation(v, Xte[0], Xte[5], steps=5), tmp_path / "interp.png")
    render(plot.latent_space(v, Xte, yte), tmp_path / "latent.png")
    render(plot.reconstructions(v, Xte, n=5), tmp_path / "rec.png")


def test_manifold_decodes_a_grid_at_normal_quantiles():
    seen = []

    class Recorder(StandInVAE):
        def decode(self, Z):
            seen.append(np.array(Z))
            return super().decode(Z)

    plot.manifold(Recorder(), n=5, lim=0.05)
    Z = seen[0]
    assert Z.shape == (25, 2)
    q = np.unique(Z[:, 0])
    np.testing.assert_allclose(q[[0, -1]], [-1.6448536, 1.6448536], atol=1e-6)
    np.testing.assert_allclose(q[2], 0.0, atol=1e-12)
    assert Z[0, 1] > Z[-1, 1]          # z₂ grows upwards: the first row is the top


def test_samples_checks_rng_before_sampling():
    """A bad rng is refused by samples() itself, before the model draws anything."""
    calls = []

    class Recorder(StandInVAE):
        def sample(self, n, rng=None):
            calls.append(rng)
            return super().sample(n, rng)

    with pytest.raises(TypeError, match="numpy.random.Generator"):
        plot.samples(Recorder(), n=4, rng=3)
    assert calls == []
    plot.samples(Recorder(), n=4)  # default: a seeded generator
    assert isinstance(calls[0], np.random.Generator)


@pytest.mark.skipif(not HAS_VAE, reason="ae.VariationalAutoencoder not in this tree yet")
def test_real_vae_figures(digits, tmp_path):
    Xtr, _, Xte, yte = digits
    v = ae.VariationalAutoencoder(64, [16], n_latent=2, seed=0)
    ae.fit(v, Xtr[:300], epochs=2, batch_size=32, optimizer=ae.optim.Adam(lr=3e-3),
           progress=False)
    render(plot.samples(v, n=25, rng=np.random.default_rng(0)), tmp_path / "samples.png")
    render(plot.manifold(v, n=9), tmp_path / "manifold.png")
    render(plot.interpolation(v, Xte[0], Xte[1], steps=8), tmp_path / "interp.png")
    render(plot.latent_space(v, Xte, yte), tmp_path / "latent.png")
    render(plot.reconstructions(v, Xte), tmp_path / "rec.png")
    render(plot.filters(v, "enc0"), tmp_path / "filters.png")
    render(plot.filters(v, "out"), tmp_path / "out_filters.png")
    v3 = ae.VariationalAutoencoder(64, [16], n_latent=3, seed=0)
    with pytest.raises(ValueError, match="n_latent=2"):
        plot.manifold(v3)


@pytest.mark.skipif(not HAS_CORRUPTION, reason="corruption regularizers not in this tree yet")
@pytest.mark.parametrize("name,arg", [("GaussianNoise", 0.3), ("MaskingNoise", 0.4),
                                      ("SaltAndPepper", 0.2)])
def test_denoising_triplets_with_each_corruption(model, digits, tmp_path, name, arg):
    m, _ = model
    corruption = getattr(ae.regularizers, name)(arg)
    fig = plot.denoising(m, digits[2], corruption, n=8, rng=np.random.default_rng(0))
    render(fig, tmp_path / "den.png")
    assert name in fig._suptitle.get_text()


def test_denoising_with_a_stand_in_corruption_is_reproducible(model, digits):
    class Noise:
        def corrupt(self, X, rng):
            return X + 0.3 * rng.standard_normal(X.shape).astype(X.dtype)

    m, _ = model
    a = plot.denoising(m, digits[2], Noise(), rng=np.random.default_rng(3))
    b = plot.denoising(m, digits[2], Noise(), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.axes[1].images[0].get_array(), b.axes[1].images[0].get_array())


def test_bad_arguments_are_clear_errors(model, digits):
    m, hist = model
    Xte = digits[2]
    with pytest.raises(ValueError, match="n_latent=2"):
        plot.manifold(StandInVAE(n_latent=3))
    with pytest.raises(ValueError, match="no weight 'enc5.W'"):
        plot.filters(m, "enc5")
    with pytest.raises(ValueError, match="square image"):
        plot.reconstructions(ae.Autoencoder(10, [3]), np.full((2, 10), 0.5, np.float32))
    with pytest.raises(ValueError, match="steps"):
        plot.interpolation(m, Xte[0], Xte[1], steps=1)
    with pytest.raises(ValueError, match="mask must have shape"):
        plot.completion(m, Xte, np.zeros(10, bool))
    with pytest.raises(TypeError, match="boolean"):
        plot.completion(m, Xte, np.zeros(64))
    with pytest.raises(ValueError, match="region"):
        plot.completion(m, Xte, "middle")
    with pytest.raises(ValueError, match="loss"):
        plot.history({"loss": []})
    with pytest.raises(TypeError, match="corrupt"):
        plot.denoising(m, Xte, corruption=0.3)
    with pytest.raises(TypeError, match="sample"):
        plot.samples(m)
    with pytest.raises(ValueError, match="labels"):
        plot.latent_space(m, Xte, digits[3][:5])


def test_plot_works_headless_without_pyplot_or_global_changes():
    import os

    code = ("import sys, matplotlib; raw = lambda: dict.__getitem__(matplotlib.rcParams, 'backend');"
            "before = raw(); import numpy as np, aenumpy as ae; from aenumpy import plot;"
            "fig = plot.history({'loss': [3, 2, 1], 'val_loss': [3.5, 2.5, 1.5]});"
            "import io; buf = io.BytesIO(); fig.savefig(buf, format='png');"
            "print('matplotlib.pyplot' in sys.modules, buf.tell() > 1000, raw() == before)")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.split() == ["False", "True", "True"]


# ------------------------------------------------------------ convolutional models
L = ae.layers


def conv_net(down="pool"):
    """A tiny conv autoencoder on the 8×8 digits: 1 → 4 → 2 channels, code 2×2×2."""
    if down == "pool":
        return ([L.Conv2D(1, 4, 3, padding=1), L.MaxPool2D(2), L.Conv2D(4, 2, 3, padding=1),
                 L.MaxPool2D(2)],
                [L.Upsample2D(2), L.Conv2D(2, 4, 3, padding=1), L.Upsample2D(2),
                 L.Conv2D(4, 1, 3, padding=1, activation="sigmoid")])
    return ([L.Conv2D(1, 4, 3, stride=2, padding=1), L.Conv2D(4, 2, 3, stride=2, padding=1)],
            [L.ConvTranspose2D(2, 4, 3, stride=2, padding=1, output_padding=1),
             L.ConvTranspose2D(4, 1, 3, stride=2, padding=1, output_padding=1,
                               activation="sigmoid")])


@pytest.fixture(scope="module")
def conv(digits):
    m = ae.ConvAutoencoder(*conv_net(), input_shape=(1, 8, 8), loss="bce", seed=0)
    ae.fit(m, digits[0][:200], epochs=2, batch_size=32, optimizer=ae.optim.Adam(lr=1e-2),
           seed=0, progress=False)
    return m


def _shown(fig, row=0):
    """The array drawn in the figure's axes number ``row`` (NaN in the gaps)."""
    return np.ma.filled(fig.axes[row].images[0].get_array().astype(float), np.nan)


def test_conv_model_figures_take_rows_or_images(conv, digits, tmp_path):
    _, _, Xte, yte = digits
    images = Xte[:6].reshape(6, 1, 8, 8)
    a, b = plot.reconstructions(conv, Xte[:6]), plot.reconstructions(conv, images)
    np.testing.assert_array_equal(_shown(a, 1), _shown(b, 1))   # the same x̂ row either way
    xh = conv.reconstruct(images)[0, 0]
    np.testing.assert_allclose(_shown(a, 1)[:8, :8], xh, rtol=1e-6)
    render(a, tmp_path / "rec.png")
    plot.save(b, tmp_path / "rec_images.png")
    render(plot.denoising(conv, images, ae.regularizers.GaussianNoise(0.3), n=6),
           tmp_path / "den.png")
    render(plot.completion(conv, images, "bottom", n=6, iterations=2), tmp_path / "comp.png")
    render(plot.interpolation(conv, images[0], images[1], steps=5), tmp_path / "interp.png")
    fig = plot.latent_space(conv, Xte, yte)          # the 2×2×2 code read as 8 numbers
    assert "8-D code" in fig.axes[0].get_title()
    plot.save(fig, tmp_path / "latent.png")


def test_feature_maps_draw_each_layer_of_one_image(conv, digits, tmp_path):
    x = digits[2][3]
    fig = plot.feature_maps(conv, x)
    drawn = [ax for ax in fig.axes if ax.images]
    # the input, every encoder layer's channels, and x̂: 1 + 4 + 4 + 2 + 2 + 1 tiles
    assert len(drawn) == 14
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert len(titles) == 6 and titles[0].startswith("input x → 1×8×8")
    assert "enc0" in titles[1] and "4×8×8" in titles[1] and "enc3" in titles[4]
    assert "dec3" in titles[5] and "1×8×8" in titles[5]
    np.testing.assert_allclose(drawn[-1].images[0].get_array(),   # the last row is x̂
                               conv.reconstruct(x[None])[0].reshape(8, 8), rtol=1e-6)
    np.testing.assert_array_equal(drawn[0].images[0].get_array(), x.reshape(8, 8))
    lo, hi = drawn[1].images[0].get_clim()          # a ReLU row: grey from 0 to its maximum
    assert lo == 0 and hi == pytest.approx(float(conv.encoder[0].cache["Z"].max()))
    assert drawn[-1].images[0].get_clim() == (0, 1)  # a sigmoid row: on [0, 1]
    render(fig, tmp_path / "maps.png")
    # one image in any of its forms; chosen layers; at most max_channels tiles a row
    for form in (x.reshape(1, 8, 8), x.reshape(1, 1, 8, 8), x[None]):
        plot.feature_maps(conv, form, layers=["dec1"])
    fig = plot.feature_maps(conv, x, layers=["enc0", "dec1"], max_channels=3)
    assert len([ax for ax in fig.axes if ax.images]) == 1 + 3 + 3
    assert "the first 3 of 4 channels" in fig.axes[3].get_title(loc="left")


def test_feature_maps_refuse_what_is_not_one_image_of_a_conv_model(conv, model, digits):
    x = digits[2][0]
    with pytest.raises(TypeError, match="ConvAutoencoder"):
        plot.feature_maps(model[0], x)
    for bad in (digits[2][:2], x[:10], np.zeros((2, 1, 8, 8)), np.zeros((8, 8))):
        with pytest.raises(ValueError, match=r"one image of shape \(1, 8, 8\)"):
            plot.feature_maps(conv, bad)
    with pytest.raises(ValueError, match="layer names among enc0"):
        plot.feature_maps(conv, x, layers=["enc9"])
    with pytest.raises(ValueError, match="layer names"):
        plot.feature_maps(conv, x, layers="enc0")
    with pytest.raises(ValueError, match="max_channels"):
        plot.feature_maps(conv, x, max_channels=0)


def _tiles(fig, k=3):
    """The k×k tiles of a kernel figure, row by row: ``(rows, cols, k, k)``."""
    a = _shown(fig)
    rows, cols = (a.shape[0] + 1) // (k + 1), (a.shape[1] + 1) // (k + 1)
    return np.array([[a[r * (k + 1):r * (k + 1) + k, c * (k + 1):c * (k + 1) + k]
                      for c in range(cols)] for r in range(rows)])


def test_conv_filters_draw_the_kernels_as_w_is_stored(conv, tmp_path):
    W = conv.params["enc2.W"]                        # (2 output, 4 input channels, 3, 3)
    fig = plot.filters(conv, "enc2")
    np.testing.assert_allclose(_tiles(fig), W, rtol=1e-6)    # tile (o, c) is W[o, c]
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi and hi == pytest.approx(np.abs(W).max())
    assert "row o = output channel" in fig.axes[0].get_title()
    assert fig.axes[0].get_ylabel() == "output channel o"
    render(fig, tmp_path / "enc2.png")
    # one input channel: the 4 kernels W[o, 0] fill a 2×2 grid, read row by row
    fig = plot.filters(conv, "enc0")
    np.testing.assert_allclose(_tiles(fig).reshape(4, 3, 3), conv.params["enc0.W"][:, 0],
                               rtol=1e-6)
    render(fig, tmp_path / "enc0.png")
    # per_unit: each row (output channel) scaled by its own largest |w|
    t = _tiles(plot.filters(conv, "enc2", per_unit=True))
    np.testing.assert_allclose(np.abs(t).reshape(2, -1).max(axis=1), 1.0)
    assert len(_tiles(plot.filters(conv, "enc2", n=1))) == 1


def test_transposed_conv_filters_have_a_row_per_input_channel(digits, tmp_path):
    m = ae.ConvAutoencoder(*conv_net("stride"), input_shape=(1, 8, 8), loss="bce", seed=0)
    fig = plot.filters(m, "dec0")                    # W (2 input, 4 output channels, 3, 3)
    np.testing.assert_allclose(_tiles(fig), m.params["dec0.W"], rtol=1e-6)
    assert "ConvTranspose2D" in fig.axes[0].get_title()
    assert fig.axes[0].get_ylabel() == "input channel c"
    render(fig, tmp_path / "dec0.png")


def test_figures_refuse_images_of_several_channels():
    m = ae.ConvAutoencoder([L.Conv2D(3, 2, 3, padding=1)],
                           [L.Conv2D(2, 3, 3, padding=1, activation="sigmoid")],
                           input_shape=(3, 4, 4), seed=0)
    with pytest.raises(ValueError, match="one-channel"):
        plot.reconstructions(m, np.full((2, 48), 0.5, np.float32))
    with pytest.raises(ValueError, match=r"\(B, n_features\) or \(B, 1, H, W\)"):
        plot.reconstructions(m, np.full((2, 3, 4, 4), 0.5, np.float32))
    with pytest.raises(ValueError, match=r"got shape \(5, 8, 8\)"):
        plot.reconstructions(m, np.full((5, 8, 8), 0.5, np.float32))
