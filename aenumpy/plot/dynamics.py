"""The dynamics of a run as a figure (:func:`dynamics`): gradient norms, update ratios and
activation statistics per layer over the epochs, from ``fit(..., monitor=True)``."""
from __future__ import annotations

import math

import numpy as np

from ..monitor import MONITORED, monitored, per_epoch
from .base import _cmap, figure


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
    fig = figure((15.5, 8.6))
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
