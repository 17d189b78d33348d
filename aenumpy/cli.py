"""The ``aenumpy`` command (also ``python -m aenumpy``).

    aenumpy train                 train the basic autoencoder on the embedded digits
    aenumpy train --model vae     ... or any model and regularizer of the library
    aenumpy train --model conv    a convolutional autoencoder on the images (1×8×8, 1×28×28)
    aenumpy train --model unet    a U-Net that labels every pixel of generated digit images
    aenumpy gradcheck [options]   gradient-check table of a model (exit 1 if it fails)
    aenumpy trace [options]       the step-by-step table of one sample
    aenumpy export RUN_DIR --format onnx|safetensors
                                  a trained model for other runtimes and for PyTorch

``train`` writes into a run folder (``runs/<model>-<dataset>-<timestamp>/`` or
``--out``): the figures of :mod:`aenumpy.plot` (``dynamics.png`` among them: the
run is monitored), ``metrics.json`` (configuration, losses per epoch, the
monitored gradient norms, update ratios and activation statistics, test
reconstruction error, seconds) and ``model.npz`` (:func:`aenumpy.save`); a U-Net's run
the test set's mean IoU instead of the reconstruction error, and ``segmentation.png``
(:mod:`aenumpy.cli_segmentation`).
``trace --out DIR`` also writes the step as a picture, ``DIR/trace.png``. ``export``
writes a run's model next to its ``model.npz``, as ``model.onnx`` or ``model.safetensors``
(:mod:`aenumpy.export`). A bad option ends with one line on stderr and exit status 2, never
a traceback.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import sys
import time
import warnings

import numpy as np

from . import cli_segmentation

#: defaults that depend on the model and the data set: (sizes, epochs, batch size, learning
#: rate); the sizes are --hidden for ae and vae, --channels for conv. The conv network is
#: the benchmark's ``conv`` (benchmarks/train_speed.py): its code is 8×2×2 = 32 numbers on
#: the digits, the size of the dense default's code, and 8×7×7 = 392 on MNIST; it learns
#: the digits better with the step 1e-2 than with 3e-3 (30 epochs of the 1 437 images take
#: seconds).
DEFAULTS = {
    ("ae", "digits"): ([32], 30, 32, 3e-3),
    ("ae", "mnist"): ([256], 10, 128, 1e-3),
    ("vae", "digits"): ([64], 30, 32, 3e-3),
    ("vae", "mnist"): ([400], 10, 128, 1e-3),
    ("conv", "digits"): ([16, 8], 30, 32, 1e-2),
    ("conv", "mnist"): ([16, 8], 3, 128, 1e-3),
    ("unet", "digits"): ([8, 16, 32], 20, 32, 3e-3),
    ("unet", "mnist"): ([8, 16, 32], 10, 32, 1e-3),
}

#: options that apply to some models only: argparse dest -> the models they apply to
ONLY = {"hidden": ("ae", "vae"), "latent": ("vae",), "decoder": ("vae",), "beta": ("vae",),
        "kl_warmup": ("vae",), "output_activation": ("ae", "conv"), "loss": ("ae", "conv"),
        "tied": ("ae",), "contractive": ("ae",), "channels": ("conv", "unet"), "down": ("conv",),
        "up": ("conv",), "kernel": ("conv",), "activation": ("ae", "vae", "conv"),
        "no_skips": ("unet",), "canvas": ("unet",), "max_digits": ("unet",), "clutter": ("unet",)}
#: what to do instead, said after the refusal of (option, model)
INSTEAD = {("latent", "ae"): "the code size is the last --hidden value",
           ("hidden", "conv"): "a conv model's sizes are --channels",
           ("contractive", "conv"): "the contractive penalty needs a dense layer's Jacobian",
           ("hidden", "unet"): "a U-Net's sizes are --channels",
           ("activation", "unet"): "every convolution of a U-Net has a ReLU"}

#: regularizer flags: (argparse dest, class name in aenumpy.regularizers)
REG_FLAGS = [("gaussian_noise", "GaussianNoise"), ("masking_noise", "MaskingNoise"),
             ("salt_pepper", "SaltAndPepper"), ("kl_sparsity", "KLSparsity"),
             ("l1_activity", "L1Activity"), ("topk", "TopK"), ("contractive", "Contractive"),
             ("weight_decay", "WeightDecay"), ("dropout", "Dropout")]


class CLIError(Exception):
    """A bad combination of options: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------- options
