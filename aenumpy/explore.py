"""Explorers: one setting of a knob against what the model does, as a figure.

Each explorer is a plain function that draws one setting and returns a
:class:`matplotlib.figure.Figure` (see :mod:`aenumpy.plot` for how figures are
made headless or in a notebook):

* :func:`denoising` ``(model, X, sigma)``: Gaussian noise of level σ on a few
  images, and the model's reconstruction from the noisy input;
* :func:`ksparse` ``(model, X, k)``: the code with only its k largest units
  kept, and the image decoded from it;
* :func:`vae_latent` ``(vae, z1, z2, X=None, y=None)``: a point of a 2-D latent
  space, marked on the map of some data's codes, and the image decoded there;
* :func:`learning_rate` ``(X, lr)``: a short seeded training run at that
  learning rate, drawn by :func:`aenumpy.plot.dynamics`.

:func:`interactive` puts sliders on one of them with ``ipywidgets``
(``pip install "aenumpy[notebook]"``)::

    from aenumpy import explore
    explore.denoising(model, Xte, sigma=0.3)             # one frame
    explore.interactive("denoising", model, Xte)         # a slider for sigma
"""
from __future__ import annotations

import math
import numbers
import os
import sys
import warnings

import numpy as np

from . import plot
from .models.base import is_vae
from .plot import base as plot_base
from .regularizers.topk import topk_mask

INSTALL = 'pip install "aenumpy[notebook]"'


def _number(name, value, low=None, low_open=False):
    """A finite real number, at least ``low`` (above it with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v) or (low is not None and (v <= low if low_open else v < low)):
        bound = "" if low is None else f" {'>' if low_open else '≥'} {low:g}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return v


def _autoencoder(model, what):
    """A trained :class:`aenumpy.Autoencoder` (not a VAE): encoder layers and decode."""
    if is_vae(model) or not hasattr(model, "encoder") or not callable(
            getattr(model, "decode", None)):
        raise TypeError(f"{what} needs an aenumpy.Autoencoder, got {type(model).__name__}")
    return model


def _images(model, X, n):
    """The first n rows of X as the model's dtype, checked against its input size."""
    X = plot_base.as_batch(X)[:plot_base.check_n("n", n)]
    n_in = getattr(model, "n_in", X.shape[1])
    if X.shape[1] != n_in:
        raise ValueError(f"X has {X.shape[1]} features per row, the model expects n_in = {n_in}")
    return np.asarray(X, dtype=getattr(model, "dtype", X.dtype))


# ------------------------------------------------------------------ explorers
def denoising(model, X, sigma, n=8, seed=0):
    """Noise level σ against a denoising reconstruction.

    The first ``n`` images of ``X`` (clean ``x``), with Gaussian noise
    ``x̃ = x + σ·ε``, ``ε ~ N(0, I)`` drawn from ``np.random.default_rng(seed)``, and
    the reconstruction ``x̂ = decode(encode(x̃))``; the title gives ``½Σ(x − x̂)²``
    against the clean images. σ ≥ 0, in the units of the pixels (on [0, 1]).
    """
    from .regularizers import GaussianNoise

    sigma = _number("sigma", sigma, 0.0)
    _autoencoder(model, "explore.denoising")
    X = _images(model, X, n)
    return plot.denoising(model, X, GaussianNoise(sigma), n=len(X), rng=np.random.default_rng(seed))


def ksparse(model, X, k, n=6):
    """The k largest units of the code, and the image decoded from them.

    For each of the first ``n`` images the code ``z`` (the encoder's output, before
    any regularizer's mask) keeps the ``k`` units of largest ``|z|`` and the others are
    set to 0 (the lecture's ``f_k``, :func:`aenumpy.regularizers.topk.topk_mask`), and
    ``x̂ = decode(f_k(z))``. The middle row
    draws each code as bars: kept units in red, dropped ones in grey. ``k`` is
    between 1 and the code size.
    """
    _autoencoder(model, "explore.ksparse")
    size = model.n_code
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {k!r} ({type(k).__name__})")
    if not 1 <= k <= size:
        raise ValueError(f"k must be between 1 and the code size {size}, got {k}")
    X = _images(model, X, n)
    Z = X.astype(model.dtype)
    for layer in model.encoder:                  # the code, no mask applied
        Z = layer.forward(Z)
    M = topk_mask(Z, k)
    Zk = Z * M
    Xh = np.asarray(model.decode(Zk), dtype=np.float64)
    err = 0.5 * float(np.mean(np.sum((X - Xh) ** 2, axis=1)))
    side = plot_base.image_side(X.shape[1])
    fig = plot_base.figure((max(6.0, 1.9 * len(X) + 1.2), 6.2))
    axes = fig.subplots(3, len(X), squeeze=False, gridspec_kw={"height_ratios": [1, 0.8, 1]})
    top = max(float(Z.max()), 1e-12)
    for j in range(len(X)):
        for ax, img in ((axes[0, j], X[j]), (axes[2, j], Xh[j])):
            ax.imshow(np.asarray(img, np.float64).reshape(side, side), cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        kept = M[j] > 0
        bars = axes[1, j]
        bars.bar(np.arange(size), Z[j], width=1.0, color=np.where(kept, "#b2182b", "0.75"))
        bars.set_ylim(min(0.0, float(Z.min())), top * 1.05)
        bars.set_xticks([])
        bars.tick_params(labelsize=10, labelleft=j == 0)
    for ax, label in zip(axes[:, 0], ("x", f"code z\n(red: the\n{k} kept)", f"x̂ from\n{k} units")):
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=12)
    fig.suptitle(f"k-sparse code: the {k} largest |z| of {size} units kept; ½Σ(x − x̂)² = {err:.3f}",
                 fontsize=14)
    fig.tight_layout()
    return fig


