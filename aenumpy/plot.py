"""Pictures of what an autoencoder learned (matplotlib; works headless).

Every function returns a ``matplotlib.figure.Figure``; save it with
``fig.savefig(path)``.
"""
from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            import matplotlib.pyplot as plt  # noqa: F401
        except ImportError:  # pragma: no cover
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _side(n_features):
    s = int(round(np.sqrt(n_features)))
    if s * s != n_features:
        raise ValueError(f"cannot show {n_features} features as a square image")
    return s


def reconstructions(model, X, n=10, title="originals (top) and reconstructions (bottom)"):
    """Originals in the first row, the model's reconstructions in the second."""
    plt = _plt()
    X = np.asarray(X)[:n]
    Xh = model.reconstruct(X)
    s = _side(X.shape[1])
    fig, axes = plt.subplots(2, len(X), figsize=(1.1 * len(X), 2.5))
    axes = np.atleast_2d(axes)
    for i in range(len(X)):
        for r, img in enumerate((X[i], Xh[i])):
            ax = axes[r, i]
            ax.imshow(img.reshape(s, s), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("x")
    axes[1, 0].set_ylabel("x̂")
    fig.suptitle(title)
    return fig


def history(hist, title="training"):
    """Training (and validation) loss per epoch."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ep = np.arange(1, len(hist["loss"]) + 1)
    ax.plot(ep, hist["loss"], marker="o", label="training")
    if hist.get("val_loss"):
        ax.plot(ep, hist["val_loss"], marker="s", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss E (mean per sample)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig
