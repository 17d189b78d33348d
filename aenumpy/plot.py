"""Pictures of what an autoencoder learned (matplotlib; works headless).

Every function returns a :class:`matplotlib.figure.Figure`; save it with
``fig.savefig(path)`` (or :func:`save`, which also closes it).

Nothing is forced on matplotlib: importing this module changes no global
setting and does not import pyplot. A figure is made with pyplot when the
caller already uses pyplot (a notebook, a script with ``import
matplotlib.pyplot``), so it shows the usual way; otherwise it is a bare
``Figure`` on the Agg canvas, which needs no display at all (the command line,
CI, a server).

Images are square with side ``√n_features`` (8 for the embedded digits, 28
for MNIST), or a convolutional model's one-channel ``input_shape`` ``(1, H, W)``;
a batch is given as rows ``(B, n_features)`` or as images ``(B, 1, H, W)``.
Pixel images are drawn in grey on [0, 1]; weights in red/blue on a scale
symmetric about 0, so that white means 0.
"""
from __future__ import annotations

import math
import re
import sys
import textwrap
from statistics import NormalDist

import numpy as np

from ._validate import check_has, check_path, check_rng
from .models.base import is_vae

__all__ = ["reconstructions", "filters", "feature_maps", "latent_space", "history", "denoising",
           "samples", "manifold", "interpolation", "completion", "region_mask", "save", "trace",
           "dynamics"]


# ------------------------------------------------------------------ helpers
def _figure(figsize):
    """A new Figure: pyplot's when pyplot is in use (so it shows in notebooks),
    else a bare Figure with an Agg canvas (headless, no global state)."""
    if "matplotlib.pyplot" in sys.modules or "ipykernel" in sys.modules:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path, dpi=100):
    """Write ``fig`` to ``path`` (format from the extension) and release it."""
    check_has(fig, "savefig", name="fig", what="a matplotlib Figure")
    check_path("path", path)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    _close(fig)
    return path


def _close(fig):
    """Release ``fig`` from pyplot (if pyplot made it), so it is not shown again."""
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close(fig)


def _side(n_features):
    s = int(round(math.sqrt(n_features)))
    if s * s != n_features:
        raise ValueError(f"cannot show {n_features} features as a square image "
                         f"(images must have side √n_features: 64 → 8×8, 784 → 28×28)")
    return s


def _image_hw(model, n_features):
    """``(H, W)`` of one image of ``n_features`` pixels: a convolutional model's
    ``input_shape`` ``(1, H, W)``, else a square of side ``√n_features``."""
    shape = getattr(model, "input_shape", None)
    if shape is not None and len(shape) == 3:
        if shape[0] != 1:
            raise ValueError(f"the figures draw one-channel images; this model's images are "
                             f"{'×'.join(map(str, shape))} (C×H×W)")
        if shape[1] * shape[2] == n_features:
            return shape[1], shape[2]
    s = _side(n_features)
    return s, s


def _code(model, X):
    """The code of each row: ``z = encode(x)``, or ``μ`` for a VAE."""
    check_has(model, "encode")
    if is_vae(model):
        return np.asarray(model.encode(X)[0])
    return np.asarray(model.encode(X))


def _reconstruct(model, X):
    """``x̂``: ``model.reconstruct(X)``; for a VAE ``decode(μ(x))`` (the mean code)."""
    check_has(model, *(("encode", "decode") if is_vae(model) else ("reconstruct",)))
    if is_vae(model):
        return np.asarray(model.decode(model.encode(X)[0]))
    return np.asarray(model.reconstruct(X))


def _as_batch(X, name="X"):
    """X as one row per image: a row ``(n_features,)``, rows ``(B, n_features)``, or
    one-channel images ``(B, 1, H, W)`` (or one, ``(1, H, W)``) read row by row."""
    X = np.asarray(X)
    shape = X.shape
    if X.ndim == 1 or (X.ndim == 3 and shape[0] == 1):
        X = X[None]
    if X.ndim == 4 and X.shape[1] == 1:
        X = X.reshape(len(X), -1)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a batch of images of shape (B, n_features) or "
                         f"(B, 1, H, W), got shape {shape}")
    return X


def _rng(rng):
    """The Generator given (checked), else a fresh ``default_rng(0)``: figures are
    reproducible unless you pass your own (principle 4)."""
    return np.random.default_rng(0) if check_rng(rng) is None else rng


def _check_n(name, n, low=1):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {n!r}")
    if n < low:
        raise ValueError(f"{name} must be >= {low}, got {n}")
    return int(n)


def _mosaic(images, side, ncols, gap=1):
    """Tile ``images`` (k, side²) into one array, ``ncols`` per row, NaN between tiles
    (``side`` may also be a pair ``(h, w)`` for images of h rows and w columns)."""
    h, w = (side, side) if np.ndim(side) == 0 else side
    k = len(images)
    nrows = max(1, math.ceil(k / ncols))
    H = nrows * h + (nrows - 1) * gap
    W = ncols * w + (ncols - 1) * gap
    out = np.full((H, W), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        y, x = r * (h + gap), c * (w + gap)
        out[y:y + h, x:x + w] = np.asarray(img, dtype=np.float64).reshape(h, w)
    return out


def _cmap(name, bad="white"):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=bad)


def _image_row(ax, images, side, label, vmin=0.0, vmax=1.0):
    """One row of grey images in one axes, labelled on the left."""
    ax.imshow(_mosaic(images, side, len(images)), cmap=_cmap("gray"), vmin=vmin, vmax=vmax,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)


def _rows_figure(rows, side, title, width_per_image=0.9):
    """A figure of labelled rows of images: ``rows`` is a list of (label, images)."""
    n = max(len(imgs) for _, imgs in rows)
    fig = _figure((max(4.0, 1.6 + width_per_image * n), 0.45 + width_per_image * len(rows) * 1.05))
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (label, imgs) in zip(axes, rows):
        _image_row(ax, imgs, side, label)
    fig.suptitle(title, fontsize=11)
    return fig


def _grid_figure(images, side, title, ncols=None, cmap="gray", vmin=0.0, vmax=1.0,
                 colorbar=None, inches=None):
    """One tiled grid of images in a single axes (about ``inches`` per tile)."""
    k = len(images)
    ncols = ncols or math.ceil(math.sqrt(k))
    nrows = math.ceil(k / ncols)
    scale = inches or (0.75 if np.max(side) <= 10 else 0.8)   # inches per tile
    w, h = scale * ncols, scale * nrows
    shrink = min(1.0, 9.0 / max(w, h))              # at most about 9 inches of tiles
    w, h = max(3.0, w * shrink) + (1.3 if colorbar else 0.3), max(2.0, h * shrink) + 0.6
    fig = _figure((w, h))
    ax = fig.subplots()
    im = ax.imshow(_mosaic(images, side, ncols), cmap=_cmap(cmap), vmin=vmin, vmax=vmax,
                   interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=11)
    if colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=colorbar)
    return fig


