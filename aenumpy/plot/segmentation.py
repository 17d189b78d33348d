"""The figure of a segmentation: each image, its true mask and the predicted one, and the IoU
of every class."""
from __future__ import annotations

import numpy as np

from .. import metrics
from .._validate import check_int
from .base import check_n, figure


def _labels(name, Y, shape):
    """Integer labels of ``shape`` ``(N, H, W)``."""
    if not isinstance(Y, np.ndarray) or Y.dtype.kind not in "iu":
        raise TypeError(f"{name} must be a NumPy array of integer labels (N, H, W), got "
                        f"{type(Y).__name__}")
    if Y.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (one label per pixel of X), got "
                         f"{Y.shape}")
    return Y


def _colours(n_classes):
    """One RGBA colour per class: class 0 (the background) transparent, the others from
    matplotlib's qualitative 'tab10' (then 'tab20') palette, half opaque."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n_classes <= 11 else "tab20"]
    cols = np.array([cmap(i % cmap.N) for i in range(n_classes - 1)]).reshape(-1, 4)
    cols[:, 3] = 0.55
    return np.vstack([[0.0, 0.0, 0.0, 0.0], cols])


def _overlay(ax, image, labels, colours, title=None):
    """The grey image with each labelled pixel tinted by its class's colour."""
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.imshow(colours[labels], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)


def segmentation(X, Y, P, n_classes=None, n=6, class_names=None, title=None):
    """Images, their true masks and the predicted ones, overlaid; the IoU of each class as bars.

    ``X`` images ``(N, 1, H, W)`` (or ``(N, H, W)``) in [0, 1], ``Y`` the true labels and ``P``
    the predicted ones, ``(N, H, W)`` integers (``net.predict(X)``). The first ``n`` images are
    drawn in three rows: the image, the image tinted by its true labels, and by the predicted
    ones (class 0, the background, untinted). Each predicted panel is titled with that image's
    pixel accuracy. The bars give each class's IoU ``|T ∩ P| / |T ∪ P|`` over all N images
    (:func:`aenumpy.metrics.iou`; a class in neither truth nor prediction has no bar), the
    title the mean IoU. ``class_names`` labels the bars (default: "bg" and the digits 0–9 for
    the 11 classes of :func:`aenumpy.datasets.make_segmentation`, else the class numbers).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 4 and X.shape[1] == 1:
        X = X[:, 0]
    if X.ndim != 3:
        raise ValueError(f"X must be one-channel images (N, 1, H, W) or (N, H, W), got shape "
                         f"{X.shape}")
    Y, P = _labels("Y", Y, X.shape), _labels("P", P, X.shape)
    if n_classes is None:
        n_classes = int(max(Y.max(), P.max())) + 1
    n_classes = check_int("n_classes", n_classes, 2)
    n = min(check_n("n", n), len(X))
    if class_names is None:
        class_names = (["bg"] + [str(d) for d in range(10)] if n_classes == 11
                       else [str(c) for c in range(n_classes)])
    if len(class_names) != n_classes:
        raise ValueError(f"class_names must name the {n_classes} classes, got {len(class_names)}")
    iou = metrics.iou(Y, P, n_classes)
    colours = _colours(n_classes)
    fig = figure((max(6.0, 1.3 * n), 5.6))
    grid = fig.add_gridspec(4, n, height_ratios=[1, 1, 1, 1.1], hspace=0.35)
    for j in range(n):
        acc = metrics.pixel_accuracy(Y[j], P[j])
        for r, (lab, name) in enumerate(((None, "x"), (Y[j], "true"), (P[j], f"pred {acc:.0%}"))):
            ax = fig.add_subplot(grid[r, j])
            _overlay(ax, X[j], np.zeros_like(Y[j]) if lab is None else lab, colours, name)
    ax = fig.add_subplot(grid[3, :])
    present = ~np.isnan(iou)
    bars = colours[:, :3].copy()
    bars[0] = 0.6                                  # the background's bar in grey
    ax.bar(np.flatnonzero(present), iou[present], color=bars[present])
    ax.set_xticks(range(n_classes))
    ax.set_xticklabels(class_names, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("IoU")
    ax.set_title(f"IoU per class over {len(X)} images; mean IoU {np.nanmean(iou):.3f}", fontsize=9)
    fig.suptitle(title or "image, true mask and predicted mask (background untinted)", fontsize=10)
    return fig
