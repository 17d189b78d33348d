"""aenumpy: autoencoders by hand, every step in the open.

Follows the lecture "Autoencoder y Aprendizaje Profundo": ``z = σ(Wx + b)``,
``x̂ = σ'(W'z + b')``, ``E = ½(x − x̂)²``. See README.md for a tour.

The teaching path (activations, layers, losses, optim, regularizers, models) is plain
NumPy; :mod:`aenumpy.fast` registers its compiled twins with :mod:`aenumpy.backend`
on import, without importing anything compiled.
"""
from . import (activations, anomaly, backend, datasets, exercises, export, layers, losses, metrics,
               optim, regularizers)
from . import fast  # noqa: F401  (registers the speed backend's twins; compiles nothing)
from .gradcheck import check_layer, gradcheck, numerical_gradient
from .history import History
from .io import load, save
from .models import Autoencoder, ConvAutoencoder, UNet, VariationalAutoencoder
from .trace import trace
from .train import TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = ["Autoencoder", "VariationalAutoencoder", "ConvAutoencoder", "UNet", "fit", "gradcheck",
           "trace", "save", "load", "datasets", "regularizers", "optim", "activations", "layers",
           "losses", "backend", "metrics", "History", "TrainingDiverged", "numerical_gradient",
           "check_layer", "anomaly", "exercises", "export"]


def __getattr__(name):  # plot and explore pull in matplotlib: import them only when asked for
    if name in ("plot", "explore"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'aenumpy' has no attribute {name!r}")
