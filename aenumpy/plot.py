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
for MNIST). Pixel images are drawn in grey on [0, 1]; weights in red/blue on a
scale symmetric about 0, so that white means 0.
"""
from __future__ import annotations

import math
import sys
from statistics import NormalDist

import numpy as np

from ._validate import check_has, check_path, check_rng

__all__ = ["reconstructions", "filters", "latent_space", "history", "denoising", "samples",
           "manifold", "interpolation", "completion", "region_mask", "save"]


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
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def _side(n_features):
    s = int(round(math.sqrt(n_features)))
    if s * s != n_features:
        raise ValueError(f"cannot show {n_features} features as a square image "
                         f"(images must have side √n_features: 64 → 8×8, 784 → 28×28)")
    return s


def _is_vae(model):
    return getattr(model, "kind", "") == "vae"


def _code(model, X):
    """The code of each row: ``z = encode(x)``, or ``μ`` for a VAE."""
    check_has(model, "encode")
    if _is_vae(model):
        return np.asarray(model.encode(X)[0])
    return np.asarray(model.encode(X))


def _reconstruct(model, X):
    """``x̂``: ``model.reconstruct(X)``; for a VAE ``decode(μ(x))`` (the mean code)."""
    check_has(model, *(("encode", "decode") if _is_vae(model) else ("reconstruct",)))
    if _is_vae(model):
        return np.asarray(model.decode(model.encode(X)[0]))
    return np.asarray(model.reconstruct(X))


def _as_batch(X, name="X"):
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a batch of images of shape (B, n_features), got shape "
                         f"{X.shape}")
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
    """Tile ``images`` (k, side²) into one array, ``ncols`` per row, NaN between tiles."""
    k = len(images)
    nrows = max(1, math.ceil(k / ncols))
    H = nrows * side + (nrows - 1) * gap
    W = ncols * side + (ncols - 1) * gap
    out = np.full((H, W), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        y, x = r * (side + gap), c * (side + gap)
        out[y:y + side, x:x + side] = np.asarray(img, dtype=np.float64).reshape(side, side)
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
                 colorbar=None):
    """One tiled grid of images in a single axes."""
    k = len(images)
    ncols = ncols or math.ceil(math.sqrt(k))
    nrows = math.ceil(k / ncols)
    scale = 0.75 if side <= 10 else 0.8            # inches per tile
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
    side = _side(X.shape[1])
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

    The colour scale is symmetric about 0 (white = 0, red > 0, blue < 0) and
    shared by every tile, unless ``per_unit`` scales each tile by its own
    largest ``|w|``.
    """
    n = _check_n("n", n)
    params = getattr(model, "params", {})
    key = f"{layer}.W"
    if key not in params:
        names = sorted(k[:-2] for k in params if k.endswith(".W"))
        raise ValueError(f"the model has no weight {key!r} (a tied decoder layer has none); "
                         f"layers with weights: {', '.join(names)}")
    W = np.asarray(params[key], dtype=np.float64)
    n_in = getattr(model, "n_in", None)
    if W.shape[1] == n_in or (W.shape[0] != n_in and not layer.startswith(("dec", "out"))):
        tiles, what = W, "incoming weights W_j· of unit j"
    else:
        tiles, what = W.T, "outgoing weights W'_·j of hidden unit j"
    side = _side(tiles.shape[1])
    tiles = tiles[:n]
    if per_unit:
        m = np.abs(tiles).max(axis=1, keepdims=True)
        tiles = tiles / np.where(m > 0, m, 1.0)
        vmax, label = 1.0, "w / max|w| of the unit"
    else:
        vmax = float(np.abs(tiles).max()) or 1.0
        label = "weight w"
    if title is None:
        title = f"{layer}: {what} ({len(tiles)} of {W.shape[0] if what[0] == 'i' else W.shape[1]})"
    return _grid_figure(tiles, side, title, cmap="RdBu_r", vmin=-vmax, vmax=vmax, colorbar=label)


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
    what = "μ(x)" if _is_vae(model) else "z"
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
    side = _side(X.shape[1])
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
    side = _side(x1.shape[1])
    z1, z2 = _code(model, x1)[0], _code(model, x2)[0]
    t = np.linspace(0.0, 1.0, steps)
    Z = (1 - t)[:, None] * z1[None, :] + t[:, None] * z2[None, :]
    Xd = np.asarray(model.decode(Z.astype(getattr(model, "dtype", np.float64))))
    imgs = [x1[0]] + list(Xd) + [x2[0]]
    heads = ["x₁"] + [f"t={v:.2f}" for v in t] + ["x₂"]
    fig = _figure((max(5.0, 0.85 * len(imgs)), 1.7))
    axes = fig.subplots(1, len(imgs), squeeze=False)[0]
    for ax, img, h in zip(axes, imgs, heads):
        ax.imshow(np.asarray(img, np.float64).reshape(side, side), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(h, fontsize=8)
    what = "μ" if _is_vae(model) else "z"
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
    side = _side(X.shape[1])
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