def vae_latent(vae, z1, z2, X=None, y=None, max_points=2000):
    """A point ``z = (z1, z2)`` of a 2-D VAE latent space and the image decoded there.

    Left: the codes ``μ(x)`` of the rows of ``X`` (up to ``max_points``, coloured by
    the labels ``y``), or without ``X`` the prior ``N(0, I)`` as its 1σ, 2σ and 3σ
    circles, with the point marked ×. Right: ``decode(z)``, the decoder's mean.
    """
    if not is_vae(vae):
        raise TypeError(f"explore.vae_latent needs an aenumpy.VariationalAutoencoder, got "
                        f"{type(vae).__name__}")
    if vae.n_latent != 2:
        raise ValueError(f"explore.vae_latent needs a 2-D latent space (n_latent=2), this VAE has "
                         f"n_latent={vae.n_latent}")
    z = np.array([[_number("z1", z1), _number("z2", z2)]])
    if y is not None and X is None:
        raise ValueError("y are the labels of the rows of X: give X too")
    fig = plot_base.figure((11.0, 5.2))
    ax, im = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    if X is not None:
        X = _images(vae, X, max_points)
        mu = np.asarray(vae.encode(X)[0], dtype=np.float64)
        if y is None:
            ax.scatter(mu[:, 0], mu[:, 1], s=6, color="tab:blue", alpha=0.5)
        else:
            y = np.asarray(y).reshape(-1)[:len(X)]
            if len(y) != len(X):
                raise ValueError(f"y has {len(y)} labels for {len(X)} rows of X")
            sc = ax.scatter(mu[:, 0], mu[:, 1], c=y, s=6, cmap="tab10", alpha=0.7,
                            vmin=-0.5, vmax=9.5)
            fig.colorbar(sc, ax=ax, ticks=range(10), label="label", fraction=0.046)
        what = f"μ(x) of {len(X)} images"
    else:
        t = np.linspace(0, 2 * np.pi, 200)
        for r in (1, 2, 3):
            ax.plot(r * np.cos(t), r * np.sin(t), color="0.6", lw=1)
            ax.text(r / np.sqrt(2), r / np.sqrt(2), f"{r}σ", color="0.4", fontsize=11)
        what = "the prior N(0, I)"
    ax.plot(z[0, 0], z[0, 1], marker="x", ms=18, mew=4, color="black")
    ax.set_xlabel("z₁", fontsize=13)
    ax.set_ylabel("z₂", fontsize=13)
    ax.set_title(f"latent space: {what}", fontsize=13)
    ax.set_aspect("equal", adjustable="datalim")
    img = np.asarray(vae.decode(z.astype(vae.dtype)), dtype=np.float64)[0]
    side = plot_base.image_side(img.size)
    im.imshow(img.reshape(side, side), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    im.set_xticks([])
    im.set_yticks([])
    im.set_title(f"decode(z), z = ({z[0, 0]:.2f}, {z[0, 1]:.2f})", fontsize=13)
    fig.tight_layout()
    return fig


def learning_rate(X, lr, epochs=5, hidden=(32,), activation="sigmoid", optimizer="sgd",
                  batch_size=32, seed=0):
    """A short seeded training run at learning rate ``lr``, drawn as its dynamics.

    Trains ``Autoencoder(n_in, hidden, activation, seed=seed)`` on the rows of ``X``
    for ``epochs`` epochs with ``optimizer`` ('sgd': ``θ ← θ − η ∂E/∂θ``, or 'adam')
    at ``η = lr``, monitoring every step, and returns :func:`aenumpy.plot.dynamics`
    of the run: the loss, the gradient norms, the update ratios against the healthy
    band, the activations. A run that diverges at once is drawn as its message.
    """
    import aenumpy as ae

    lr = _number("lr", lr, 0.0, low_open=True)
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    X = plot_base.as_batch(X)
    model = ae.Autoencoder(X.shape[1], hidden, activation=activation, seed=seed)
    opt = ae.optim.SGD(lr=lr) if optimizer == "sgd" else ae.optim.Adam(lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ae.TrainingDiverged)
        hist = ae.fit(model, X, epochs=epochs, batch_size=batch_size, optimizer=opt, seed=seed,
                      progress=False, monitor=ae.monitor.Monitor(every=1))
    title = f"{'SGD' if optimizer == 'sgd' else 'Adam'}, learning rate η = {lr:g}: {model!r}"
    if hist.epochs == 0:
        fig = plot_base.figure((9.0, 2.5))
        fig.text(0.5, 0.5, f"{title}\n\n{hist.message}", ha="center", va="center", fontsize=12,
                 wrap=True)
        return fig
    return plot.dynamics(hist, title=title)


# ---------------------------------------------------------------- widgets
EXPLORERS = {"denoising": denoising, "ksparse": ksparse, "vae_latent": vae_latent,
             "learning_rate": learning_rate}


def has_widgets():
    """True when ``ipywidgets`` can be imported (then :func:`interactive` works)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _sliders(w, name, args, kwargs):
    """The sliders of explorer ``name`` (a dict parameter -> widget), started at the
    value given in ``kwargs`` (which is removed from it) or a default."""
    if name == "denoising":
        return {"sigma": w.FloatSlider(value=kwargs.pop("sigma", 0.3), min=0.0, max=1.0,
                                       step=0.05, description="σ")}
    if name == "ksparse":
        model = args[0] if args else kwargs.get("model")
        size = int(_autoencoder(model, "explore.ksparse").encoder[-1].n_out)
        return {"k": w.IntSlider(value=kwargs.pop("k", max(1, size // 4)), min=1, max=size,
                                 description="k")}
    if name == "vae_latent":
        return {z: w.FloatSlider(value=kwargs.pop(z, 0.0), min=-3.0, max=3.0, step=0.1,
                                 description=z) for z in ("z1", "z2")}
    return {"lr": w.FloatLogSlider(value=kwargs.pop("lr", 0.1), base=10, min=-4, max=1,
                                   step=0.25, description="η")}


def front_end():
    """True when the sliders can be seen: the code runs in a Jupyter kernel whose current
    cell was sent by an interactive front end (JupyterLab, Notebook, VS Code).

    Such a front end sends its cells with ``allow_stdin`` on (``input()`` works there). A
    headless executor (nbclient, and so nbconvert, nbgrader and papermill) sends them with it
    off and renders no widget; widgets there only cost comm traffic, which nbclient can stall
    on (jupyter/nbclient#312). ``AENUMPY_WIDGETS=1`` or ``=0`` overrides the guess (a dashboard
    such as Voilà executes headless yet shows widgets).
    """
    forced = os.environ.get("AENUMPY_WIDGETS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    ip = sys.modules.get("IPython")
    kernel = getattr(ip.get_ipython(), "kernel", None) if ip is not None else None
    return bool(getattr(kernel, "_allow_stdin", False))


def _show(fig):
    """Show ``fig`` once in a notebook (and release it); outside IPython return it."""
    try:
        from IPython.display import display
    except ImportError:         # pragma: no cover - ipywidgets depends on IPython
        return fig
    display(fig)
    plot_base.close(fig)
    return None


def interactive(name, *args, **kwargs):
    """Explorer ``name`` with sliders (``ipywidgets.interact``): ``'denoising'`` (σ),
    ``'ksparse'`` (k), ``'vae_latent'`` (z1, z2) or ``'learning_rate'`` (η, log scale).

    ``args`` and ``kwargs`` are the explorer's other arguments, e.g.
    ``interactive("denoising", model, Xte)``; a value given for a slider's parameter
    is where the slider starts. Each move draws the plain function's figure again.
    Needs ipywidgets (``pip install "aenumpy[notebook]"``); without it an ImportError
    says so, and the plain functions still draw one setting each. Where no front end can
    show sliders (:func:`front_end` is False: a notebook executed headless, a script), it
    draws the figure at the sliders' starting values instead and opens no widget.
    """
    if name not in EXPLORERS:
        raise ValueError(f"no explorer {name!r}; the explorers are {', '.join(EXPLORERS)}")
    try:
        import ipywidgets as w
    except ImportError:
        raise ImportError(f"explore.interactive needs ipywidgets: {INSTALL} (or pip install "
                          f"ipywidgets); without it, explore.{name}(...) draws one setting") from None
    fn = EXPLORERS[name]
    sliders = _sliders(w, name, args, kwargs)
    if not front_end():
        return _show(fn(*args, **kwargs, **{k: s.value for k, s in sliders.items()}))

    def show(**values):
        _show(fn(*args, **kwargs, **values))

    return w.interact(show, **sliders)
