"""Models: the (stacked) autoencoder and the variational autoencoder."""
from .autoencoder import Autoencoder

__all__ = ["Autoencoder"]
