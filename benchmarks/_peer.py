"""What the quality benchmarks share to run the PyTorch peer beside aenumpy: its command-line
options and the thread count set before NumPy, Numba or torch loads."""
import argparse
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_peer_arguments(p, uses, child=None):
    """``--threads``, ``--peer`` (whose ``uses`` the script takes), ``--peer-python``,
    ``--skip-torch``, ``--json`` and the hidden ``--torch-child`` (a flag, or with ``child``
    its metavar: the file the parent hands over)."""
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--peer", default=os.path.join(ROOT, "..", "shared", "bench", "peer_torch.py"),
                   help=f"peer_torch.py ({uses})")
    p.add_argument("--peer-python", default=os.path.join(ROOT, ".venv-peer", "bin", "python"),
                   help="interpreter with torch installed")
    p.add_argument("--skip-torch", action="store_true", help="train aenumpy only")
    p.add_argument("--json", default=None, help="also write the results to this file")
    if child is None:
        p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    else:
        p.add_argument("--torch-child", metavar=child, help=argparse.SUPPRESS)


def set_threads(n):
    """Every library's thread count to ``n`` (read when each loads, so call this first)."""
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[k] = str(n)
