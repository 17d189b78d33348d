#!/usr/bin/env python3
"""aenumpy's U-Net against the same network in PyTorch: the test mean IoU after N epochs.

Both sides train the U-Net of ``ae.UNet`` (channels 8, 16, 32, skips or not, 11 classes: the
background and the ten digits) on the same generated data, ``ae.datasets.make_segmentation``
(``--n`` training images of the embedded 8×8 digits on 32×32 canvases, and 1,000 test images
made from the test digits), from the same initial weights (aenumpy's, drawn from the seed as
PyTorch's default initialisation draws them, copied into the torch module), on the same batches
(the permutations ``ae.fit`` draws from the seed), with Adam (lr ``--lr``, betas 0.9 and
0.999, eps 1e-8) and the per-pixel softmax cross-entropy, ``F.cross_entropy`` on the torch
side. After each epoch both predict the test images (argmax of the logits) and report the mean
IoU over the classes present (``ae.metrics.mean_iou``). The two runs differ only in the order
of their floating-point sums.

The torch side runs in the peer interpreter (``.venv-peer``, see ``../shared/bench/README.md``)
as a child process of this script, with the ``UNetSeg`` module of ``peer_torch.py`` (the
benchmark's ``unet`` variant) sized to these channels and classes. It reads the data, the
weights and the batch orders from a file this script writes. A benchmark, not a test; about
10 s per epoch and seed on a quiet 2-core machine, both sides together::

    .venv/bin/python benchmarks/quality_unet.py --seeds 0 1 2
    .venv/bin/python benchmarks/quality_unet.py --seeds 0 1 2 --no-skips

Threads default to 1 per side (BLAS, Numba, torch): on a shared 2-core machine more threads
only fight each other; the comparison is about the IoU reached, not the speed. So the seeds
can run in two processes at once, one per core, and their records join into one::

    .venv/bin/python benchmarks/quality_unet.py --seeds 0 1 2 3 4 --json a.json &
    .venv/bin/python benchmarks/quality_unet.py --seeds 5 6 7 8 9 --json b.json; wait
    .venv/bin/python benchmarks/quality_unet.py --merge a.json b.json --json all.json

The table ends with the mean difference and its standard error over the seeds. One seed's two
runs leave the all-background start, and learn each digit, in epochs that the rounding of their
first steps decides; after 20 epochs some runs are still learning, and single seeds differ by up
to 0.24 either way. The default, 40 epochs, compares what the training reaches.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _peer import add_peer_arguments, set_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHANNELS, N_CLASSES, CANVAS, N_TEST = (8, 16, 32), 11, 32, 1000


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n", type=int, default=4000, help="training images (default 4000)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--no-skips", action="store_true", help="the network without skip connections")
    p.add_argument("--merge", nargs="+", metavar="JSON", default=None,
                   help="train nothing: join the records of earlier runs (their --json files, same "
                        "settings, other seeds), print their table and write --json")
    add_peer_arguments(p, "its UNetSeg module is used", child="FILE")
    return p.parse_args(argv)


def orders(np, seed, n, epochs):
    """The permutations ``ae.fit(..., seed=seed)`` draws, one per epoch (its generator
    ``default_rng([seed, 0])``; a U-Net draws nothing else from it)."""
    rng = np.random.default_rng([seed, 0])
    return np.stack([rng.permutation(n) for _ in range(epochs)])


# --------------------------------------------------------------------- torch (child)
def run_torch(a):
    import importlib.util

    import numpy as np
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, ROOT)
    from aenumpy import metrics            # NumPy only: the same mean IoU as aenumpy's side

    torch.set_num_threads(a.threads)
    spec = importlib.util.spec_from_file_location("peer_torch", a.peer)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    d = np.load(a.torch_child)
    X, Y, Xte, Yte = (torch.from_numpy(d[k]) for k in ("X", "Y", "Xte", "Yte"))
    Yte = Yte.numpy()
    out = {}
    for seed in a.seeds:
        model = peer.UNetSeg(CHANNELS, N_CLASSES)
        if a.no_skips:  # the decoder's first convolutions take the upsampled channels only
            for i in range(len(CHANNELS) - 1):
                getattr(model, f"up{i}")["conv0"] = torch.nn.Conv2d(CHANNELS[i + 1], CHANNELS[i],
                                                                   3, padding=1)
            model.logits = _no_skip_logits(model, F)
        state = {k.replace(".W", ".weight").replace(".b", ".bias"):
                 torch.from_numpy(d[f"{seed}/{k}"]) for k in d["names"]}
        model.load_state_dict(state)
        opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
        hist = {"loss": [], "test_mean_iou": [], "seconds": []}
        for e, order in enumerate(d[f"{seed}/orders"]):
            t0, total = time.perf_counter(), 0.0
            for s in range(0, len(order), a.batch):
                idx = torch.from_numpy(order[s:s + a.batch])
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model.logits(X[idx]), Y[idx])
                loss.backward()
                opt.step()
                total += float(loss) * len(idx)
            hist["seconds"].append(time.perf_counter() - t0)
            hist["loss"].append(total / len(order))
            with torch.no_grad():
                P = torch.cat([model.logits(Xte[i:i + 500]).argmax(1)
                               for i in range(0, len(Xte), 500)]).numpy()
            hist["test_mean_iou"].append(metrics.mean_iou(Yte, P, N_CLASSES))
            print(f"[torch] seed {seed} epoch {e + 1}: train {hist['loss'][-1]:.4f}  test mean IoU "
                  f"{hist['test_mean_iou'][-1]:.4f}  ({hist['seconds'][-1]:.1f} s)",
                  file=sys.stderr, flush=True)
        out[seed] = hist
    print(json.dumps({"impl": "torch", "torch": torch.__version__, "runs": out}), flush=True)


def _no_skip_logits(model, F):
    """``UNetSeg.logits`` without the concatenations."""
    def logits(x):
        h = x
        for i in range(model.L):
            m = getattr(model, f"down{i}")
            h = F.max_pool2d(F.relu(m["conv1"](F.relu(m["conv0"](h)))), 2)
        h = F.relu(model.bottom["conv1"](F.relu(model.bottom["conv0"](h))))
        for i in range(model.L - 1, -1, -1):
            m = getattr(model, f"up{i}")
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = F.relu(m["conv1"](F.relu(m["conv0"](h))))
        return model.head(h)
    return logits


# --------------------------------------------------------------------- aenumpy
def run_aenumpy(a, data, path):
    import numpy as np

    import aenumpy as ae

    X, Y, Xte, Yte = data
    save = {"X": X, "Y": Y, "Xte": Xte, "Yte": Yte}
    out = {}
    for seed in a.seeds:
        net = ae.UNet(1, N_CLASSES, CHANNELS, input_shape=(1, CANVAS, CANVAS),
                      skips=not a.no_skips, seed=seed)
        save["names"] = np.array(list(net.params))
        save.update({f"{seed}/{k}": v.copy() for k, v in net.params.items()})
        save[f"{seed}/orders"] = orders(np, seed, len(X), a.epochs)
        test = []

        def on_epoch(epoch, h, net=net, test=test, seed=seed):
            test.append(ae.metrics.mean_iou(Yte, net.predict(Xte), N_CLASSES))
            print(f"[aenumpy] seed {seed} epoch {epoch + 1}: train {h['loss'][-1]:.4f}  test mean "
                  f"IoU {test[-1]:.4f}  ({h['seconds'][-1]:.1f} s)", file=sys.stderr, flush=True)

        h = ae.fit(net, X, Y=Y, epochs=a.epochs, batch_size=a.batch,
                   optimizer=ae.optim.Adam(lr=a.lr), seed=seed, progress=False, callback=on_epoch)
        if h.stopped_early:
            sys.exit(f"aenumpy training stopped: {h.message}")
        out[seed] = {"loss": list(h["loss"]), "test_mean_iou": test, "seconds": list(h["seconds"])}
    np.savez(path, **save)
    return out


def summary(ours, theirs):
    """The mean test IoU of each side over the seeds, their difference and its standard error
    (the spread of the per-seed differences over √seeds: the runs of one seed share data,
    initial weights and batches, so their difference is what varies)."""
    n = len(ours)
    diffs = [o - t for o, t in zip(ours, theirs)]
    md = sum(diffs) / n
    sd = (sum((d - md) ** 2 for d in diffs) / (n - 1)) ** 0.5 if n > 1 else float("nan")
    return {"aenumpy": sum(ours) / n, "torch": sum(theirs) / n, "difference": md,
            "difference_se": sd / n ** 0.5}


def main(argv=None):
    a = parse(argv)
    set_threads(a.threads)
    if a.torch_child:
        return run_torch(a)
    res = merged(a.merge) if a.merge else train_both(a)
    report(res)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)


def train_both(a):
    """The record of aenumpy's runs and the torch child's, one per seed."""
    sys.path.insert(0, ROOT)
    import aenumpy as ae

    X, Y = ae.datasets.make_segmentation(a.n, canvas=CANVAS, split="train", seed=0)
    Xte, Yte = ae.datasets.make_segmentation(N_TEST, canvas=CANVAS, split="test", seed=1)
    res = {"epochs": a.epochs, "seeds": a.seeds, "n": a.n, "batch": a.batch, "lr": a.lr,
           "skips": not a.no_skips, "threads": a.threads}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "unet.npz")
        res["aenumpy"] = run_aenumpy(a, (X, Y, Xte, Yte), path)
        if not a.skip_torch:
            cmd = [a.peer_python, os.path.abspath(__file__), "--torch-child", path,
                   "--epochs", str(a.epochs), "--batch", str(a.batch), "--lr", str(a.lr),
                   "--threads", str(a.threads), "--peer", a.peer, "--seeds", *map(str, a.seeds)]
            cmd += ["--no-skips"] if a.no_skips else []
            out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, env=os.environ)
            res["torch"] = {int(k): v for k, v in
                            json.loads(out.stdout.strip().splitlines()[-1])["runs"].items()}
    return res


#: what the joined records must share
SETTINGS = ("epochs", "n", "batch", "lr", "skips", "threads")


def merged(paths):
    """One record from the records of earlier runs of other seeds with the same settings: each
    seed's runs are the same whichever process trained it (data, weights and batches come from
    the seeds; one thread a side), so seeds trained in parallel processes join into one run's
    record."""
    recs = []
    for path in paths:
        with open(path) as fh:
            recs.append(json.load(fh))
    res = {k: recs[0][k] for k in SETTINGS}
    res["seeds"], res["aenumpy"], res["torch"] = [], {}, {}
    for path, rec in zip(paths, recs):
        if any(rec[k] != res[k] for k in SETTINGS):
            sys.exit(f"{path}: other settings than {paths[0]} ({', '.join(SETTINGS)})")
        if set(rec["seeds"]) & set(res["seeds"]):
            sys.exit(f"{path}: seeds already in the other records")
        if "torch" not in rec:
            sys.exit(f"{path}: a run without the peer (--skip-torch) has no differences to join")
        res["seeds"] += rec["seeds"]
        for side in ("aenumpy", "torch"):
            res[side].update({int(k): v for k, v in rec[side].items()})
    return res


def report(res):
    """The table of test mean IoUs, seed by seed, and the mean difference; sets ``res["mean"]``."""
    print(f"\nU-Net {CHANNELS}{'' if res['skips'] else ' without skips'}, {res['n']} images "
          f"{CANVAS}×{CANVAS}, {res['epochs']} epochs, batch {res['batch']}, Adam {res['lr']:g}: "
          f"test mean IoU ({N_TEST} images)")
    print(f"{'seed':>6}{'aenumpy':>10}{'torch':>10}{'difference':>12}")
    ours, theirs = [], []
    for seed in res["seeds"]:
        o = res["aenumpy"][seed]["test_mean_iou"][-1]
        t = res["torch"][seed]["test_mean_iou"][-1] if "torch" in res else float("nan")
        ours.append(o)
        theirs.append(t)
        print(f"{seed:>6}{o:>10.4f}{t:>10.4f}{o - t:>+12.4f}")
    res["mean"] = summary(ours, theirs)
    mo, mt, se = res["mean"]["aenumpy"], res["mean"]["torch"], res["mean"]["difference_se"]
    print(f"{'mean':>6}{mo:>10.4f}{mt:>10.4f}{mo - mt:>+12.4f}"
          + ("" if "torch" not in res else
             f"  ± {se:.4f} (standard error over the seeds) -> "
             f"{'within' if abs(mo - mt) <= 0.02 else 'NOT within'} 0.02"))


if __name__ == "__main__":
    main()
