"""What ``aenumpy train --model unet`` does differently: its data, its model, its numbers and
its figure (:mod:`aenumpy.cli` runs the rest, as for every model).

The data are :func:`aenumpy.datasets.make_segmentation` images, generated from the chosen
source's training digits (``--limit`` images, default 2,000) and test digits (500); the
model a :class:`aenumpy.UNet` with 11 classes (background and the ten digits), skips unless
``--no-skips``. ``metrics.json`` holds the test set's mean IoU, IoU and Dice per class and
pixel accuracy; the run folder ``segmentation.png`` (:func:`aenumpy.plot.segmentation`).
"""
from __future__ import annotations

import numpy as np

from .segmentation_data import N_CLASSES

#: generated images when --limit is not given: training, test
N_TRAIN, N_TEST = 2000, 500
#: the canvas side and the most digits per image, by data set
CANVAS = {"digits": 32, "mnist": 56}
MAX_DIGITS = 3


def add_options(p):
    """The options of ``--model unet`` only."""
    g = p.add_argument_group("segmentation (unet only)")
    g.add_argument("--no-skips", action="store_true",
                   help="the same encoder-decoder without its skip connections (a SegNet-like "
                        "convolutional autoencoder), to see what the skips add")
    g.add_argument("--canvas", type=int, metavar="SIDE",
                   help="side of the generated images (default 32 for digits, 56 for MNIST); a "
                        "multiple of 2^L for L = len(--channels) − 1")
    g.add_argument("--max-digits", type=int, metavar="K",
                   help=f"each image holds 1 to K digits (default {MAX_DIGITS})")
    g.add_argument("--clutter", type=float, metavar="F",
                   help="fraction of images that also get noise blobs (digits) or Fashion-MNIST "
                        "patches (mnist) behind the digits, labelled background (default 0)")
    return p


def load_data(args):
    """``(X_train, Y_train, X_test, Y_test, name)``: generated images and their per-pixel labels
    (the test images from the source's test digits)."""
    import aenumpy as ae

    if args.dataset == "fashion":
        from .cli import CLIError

        raise CLIError("--model unet segments digits: --dataset digits (default) or mnist "
                       "(Fashion-MNIST then serves as clutter)")
    kw = {"source": args.dataset, "canvas": args.canvas or CANVAS[args.dataset],
          "max_digits": MAX_DIGITS if args.max_digits is None else args.max_digits,
          "clutter": 0.0 if args.clutter is None else args.clutter, "path": args.data_path}
    Xtr, Ytr = ae.datasets.make_segmentation(args.limit or N_TRAIN, split="train",
                                             seed=args.seed, **kw)
    Xte, Yte = ae.datasets.make_segmentation(N_TEST, split="test", seed=args.seed + 1, **kw)
    name = (f"{'the embedded 8×8 digits' if args.dataset == 'digits' else 'MNIST digits'} on "
            f"{kw['canvas']}×{kw['canvas']} canvases")
    return Xtr, Ytr, Xte, Yte, name


def build_model(args, Xtr, channels):
    """The U-Net for these images (11 classes: background and the ten digits)."""
    import aenumpy as ae

    return ae.UNet(in_channels=1, n_classes=N_CLASSES, channels=channels,
                   input_shape=Xtr.shape[1:], skips=not args.no_skips, seed=args.seed)


def test_metrics(model, Xte, Yte):
    """The test set's segmentation numbers for metrics.json."""
    from aenumpy import metrics

    K = model.n_classes
    P = model.predict(Xte)
    nan_free = lambda v: [None if np.isnan(x) else float(x) for x in v]  # noqa: E731 (JSON)
    return {"test_mean_iou": metrics.mean_iou(Yte, P, K),
            "test_iou_per_class": nan_free(metrics.iou(Yte, P, K)),
            "test_mean_dice": metrics.mean_dice(Yte, P, K),
            "test_dice_per_class": nan_free(metrics.dice(Yte, P, K)),
            "test_pixel_accuracy": metrics.pixel_accuracy(Yte, P, K),
            "test_metrics_definition": "per-pixel labels of the test images, predicted as "
                                       "argmax of the logits; class 0 is the background, "
                                       "1 + d digit d; IoU |T∩P|/|T∪P|, "
                                       "Dice 2|T∩P|/(|T|+|P|)"}


def figures(model, Xte, Yte):
    """The figure files of a U-Net run: ``(name, make)`` pairs."""
    from aenumpy import plot

    return [("segmentation.png", lambda: plot.segmentation(Xte, Yte, model.predict(Xte),
                                                           model.n_classes, n=8))]