# ------------------------------------------------------------------ figures
def reconstructions(model, X, n=10, title=None):
    """Originals ``x`` (top row) over their reconstructions ``x̂ = decode(encode(x))``.

    The lecture's autoencoder ``x̂ = σ'(W'σ(Wx + b) + b')`` in evaluation mode
    (for a VAE, ``x̂`` is the decoder's mean at ``z = μ(x)``). The title gives
    the mean squared error ``½ Σ (x − x̂)²`` of the images shown.
    """
    n = _check_n("n", n)
    X = _as_batch(X)[:n]
    side = _image_hw(model, X.shape[1])
    Xh = _reconstruct(model, X)
    err = 0.5 * float(np.mean(np.sum((np.asarray(X, np.float64) - Xh) ** 2, axis=1)))
    if title is None:
        title = f"originals x (top) and reconstructions x̂ (bottom); ½Σ(x − x̂)² = {err:.3f}"
    return _rows_figure([("x", X), ("x̂", Xh)], side, title)


def filters(model, layer="enc0", n=64, per_unit=False, title=None):
    """Each hidden unit's incoming weights ``W_j·`` (a row of ``W``) drawn as an image.

    Lecture: unit j computes ``z_j = σ(W_j·x + b_j)``, so row ``W_j·`` is the
    pattern it responds to most (the input of unit norm that maximises the
    pre-activation is ``W_j·/‖W_j·‖``). For a decoder output layer (``dec{L-1}``
    or a VAE's ``out``) the columns ``W'_·j`` are shown instead: the image unit
    j of the code adds to ``x̂``.

    A convolution's weights are its kernels, each a k × k tile, laid out as ``W`` is
    stored: one row per entry of W's first axis, one column per entry of its second.
    For a :class:`~aenumpy.layers.Conv2D` (``W`` ``(c_out, c_in, k, k)``) row o is output
    channel o and tile ``W[o, c]`` the pattern it looks for in input channel c,
    ``A[o] = b[o] + Σ_c W[o, c] ⋆ X[c]``; for a :class:`~aenumpy.layers.ConvTranspose2D`
    (``W`` ``(c_in, c_out, k, k)``) row c is input channel c and tile ``W[c, o]`` the stamp
    each of its pixels adds onto output channel o. When one of the two axes has a single
    channel (a first layer on grey images, a last layer back to them) the kernels fill a
    near-square grid instead, read row by row. ``n`` is the most rows (dense: units) drawn.

    The colour scale is symmetric about 0 (white = 0, red > 0, blue < 0) and
    shared by every tile, unless ``per_unit`` scales each unit (a convolution's row)
    by its own largest ``|w|``.
    """
    n = _check_n("n", n)
    params = getattr(model, "params", {})
    key = f"{layer}.W"
    if key not in params:
        names = sorted(k[:-2] for k in params if k.endswith(".W"))
        raise ValueError(f"the model has no weight {key!r} (a tied decoder layer has none); "
                         f"layers with weights: {', '.join(names)}")
    W = np.asarray(params[key], dtype=np.float64)
    if W.ndim == 4:
        return _kernels(model, layer, W[:n], len(W), per_unit, title)
    n_in = getattr(model, "n_in", None)
    if W.shape[1] == n_in or (W.shape[0] != n_in and not layer.startswith(("dec", "out"))):
        tiles, what = W, "incoming weights W_j· of unit j"
    else:
        tiles, what = W.T, "outgoing weights W'_·j of hidden unit j"
    side = _side(tiles.shape[1])
    tiles, vmax, label = _unit_scale(tiles[:n], per_unit)
    if title is None:
        title = f"{layer}: {what} ({len(tiles)} of {W.shape[0] if what[0] == 'i' else W.shape[1]})"
    return _grid_figure(tiles, side, title, cmap="RdBu_r", vmin=-vmax, vmax=vmax, colorbar=label)


def _unit_scale(T, per_unit):
    """Weights ``T`` (one unit per entry of the first axis) for a red/blue picture:
    ``(T, vmax, colour-bar label)``; with ``per_unit`` each unit divided by its own
    largest ``|w|``, else one scale ``max |w|`` for all."""
    if per_unit:
        m = np.abs(T).reshape(len(T), -1).max(axis=1).reshape((-1,) + (1,) * (T.ndim - 1))
        return T / np.where(m > 0, m, 1.0), 1.0, "w / max|w| of the unit"
    return T, float(np.abs(T).max()) or 1.0, "weight w"


def _kernels(model, name, W, total, per_unit, title):
    """:func:`filters` of a convolution: the k × k kernels of ``W`` (its first ``len(W)``
    of ``total`` rows), one row per entry of W's first axis."""
    from .layers import ConvTranspose2D

    layer = next((lay for lay in getattr(model, "layers", []) if lay.name == name), None)
    transposed = isinstance(layer, ConvTranspose2D)
    kind, r, c = ("ConvTranspose2D", "c", "o") if transposed else ("Conv2D", "o", "c")
    what = {"c": "input channel", "o": "output channel"}
    T, vmax, label = _unit_scale(W, per_unit)
    rows, cols, kh, kw = T.shape
    shown = "" if rows == total else f", the first {rows} of {total} rows"
    if total == 1 or cols == 1:               # one channel on one side: a grid of the other's
        many = c if total == 1 else r
        head = (f"{name}: {kind} kernels W[{'0, ' + many if total == 1 else many + ', 0'}], "
                f"{kh}×{kw},\none per {what[many]} {many} (read row by row{shown})")
        return _grid_figure(T.reshape(-1, kh * kw), (kh, kw), title or head, cmap="RdBu_r",
                            vmin=-vmax, vmax=vmax, colorbar=label, inches=1.0)
    head = (f"{name}: {kind} kernels W[{r}, {c}], {kh}×{kw}: row {r} = {what[r]}, "
            f"column {c} = {what[c]}{shown}")
    fig = _grid_figure(T.reshape(-1, kh * kw), (kh, kw), title or head, ncols=cols,
                       cmap="RdBu_r", vmin=-vmax, vmax=vmax, colorbar=label)
    ax = fig.axes[0]
    ax.set_xticks(np.arange(cols) * (kw + 1) + (kw - 1) / 2, range(cols), fontsize=10)
    ax.set_yticks(np.arange(rows) * (kh + 1) + (kh - 1) / 2, range(rows), fontsize=10)
    ax.tick_params(length=0)
    ax.set_xlabel(f"{what[c]} {c}")
    ax.set_ylabel(f"{what[r]} {r}")
    return fig


