#!/usr/bin/env python3
"""aenumpy's side of the training-speed benchmark (its spec and its PyTorch peer live in
``../shared/bench``: ``peer_torch.py``).

One process measures one variant and, with ``--json``, prints exactly one JSON
line on stdout with the keys of the PyTorch peer (``peer_torch.py``) and
``"impl": "aenumpy"``; diagnostics go to stderr.

    python benchmarks/train_speed.py --variant basic --json
    python benchmarks/train_speed.py --variant deep --threads 2 --steps 200

What is timed (the same as in the peer): 20 warm-up steps at batch 128 and one step
on the short tail batch, untimed; then ``--steps`` steps (default
``ceil(N/128)``, one epoch's worth of samples), each one

1. the gather ``X[idx]`` (a copy into a batch array kept for the epoch, by the
   routine ``fit`` uses: ``aenumpy.backend.routine("minibatches", ...)``),
2. the library's own training step, exactly what :func:`aenumpy.fit` does per
   batch: ``model.loss_and_grads(xb, rng=rng, checked=True)`` (forward, loss,
   backward: the gradients are overwritten, so there is nothing to zero) and
   ``optimizer.step(model.params, grads)`` (Adam, lr 1e-3, betas (0.9, 0.999),
   eps 1e-8).

The ``unet`` variant trains ``ae.UNet(1, 2, (8, 16, 32))`` on the rows as 28×28 images with
per-pixel labels ``Y = (X > 0.5)``, made with the data (untimed) and kept as ``uint8``; each
step gathers ``X[idx]`` and ``Y[idx]`` and calls ``model.loss_and_grads(xb, yb, ...)``. It is
heavy (4.2 GFLOP a step), so its defaults are 5 warm-up and 60 timed steps, as the peer's.

The batch stream is endless: a fresh seeded permutation each epoch, batches of
128 and a short last batch (60000 = 468·128 + 96). ``cold_start_s`` is the age
of the process (``/proc/self/stat`` starttime) at the end of the first training
step, as in the peer. The models use the library's Glorot initialisation
instead of ``nn.Linear``'s; the init does not affect timing.
"""
import time

_T_SCRIPT0 = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def _threads_from_argv(argv, default=2):
    for i, t in enumerate(argv):
        if t == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if t.startswith("--threads="):
            return int(t.split("=", 1)[1])
    return default


# BLAS and Numba thread counts must be fixed before numpy / numba are loaded.
_T = _threads_from_argv(sys.argv[1:])
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
           "AENUMPY_THREADS"):
    os.environ[_v] = str(_T)

import gzip  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import struct  # noqa: E402

import numpy as np  # noqa: E402

VARIANTS = ["basic", "denoising", "sparse_kl", "ksparse", "contractive", "vae", "deep", "conv",
            "convt", "unet"]
#: the unet variant's defaults (heavy: 4.2 GFLOP a step), as the peer's: (warm-up, timed) steps
UNET_WARMUP, UNET_STEPS = 5, 60
D_IN = 784
BATCH = 128


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def process_age_s():
    """Seconds since this process was created (the peer's definition: /proc/self/stat
    starttime against CLOCK_BOOTTIME); elsewhere, since the top of this script."""
    try:
        with open("/proc/self/stat") as f:
            s = f.read()
        fields = s[s.rfind(")") + 2:].split()
        start = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start
    except Exception:
        return time.perf_counter() - _T_SCRIPT0


def peak_rss_mb():
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return r / 1024.0 if sys.platform != "darwin" else r / 2**20


def load_mnist_idx(path):
    with gzip.open(path, "rb") as f:
        buf = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", buf[:16])
    if magic != 2051:
        raise ValueError(f"{path}: bad IDX magic {magic} (want 2051)")
    X = np.frombuffer(buf, dtype=np.uint8, count=n * rows * cols, offset=16)
    return X.reshape(n, rows * cols).astype(np.float32) / np.float32(255.0)


