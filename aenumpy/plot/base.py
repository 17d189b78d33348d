"""What the figures share: making and releasing a figure, the checks of their arguments, and
tiling images into one picture (grey on [0, 1] for pixels, red/blue about 0 for weights)."""
from __future__ import annotations

import math
import sys

import numpy as np

from .._validate import check_has, check_path, check_rng
from ..models.base import is_vae


def figure(figsize):
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
    close(fig)
    return path


def close(fig):
    """Release ``fig`` from pyplot (if pyplot made it), so it is not shown again."""
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close(fig)


def image_side(n_features):
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
    s = image_side(n_features)
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


def as_batch(X, name="X"):
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


def check_n(name, n, low=1):
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
    fig = figure((max(4.0, 1.6 + width_per_image * n), 0.45 + width_per_image * len(rows) * 1.05))
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
    fig = figure((w, h))
    ax = fig.subplots()
    im = ax.imshow(_mosaic(images, side, ncols), cmap=_cmap(cmap), vmin=vmin, vmax=vmax,
                   interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=11)
    if colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=colorbar)
    return fig


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