def feature_maps(model, x, layers=None, max_channels=16, title=None):
    """What each layer of a convolutional autoencoder makes of one image: its feature maps.

    A layer's output for one image is ``C`` maps of ``H × W`` values (for a convolution
    ``h[o] = f(b[o] + Σ_c W[o, c] ⋆ x[c])``, one map per kernel row of :func:`filters`).
    Each chosen layer is one row of tiles, its first ``max_channels`` channels, under the
    input x at the top; the row is titled with the layer (its name, as printed) and its
    output shape ``C×H×W``. ``layers`` names the layers (``'enc0'``, ``'dec3'``, ...);
    by default every encoder layer and the decoder's output ``x̂``.

    The pass is the model's own in evaluation mode (``model.reconstruct``: no noise, no
    dropout), each output read from its layer's cache, after the layer's mask if it has
    one. Every tile of a row shares the row's colour scale: grey on [0, 1] for the input
    and a sigmoid's output, grey from 0 to the row's largest value when none is negative
    (ReLU, pooling), else red/blue symmetric about 0; the scale is written after the title.
    """
    from .models.conv import ConvAutoencoder

    if not isinstance(model, ConvAutoencoder):
        raise TypeError(f"feature_maps needs an ae.ConvAutoencoder (its layers output images); "
                        f"got {type(model).__name__}")
    max_channels = _check_n("max_channels", max_channels)
    shape, d = model.input_shape, int(np.prod(model.input_shape))
    xs = np.shape(x)
    if xs not in (shape, (1, *shape), (d,), (1, d)):
        raise ValueError(f"x must be one image of shape {shape} (or (1, {', '.join(map(str, shape))})"
                         f", or a row of {d} pixels); got shape {xs}")
    names = [lay.name for lay in model.layers]
    if layers is None:
        layers = [lay.name for lay in model.encoder] + [model.decoder[-1].name]
    if isinstance(layers, str) or not all(n in names for n in layers) or not layers:
        raise ValueError(f"layers must be a non-empty list of layer names among "
                         f"{', '.join(names)}; got {layers!r}")
    model.reconstruct(np.asarray(x, dtype=model.dtype).reshape((1, *shape)))
    by_name = {lay.name: lay for lay in model.layers}
    rows = [("input x", np.asarray(x, np.float64).reshape(shape), True)]
    for n in layers:
        lay = by_name[n]
        unit = getattr(getattr(lay, "activation", None), "name", None) == "sigmoid"
        rows.append((repr(lay), np.asarray(lay.cache.get("H", lay.cache["Z"])[0], np.float64), unit))
    ncols = min(max_channels, max(len(v) if v.ndim == 3 else 1 for _, v, _ in rows))
    tile, gap, head, top = 0.6, 0.08, 0.34, 0.55          # inches
    W = max(6.5, 0.3 + ncols * (tile + gap))
    H = top + len(rows) * (tile + head) + 0.1
    fig = _figure((W, H))
    axes = fig.subplots(len(rows), ncols, squeeze=False, gridspec_kw=dict(
        left=0.15 / W, right=(0.15 + ncols * (tile + gap)) / W, top=1 - (top + head) / H,
        bottom=0.1 / H, wspace=gap / tile, hspace=head / tile))
    for ax, (label, v, unit) in zip(axes, rows):
        maps = v if v.ndim == 3 else _vector_layout(v.reshape(-1))[None]
        shown = maps[:max_channels]
        lo, hi = float(shown.min()), float(shown.max())
        grey = lo >= 0
        m = 1.0 if unit else (hi if grey else max(-lo, hi)) or 1.0
        for j, a in enumerate(ax):
            a.set_axis_off()
            if j < len(shown):
                a.imshow(shown[j], cmap=_cmap("gray" if grey else "RdBu_r"),
                         vmin=0 if grey else -m, vmax=m, interpolation="nearest")
        more = f", the first {len(shown)} of {len(maps)} channels" if len(maps) > len(shown) else ""
        scale = f"grey 0 … {m:.3g}" if grey else f"red/blue ±{m:.3g}"
        ax[0].set_title(f"{label} → {'×'.join(map(str, v.shape))}   ({scale}{more})", loc="left",
                        fontsize=10)
    fig.suptitle(title or "feature maps of one image, layer by layer", fontsize=13,
                 x=0.15 / W, ha="left", y=1 - 0.12 / H, va="top")
    return fig