def make_data(n, mnist_dir, seed):
    """The benchmark's data: the IDX file when present, else seeded uniform [0, 1) float32."""
    if mnist_dir:
        p = os.path.join(mnist_dir, "train-images-idx3-ubyte.gz")
        if os.path.isfile(p):
            X = load_mnist_idx(p)
            if X.shape[1] != D_IN:
                raise ValueError(f"{p}: rows have {X.shape[1]} pixels, want {D_IN}")
            return np.ascontiguousarray(X[:n]), "mnist"
        log(f"[aenumpy] --mnist {mnist_dir}: no train-images-idx3-ubyte.gz, using random data")
    rng = np.random.default_rng(seed)
    return rng.random((n, D_IN), dtype=np.float32), "uniform"


def build(variant, seed):
    """The benchmark's model of ``variant`` built from the library's public classes."""
    import aenumpy as ae

    R = ae.regularizers
    kw = dict(n_in=D_IN, activation="sigmoid", output_activation="sigmoid", loss="mse",
              seed=seed, dtype="float32")
    if variant == "basic":
        return ae.Autoencoder(hidden=[256], **kw)
    if variant == "denoising":
        return ae.Autoencoder(hidden=[256], regularizers=[R.GaussianNoise(0.3)], **kw)
    if variant == "sparse_kl":
        return ae.Autoencoder(hidden=[256], regularizers=[R.KLSparsity(0.05, 3.0)], **kw)
    if variant == "ksparse":
        return ae.Autoencoder(hidden=[256], regularizers=[R.TopK(32)], **kw)
    if variant == "contractive":
        return ae.Autoencoder(hidden=[256], tied=True, regularizers=[R.Contractive(0.1)], **kw)
    if variant == "vae":
        return ae.VariationalAutoencoder(D_IN, [400], 20, activation="relu", seed=seed,
                                         dtype="float32")
    if variant == "deep":
        return ae.Autoencoder(hidden=[512, 256, 64], **kw)
    if variant in ("conv", "convt"):
        return ae.ConvAutoencoder(*conv_layers(variant), input_shape=(1, 28, 28), loss="bce",
                                  seed=seed, dtype="float32")
    if variant == "unet":   # the U-Net of the spec: channels (8, 16, 32), skips, 2 classes
        return ae.UNet(in_channels=1, n_classes=2, channels=(8, 16, 32), input_shape=(1, 28, 28),
                       skips=True, seed=seed, dtype="float32")
    raise ValueError(variant)


def conv_layers(variant):
    """The spec's convolutional autoencoders, by :func:`aenumpy.models.conv_layers`::

        conv:   Conv2D(1→16, 3, p1, relu), MaxPool2D(2), Conv2D(16→8, 3, p1, relu), MaxPool2D(2)
                | Upsample2D(2), Conv2D(8→16, 3, p1, relu), Upsample2D(2), Conv2D(16→1, 3, p1, sigmoid)
        convt:  Conv2D(1→16, 3, s2, p1, relu), Conv2D(16→8, 3, s2, p1, relu)
                | ConvTranspose2D(8→16, 3, s2, p1, op1, relu), ConvTranspose2D(16→1, …, sigmoid)
    """
    import aenumpy as ae

    if variant == "conv":
        return ae.models.conv_layers([16, 8], "pool", "upsample")
    return ae.models.conv_layers([16, 8], "stride", "transposed")


def batches(X, seed, Y=None):
    """Endless stream of shuffled minibatches, a new permutation every epoch, each epoch's
    batches gathered as :func:`aenumpy.fit` gathers them (the ``minibatches`` routine):
    ``(xb,)``, or ``(xb, yb)`` with targets ``Y``."""
    import aenumpy as ae

    minibatches = ae.backend.routine("minibatches", ae.train.minibatches)
    rng = np.random.default_rng([seed, 1])
    while True:
        arrays = (X,) if Y is None else (X, Y)
        yield from minibatches(rng.permutation(len(X)), BATCH, *arrays)


