"""aenumpy: autoencoders by hand, every step in the open.

Follows the lecture "Autoencoder y Aprendizaje Profundo": ``z = σ(Wx + b)``,
``x̂ = σ'(W'z + b')``, ``E = ½(x − x̂)²``. See README.md for a tour.
"""
from . import activations, datasets, fast, layers, losses, optim, regularizers
from .gradcheck import check_layer, gradcheck, numerical_gradient
from .io import load, save
from .models import Autoencoder, VariationalAutoencoder
from .trace import trace
from .train import History, TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = ["Autoencoder", "VariationalAutoencoder", "fit", "gradcheck", "trace", "save", "load",
           "datasets", "regularizers", "optim", "activations", "layers", "losses", "fast", "History",
           "TrainingDiverged", "numerical_gradient", "check_layer"]


def __getattr__(name):  # plot pulls in matplotlib: import it only when asked for
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'aenumpy' has no attribute {name!r}")
