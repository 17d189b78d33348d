#!/usr/bin/env python3
"""aenumpy's VAE against the PyTorch example's VAE on MNIST: the test loss after N epochs.

The model of pytorch/examples ``vae`` (and ``peer_torch.py --variant vae``):
784 → 400 ReLU → (μ, log σ²) 20 → 400 ReLU → 784 sigmoid, Bernoulli decoder,
loss = (BCE summed + KL) / B, Adam(lr 1e-3), batch 128, shuffled every epoch.
Both are trained for the same number of epochs on the 60,000 training images;
the **test loss per sample** is the negative ELBO over the 10,000 test images
with one seeded ε per image (the same ε array for both), i.e.
``Σ_test [BCE(x̂, x) + KL] / 10000``.

The torch side runs in the peer interpreter (``.venv-peer``, see
``../shared/bench/README.md``) as a child process of this script, using the
``VAE`` class, the Adam settings and the shuffling of ``peer_torch.py``.
This is a benchmark, not a test; it takes a few minutes::

    AENUMPY_DATA=../shared/data .venv/bin/python benchmarks/vae_vs_torch.py --epochs 10

Threads default to 1 per side (BLAS, Numba, torch): on a shared 2-core machine
more threads only fight each other; the comparison is about the loss reached,
not the speed (the seconds are printed for information only).
"""
import argparse
import json
import os
import subprocess
import sys
import time

from _peer import add_peer_arguments, set_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPS_SEED = 2024          # the test-set ε: np.random.default_rng(EPS_SEED), float32
N_LATENT, HIDDEN, BATCH, LR = 20, 400, 128, 1e-3


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--data", default=os.environ.get("AENUMPY_DATA"),
                   help="folder holding mnist/ (default $AENUMPY_DATA)")
    p.add_argument("--seed", type=int, default=0)
    add_peer_arguments(p, "its VAE, Adam and shuffling are used")
    return p.parse_args(argv)


def mnist_dir(data):
    if not data:
        sys.exit("no MNIST: pass --data DIR or set AENUMPY_DATA (a folder holding mnist/)")
    d = os.path.join(data, "mnist")
    return d if os.path.isdir(d) else data


def test_eps(np):
    return np.random.default_rng(EPS_SEED).standard_normal((10000, N_LATENT), dtype=np.float32)


# --------------------------------------------------------------------- torch (child)
def run_torch(a):
    import importlib.util

    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    spec = importlib.util.spec_from_file_location("peer_torch", a.peer)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    d = mnist_dir(a.data)
    Xtr = torch.from_numpy(peer.load_mnist_idx(os.path.join(d, "train-images-idx3-ubyte.gz")))
    Xte = torch.from_numpy(peer.load_mnist_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")))
    eps = torch.from_numpy(test_eps(np))
    torch.manual_seed(a.seed)
    model = peer.VAE()                                  # the example's model
    opt = peer.make_adam(model, "default")              # Adam(1e-3, (0.9, 0.999), 1e-8)
    n = Xtr.shape[0]
    steps = -(-n // peer.BATCH)
    it = peer.batch_indices(n, a.seed)                  # reshuffled every epoch

    def test_loss():
        with torch.no_grad():
            h = F.relu(model.fc1(Xte))
            mu, logvar = model.fc21(h), model.fc22(h)
            z = mu + torch.exp(0.5 * logvar) * eps
            xr = torch.sigmoid(model.fc4(F.relu(model.fc3(z))))
            bce = F.binary_cross_entropy(xr, Xte, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.square() - logvar.exp())
            return float((bce + kld) / Xte.shape[0])

    hist = {"loss": [], "test_loss": [], "seconds": []}
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        total = 0.0
        model.train()
        for _ in range(steps):
            idx = next(it)
            opt.zero_grad(set_to_none=True)
            loss = model(Xtr[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        hist["seconds"].append(time.perf_counter() - t0)
        hist["loss"].append(total / n)
        hist["test_loss"].append(test_loss())
        print(f"[torch] epoch {epoch + 1}: train {hist['loss'][-1]:.4f}  test {hist['test_loss'][-1]:.4f}"
              f"  ({hist['seconds'][-1]:.1f} s)", file=sys.stderr, flush=True)
    print(json.dumps({"impl": "torch", "torch": torch.__version__, **hist}), flush=True)


# --------------------------------------------------------------------- aenumpy
def run_aenumpy(a):
    sys.path.insert(0, ROOT)
    import numpy as np

    import aenumpy as ae

    Xtr, _, Xte, _ = ae.datasets.load_mnist("mnist", path=a.data)
    eps = test_eps(np)
    model = ae.VariationalAutoencoder(784, [HIDDEN], N_LATENT, activation="relu",
                                      decoder="bernoulli", seed=a.seed)
    test = []

    def on_epoch(epoch, h):
        test.append(model.loss(Xte, eps=eps))
        print(f"[aenumpy] epoch {epoch + 1}: train {h['loss'][-1]:.4f}  test {test[-1]:.4f}"
              f"  ({h['seconds'][-1]:.1f} s)", file=sys.stderr, flush=True)

    h = ae.fit(model, Xtr, epochs=a.epochs, batch_size=BATCH, optimizer=ae.optim.Adam(lr=LR),
               seed=a.seed, progress=False, callback=on_epoch)
    if h.stopped_early:
        sys.exit(f"aenumpy training stopped: {h.message}")
    return {"impl": "aenumpy", "loss": list(h["loss"]), "test_loss": test,
            "seconds": list(h["seconds"]),
            "iwae_k100_first1000": model.log_likelihood(Xte[:1000], k=100,
                                                         rng=np.random.default_rng(a.seed))}


def main(argv=None):
    a = parse(argv)
    set_threads(a.threads)
    if a.torch_child:
        return run_torch(a)
    res = {"epochs": a.epochs, "seed": a.seed, "threads": a.threads, "aenumpy": run_aenumpy(a)}
    if not a.skip_torch:
        cmd = [a.peer_python, os.path.abspath(__file__), "--torch-child", "--epochs", str(a.epochs),
               "--seed", str(a.seed), "--threads", str(a.threads), "--peer", a.peer,
               "--data", a.data]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, env=os.environ)
        res["torch"] = json.loads(out.stdout.strip().splitlines()[-1])
    ours = res["aenumpy"]["test_loss"][-1]
    print(f"\nVAE 784-400-20 on MNIST, {a.epochs} epochs, seed {a.seed}: test loss per sample "
          f"(negative ELBO, seeded ε)")
    print(f"  aenumpy  {ours:.3f}   ({sum(res['aenumpy']['seconds']):.0f} s training)")
    if "torch" in res:
        theirs = res["torch"]["test_loss"][-1]
        rel = (ours - theirs) / theirs
        res["relative_difference"] = rel
        print(f"  torch    {theirs:.3f}   ({sum(res['torch']['seconds']):.0f} s training)")
        print(f"  difference {100 * rel:+.2f} % -> {'within' if abs(rel) <= 0.01 else 'NOT within'} 1 %")
    print(f"  aenumpy IWAE log p(x), k=100, first 1000 test images: "
          f"{res['aenumpy']['iwae_k100_first1000']:.3f}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