class Trainer:
    """One training step as :func:`aenumpy.fit` does it, on a batch already gathered."""

    def __init__(self, variant, seed):
        import aenumpy as ae

        self.model = build(variant, seed)
        self.opt = ae.optim.Adam(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
        self.rng = np.random.default_rng([seed, 2])

    def step(self, batch):
        """One step on ``batch``: ``(xb,)``, or ``(xb, yb)`` for the unet (images, labels)."""
        if len(batch) == 2:
            xb, yb = batch
            loss, grads = self.model.loss_and_grads(xb.reshape(-1, 1, 28, 28),
                                                    yb.reshape(-1, 28, 28), rng=self.rng,
                                                    checked=True)
            self.opt.step(self.model.params, grads)
            return loss
        (xb,) = batch
        loss, grads = self.model.loss_and_grads(xb, rng=self.rng, checked=True)
        self.opt.step(self.model.params, grads)
        return loss


def running_threads_reader():
    """The function that says how many threads the kernels run on now (fewer than
    ``--threads`` while other work keeps them waiting), or None on the teaching path or
    in a tree without it."""
    import aenumpy as ae

    if not ae.backend.fast_enabled():
        return None
    try:
        from aenumpy.fast._jit import running_threads
    except ImportError:
        return None
    return running_threads


def run_timing(a):
    result = {"impl": "aenumpy", "variant": a.variant, "samples_per_s": None, "epoch_s": None,
              "step_ms": None, "cold_start_s": None, "peak_rss_mb": None,
              "threads": a.threads, "final_loss": None}
    unet = a.variant == "unet"
    steps = a.steps if a.steps is not None else UNET_STEPS if unet else math.ceil(a.n / BATCH)
    warmup = a.warmup if a.warmup is not None else UNET_WARMUP if unet else 20
    X, source = make_data(a.n, a.mnist, a.seed)
    n = X.shape[0]
    Y = (X > 0.5).astype(np.uint8) if unet else None     # labels are data: made untimed
    tr = Trainer(a.variant, a.seed)
    it = batches(X, a.seed, Y)
    cold = None
    t_w0 = time.perf_counter()
    for _ in range(warmup):
        tr.step(next(it))
        if cold is None:
            cold = process_age_s()
    tail = n % BATCH
    if tail and warmup > 0:
        tr.step((X[:tail].copy(),) if Y is None else (X[:tail].copy(), Y[:tail].copy()))
    import aenumpy as ae

    log(f"[aenumpy] {a.variant}: data={source} n={n} threads={a.threads} "
        f"fast={ae.backend.fast_enabled()} warmup {warmup} steps took "
        f"{time.perf_counter() - t_w0:.2f} s")

    running = running_threads_reader()
    samples, threads_sum = 0, 0
    loss = None
    t0 = time.perf_counter()
    for _ in range(steps):
        batch = next(it)
        loss = tr.step(batch)
        samples += len(batch[0])
        if running is not None:
            threads_sum += running()
        if cold is None:
            cold = process_age_s()
    elapsed = time.perf_counter() - t0
    sps = samples / elapsed
    result.update(samples_per_s=round(sps, 1), epoch_s=round(n / sps, 4),
                  step_ms=round(1000 * elapsed / steps, 4), cold_start_s=round(cold, 3),
                  peak_rss_mb=round(peak_rss_mb(), 1),
                  final_loss=round(float(loss), 6) if loss is not None else None,
                  fast=ae.backend.fast_enabled())
    if running is not None:  # fewer than --threads while other work kept them waiting
        result["threads_running"] = round(threads_sum / steps, 2)
    log(f"[aenumpy] timed {steps} steps / {samples} samples in {elapsed:.3f} s")
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="basic", choices=VARIANTS)
    p.add_argument("--n", type=int, default=60000, help="number of samples (default 60000)")
    p.add_argument("--mnist", metavar="DIR", default=None,
                   help="directory holding train-images-idx3-ubyte.gz (else seeded uniform data)")
    p.add_argument("--threads", type=int, default=2,
                   help="BLAS and Numba threads (set before numpy is imported)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps (default 20; 5 for unet)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps (default ceil(n/128) = one epoch; 60 for unet)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    a = p.parse_args()
    try:
        res = run_timing(a)
        rc = 0
    except Exception as e:  # report honestly, in the contract's shape
        res = {"impl": "aenumpy", "variant": a.variant, "samples_per_s": None, "epoch_s": None,
               "step_ms": None, "cold_start_s": None, "peak_rss_mb": round(peak_rss_mb(), 1),
               "threads": a.threads, "final_loss": None,
               "error": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"}
        log(f"[aenumpy] FAILED: {res['error']}")
        rc = 3
    if a.json:
        print(json.dumps(res), flush=True)
    else:
        for k, v in res.items():
            print(f"{k:14s} {v}")
    sys.exit(rc)


if __name__ == "__main__":
    main()
