"""The figures of what a model learned: reconstructions, filters and feature maps, the
latent space, training curves, denoising and completion, and a VAE's samples, manifold and
interpolations."""
from __future__ import annotations

from statistics import NormalDist

import numpy as np

from ..layers import ConvTranspose2D
from ..models.base import is_vae
from ..models.conv import ConvAutoencoder
from .base import (_cmap, _code, _grid_figure, _image_hw, _image_row, _mosaic, _reconstruct, _rng,
                   _rows_figure, _vector_layout, as_batch, check_n, figure, image_side)


def reconstructions(model, X, n=10, title=None):
    """Originals ``x`` (top row) over their reconstructions ``x̂ = decode(encode(x))``.

    The lecture's autoencoder ``x̂ = σ'(W'σ(Wx + b) + b')`` in evaluation mode
    (for a VAE, ``x̂`` is the decoder's mean at ``z = μ(x)``). The title gives
    the mean squared error ``½ Σ (x − x̂)²`` of the images shown.
    """
    n = check_n("n", n)
    X = as_batch(X)[:n]
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
    n = check_n("n", n)
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
    side = image_side(tiles.shape[1])
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
    if not isinstance(model, ConvAutoencoder):
        raise TypeError(f"feature_maps needs an ae.ConvAutoencoder (its layers output images); "
                        f"got {type(model).__name__}")
    max_channels = check_n("max_channels", max_channels)
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
    fig = figure((W, H))
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
    X = as_batch(X)
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
    fig = figure((6.4, 5.2))
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
    fig = figure((6.0, 4.0))
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
    n = check_n("n", n)
    if not callable(getattr(corruption, "corrupt", None)):
        raise TypeError(f"corruption must have a corrupt(X, rng) method (an aenumpy.regularizers "
                        f"input corruption such as GaussianNoise(0.3)), got {corruption!r}")
    rng = _rng(rng)
    X = as_batch(X)[:n]
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
    n = check_n("n", n)
    if not callable(getattr(vae, "sample", None)):
        raise TypeError(f"samples() needs a generative model with sample(n, rng) "
                        f"(an aenumpy.VariationalAutoencoder), got {type(vae).__name__}")
    Xs = np.asarray(vae.sample(n, rng=_rng(rng)))
    side = image_side(Xs.shape[1])
    return _grid_figure(Xs, side, title or f"{n} samples x = decoder(z), z ~ N(0, I)")


def manifold(vae, n=15, lim=0.05, title=None):
    """The learned 2-D manifold (Kingma & Welling 2014, fig. 4).

    For ``n_latent = 2``: a grid of codes ``z = (Φ⁻¹(u₁), Φ⁻¹(u₂))`` with
    ``u`` evenly spaced in ``[lim, 1 − lim]`` (Φ⁻¹ the standard normal quantile
    function, so the grid covers the prior evenly in probability), each
    decoded to the decoder's mean image. ``z₁`` grows to the right, ``z₂``
    upwards.
    """
    n = check_n("n", n, 2)
    if getattr(vae, "n_latent", None) != 2:
        raise ValueError(f"manifold() needs a model with n_latent=2, this one has n_latent="
                         f"{getattr(vae, 'n_latent', None)}; train with --latent 2")
    if not 0 < lim < 0.5:
        raise ValueError(f"lim must be in (0, 0.5), got {lim}")
    q = np.array([NormalDist().inv_cdf(u) for u in np.linspace(lim, 1 - lim, n)])
    Z1, Z2 = np.meshgrid(q, q[::-1])               # row 0 is the largest z₂ (top)
    Z = np.column_stack([Z1.ravel(), Z2.ravel()])
    Xd = np.asarray(vae.decode(Z.astype(getattr(vae, "dtype", np.float64))))
    side = image_side(Xd.shape[1])
    fig = figure((7.0, 7.0))
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
    steps = check_n("steps", steps, 2)
    x1, x2 = as_batch(x1, "x1"), as_batch(x2, "x2")
    if len(x1) != 1 or len(x2) != 1:
        raise ValueError("x1 and x2 must be single images (one row each)")
    side = _image_hw(model, x1.shape[1])
    z1, z2 = _code(model, x1)[0], _code(model, x2)[0]
    t = np.linspace(0.0, 1.0, steps)
    Z = (1 - t)[:, None] * z1[None, :] + t[:, None] * z2[None, :]
    Xd = np.asarray(model.decode(Z.astype(getattr(model, "dtype", np.float64))))
    imgs = [x1[0]] + list(Xd) + [x2[0]]
    heads = ["x₁"] + [f"t={v:.2f}" for v in t] + ["x₂"]
    fig = figure((max(5.0, 0.85 * len(imgs)), 1.7))
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
    side = image_side(n_features)
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
    n = check_n("n", n)
    iterations = check_n("iterations", iterations)
    X = as_batch(X)[:n]
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
    fig = figure((max(4.0, 1.6 + 0.9 * len(X)), 0.45 + 0.9 * 3 * 1.05))
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