def latent_space(model, X, y=None, title=None, max_points=5000):
    """The code ``z`` of each image as a point, coloured by its label.

    A 2-D code is drawn as it is; a wider one is projected on its first two
    principal components (the top right-singular vectors of the centred codes,
    the axis labels give the share of variance each explains); a 1-D code is
    drawn against the label. For a VAE the code is the mean ``μ(x)``.
    """
    X = _as_batch(X)
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(X):
            raise ValueError(f"y has {len(y)} labels but X has {len(X)} rows")
    X, y = X[:max_points], (None if y is None else y[:max_points])
    Z = _code(model, X).astype(np.float64)
    d = Z.shape[1]
    what = "μ(x)" if is_vae(model) else "z"
    if d == 1:
        P = np.column_stack([Z[:, 0], np.zeros(len(Z)) if y is None else y])
        xl, yl, how = f"{what}₁", "label", "1-D code"
    elif d == 2:
        P, xl, yl, how = Z, f"{what}₁", f"{what}₂", "2-D code"
    else:
        C = Z - Z.mean(axis=0)
        _, S, Vt = np.linalg.svd(C, full_matrices=False)
        var = S ** 2 / max(float((S ** 2).sum()), 1e-300)
        P = C @ Vt[:2].T
        xl = f"principal component 1 ({100 * var[0]:.0f}% of variance)"
        yl = f"principal component 2 ({100 * var[1]:.0f}% of variance)"
        how = f"{d}-D code, first two principal components"
    fig = _figure((6.4, 5.2))
    ax = fig.subplots()
    if y is None:
        ax.scatter(P[:, 0], P[:, 1], s=6, alpha=0.6, color="tab:blue")
    else:
        labels = np.unique(y)
        cmap = _cmap("tab10" if len(labels) <= 10 else "tab20")
        for i, lab in enumerate(labels):
            sel = y == lab
            ax.scatter(P[sel, 0], P[sel, 1], s=6, alpha=0.7, color=cmap(i % cmap.N), label=str(lab))
        ax.legend(title="label", markerscale=3, fontsize=8, loc="center left",
                  bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    ax.set_title(title or f"code space ({how}), {len(P)} images", fontsize=11)
    fig.tight_layout()
    return fig


def history(hist, title="training curves", log=None):
    """Training (and validation) loss per epoch from :func:`aenumpy.fit`'s history.

    The loss is the training objective E (reconstruction plus penalties, or
    the negative ELBO of a VAE), averaged over the samples of the epoch. ``log``
    uses a log scale for the loss (default: when it spans more than a factor 20).
    """
    loss = list(hist.get("loss", [])) if hasattr(hist, "get") else []
    if not loss:
        raise ValueError("history has no 'loss' values (train for at least one epoch)")
    val = list(hist.get("val_loss") or [])
    ep = np.arange(1, len(loss) + 1)
    fig = _figure((6.0, 4.0))
    ax = fig.subplots()
    marker = "o" if len(ep) <= 30 else None
    ax.plot(ep, loss, marker=marker, ms=3, label="training")
    if val:
        ax.plot(np.arange(1, len(val) + 1), val, marker="s" if marker else None, ms=3,
                label="validation")
    vals = np.array(loss + val, dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if log is None:
        log = len(vals) > 0 and vals.min() > 0 and vals.max() / vals.min() > 20
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss E (mean per sample)")
    if getattr(hist, "stopped_early", False):
        title += " (stopped early: diverged)"
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def denoising(model, X, corruption, n=8, rng=None, title=None):
    """Clean ``x`` / corrupted ``x̃`` / reconstructed ``x̂ = decode(encode(x̃))`` triplets.

    Lecture (denoising autoencoder): the encoder sees the corrupted ``x̃`` and
    the loss compares ``x̂`` with the clean ``x``. ``corruption`` is an
    :mod:`aenumpy.regularizers` input corruption (``GaussianNoise``,
    ``MaskingNoise``, ``SaltAndPepper``) with ``corrupt(X, rng)``; ``rng``
    (default ``np.random.default_rng(0)``) makes the noise reproducible.
    Corrupted pixels outside [0, 1] are drawn clipped.
    """
    n = _check_n("n", n)
    if not callable(getattr(corruption, "corrupt", None)):
        raise TypeError(f"corruption must have a corrupt(X, rng) method (an aenumpy.regularizers "
                        f"input corruption such as GaussianNoise(0.3)), got {corruption!r}")
    rng = _rng(rng)
    X = _as_batch(X)[:n]
    side = _image_hw(model, X.shape[1])
    dtype = getattr(model, "dtype", X.dtype)
    Xt = np.asarray(corruption.corrupt(np.asarray(X, dtype=dtype), rng))
    Xh = _reconstruct(model, Xt)
    err = 0.5 * float(np.mean(np.sum((np.asarray(X, np.float64) - Xh) ** 2, axis=1)))
    if title is None:
        title = f"denoising with {corruption!r}; ½Σ(x − x̂)² = {err:.3f}"
    return _rows_figure([("clean x", X), ("corrupted x̃", np.clip(Xt, 0, 1)),
                         ("x̂ from x̃", Xh)], side, title)


def samples(vae, n=64, rng=None, title=None):
    """A grid of ``n`` new images from a generative model: ``z ~ N(0, I)``, ``x = decode(z)``
    (the decoder's mean), i.e. ``vae.sample(n, rng)``."""
    n = _check_n("n", n)
    if not callable(getattr(vae, "sample", None)):
        raise TypeError(f"samples() needs a generative model with sample(n, rng) "
                        f"(an aenumpy.VariationalAutoencoder), got {type(vae).__name__}")
    Xs = np.asarray(vae.sample(n, rng=_rng(rng)))
    side = _side(Xs.shape[1])
    return _grid_figure(Xs, side, title or f"{n} samples x = decoder(z), z ~ N(0, I)")


def manifold(vae, n=15, lim=0.05, title=None):
    """The learned 2-D manifold (Kingma & Welling 2014, fig. 4).

    For ``n_latent = 2``: a grid of codes ``z = (Φ⁻¹(u₁), Φ⁻¹(u₂))`` with
    ``u`` evenly spaced in ``[lim, 1 − lim]`` (Φ⁻¹ the standard normal quantile
    function, so the grid covers the prior evenly in probability), each
    decoded to the decoder's mean image. ``z₁`` grows to the right, ``z₂``
    upwards.
    """
    n = _check_n("n", n, 2)
    if getattr(vae, "n_latent", None) != 2:
        raise ValueError(f"manifold() needs a model with n_latent=2, this one has n_latent="
                         f"{getattr(vae, 'n_latent', None)}; train with --latent 2")
    if not 0 < lim < 0.5:
        raise ValueError(f"lim must be in (0, 0.5), got {lim}")
    q = np.array([NormalDist().inv_cdf(u) for u in np.linspace(lim, 1 - lim, n)])
    Z1, Z2 = np.meshgrid(q, q[::-1])               # row 0 is the largest z₂ (top)
    Z = np.column_stack([Z1.ravel(), Z2.ravel()])
    Xd = np.asarray(vae.decode(Z.astype(getattr(vae, "dtype", np.float64))))
    side = _side(Xd.shape[1])
    fig = _figure((7.0, 7.0))
    ax = fig.subplots()
    gap = 1 if side <= 10 else 0                   # small images read better apart
    ax.imshow(_mosaic(Xd, side, n, gap=gap), cmap=_cmap("gray"), vmin=0, vmax=1,
              interpolation="nearest")
    centres = np.arange(n) * (side + gap) + (side - 1) / 2
    ticks = np.unique(np.linspace(0, n - 1, min(n, 5)).round().astype(int))
    fmt = lambda v: f"{0.0 if abs(v) < 5e-3 else v:.2f}"  # noqa: E731 (no "-0.00")
    ax.set_xticks(centres[ticks], [fmt(q[i]) for i in ticks])
    ax.set_yticks(centres[ticks], [fmt(q[::-1][i]) for i in ticks])
    ax.set_xlabel("z₁ (normal quantiles)")
    ax.set_ylabel("z₂ (normal quantiles)")
    ax.set_title(title or f"decoded {n}×{n} grid of the 2-D latent space", fontsize=11)
    fig.tight_layout()
    return fig


def interpolation(model, x1, x2, steps=10, title=None):
    """Decode the straight line between the codes of two images.

    ``z(t) = (1 − t) z₁ + t z₂`` for ``t`` evenly spaced in [0, 1], ``z`` the
    code (``μ`` for a VAE), and ``x̂(t) = decode(z(t))``. The originals are
    drawn at the two ends.
    """
    steps = _check_n("steps", steps, 2)
    x1, x2 = _as_batch(x1, "x1"), _as_batch(x2, "x2")
    if len(x1) != 1 or len(x2) != 1:
        raise ValueError("x1 and x2 must be single images (one row each)")
    side = _image_hw(model, x1.shape[1])
    z1, z2 = _code(model, x1)[0], _code(model, x2)[0]
    t = np.linspace(0.0, 1.0, steps)
    Z = (1 - t)[:, None] * z1[None, :] + t[:, None] * z2[None, :]
    Xd = np.asarray(model.decode(Z.astype(getattr(model, "dtype", np.float64))))
    imgs = [x1[0]] + list(Xd) + [x2[0]]
    heads = ["x₁"] + [f"t={v:.2f}" for v in t] + ["x₂"]
    fig = _figure((max(5.0, 0.85 * len(imgs)), 1.7))
    axes = fig.subplots(1, len(imgs), squeeze=False)[0]
    for ax, img, h in zip(axes, imgs, heads):
        ax.imshow(np.asarray(img, np.float64).reshape(side), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(h, fontsize=8)
    what = "μ" if is_vae(model) else "z"
    fig.suptitle(title or f"decoded {what}(t) = (1 − t)·{what}(x₁) + t·{what}(x₂)", fontsize=11)
    fig.tight_layout()
    return fig


def region_mask(n_features, region="bottom"):
    """A boolean mask (True = missing pixel) for one half of a square image:
    ``region`` is 'bottom', 'top', 'left', 'right' or 'center' (the middle quarter)."""
    side = _side(n_features)
    m = np.zeros((side, side), dtype=bool)
    h = side // 2
    if region == "bottom":
        m[h:, :] = True
    elif region == "top":
        m[:h, :] = True
    elif region == "left":
        m[:, :h] = True
    elif region == "right":
        m[:, h:] = True
    elif region == "center":
        q = side // 4
        m[q:side - q, q:side - q] = True
    else:
        raise ValueError(f"region must be 'bottom', 'top', 'left', 'right' or 'center', "
                         f"got {region!r}")
    return m.reshape(-1)


def completion(model, X, mask="bottom", n=8, fill=0.0, iterations=1, title=None):
    """Completing missing parts: original / input with a region missing / completion.

    ``mask`` (True = missing) is a boolean array of shape ``(n_features,)`` or
    ``(B, n_features)``, or a region name for :func:`region_mask`. The missing
    pixels are set to ``fill`` (0, as masking noise does) and the image is
    reconstructed. With ``iterations > 1`` the known pixels are put back after
    each pass and the result reconstructed again
    (``x ← m ⊙ x̂ + (1 − m) ⊙ x``), which lets the model fill the gap
    gradually. The last row shows the known pixels with the model's guess in
    the missing region. Missing pixels are drawn in orange in the middle row.
    """
    n = _check_n("n", n)
    iterations = _check_n("iterations", iterations)
    X = _as_batch(X)[:n]
    side = _image_hw(model, X.shape[1])
    if isinstance(mask, str):
        mask = region_mask(X.shape[1], mask)
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array (True = missing), got dtype {mask.dtype}")
    if mask.shape not in ((X.shape[1],), (len(X), X.shape[1])):
        raise ValueError(f"mask must have shape ({X.shape[1]},) or ({len(X)}, {X.shape[1]}), "
                         f"got {mask.shape}")
    M = np.broadcast_to(mask, X.shape)
    dtype = getattr(model, "dtype", X.dtype)
    Xin = np.where(M, fill, X).astype(dtype)
    cur = Xin
    for _ in range(iterations):
        Xh = _reconstruct(model, cur)
        cur = np.where(M, Xh, X).astype(dtype)
    missing_err = 0.5 * float(np.mean(np.sum(np.where(M, X - cur, 0.0) ** 2, axis=1)))
    fig = _figure((max(4.0, 1.6 + 0.9 * len(X)), 0.45 + 0.9 * 3 * 1.05))
    axes = fig.subplots(3, 1, squeeze=False)[:, 0]
    _image_row(axes[0], X, side, "original x")
    grey = _mosaic(np.clip(X, 0, 1), side, len(X))          # NaN only in the gaps
    miss = _mosaic(M.astype(float), side, len(X)) == 1
    rgb = np.repeat(np.nan_to_num(grey, nan=1.0)[:, :, None], 3, axis=2)
    rgb[miss] = (1.0, 0.5, 0.05)
    axes[1].imshow(rgb, interpolation="nearest")
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    axes[1].set_ylabel("input\n(orange missing)", rotation=0, ha="right", va="center",
                       fontsize=10)
    _image_row(axes[2], cur, side, "completed")
    for ax in axes[1:2]:
        for s in ax.spines.values():
            s.set_visible(False)
    fig.suptitle(title or f"completing {int(M[0].sum())} missing pixels "
                 f"({iterations} pass{'es' if iterations > 1 else ''}); "
                 f"½Σ(x − x̂)² on them = {missing_err:.3f}", fontsize=11)
    return fig


# ------------------------------------------------------------ one step of training
#: trace keys drawn under another quantity of the same column (the VAE's pairs)
_TRACE_STACK = {"logvar": "mu", "eps": "sigma", "out_logvar": "xhat"}
#: trace keys not drawn: the VAE's heads are linear, so their pre-activations are μ and
#: log σ² again; the KL weight is printed with the loss
_TRACE_SKIP = ("mu.a", "logvar.a", "kl_weight")
#: a column whose key ends so is joined to the one before by this operator (z ⊙ mask = h)
_TRACE_OPS = {".mask": "⊙", ".h": "="}
_BACKWARD = "#b2182b"      # the colour of the backward pass (RdBu_r's red end)


class _Cell:
    """One column of the step's chain: its forward keys (stacked), the backward key of
    each (``bwd[fwd_key]``), the weight gradients drawn under it, and the operator that
    joins it to the next column."""

    def __init__(self, key):
        self.fwd, self.bwd, self.w, self.op = [key], {}, [], "→"


def _trace_cells(t):
    """The columns of the picture from the trace's keys (see :func:`trace`), and the
    index of the code's column (where a long chain wraps)."""
    keys = t.keys()
    if "E" not in keys:
        raise ValueError("the trace has no 'E' entry (the loss); make it with ae.trace(model, X[:1])")
    iE = keys.index("E")
    cells, where = [], {}
    for key in keys[:iE]:
        if key in _TRACE_SKIP or key.startswith("E."):
            continue
        host = where.get(_TRACE_STACK.get(key))
        if host is not None:
            host.fwd.append(key)
        else:
            host = _Cell(key)
            if cells:
                cells[-1].op = next((op for end, op in _TRACE_OPS.items() if key.endswith(end)), "→")
            cells.append(host)
        where[key] = host
    if not cells:
        raise ValueError("the trace has no forward quantities before 'E'")
    alias = {} if "xhat" in where else {"xhat": cells[-1].fwd[0]}   # x̂ is the last output
    for key in keys[iE + 1:]:
        m = re.fullmatch(r"dE/d\((.+)\.(a|z|W)\)", key) or re.fullmatch(r"dE/d(\w+)", key)
        if m is None:
            continue                                   # ∂E/∂b, and the gradients again
        if m.re.groups == 2 and m.group(2) == "W":     # ∂E/∂W under its layer's Wx + b
            cell = where.get(f"{m.group(1)}.a") or where.get(m.group(1))
            if cell is not None:
                cell.w.append(key)
            continue
        if m.re.groups == 2:
            name, part = m.groups()
            fk = f"{name}.h" if part == "z" and f"{name}.h" in where else f"{name}.{part}"
        else:
            fk = alias.get(m.group(1), m.group(1))
        if fk in where:
            where[fk].bwd[fk] = key
    code = where.get("z") or next((c for c in reversed(cells) if c.fwd[0].startswith("enc")), None)
    return cells, ([] if code is None else [cells.index(code)])


def _trace_bands(n, cuts, max_cols):
    """Split n columns into bands of at most ``max_cols``, first after the code."""
    if n <= max_cols:
        return [list(range(n))]
    edges = sorted({0, n, *(c + 1 for c in cuts if 0 < c + 1 < n)})
    bands = []
    for a, b in zip(edges, edges[1:]):
        step = math.ceil((b - a) / math.ceil((b - a) / max_cols))
        bands += [list(range(i, min(i + step, b))) for i in range(a, b, step)]
    return bands


def _vector_layout(v):
    """A vector of d values as a block: one row when d ≤ 4, √d × √d when d is a square,
    else r × d/r with r the largest divisor of d up to √d (NaN-padded rows when that is
    too thin)."""
    d = v.size
    if d <= 4:
        return v.reshape(1, d)
    r = max(i for i in range(1, math.isqrt(d) + 1) if d % i == 0)
    if d // r <= 4 * r:
        return v.reshape(r, d // r)
    c = math.ceil(math.sqrt(d))
    return np.concatenate([v, np.full(c * math.ceil(d / c) - d, np.nan)]).reshape(-1, c)


def _trace_image(value, weight):
    """What one trace entry draws as: ``(2-D array, kind)``, kind 'scalar', 'numbers' (a
    few values, written in), 'image' or 'matrix' (a weight, stretched to its box)."""
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1 and not weight:
        return v.reshape(()), "scalar"
    if weight:
        if v.ndim == 4:                                # conv weights: a row per output channel
            co, ci, kh, kw = v.shape
            return _mosaic(v.reshape(co * ci, kh * kw), (kh, kw), ci), "image"
        return (v if v.ndim == 2 else v.reshape(1, -1)), "matrix"
    v = v[0] if v.ndim >= 2 else v                     # the first sample
    if v.ndim == 3:                                    # (C, H, W): one tile per channel
        C, H, W = v.shape
        return _mosaic(v.reshape(C, H * W), (H, W), math.ceil(math.sqrt(C))), "image"
    if v.ndim == 2:
        return v, "image"
    return _vector_layout(v.reshape(-1)), ("numbers" if v.size <= 8 else "image")


def _trace_panel(ax, sym, value, gray=False, weight=False, font=14):
    """One quantity as a small heatmap titled with its symbol, its shape (and colour
    scale) below: with ``gray`` (an image, a sigmoid's output) grey on [0, 1], values
    outside drawn clipped; else red/blue symmetric about 0 (white = 0). NaN/inf are
    drawn in yellow, the gaps between tiles in white."""
    img, kind = _trace_image(value, weight)
    ax.set_xticks([])
    ax.set_yticks([])
    shape = "×".join(map(str, np.shape(value))) or "scalar"
    ax.set_title(sym, fontsize=min(font, 150 / (0.6 * len(sym))), pad=4)
    finite = img[np.isfinite(img)]
    if kind == "scalar":
        ax.axis("off")
        ax.text(0.5, 0.5, f"{float(img):.4g}", ha="center", va="center", fontsize=font + 2,
                transform=ax.transAxes)
        return ax
    m = 1.0 if gray or finite.size == 0 else (float(np.abs(finite).max()) or 1.0)
    aspect = "auto" if kind == "matrix" else "equal"
    ax.imshow(np.ma.masked_invalid(img), cmap=_cmap("gray" if gray else "RdBu_r"),
              vmin=0 if gray else -m, vmax=m, interpolation="nearest", aspect=aspect)
    if not np.all(np.isfinite(value)):   # 1 finite, 0 not, NaN in the gaps
        ok = _trace_image(np.isfinite(value).astype(float), weight)[0]
        ax.imshow(np.ma.masked_where(~(ok == 0), ok), cmap=_cmap("Wistia"), vmin=0, vmax=1,
                  interpolation="nearest", aspect=aspect)
    clipped = gray and finite.size > 0 and (finite.min() < 0 or finite.max() > 1)
    ax.set_xlabel(f"{shape}   ±{m:.2g}" if not gray else shape + ("  (clipped)" if clipped else ""),
                  fontsize=11, labelpad=3)
    ax.apply_aspect()               # final position now: the arrows are placed from it
    if kind == "numbers":           # a few values: cells of at most half an inch, written in
        pos, w_in = ax.get_position(), ax.figure.get_size_inches()[0]
        k = min(1.0, 0.5 * img.shape[1] / (pos.width * w_in))
        ax.set_position([pos.x0 + pos.width * (1 - k) / 2, pos.y0 + pos.height * (1 - k) / 2,
                         pos.width * k, pos.height * k])
        size = min(12.0, pos.width * k * w_in * 72 / img.shape[1] / 3.2)   # "-0.82" fits a cell
        for (i, j), v in np.ndenumerate(img):
            if size >= 7 and np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=size,
                        color="white" if (abs(v) > 0.6 * m if not gray else v < 0.5) else "black")
    return ax


def _loss_panel(ax, t, font=14):
    """E and its terms as text (a long name on a line of its own)."""
    ax.axis("off")
    terms = [(sym, val) for key, sym, val, _ in t.entries
             if key.startswith("E.") or key == "kl_weight"]
    ax.text(0.5, 0.8, f"E = {float(t['E']):.4g}", ha="center", va="center", fontsize=font + 4,
            transform=ax.transAxes, fontweight="bold")
    lines = "\n".join(f"{sym}{' =' + chr(10) if len(sym) > 12 else ' = '}{float(val):.4g}"
                      for sym, val in terms)
    ax.text(0.5, 0.64, lines, ha="center", va="top", fontsize=font - 3, transform=ax.transAxes,
            linespacing=1.3)
    ax.set_title("E (the loss)", fontsize=font, pad=4)
    return ax


def _below(ax):
    """The lowest point of what ``ax`` draws, in figure coordinates (its texts included)."""
    fig = ax.figure
    r = fig.canvas.get_renderer()
    to_fig = fig.transFigure.inverted()
    return min([ax.get_position().y0]
               + [to_fig.transform((0, a.get_window_extent(r).y0))[1] for a in ax.texts])


def _cell_axes(fig, spec, keys, t, forward, weight=False):
    """The panels of one cell of the grid, stacked top to bottom; returns them."""
    if not keys:
        return []
    sub = spec.subgridspec(len(keys), 1, hspace=1.3) if len(keys) > 1 else [spec]
    axes = []
    for s, key in zip(sub, keys):
        ax = fig.add_subplot(s)
        if key == "E":
            axes.append(_loss_panel(ax, t))
            continue
        _, sym, val, note = t.entries[t.keys().index(key)]
        gray = forward and (key in ("x", "x_tilde") or note.startswith("sigmoid"))
        axes.append(_trace_panel(ax, sym, val, gray, weight))
    return axes


def _box(axes):
    """``(x0, x1, y_centre)`` of a cell's panels in figure coordinates."""
    boxes = [ax.get_position() for ax in axes]
    return (min(b.x0 for b in boxes), max(b.x1 for b in boxes),
            (min(b.y0 for b in boxes) + max(b.y1 for b in boxes)) / 2)


def _arrow(fig, a, b, color, text=None, rad=0.0):
    """An arrow in figure coordinates from a to b (a plain operator sign with ``text``)."""
    from matplotlib.patches import FancyArrowPatch

    if text not in (None, "→"):
        fig.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, text, ha="center", va="center",
                 fontsize=26, color=color)
        return
    fig.add_artist(FancyArrowPatch(a, b, transform=fig.transFigure, arrowstyle="-|>",
                                   mutation_scale=20, lw=1.8, color=color, shrinkA=4, shrinkB=4,
                                   connectionstyle=f"arc3,rad={rad}"))


def trace(t, title=None, weights=True, max_cols=7):
    """One training step as a picture: the chain of the lecture, forward and backward.

    ``t`` is a trace (:func:`aenumpy.trace`, ``ae.trace(model, X[:1])``) of any model:
    the picture is read from its entries, nothing is computed again. Left to right
    the forward chain ``x → Wx + b → z → W'z + b' → x̂ → E`` (every layer of a stacked
    model; the corrupted x̃ and a mask ``z ⊙ mask`` when there are; for a VAE
    ``x → h → (μ, log σ²) → (σ, ε) → z = μ + σ ⊙ ε → … → x̂ → E``) on the first row,
    and under each quantity its gradient ``∂E/∂·`` on the second, the backward pass
    running right to left from E. A third row shows, under each layer's ``Wx + b``,
    the gradient ``∂E/∂W = δᵀx`` of its weights (``weights=False`` leaves it out);
    ``∂E/∂b`` is not drawn (it is δ summed over the batch), nor the weights
    themselves (:func:`filters` draws those).

    Each quantity of the first sample is a small heatmap titled with its symbol, its
    shape below: a vector of d values as a √d × √d image when d is a square (64,
    784), else a near-square block (one row up to 4 values; up to 8 values are
    written in); an image batch ``(B, C, H, W)`` as one tile per channel; a weight
    gradient as its matrix (conv weights: a row of ``k × k`` tiles per output
    channel). The input x, x̃ and sigmoid outputs are grey on [0, 1]; everything
    else is red (> 0) / blue (< 0) on a scale symmetric about 0, its bound written
    as ``±m`` under the panel, so the sizes of the gradients can be compared layer
    by layer. Long chains wrap after the code, at most ``max_cols`` columns to a
    band.
    """
    from .trace import Trace

    if not isinstance(t, Trace):
        raise TypeError(f"plot.trace needs a trace (t = ae.trace(model, X[:1])), got "
                        f"{type(t).__name__}")
    max_cols = _check_n("max_cols", max_cols, 3)
    cells, cuts = _trace_cells(t)
    cells.append(_Cell("E"))
    bands = _trace_bands(len(cells), cuts, max_cols)
    rows = []                                             # (band, kind) top to bottom
    for i, band in enumerate(bands):
        rows += [(i, "fwd"), (i, "bwd")]
        if weights and any(cells[c].w for c in band):
            rows.append((i, "w"))
        if i < len(bands) - 1:
            rows.append((i, "gap"))
    ratios = [{"fwd": 1.0, "bwd": 1.0, "w": 0.95, "gap": 0.1}[k] for _, k in rows]
    ncols = max(len(b) for b in bands)
    col_w, row_h, left = 2.05, 2.0, 1.25
    width = left + ncols * col_w + 0.2
    B = np.shape(t["x"])[0] if "x" in t and np.ndim(t["x"]) > 1 else 1
    head = textwrap.fill(title or t.title + ("" if B == 1 else f" (drawn: the first of {B} samples)"),
                         int(width * 72 / (0.55 * 14)))
    top = 0.6 + 0.3 * head.count("\n")
    fig = _figure((width, row_h * sum(ratios) + top + 0.4))
    W, H = fig.get_size_inches()
    gs = fig.add_gridspec(len(rows), ncols, height_ratios=ratios, left=left / W, right=1 - 0.2 / W,
                          top=1 - (top + 0.3) / H, bottom=0.3 / H, wspace=0.42, hspace=0.55)
    boxes = {}                                            # (column, kind) -> (x0, x1, yc)
    for r, (b, kind) in enumerate(rows):
        if kind == "gap":
            continue
        for j, c in enumerate(bands[b]):
            cell = cells[c]
            keys = {"fwd": cell.fwd, "w": cell.w,
                    "bwd": [cell.bwd.get(k) for k in cell.fwd if cell.bwd.get(k)]}[kind]
            axes = _cell_axes(fig, gs[r, j], keys, t, kind == "fwd", kind == "w")
            if axes:
                boxes[c, kind] = _box(axes)
            if cell.fwd == ["E"] and kind == "fwd":
                e_bottom = _below(axes[0])
        y = gs[r, 0].get_position(fig)
        label, color = {"fwd": ("forward", "black"), "bwd": ("backward\n∂E/∂·", _BACKWARD),
                        "w": ("weight gradients\n∂E/∂W", _BACKWARD)}[kind]
        fig.text(0.3 / W, (y.y0 + y.y1) / 2, label, ha="center", va="center", fontsize=13,
                 color=color, fontweight="bold", rotation=90)
    _chain_arrows(fig, t, cells, bands, boxes, e_bottom)
    fig.suptitle(head, fontsize=14, y=1 - 0.15 / H, va="top")
    return fig


def _chain_arrows(fig, t, cells, bands, boxes, e_bottom):
    """The arrows of :func:`trace`: forward left to right and backward right to left in
    each band, into a band from the one above, and from E down to ∂E/∂x̂."""
    W, H = fig.get_size_inches()
    for b, band in enumerate(bands):
        fwd = [c for c in band if (c, "fwd") in boxes]
        for c0, c1 in zip(fwd, fwd[1:]):
            a, z = boxes[c0, "fwd"], boxes[c1, "fwd"]
            _arrow(fig, (a[1], a[2]), (z[0], z[2]), "0.25", cells[c0].op)
        bwd = [c for c in band if (c, "bwd") in boxes]
        for c0, c1 in zip(bwd, bwd[1:]):
            a, z = boxes[c0, "bwd"], boxes[c1, "bwd"]
            _arrow(fig, (z[0], z[2]), (a[1], a[2]), _BACKWARD)
        if b > 0 and fwd:                                 # the chain goes on from the band above
            a = boxes[fwd[0], "fwd"]
            prev = cells[bands[b - 1][-1]].fwd[-1]
            sym = t.symbols()[t.keys().index(prev)]
            _arrow(fig, (a[0] - 0.7 / W, a[2]), (a[0], a[2]), "0.25")
            fig.text(a[0] - 0.38 / W, a[2] + 0.1 / H, sym, ha="center", va="bottom",
                     fontsize=min(11.0, 0.7 * 72 / (0.6 * len(sym))))
        if b < len(bands) - 1 and bwd:                    # ... and its gradient from below
            a = boxes[bwd[-1], "bwd"]
            _arrow(fig, (a[1] + 0.5 / W, a[2]), (a[1], a[2]), _BACKWARD)
            fig.text(a[1] + 0.25 / W, a[2] + 0.08 / H, "from\nbelow", ha="center", va="bottom",
                     fontsize=10, color=_BACKWARD)
    last = len(cells) - 1                                 # E starts the backward pass
    outs = [c for c in range(last) if (c, "bwd") in boxes]
    if outs:
        e, o = boxes[last, "fwd"], boxes[outs[-1], "bwd"]
        _arrow(fig, ((e[0] + e[1]) / 2, e_bottom), (o[1], o[2]), _BACKWARD, rad=-0.25)


# ------------------------------------------------------------ the dynamics of a run
def _layer_colors(names):
    """One colour per layer, in order from the input to the output (dark to light)."""
    cmap = _cmap("viridis")
    n = max(len(names) - 1, 1)
    return {name: cmap(0.88 * i / n) for i, name in enumerate(names)}


def _series(values):
    """Per-epoch values as floats, None (not recorded) as NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def dynamics(hist, title="training dynamics", band=(1e-4, 1e-2)):
    """How training went inside the network, epoch by epoch, from ``fit(..., monitor=True)``.

    Six panels, one colour per layer (dark: near the input, light: near the output):
    the loss E; ``‖∂E/∂θ‖_F`` for every parameter (weights solid, biases dotted) on a
    log scale, where a first layer far below the last ones is the vanishing gradient;
    the update ratio ``‖Δθ‖_F / ‖θ‖_F`` of each weight on a log scale, the ``band``
    around 1e-3 usually called healthy shaded (much below: the layer hardly learns;
    much above: the steps are too large for it); and the mean, the standard deviation
    and the fraction of saturated (sigmoid, tanh; solid) or dead (ReLU; dashed) units
    of each layer's output. Each value is an epoch's mean over its measured steps (see
    :mod:`aenumpy.monitor`). Takes the History, or the same dict read back from
    ``metrics.json``.
    """
    from .monitor import MONITORED, monitored, per_epoch

    if not isinstance(hist, dict):
        raise TypeError(f"dynamics needs the history fit returns (a dict), got {type(hist).__name__}")
    if not monitored(hist):
        raise ValueError("this history has no training dynamics: it was recorded without "
                         "monitor=True; train with ae.fit(model, X, ..., monitor=True) to record "
                         "gradient norms, update ratios and activation statistics")
    lo, hi = band
    if not 0 < lo < hi:
        raise ValueError(f"band must be two numbers 0 < low < high, got {band!r}")
    grad, ratio, act = (per_epoch(k, list(hist[k])) for k in MONITORED)
    params = grad.names()
    layers = list(dict.fromkeys([p.rsplit(".", 1)[0] for p in params] + act.names()))
    color = _layer_colors(layers)
    ep = np.arange(1, len(grad) + 1)
    fig = _figure((15.5, 8.6))
    axes = fig.subplots(2, 3)
    marker = dict(marker="o", ms=4) if len(ep) <= 30 else {}
    ax = axes[0, 0]
    loss = list(hist.get("loss", []))
    ax.plot(np.arange(1, len(loss) + 1), loss, color="black", label="training", **marker)
    if hist.get("val_loss"):
        ax.plot(np.arange(1, len(hist["val_loss"]) + 1), hist["val_loss"], color="0.55",
                ls="--", label="validation", **marker)
    ax.legend(fontsize=11, frameon=False)
    ax.set_title("loss E", fontsize=13)
    for p in params:
        layer, kind = p.rsplit(".", 1)
        axes[0, 1].plot(ep, _positive(grad[p]), color=color[layer], ls="-" if kind == "W" else ":",
                        lw=2 if kind == "W" else 1.5, **marker)
        if kind == "W":
            axes[0, 2].plot(ep, _positive(ratio[p]), color=color[layer], lw=2, **marker)
    axes[0, 1].set_title("‖∂E/∂θ‖ per parameter (W solid, b dotted)", fontsize=13)
    axes[0, 2].axhspan(lo, hi, color="tab:green", alpha=0.12, lw=0)
    axes[0, 2].axhline(math.sqrt(lo * hi), color="tab:green", lw=1, ls="--")
    axes[0, 2].set_title(f"update ratio ‖ΔW‖ / ‖W‖ per weight\n(green: the healthy band "
                         f"{lo:g} – {hi:g})", fontsize=13)
    for ax in axes[0, 1:]:
        ax.set_yscale("log")
    for name in act.names():
        stats = act[name]
        get = lambda s: _series([None if e is None else e.get(s) for e in stats])  # noqa: E731
        axes[1, 0].plot(ep, get("mean"), color=color[name], lw=2, **marker)
        axes[1, 1].plot(ep, get("std"), color=color[name], lw=2, **marker)
        axes[1, 2].plot(ep, get("saturated"), color=color[name], lw=2, **marker)
        axes[1, 2].plot(ep, get("dead"), color=color[name], lw=2, ls="--", **marker)
    axes[1, 0].set_title("mean of each layer's output", fontsize=13)
    axes[1, 1].set_title("standard deviation of each layer's output", fontsize=13)
    axes[1, 2].set_title("saturated (—, sigmoid/tanh) or dead (- -, ReLU)", fontsize=13)
    axes[1, 2].set_ylim(-0.03, 1.03)
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=11)
        ax.set_xlabel("epoch", fontsize=12)
        ax.set_xlim(0.5, len(ep) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    handles = [Line2D([], [], color=color[n], lw=3, label=n) for n in layers]
    fig.legend(handles=handles, title="layer", loc="center right", fontsize=12, title_fontsize=12,
               frameon=False)
    if getattr(hist, "stopped_early", False) or hist.get("stopped_early"):
        title += " (stopped early: diverged)"
    fig.suptitle(title, fontsize=15)
    fig.tight_layout(rect=(0, 0, 0.9, 0.96))
    return fig


def _positive(values):
    """For a log scale: per-epoch values, with None and values ≤ 0 as NaN (gaps)."""
    v = _series(values)
    return np.where(v > 0, v, np.nan)
