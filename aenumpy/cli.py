"""The ``aenumpy`` command (also ``python -m aenumpy``).

``aenumpy train`` with no arguments trains the basic autoencoder on the
embedded digits and writes its figures, metrics and model into a run folder.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _run_dir(base):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(base, f"run-{stamp}")
    k = 1
    while os.path.exists(path):
        k += 1
        path = os.path.join(base, f"run-{stamp}-{k}")
    os.makedirs(path)
    return path


def cmd_train(args):
    import aenumpy as ae
    from aenumpy import plot

    Xtr, ytr, Xte, yte = ae.datasets.load_digits()
    model = ae.Autoencoder(Xtr.shape[1], args.hidden, seed=args.seed)
    out = _run_dir(args.out)
    print(f"training {model} on the embedded digits ({len(Xtr)} images)")
    hist = ae.fit(model, Xtr, epochs=args.epochs, batch_size=args.batch_size,
                  optimizer=ae.optim.Adam(lr=args.lr), X_val=Xte, seed=args.seed,
                  progress=not args.quiet)
    metrics = {"model": repr(model), "epochs": hist.epochs, "train_loss": hist["loss"][-1],
               "test_loss": hist["val_loss"][-1], "test_reconstruction_error":
               model.reconstruction_error(Xte), "seconds": sum(hist["seconds"])}
    with open(os.path.join(out, "metrics.json"), "w") as fh:
        json.dump(metrics, fh, indent=2)
    ae.save(model, os.path.join(out, "model.npz"))
    plot.reconstructions(model, Xte, n=10).savefig(os.path.join(out, "reconstructions.png"), dpi=100)
    plot.history(hist).savefig(os.path.join(out, "history.png"), dpi=100)
    print(f"test loss {metrics['test_loss']:.4f} after {hist.epochs} epochs "
          f"({metrics['seconds']:.1f} s); wrote {out}")
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="aenumpy", description="Autoencoders by hand.")
    sub = p.add_subparsers(dest="command")
    t = sub.add_parser("train", help="train an autoencoder and write figures, metrics and the model")
    t.add_argument("--hidden", type=int, nargs="+", default=[32], help="hidden layer sizes")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs", help="folder for run folders")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"aenumpy: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
