"""Segmentation data made from real digits: :func:`make_segmentation` (``ae.datasets``).

Each image is a canvas with a few handwritten digits placed at random, and its target a
label for every pixel: 0 for the background, ``1 + d`` for a pixel of digit d. Offline it
uses the embedded 8×8 digits; with MNIST on disk, the 28×28 MNIST digits. Some images also
get clutter behind the digits (labelled background): blobs of noise, or patches of
Fashion-MNIST clothes, so that brightness alone does not tell a digit.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_choice, check_dtype, check_float, check_int, check_path

#: the classes of make_segmentation: background and the ten digits
N_CLASSES = 11
#: a pixel belongs to its digit where the digit's intensity exceeds this
INK = 0.5


def _digits(source, split, path):
    """The source's images of ``split`` as ``(n, side, side)`` float64 in [0, 1], their labels,
    and the clutter images (None for the embedded digits, Fashion-MNIST for MNIST)."""
    from .datasets import load_digits, load_mnist

    part = 0 if split == "train" else 2
    if source == "digits":
        data = load_digits("float64")
        return data[part].reshape(-1, 8, 8), data[part + 1], None
    data = load_mnist("mnist", path=path, dtype="float64")
    fashion = load_mnist("fashion", path=path, dtype="float64")[part]
    return data[part].reshape(-1, 28, 28), data[part + 1], fashion.reshape(-1, 28, 28)


def _noise_blob(rng, side):
    """A blob of noise the size of a digit: uniform noise under a smooth round bump, bright
    in the middle and fading out."""
    y, x = np.mgrid[0:side, 0:side] - (side - 1) / 2
    bump = np.exp(-(x * x + y * y) / (2 * (side / 4) ** 2))
    return rng.uniform(0.3, 1.0) * bump * rng.random((side, side))


def _patch(rng, clothes, side):
    """A random square crop of a random Fashion-MNIST image, ``side//2`` to ``side`` wide."""
    img = clothes[rng.integers(len(clothes))]
    w = int(rng.integers(side // 2, side + 1))
    y, x = rng.integers(0, 29 - w, size=2)
    return img[y:y + w, x:x + w]


def _paste(canvas, img, rng):
    """``canvas = max(canvas, img)`` at a random place where img lies wholly inside;
    returns the top-left corner."""
    H, W = canvas.shape
    h, w = img.shape
    y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
    np.maximum(canvas[y:y + h, x:x + w], img, out=canvas[y:y + h, x:x + w])
    return y, x


def make_segmentation(n=2000, source="digits", canvas=32, max_digits=3, clutter=0.0,
                      split="train", seed=0, path=None, dtype="float32"):
    """Images of a few digits placed at random on a canvas, and their per-pixel labels.

    Parameters
    ----------
    n : how many images.
    source : "digits" (the embedded 8×8 digits, offline) or "mnist" (28×28 MNIST digits, with
        Fashion-MNIST as clutter; read as :func:`aenumpy.datasets.load_mnist` reads them, from
        ``path``, ``$AENUMPY_DATA`` or the cache).
    canvas : the side of the square images, at least the digits' side.
    max_digits : each image gets 1 to ``max_digits`` digits (uniformly), placed at random,
        wholly inside, overlapping or touching at times.
    clutter : in [0, 1], the fraction of images that also get, behind the digits, one or two
        blobs of noise (digits source) or Fashion-MNIST patches (MNIST source), labelled 0.
    split : "train" or "test": which of the source's images the digits come from, so a test
        set never reuses a training digit.
    seed : the same seed and arguments give the same arrays.

    Returns
    -------
    X : ``(n, 1, canvas, canvas)`` in [0, 1], ``dtype``. Each digit is drawn at its native size
        over what is there already, the brighter of the two showing (``max``), so digits and
        clutter add up like light on a dark page.
    Y : ``(n, canvas, canvas)`` int64: 0 for the background, ``1 + d`` for a pixel of digit d,
        a pixel where that digit's intensity exceeds 0.5. Where two digits overlap, the one
        drawn later takes the pixel. 11 classes in all (:data:`N_CLASSES`).
    """
    n = check_int("n", n, 1)
    check_choice("source", source, ("digits", "mnist"))
    canvas = check_int("canvas", canvas, 1)
    max_digits = check_int("max_digits", max_digits, 1)
    clutter = check_float("clutter", clutter, 0, 1)
    check_choice("split", split, ("train", "test"))
    seed = check_int("seed", seed, 0)
    check_path("path", path, allow_none=True)
    dt = check_dtype(dtype)
    side = 8 if source == "digits" else 28
    if canvas < side:
        raise ValueError(f"canvas must be at least the digits' side ({side} for source="
                         f"{source!r}), got {canvas}")
    digits, labels, clothes = _digits(source, split, path)
    rng = np.random.default_rng(seed)
    X = np.zeros((n, canvas, canvas))
    Y = np.zeros((n, canvas, canvas), np.int64)
    for i in range(n):
        if rng.random() < clutter:
            for _ in range(int(rng.integers(1, 3))):
                _paste(X[i], _noise_blob(rng, side) if clothes is None
                       else _patch(rng, clothes, side), rng)
        for _ in range(int(rng.integers(1, max_digits + 1))):
            k = int(rng.integers(len(digits)))
            y, x = _paste(X[i], digits[k], rng)
            ink = digits[k] > INK
            Y[i, y:y + side, x:x + side][ink] = 1 + labels[k]
    return X[:, None].astype(dt), Y