def _model_options(p):
    """The model, data and regularizer options shared by train, gradcheck and trace."""
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=["ae", "vae", "conv", "unet"], default="ae",
                   help="ae: the autoencoder of the lecture (default); vae: variational "
                        "autoencoder; conv: convolutional autoencoder on the images "
                        "(1×8×8 digits, 1×28×28 MNIST); unet (train only): a U-Net that "
                        "labels every pixel of images of several digits")
    g.add_argument("--hidden", type=int, nargs="+", metavar="SIZE",
                   help="ae and vae: hidden layer sizes from the input to the code, e.g. "
                        "--hidden 256 64 (for ae the last one is the code size; default 32 for "
                        "digits, 256 for MNIST; vae: 64 / 400)")
    g.add_argument("--latent", type=int, metavar="N",
                   help="vae only: size of the code z (default 2, which also draws the "
                        "2-D manifold)")
    g.add_argument("--decoder", choices=["bernoulli", "gaussian"],
                   help="vae only: the decoder's distribution p(x|z) (default bernoulli)")
    g.add_argument("--beta", type=float, help="vae only: weight of the KL term (default 1)")
    g.add_argument("--kl-warmup", type=int, metavar="EPOCHS",
                   help="vae only: grow the KL weight from 0 to beta over this many epochs")
    g.add_argument("--activation", choices=["sigmoid", "tanh", "relu", "identity"],
                   help="activation of the hidden layers (default: sigmoid for ae, relu for "
                        "vae and conv)")
    g.add_argument("--output-activation", choices=["sigmoid", "tanh", "relu", "identity"],
                   help="ae and conv: activation of the output x̂ (default sigmoid)")
    g.add_argument("--loss", choices=["mse", "bce"],
                   help="ae and conv: mse = ½Σ(x − x̂)² (ae's default), bce = binary "
                        "cross-entropy (conv's default: the pixels in [0, 1] read as "
                        "probabilities; with the sigmoid output the error δ = x̂ − x has no "
                        "σ'(a) factor that vanishes where x̂ saturates; the benchmark's loss)")
    g.add_argument("--tied", action="store_true",
                   help="ae only: the decoder uses the encoder's weights transposed, W' = Wᵀ")

    g = p.add_argument_group("convolutional (conv only)")
    g.add_argument("--channels", type=int, nargs="+", metavar="C",
                   help="encoder channels from the input to the code, e.g. --channels 16 8; "
                        "each halves the image (two: 8×8 → 2×2, 28×28 → 7×7) and the decoder "
                        "mirrors them back to one channel (default 16 8: the code is 8×2×2 on "
                        "the digits, 8×7×7 on MNIST); unet: the channels c_0 … c_L of its "
                        "levels, the last at the bottom (default 8 16 32)")
    g.add_argument("--down", choices=["pool", "stride"],
                   help="how the encoder halves the image: pool = a k×k convolution then 2×2 "
                        "max pooling (default); stride = a k×k convolution of stride 2")
    g.add_argument("--up", choices=["upsample", "transposed"],
                   help="how the decoder doubles it: upsample = 2× nearest-neighbour "
                        "upsampling then a k×k convolution (default); transposed = a k×k "
                        "transposed convolution of stride 2 (it can leave checkerboard artifacts)")
    g.add_argument("--kernel", type=int, metavar="K",
                   help="kernel size of every convolution, odd, padded by K//2 so that a "
                        "convolution of stride 1 keeps the image size (default 3)")

    cli_segmentation.add_options(p)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=["digits", "mnist", "fashion"], default="digits",
                   help="digits: 8×8 digits shipped with aenumpy (default, offline); mnist, "
                        "fashion: 28×28 images (MNIST, Fashion-MNIST)")
    g.add_argument("--data-path", metavar="DIR",
                   help="folder with the four MNIST/Fashion-MNIST files (default: "
                        "$AENUMPY_DATA, then ~/.cache/aenumpy, then download)")
    g.add_argument("--limit", type=int, metavar="N",
                   help="use only the first N training images (quick runs)")

    g = p.add_argument_group("regularizers (ae and conv; combine freely)")
    g.add_argument("--gaussian-noise", type=float, metavar="SIGMA",
                   help="denoising: add N(0, SIGMA²) noise to the input")
    g.add_argument("--masking-noise", type=float, metavar="P",
                   help="denoising: set a fraction P of the input pixels to 0")
    g.add_argument("--salt-pepper", type=float, metavar="P",
                   help="denoising: set a fraction P of the input pixels to 0 or 1")
    g.add_argument("--kl-sparsity", type=float, metavar="RHO",
                   help="sparse: target mean activation RHO of the code units (e.g. 0.05)")
    g.add_argument("--sparsity-beta", type=float, default=3.0, metavar="BETA",
                   help="weight of the KL sparsity penalty (default 3)")
    g.add_argument("--l1-activity", type=float, metavar="LAM",
                   help="sparse: add LAM · Σ|z_j| to the loss")
    g.add_argument("--topk", type=int, metavar="K",
                   help="k-sparse: keep only the K largest code units of each sample")
    g.add_argument("--topk-alpha", type=float, default=1.0, metavar="ALPHA",
                   help="k-sparse: keep ALPHA·K units when encoding after training (default 1)")
    g.add_argument("--topk-start", type=int, metavar="K0",
                   help="k-sparse: start with K0 units and lower it to K over the first half "
                        "of the epochs")
    g.add_argument("--contractive", type=float, metavar="LAM",
                   help="ae only, contractive: add LAM · ‖∂z/∂x‖²_F to the loss")
    g.add_argument("--weight-decay", type=float, metavar="LAM",
                   help="add (LAM/2) Σ W² (or LAM Σ|W| with --weight-decay-kind l1) over the weights")
    g.add_argument("--weight-decay-kind", choices=["l2", "l1"], default="l2",
                   help="l2 (default) or l1 weight decay")
    g.add_argument("--dropout", type=float, metavar="P",
                   help="drop each code unit with probability P while training")
    return p


