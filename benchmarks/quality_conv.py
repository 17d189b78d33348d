#!/usr/bin/env python3
"""Test loss of aenumpy's convolutional autoencoders (the benchmark's ``conv`` and ``convt``)
on MNIST, trained as the PyTorch peer's ``peer_quality_conv.py`` trains its own.

Trains on the 60,000 training images (batch 128, Adam 1e-3, a fresh permutation each epoch)
and prints, after each epoch, the test loss: binary cross-entropy summed over the 784
pixels and averaged over the 10,000 test images (nats per image).

    python benchmarks/quality_conv.py --data ../shared/data --epochs 3 --seeds 0 1 2
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import aenumpy as ae  # noqa: E402
from train_speed import conv_layers  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="folder holding mnist/ (default $AENUMPY_DATA)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--variants", nargs="+", default=["conv", "convt"], choices=["conv", "convt"])
    a = p.parse_args()
    Xtr, _, Xte, _ = ae.datasets.load_mnist("mnist", path=a.data)
    for v in a.variants:
        for seed in a.seeds:
            model = ae.ConvAutoencoder(*conv_layers(v), input_shape=(1, 28, 28), loss="bce",
                                       seed=seed)
            opt = ae.optim.Adam(lr=1e-3)

            def report(epoch, history):
                test = model.reconstruction_error(Xte)
                print(f"{v} seed {seed} epoch {epoch + 1}: test BCE {test:.3f} nats/image "
                      f"({history['seconds'][-1]:.1f} s)", flush=True)

            t0 = time.perf_counter()
            ae.fit(model, Xtr, epochs=a.epochs, batch_size=128, optimizer=opt, seed=seed,
                   progress=False, callback=report)
            print(f"{v} seed {seed}: {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
