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

from .base import save
from .dynamics import dynamics
from .figures import (completion, denoising, feature_maps, filters, history, interpolation,
                      latent_space, manifold, reconstructions, region_mask, samples)
from .segmentation import segmentation
from .step import trace

__all__ = ["reconstructions", "filters", "feature_maps", "latent_space", "history", "denoising",
           "samples", "manifold", "interpolation", "completion", "region_mask", "save", "trace",
           "dynamics", "segmentation"]
