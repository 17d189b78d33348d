#!/usr/bin/env python3
"""Per-layer speed of the convolutional layers: teaching path, speed backend, PyTorch.

Times the forward and the backward of every layer of the benchmark's ``conv`` and
``convt`` networks (the benchmark's, as the PyTorch peer in ``../shared/bench`` builds
them) at their own shapes: the teaching layers of :mod:`aenumpy.layers` (NumPy, im2col +
one matrix product), the fast layers of :mod:`aenumpy.fast.conv` / :mod:`aenumpy.fast.pool`
(Numba kernels; given their input and upstream gradient as rows, the layout they hand
each other in a fast model, and handing theirs on as rows) and, when it is installed,
PyTorch's eager ops (``conv2d``, ``conv_transpose2d``, ``max_pool2d``, ``interpolate``,
with the activation; backward by autograd). A layer's backward includes the
activation's derivative; the first layer of each network skips dX, as in training. The
three take turns of five calls each (after one call not counted), so a busy machine
slows them alike and none runs while another's threads still spin; the table gives the
median and, in brackets, the fastest call, in ms.

    python benchmarks/conv_layers_speed.py                  # batch 128, float32, 2 threads
    python benchmarks/conv_layers_speed.py --reps 50 --threads 1
    python benchmarks/conv_layers_speed.py --routes         # direct against im2col + GEMM

``--routes`` times, for the four stride-1 convolutions of ``conv``, the three sums of a
convolution (forward with bias and ReLU, weight gradient, input gradient) by three
routes: the teaching path's batch im2col + ``np.matmul`` (the forward without bias
and activation), a per-sample im2col in Numba with one single-threaded ``sgemm`` per
sample on each thread (the columns of one sample stay in the cache), and the direct
kernels of :mod:`aenumpy.fast.conv` on the rows layout they work in (one pixel of
every sample a row; the copy into rows is not timed, as in a fast model the layers
hand each other rows); each the fastest of ``--reps`` calls.

The thread counts (``NUMBA_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, torch's) are set
before NumPy is imported. ``--idle`` waits, before each layer, until the machine's
cores were idle for a moment (others' jobs share it), for at most 60 s.

Every call allocates its outputs. With glibc's default settings a freed block of a few
MB at the top of the heap goes back to the system, and the next call's array of that
size page-faults anew (a 128×16×28×28 float32 array: 1,600 faults); ``--keep-heap``
raises glibc's trim and mmap thresholds (``mallopt``) to 1 GiB first, so that memory
stays with the process, and the table shows the arithmetic without the faults.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def network(variant):
    """``(name, make(L, **kw), sample input shape, need_dX)`` for each layer of a variant;
    ``make`` builds the layer from a module of layer classes (teaching or fast)."""
    if variant == "conv":
        return [
            ("enc0 conv 1→16", lambda L, **kw: L.Conv2D(1, 16, 3, padding=1, **kw), (1, 28, 28), False),
            ("enc1 maxpool", lambda L, **kw: L.MaxPool2D(2), (16, 28, 28), True),
            ("enc2 conv 16→8", lambda L, **kw: L.Conv2D(16, 8, 3, padding=1, **kw), (16, 14, 14), True),
            ("enc3 maxpool", lambda L, **kw: L.MaxPool2D(2), (8, 14, 14), True),
            ("dec0 upsample", lambda L, **kw: L.Upsample2D(2), (8, 7, 7), True),
            ("dec1 conv 8→16", lambda L, **kw: L.Conv2D(8, 16, 3, padding=1, **kw), (8, 14, 14), True),
            ("dec2 upsample", lambda L, **kw: L.Upsample2D(2), (16, 14, 14), True),
            ("dec3 conv 16→1", lambda L, **kw: L.Conv2D(16, 1, 3, padding=1, activation="sigmoid", **kw),
             (16, 28, 28), True),
        ]
    return [
        ("enc0 conv 1→16 s2", lambda L, **kw: L.Conv2D(1, 16, 3, 2, 1, **kw), (1, 28, 28), False),
        ("enc1 conv 16→8 s2", lambda L, **kw: L.Conv2D(16, 8, 3, 2, 1, **kw), (16, 14, 14), True),
        ("dec0 convT 8→16", lambda L, **kw: L.ConvTranspose2D(8, 16, 3, 2, 1, 1, **kw), (8, 7, 7), True),
        ("dec1 convT 16→1",
         lambda L, **kw: L.ConvTranspose2D(16, 1, 3, 2, 1, 1, activation="sigmoid", **kw),
         (16, 14, 14), True),
    ]


class Fast:
    """The fast layers under the teaching layers' names, for :func:`network`, and
    ``rows``: images as the rows the fast layers hand each other."""

    def __init__(self):
        from aenumpy.fast.conv import FastConv2D, FastConvTranspose2D, images, rows_of
        from aenumpy.fast.pool import FastMaxPool2D, FastUpsample2D

        self.Conv2D, self.ConvTranspose2D = FastConv2D, FastConvTranspose2D
        self.MaxPool2D, self.Upsample2D = FastMaxPool2D, FastUpsample2D
        self.rows = lambda X: images(rows_of(X), X.shape)


def torch_layer(layer, torch):
    """PyTorch's forward for a teaching layer (same weights): ``x -> f(op(x))``."""
    F = torch.nn.functional
    acts = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda a: a}
    params = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    kind = type(layer).__name__
    if kind == "Conv2D":
        f = acts[layer.activation.name]
        return lambda x: f(F.conv2d(x, params["W"], params["b"], layer.stride, layer.padding))
    if kind == "ConvTranspose2D":
        f = acts[layer.activation.name]
        return lambda x: f(F.conv_transpose2d(x, params["W"], params["b"], layer.stride,
                                              layer.padding, layer.output_padding))
    if kind == "MaxPool2D":
        return lambda x: F.max_pool2d(x, layer.size)
    return lambda x: F.interpolate(x, scale_factor=layer.scale, mode="nearest")