def _thread_count(text):
    """--threads: a whole number, at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of threads, at least 1; "
                                         f"got {text!r}")
    return n


def _training_options(p):
    """train only: epochs, batch size, learning rate, optimizer, seed; output folder."""
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, help="passes over the training set (default 30 for "
                                              "digits, 10 for MNIST; conv: 30 / 3)")
    g.add_argument("--batch-size", type=int,
                   help="images per gradient step (default 32 for digits, 128 for MNIST)")
    g.add_argument("--lr", type=float,
                   help="learning rate η (default 3e-3 for digits, 1e-3 for MNIST; conv: "
                        "1e-2 / 1e-3)")
    g.add_argument("--optimizer", choices=["adam", "sgd", "momentum"], default="adam",
                   help="adam (default); sgd: W ← W − η ∂E/∂W; momentum: sgd with momentum 0.9")
    g.add_argument("--seed", type=int, default=0,
                   help="seeds the weights, the noise and the shuffling (default 0)")
    g.add_argument("--threads", type=_thread_count, metavar="N",
                   help="threads to train on (default: the CPUs this process may use, or "
                        "$AENUMPY_THREADS); fewer while other programs keep the CPUs busy")
    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="DIR",
                   help="run folder to write (default runs/<model>-<dataset>-<time>/)")
    g.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    g.add_argument("--no-figures", action="store_true",
                   help="do not draw figures (metrics.json and model.npz only)")
    return p


def build_parser():
    """The argparse parser of the ``aenumpy`` command and its three sub-commands."""
    p = _Parser(
        prog="aenumpy",
        description="Autoencoders by hand (NumPy). Train a model and look at what it learned, "
                    "check its gradients, or follow one step of backpropagation.",
        epilog="Examples:\n"
               "  aenumpy train                                  basic autoencoder, digits\n"
               "  aenumpy train --gaussian-noise 0.3             denoising autoencoder\n"
               "  aenumpy train --kl-sparsity 0.05 --hidden 64   sparse autoencoder\n"
               "  aenumpy train --model vae --latent 2           variational autoencoder\n"
               "  aenumpy train --model conv                     convolutional autoencoder\n"
               "  aenumpy train --model conv --down stride --up transposed\n"
               "  aenumpy train --dataset mnist --hidden 256 --epochs 5\n"
               "  aenumpy gradcheck --contractive 0.1\n"
               "  aenumpy trace --index 3\n"
               "  aenumpy export runs/ae-digits-... --format onnx\n"
               "Run 'aenumpy train --help' for every option.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="{train,gradcheck,trace,export}")
    t = sub.add_parser(
        "train", help="train a model; write figures, metrics.json and model.npz to a run folder",
        description="Train an autoencoder and write figures, metrics.json and model.npz into a "
                    "run folder. With no options: the basic autoencoder 64 → 32 → 64 on the "
                    "embedded 8×8 digits, 30 epochs (a few seconds).")
    _training_options(_model_options(t))
    t.set_defaults(func=cmd_train)
    g = sub.add_parser(
        "gradcheck", help="compare the model's backprop gradients with finite differences",
        description="Build the model given by the options and compare every gradient of its "
                    "loss with a numerical one (float64, 4th-order centred differences) on a "
                    "few training images. Exit status 0 if every check passes, 1 if not.")
    _model_options(g)
    g.add_argument("--samples", type=int, default=4, help="images in the batch (default 4)")
    g.add_argument("--seed", type=int, default=0, help="seeds the weights and the noise")
    g.add_argument("--load", metavar="MODEL.npz", help="check a saved model instead")
    g.set_defaults(func=cmd_gradcheck)
    r = sub.add_parser(
        "trace", help="print every forward and backward quantity of one step on one image",
        description="Run one forward and backward pass on one test image and print every "
                    "quantity (x, Wx + b, z, x̂, E, ∂E/∂x̂, ..., ∂E/∂W) in the lecture's notation.")
    _model_options(r)
    r.add_argument("--index", type=int, default=0, metavar="I",
                   help="which test image (default 0)")
    r.add_argument("--seed", type=int, default=0, help="seeds the weights and the noise")
    r.add_argument("--load", metavar="MODEL.npz", help="trace a saved (trained) model instead")
    r.add_argument("--out", metavar="DIR", help="also draw the step as a picture, DIR/trace.png")
    r.set_defaults(func=cmd_trace)
    x = sub.add_parser(
        "export", help="write a run's model as ONNX or safetensors next to its model.npz",
        description="Read RUN_DIR/model.npz (written by 'aenumpy train') and write it next to "
                    "it: model.onnx (an ONNX graph, opset 17, for onnxruntime and other "
                    "runtimes) or model.safetensors (the weights under PyTorch's names, for "
                    "safetensors.torch.load_file and load_state_dict).")
    x.add_argument("run", metavar="RUN_DIR",
                   help="a run folder holding model.npz (or a model .npz file itself)")
    x.add_argument("--format", required=True, choices=["onnx", "safetensors"],
                   help="onnx: the network as a graph; safetensors: its weights")
    x.add_argument("--part", choices=["model", "encoder", "decoder"], default="model",
                   help="onnx only: the whole model (x → x̂, default), the encoder (x → code; "
                        "a VAE's μ and log σ²) or the decoder (code → x̂); written as "
                        "model-encoder.onnx, model-decoder.onnx")
    x.set_defaults(func=cmd_export)
    return p


# ------------------------------------------------------------ building
def _given(args, name):
    """Was the option given on the command line (not left at None / False)?"""
    v = getattr(args, name, None)
    return v is not None and v is not False


def _check_combination(args):
    """Options that do not apply to the chosen model (:data:`ONLY`): refuse them, do not
    ignore them."""
    for opt, models in ONLY.items():
        if args.model not in models and _given(args, opt):
            extra = INSTEAD.get((opt, args.model))
            raise CLIError(f"--{opt.replace('_', '-')} applies to --model {' and '.join(models)} "
                           f"only" + (f" ({extra})" if extra else ""))
    if args.model == "conv":
        _check_conv_sizes(args)
    if args.model == "unet":
        regs = [f"--{d.replace('_', '-')}" for d, _ in REG_FLAGS if getattr(args, d, None) is not None]
        if regs:
            raise CLIError(f"{', '.join(regs)}: the regularizers apply to the autoencoders, not "
                           f"to --model unet")
    if _given(args, "limit") and args.limit < 1:
        raise CLIError(f"--limit must be at least 1, got {args.limit}")
    for opt in ("epochs", "batch_size", "samples"):
        v = getattr(args, opt, None)
        if v is not None and v < (0 if opt == "epochs" else 1):
            raise CLIError(f"--{opt.replace('_', '-')} must be at least "
                           f"{0 if opt == 'epochs' else 1}, got {v}")


#: the side of the (square, one-channel) images of each data set
SIDES = {"digits": 8, "mnist": 28, "fashion": 28}


def _check_conv_sizes(args):
    """``--kernel`` odd; as many ``--channels`` as the images can be halved (each value
    halves them: 8 → 4 → 2 → 1, 28 → 14 → 7)."""
    if args.kernel is not None and (args.kernel < 1 or args.kernel % 2 == 0):
        raise CLIError(f"--kernel must be odd and at least 1 (padding K//2 then keeps the image "
                       f"size), got {args.kernel}")
    side, n = SIDES[args.dataset], len(args.channels or _defaults(args)["sizes"])
    most = next(k for k in range(side.bit_length(), -1, -1) if side % 2 ** k == 0)
    if n > most:
        raise CLIError(f"--channels with {n} values halves the {side}×{side} images {n} times, "
                       f"which needs a side divisible by {2 ** n}; give at most {most} for "
                       f"--dataset {args.dataset}")


def _defaults(args):
    """Sizes (hidden or channels), epochs, batch size and learning rate for the model and
    data set (:data:`DEFAULTS`)."""
    key = (args.model, "digits" if args.dataset == "digits" else "mnist")
    sizes, epochs, batch, lr = DEFAULTS[key]
    return {"sizes": sizes, "epochs": epochs, "batch_size": batch, "lr": lr}


def load_data(args):
    """``(X_train, y_train, X_test, y_test, name)`` for ``--dataset``, ``--data-path``, ``--limit``."""
    import aenumpy as ae

    if args.model == "unet":
        return cli_segmentation.load_data(args)
    if args.dataset == "digits":
        if args.data_path:
            raise CLIError("--data-path applies to --dataset mnist or fashion (the digits are "
                           "part of aenumpy)")
        Xtr, ytr, Xte, yte = ae.datasets.load_digits()
        name = "the embedded 8×8 digits"
    else:
        Xtr, ytr, Xte, yte = ae.datasets.load_mnist(args.dataset, path=args.data_path)
        name = "MNIST" if args.dataset == "mnist" else "Fashion-MNIST"
    if args.limit:
        Xtr, ytr = Xtr[:args.limit], ytr[:args.limit]
    return Xtr, ytr, Xte, yte, name


def build_regularizers(args):
    """The :mod:`aenumpy.regularizers` objects the flags ask for."""
    from aenumpy import regularizers as R

    out = []
    for dest, cls_name in REG_FLAGS:
        v = getattr(args, dest, None)
        if v is None:
            continue
        cls = getattr(R, cls_name, None)
        if cls is None:
            raise CLIError(f"--{dest.replace('_', '-')} needs aenumpy.regularizers.{cls_name}, "
                           "which this version of aenumpy does not have")
        if cls_name == "KLSparsity":
            out.append(cls(rho=v, beta=args.sparsity_beta))
        elif cls_name == "TopK":
            out.append(cls(k=v, alpha=args.topk_alpha, k_start=args.topk_start))
        elif cls_name == "WeightDecay":
            out.append(cls(v, kind=args.weight_decay_kind))
        else:
            out.append(cls(v))
    if args.kl_sparsity is None and args.sparsity_beta != 3.0:
        raise CLIError("--sparsity-beta needs --kl-sparsity RHO")
    if args.topk is None and (args.topk_alpha != 1.0 or args.topk_start is not None):
        raise CLIError("--topk-alpha and --topk-start need --topk K")
    if args.weight_decay is None and args.weight_decay_kind != "l2":
        raise CLIError("--weight-decay-kind needs --weight-decay LAM")
    return out


def _build_conv(args, n_in, regs):
    """``--model conv``: :func:`aenumpy.models.conv_layers` on one-channel square images of
    ``n_in`` pixels (the sizes were checked by :func:`_check_conv_sizes`)."""
    import aenumpy as ae

    side = math.isqrt(n_in)
    encoder, decoder = ae.models.conv_layers(
        args.channels or _defaults(args)["sizes"], args.down or "pool", args.up or "upsample",
        3 if args.kernel is None else args.kernel, args.activation or "relu",
        args.output_activation or "sigmoid")
    return ae.ConvAutoencoder(encoder, decoder, input_shape=(1, side, side),
                              loss=args.loss or "bce", regularizers=regs, seed=args.seed)


def build_model(args, n_in, Xtr=None):
    """The model the options describe (validated by the library's own constructors); a U-Net
    is sized by its training images ``Xtr``."""
    import aenumpy as ae

    if args.model == "unet":
        return cli_segmentation.build_model(args, Xtr, args.channels or _defaults(args)["sizes"])
    regs = build_regularizers(args)
    if args.model == "conv":
        return _build_conv(args, n_in, regs)
    hidden = args.hidden or _defaults(args)["sizes"]
    if args.model == "ae":
        kw = {"hidden": hidden, "regularizers": regs, "seed": args.seed, "tied": args.tied}
        for opt in ("activation", "output_activation", "loss"):
            if getattr(args, opt) is not None:
                kw[opt] = getattr(args, opt)
        return ae.Autoencoder(n_in, **kw)
    VAE = getattr(ae, "VariationalAutoencoder", None)
    if VAE is None:
        raise CLIError("--model vae needs aenumpy.VariationalAutoencoder, which this version of "
                       "aenumpy does not have")
    accepted = inspect.signature(VAE).parameters
    kw = {"hidden": hidden, "n_latent": 2 if args.latent is None else args.latent,
          "seed": args.seed}
    for opt, name in (("activation", "activation"), ("decoder", "decoder"), ("beta", "beta"),
                      ("kl_warmup", "kl_warmup")):
        if getattr(args, opt) is not None:
            if name not in accepted:
                raise CLIError(f"--{opt.replace('_', '-')} is not supported by this "
                               "VariationalAutoencoder")
            kw[name] = getattr(args, opt)
    if regs:
        if "regularizers" not in accepted:
            raise CLIError(f"regularizer options ({', '.join(repr(r) for r in regs)}) apply to "
                           "--model ae only")
        kw["regularizers"] = regs
    return VAE(n_in, **kw)


def _optimizer(args, lr):
    """adam: Adam; sgd: ``W ← W − η ∂E/∂W``; momentum: ``v ← 0.9 v − η g``, ``W ← W + v``."""
    import aenumpy as ae

    if args.optimizer == "adam":
        return ae.optim.Adam(lr=lr)
    return ae.optim.SGD(lr=lr, momentum=0.9 if args.optimizer == "momentum" else 0.0)


def _run_dir(args):
    """``--out``, or a new ``runs/<model>-<dataset>-<YYYYmmdd-HHMMSS>[-k]`` folder."""
    if args.out:
        path = args.out
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = os.path.join("runs", f"{args.model}-{args.dataset}-{stamp}")
        path, k = base, 1
        while os.path.exists(path):
            k += 1
            path = f"{base}-{k}"
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"--out {path} exists and is not a folder")
    os.makedirs(path, exist_ok=True)
    return path


def _test_errors(model, Xte, seed):
    """Test-set numbers for metrics.json (evaluation mode)."""
    from aenumpy.models import is_vae

    X = np.asarray(Xte, dtype=np.float64)
    if is_vae(model):
        Xh = np.asarray(model.decode(model.encode(Xte)[0]), dtype=np.float64)
        out = {"test_loss": float(model.loss(Xte, rng=np.random.default_rng([seed, 7]))),
               "test_loss_definition": "negative ELBO (one draw of ε), mean per image"}
    else:
        Xh = np.asarray(model.reconstruct(Xte), dtype=np.float64)
        out = {"test_loss": float(model.reconstruction_error(Xte)),
               "test_loss_definition": f"reconstruction loss '{model.loss_fn.name}', no "
                                       "penalties, mean per image"}
    out["test_reconstruction_error"] = 0.5 * float(np.mean(np.sum((X - Xh) ** 2, axis=1)))
    out["test_reconstruction_error_definition"] = (
        "½ Σ_features (x − x̂)², mean over the test images; x̂ = decode(encode(x))"
        + (" with z = μ(x)" if is_vae(model) else ""))
    return out


def write_figures(model, hist, Xte, yte, out, args):
    """Every figure that fits the model; returns the file names written."""
    from aenumpy import plot
    from aenumpy.models import is_vae
    from aenumpy.monitor import monitored
    from aenumpy.regularizers import InputCorruption

    rng_seed = args.seed
    if model.family == "unet":                 # yte: the test images' per-pixel labels
        figs = cli_segmentation.figures(model, Xte, yte) + [
            ("history.png", lambda: plot.history(hist)), ("dynamics.png", lambda: plot.dynamics(hist))]
        return _write(figs, out)
    figs = [("reconstructions.png", lambda: plot.reconstructions(model, Xte, n=10)),
            ("filters.png", lambda: plot.filters(model, "enc0", n=64))]
    if model.family == "conv":
        figs.append(("feature_maps.png", lambda: plot.feature_maps(model, Xte[0])))
    # a conv model's code (C, H, W) is read as one row of C·H·W numbers per image, drawn
    # on its first two principal components like any wide code
    figs += [("latent_space.png", lambda: plot.latent_space(model, Xte, yte)),
             ("history.png", lambda: plot.history(hist))]
    if monitored(hist):
        figs.append(("dynamics.png", lambda: plot.dynamics(hist)))
    for r in getattr(model, "regularizers", []):
        if isinstance(r, InputCorruption):
            figs.append(("denoising.png", lambda r=r: plot.denoising(
                model, Xte, r, n=8, rng=np.random.default_rng(rng_seed))))
            break
    if is_vae(model):
        figs.append(("samples.png", lambda: plot.samples(model, 64,
                                                         rng=np.random.default_rng(rng_seed))))
        if model.n_latent == 2:
            figs.append(("manifold.png", lambda: plot.manifold(model, 15)))
        j = int(np.flatnonzero(yte != yte[0])[0]) if np.any(yte != yte[0]) else min(1, len(Xte) - 1)
        figs.append(("interpolation.png", lambda: plot.interpolation(model, Xte[0], Xte[j], 10)))
    return _write(figs, out)


def _write(figs, out):
    """Draw and save each ``(file name, make)`` figure into the folder ``out``; the names."""
    from aenumpy import plot

    for name, make in figs:
        plot.save(make(), os.path.join(out, name))
    return [name for name, _ in figs]


# ------------------------------------------------------------ commands
def cmd_train(args):
    """``aenumpy train``: build the model, :func:`aenumpy.fit` it (minibatch gradient
    descent on the loss E, validation on the test set after each epoch), then write
    metrics.json, model.npz and the figures into the run folder."""
    import aenumpy as ae

    _check_combination(args)
    d = _defaults(args)
    epochs = d["epochs"] if args.epochs is None else args.epochs
    batch = d["batch_size"] if args.batch_size is None else args.batch_size
    lr = d["lr"] if args.lr is None else args.lr
    Xtr, ytr, Xte, yte, data_name = load_data(args)
    model = build_model(args, Xtr.shape[1], Xtr)
    optimizer = _optimizer(args, lr)
    # a U-Net learns the per-pixel labels (ytr, yte); the autoencoders reconstruct their input
    targets = {"Y": ytr, "Y_val": yte} if model.needs_targets else {}
    out = _run_dir(args)
    say = (lambda *a: None) if args.quiet else print
    say(f"training {model!r}\non {data_name}: {len(Xtr)} training and {len(Xte)} test images, "
        f"{epochs} epochs of batches of {batch}, {type(optimizer).__name__} lr={lr:g}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ae.TrainingDiverged)
        hist = ae.fit(model, Xtr, epochs=epochs, batch_size=batch, optimizer=optimizer,
                      X_val=Xte, seed=args.seed, progress=not args.quiet, monitor=True,
                      **targets)
    for w in caught:
        if issubclass(w.category, ae.TrainingDiverged):
            print(f"aenumpy: warning: {w.message}", file=sys.stderr)
        else:  # pragma: no cover - other warnings pass through
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    seconds = float(sum(hist["seconds"]))
    metrics = {
        "command": "aenumpy train",
        "config": {"options": {k: v for k, v in vars(args).items() if k != "func"},
                   "model": model.get_config(), "model_family": getattr(model, "family", ""),
                   "epochs": epochs, "batch_size": batch, "lr": lr,
                   "optimizer": optimizer.get_config(), "dataset": args.dataset,
                   "n_train": int(len(Xtr)), "n_test": int(len(Xte))},
        "epochs_run": hist.epochs,
        "loss": [float(v) for v in hist["loss"]],
        "val_loss": [float(v) for v in hist["val_loss"]],
        "epoch_seconds": [float(v) for v in hist["seconds"]],
        "seconds": seconds,
        "stopped_early": bool(hist.stopped_early),
        "message": hist.message,
        "version": ae.__version__,
    }
    metrics.update({k: hist[k] for k in ae.monitor.MONITORED})   # per epoch, see aenumpy.monitor
    metrics.update(cli_segmentation.test_metrics(model, Xte, yte) if model.family == "unet"
                   else _test_errors(model, Xte, args.seed))
    model_path = ae.save(model, os.path.join(out, "model.npz"))
    with open(os.path.join(out, "metrics.json"), "w", encoding="utf-8") as fh:
        json.dump(metrics, fh, indent=2, ensure_ascii=False)
    written = [] if args.no_figures or hist.epochs == 0 else write_figures(
        model, hist, Xte, yte, out, args)
    last = (f"training loss {metrics['loss'][-1]:.4f}, test loss {metrics['val_loss'][-1]:.4f}"
            if hist.epochs else "no epochs run")
    head = "stopped early (diverged)" if hist.stopped_early else "done"
    score = (f"test mean IoU {metrics['test_mean_iou']:.4f}" if model.family == "unet" else
             f"test reconstruction error ½Σ(x − x̂)² = {metrics['test_reconstruction_error']:.4f}")
    print(f"{head}: {hist.epochs} epochs in {seconds:.1f} s; {last}; {score}")
    print(f"wrote {out}{os.sep}: metrics.json, {os.path.basename(model_path)}"
          + "".join(f", {w}" for w in written))
    return 1 if hist.stopped_early else 0


def _model_for_check(args):
    """The model for gradcheck/trace: ``--load`` a saved one, or build it from the options."""
    import aenumpy as ae

    if args.model == "unet":
        raise CLIError(f"{args.command} covers the autoencoders; check a U-Net in Python, "
                       f"ae.gradcheck(net, X, Y=labels)")
    Xtr, ytr, Xte, yte, _ = load_data(args)
    if getattr(args, "load", None):
        model = ae.load(args.load)
        if model.family == "unet":
            raise CLIError(f"{args.load} holds a U-Net; {args.command} covers the autoencoders "
                           f"(check a U-Net in Python, ae.gradcheck(net, X, Y=labels))")
        n_in = int(np.prod(model.input_shape)) if model.family == "conv" else model.n_in
        if n_in != Xtr.shape[1]:
            raise CLIError(f"{args.load} is a model for {n_in} features, but "
                           f"--dataset {args.dataset} has {Xtr.shape[1]}")
    else:
        _check_combination(args)
        model = build_model(args, Xtr.shape[1])
    return model, Xtr, Xte


def cmd_gradcheck(args):
    """``aenumpy gradcheck``: :func:`aenumpy.gradcheck` on the first ``--samples`` training
    images: backprop gradients against the centred finite difference
    ``[f(θ−2h) − 8f(θ−h) + 8f(θ+h) − f(θ+2h)] / 12h``; exit 0 if every entry passes."""
    import aenumpy as ae

    model, Xtr, _ = _model_for_check(args)
    X = Xtr[:args.samples]
    report = ae.gradcheck(model, X, seed=args.seed)
    print(f"{model!r} on {len(X)} training images")
    print(report)
    return 0 if report.ok else 1


def cmd_trace(args):
    """``aenumpy trace``: :func:`aenumpy.trace` of one test image, the forward pass
    ``z = σ(Wx + b)``, ``x̂ = σ'(W'z + b')``, E, and every backward quantity ∂E/∂·."""
    import aenumpy as ae

    model, _, Xte = _model_for_check(args)
    if not 0 <= args.index < len(Xte):
        raise CLIError(f"--index must be between 0 and {len(Xte) - 1} (a test image), "
                       f"got {args.index}")
    t = ae.trace(model, Xte[args.index:args.index + 1], seed=args.seed)
    print(t)
    if args.out:
        from aenumpy import plot

        path = plot.save(plot.trace(t), os.path.join(_run_dir(args), "trace.png"))
        print(f"wrote {path}")
    return 0


def cmd_export(args):
    """``aenumpy export``: :func:`aenumpy.export.to_onnx` or
    :func:`aenumpy.export.save_safetensors` of a run's ``model.npz``, written beside it."""
    import aenumpy as ae

    npz = args.run if os.path.isfile(args.run) else os.path.join(args.run, "model.npz")
    if not os.path.isfile(npz):
        raise CLIError(f"{npz} does not exist: RUN_DIR must be a run folder written by "
                       f"'aenumpy train' (holding model.npz), or a model .npz file")
    if args.part != "model" and args.format != "onnx":
        raise CLIError("--part applies to --format onnx (a safetensors file holds every weight)")
    model = ae.load(npz)
    suffix = "" if args.part == "model" else f"-{args.part}"
    out = f"{os.path.splitext(npz)[0]}{suffix}.{args.format}"
    if args.format == "onnx":
        written = ae.export.to_onnx(model, out, part=args.part)
    else:
        written = ae.export.save_safetensors(model, out)
    print(f"wrote {written}")
    return 0


# ---------------------------------------------------------------- main
def _run(args):
    """The sub-command, with a budget of ``--threads`` threads when it is given."""
    if getattr(args, "threads", None) is None:
        return args.func(args)
    from .fast import threads

    with threads.limited(args.threads):
        return args.func(args)


def main(argv=None):
    """Run the command; returns the exit status: 0 ok, 1 the gradient check failed or
    training diverged (the run folder is still written), 2 bad input."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:           # --help (0) or an argparse error (2, already printed)
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if os.environ.get("AENUMPY_DEBUG"):     # developers: the full traceback
        return _run(args)
    try:
        return _run(args)
    except CLIError as exc:
        print(f"aenumpy {args.command}: error: {exc}", file=sys.stderr)
    except FileNotFoundError as exc:    # includes the loader's DataNotFoundError
        msg = str(exc) if exc.args and isinstance(exc.args[0], str) and len(exc.args) == 1 else (
            f"{exc.strerror}: {exc.filename}")
        print(f"aenumpy {args.command}: error: {msg}", file=sys.stderr)
    except (ValueError, TypeError, OSError, ImportError) as exc:  # ImportError: optional package
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"aenumpy {args.command}: error: {text}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"aenumpy {args.command}: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