def idle_fraction(seconds=0.3):
    """Fraction of the machine's CPU time spent idle over the next ``seconds`` (Linux)."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)

    i0, t0 = read()
    time.sleep(seconds)
    i1, t1 = read()
    return (i1 - i0) / max(1, t1 - t0)


def wait_idle(threshold=0.9, timeout=60.0):
    t = time.perf_counter()
    while time.perf_counter() - t < timeout:
        if idle_fraction() >= threshold:
            return


def measure(calls, reps, block=5):
    """Each callable of ``calls`` (a dict) run ``reps`` times, in turns of ``block`` calls
    each; ms per call. The first call of a turn is not counted: it meets the threads the
    other implementation left spinning (OpenBLAS's, PyTorch's) and its caches cold."""
    out = {k: [] for k in calls}
    for f in calls.values():  # warm-up (and compilation)
        f()
    while min(len(v) for v in out.values()) < reps:
        for k, f in calls.items():
            for i in range(block + 1):
                t = time.perf_counter()
                f()
                if i:
                    out[k].append(1000 * (time.perf_counter() - t))
    return out


def im2col_gemm_routes():
    """The per-sample im2col + single-threaded sgemm route, as three Numba kernels
    ``(forward, weight_grad, input_grad)`` for a stride-1 k×k convolution with padding p
    (float32; they call NumPy's OpenBLAS through :mod:`aenumpy.fast.blas`)."""
    import numba
    import numpy as np
    from numba import prange

    from aenumpy.fast import blas
    from aenumpy.fast._jit import FASTMATH

    if not blas.split_blas():
        return None
    sgemm, local, RM, N, T = blas._sgemm, blas._set_local, blas._ROW_MAJOR, blas._NO_TRANS, blas._TRANS
    # compiled here, not cached: the BLAS entry points are closure variables
    jit = lambda parallel=False: numba.njit(parallel=parallel, fastmath=FASTMATH)  # noqa: E731

    @jit()
    def patches(X, b, k, p, cols, Ho, Wo, gather):
        """im2col of sample b into ``cols`` (its padding entries stay as they are: zeros)
        when ``gather``, else col2im: ``cols`` added onto sample b of X."""
        C, H, W = X.shape[1], X.shape[2], X.shape[3]
        for c in range(C):
            for i in range(k):
                for j in range(k):
                    r = cols[(c * k + i) * k + j]
                    for y in range(Ho):
                        yy = y + i - p
                        if 0 <= yy < H:  # (a bounded range instead ran 1.5–2× slower)
                            for x in range(Wo):
                                xx = x + j - p
                                if 0 <= xx < W:
                                    if gather:
                                        r[y * Wo + x] = X[b, c, yy, xx]
                                    else:
                                        X[b, c, yy, xx] += r[y * Wo + x]

    @jit(parallel=True)
    def forward(X, Wm, bias, k, p, A, Z, parts):
        B, O, L = X.shape[0], A.shape[1], A.shape[2] * A.shape[3]
        for t in prange(parts):
            cols, out = np.zeros((Wm.shape[1], L), X.dtype), np.empty((O, L), X.dtype)
            local(1)
            for b in range(t * B // parts, (t + 1) * B // parts):
                patches(X, b, k, p, cols, A.shape[2], A.shape[3], True)
                sgemm(RM, N, N, O, L, Wm.shape[1], np.float32(1), Wm.ctypes.data, Wm.shape[1],
                      cols.ctypes.data, L, np.float32(0), out.ctypes.data, L)
                Ab, Zb = A[b].reshape(O, L), Z[b].reshape(O, L)
                for o in range(O):
                    for q in range(L):
                        a = out[o, q] + bias[o]
                        Ab[o, q] = a
                        Zb[o, q] = a if a > 0 else a - a
            local(0)

    @jit(parallel=True)
    def weight_grad(X, G, k, p, dW, parts):
        B, O, L, K = X.shape[0], G.shape[1], G.shape[2] * G.shape[3], dW.shape[2]
        for t in prange(parts):
            cols = np.zeros((K, L), X.dtype)
            local(1)
            for b in range(t * B // parts, (t + 1) * B // parts):
                patches(X, b, k, p, cols, G.shape[2], G.shape[3], True)
                sgemm(RM, N, T, O, K, L, np.float32(1), G[b].ctypes.data, L, cols.ctypes.data, L,
                      np.float32(1), dW[t].ctypes.data, K)
            local(0)

    @jit(parallel=True)
    def input_grad(G, Wm, k, p, dX, parts):
        B, O, Ho, Wo = G.shape
        K, L = Wm.shape[1], Ho * Wo
        for t in prange(parts):
            cols = np.empty((K, L), G.dtype)
            local(1)
            for b in range(t * B // parts, (t + 1) * B // parts):
                sgemm(RM, T, N, K, L, O, np.float32(1), Wm.ctypes.data, K, G[b].ctypes.data, L,
                      np.float32(0), cols.ctypes.data, L)
                dX[b] = 0
                patches(dX, b, k, p, cols, Ho, Wo, False)
            local(0)

    return forward, weight_grad, input_grad


def compare_routes(args, np):
    """Print the three routes' times for the stride-1 convolutions of ``conv``."""
    import aenumpy.layers as L
    from aenumpy.fast import conv as direct
    from aenumpy.fast._jit import kernel_threads

    routes = im2col_gemm_routes()
    if routes is None:
        print("no NumPy OpenBLAS to call per sample: the im2col + sgemm route is not timed")
        return
    fwd, wgrad, igrad = routes
    parts, rng = kernel_threads(), np.random.default_rng(0)
    print(f"\nthe three sums of a convolution, ms (fastest of {args.reps}), float32, batch {args.batch}")
    print(f"{'layer':<18}{'route':<30}{'forward':>9}{'dW':>9}{'dX':>9}")
    for name, make, shape, _ in network("conv"):
        layer = make(L)
        if not isinstance(layer, L.Conv2D):
            continue
        X = rng.random((args.batch, *shape), dtype=np.float32)
        W, b = layer.params["W"], np.zeros(layer.c_out, np.float32)
        Wm, k, p = W.reshape(layer.c_out, -1).copy(), layer.kernel_size, layer.padding
        out_shape = (args.batch, *layer.output_shape(shape))
        G = rng.standard_normal(out_shape).astype(np.float32)
        A, Z = np.empty(out_shape, np.float32), np.empty(out_shape, np.float32)
        dW, dX = np.zeros((parts, *Wm.shape), np.float32), np.empty_like(X)
        Xr, Gr = direct.rows_of(X), direct.rows_of(G)  # the layout the fast layers hand on
        rows = {
            "teaching im2col + np.matmul": (
                lambda: L.weights_times_cols(W, L.im2col(X, k, 1, p), out_shape[2:]),
                lambda: L.conv2d_weight_grad(G, L.im2col(X, k, 1, p), W.shape),
                lambda: L.conv2d_input_grad(G, W, X.shape, 1, p)),
            "per-sample im2col + sgemm": (
                lambda: fwd(X, Wm, b, k, p, A, Z, parts),
                lambda: wgrad(X, G, k, p, dW, parts),
                lambda: igrad(G, Wm, k, p, dX, parts)),
            "direct on rows (fast.conv)": (
                lambda: direct.conv_rows(Xr, W, b, 1, p, 3, X.shape, out_shape),
                lambda: direct.weight_grad_rows(Xr, Gr, X.shape, W.shape, 1, p),
                lambda: direct.conv_rows_t(Gr, W, np.zeros(X.shape[1], np.float32), 1, p, 0,
                                           G.shape, X.shape)),
        }
        for route, calls in rows.items():
            times = [min(measure({"": f}, args.reps)[""]) for f in calls]
            print(f"{name:<18}{route:<30}" + "".join(f"{t:>9.2f}" for t in times))


def keep_heap(limit=1 << 30):
    """glibc's ``mallopt(M_TRIM_THRESHOLD, limit)`` and ``mallopt(M_MMAP_THRESHOLD, limit)``:
    freed blocks below ``limit`` stay with the process. False where there is no glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(-1, limit)) and bool(libc.mallopt(-3, limit))
    except (OSError, AttributeError, TypeError):
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--variants", nargs="+", default=["conv", "convt"], choices=["conv", "convt"])
    ap.add_argument("--idle", action="store_true", help="wait for idle cores before each layer")
    ap.add_argument("--routes", action="store_true",
                    help="also time direct against im2col + GEMM for the conv layers")
    ap.add_argument("--keep-heap", action="store_true",
                    help="keep freed memory in the process (glibc mallopt), see the docstring")
    args = ap.parse_args(argv)
    kept = keep_heap() if args.keep_heap else False
    for var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import numpy as np

    import aenumpy.layers as teaching
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    fast = Fast()
    rng = np.random.default_rng(0)
    impls = ["teaching", "fast"] + (["torch"] if torch is not None else [])
    print(f"batch {args.batch}, {args.dtype}, {args.threads} threads, heap "
          f"{'kept (mallopt)' if kept else 'as glibc sets it'}; ms per call: median [fastest] of "
          f"{args.reps}")
    head = f"{'layer':<20}" + "".join(f"{i + ' ' + d:>18}" for d in ("fwd", "bwd") for i in impls)
    for variant in args.variants:
        print(f"\n{variant}\n{head}")
        totals = {(i, d): 0.0 for i in impls for d in ("fwd", "bwd")}
        for name, make, shape, need_dX in network(variant):
            t_layer = make(teaching, dtype=args.dtype, rng=np.random.default_rng(1))
            f_layer = make(fast, dtype=args.dtype, rng=np.random.default_rng(1))
            X = rng.random((args.batch, *shape), dtype=np.float32).astype(args.dtype)
            dZ = rng.standard_normal((args.batch, *t_layer.output_shape(shape))).astype(args.dtype)
            layers = {"teaching": t_layer, "fast": f_layer}
            # the fast layer as in the fast model: given its input and upstream gradient as
            # the rows its neighbours hand on, and handing its output on as rows
            f_layer.rows_out = True  # (pooling and upsampling hand on rows when given rows)
            given = {"teaching": (X, dZ), "fast": (fast.rows(X), fast.rows(dZ))}
            for k, layer in layers.items():
                layer.needs_dX = need_dX
                layer.forward(given[k][0])
            fwd = {k: (lambda lay=lay, x=given[k][0]: lay.forward(x)) for k, lay in layers.items()}
            bwd = {k: (lambda lay=lay, g=given[k][1]: lay.backward(g))
                   for k, lay in layers.items()}
            if torch is not None:
                tf = torch_layer(t_layer, torch)
                xt = torch.tensor(X, requires_grad=need_dX)
                gt = torch.tensor(dZ)
                out = tf(xt)
                fwd["torch"] = lambda: tf(xt)
                bwd["torch"] = lambda: out.backward(gt, retain_graph=True)
            if args.idle:
                wait_idle()
            res = {("fwd", k): v for k, v in measure(fwd, args.reps).items()}
            res.update({("bwd", k): v for k, v in measure(bwd, args.reps).items()})
            row = f"{name:<20}"
            for d in ("fwd", "bwd"):
                for i in impls:
                    ts = res[(d, i)]
                    med = statistics.median(ts)
                    totals[(i, d)] += med
                    row += f"{med:>10.2f} [{min(ts):5.2f}]"
            print(row)
        print(f"{'total (medians)':<20}" + "".join(f"{totals[(i, d)]:>18.2f}"
                                                   for d in ("fwd", "bwd") for i in impls))
    if args.routes:
        compare_routes(args, np)


if __name__ == "__main__":
    main()
