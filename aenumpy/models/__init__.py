"""Models: the (stacked) autoencoder and the variational autoencoder."""
from .autoencoder import Autoencoder
from .vae import VariationalAutoencoder

__all__ = ["Autoencoder", "VariationalAutoencoder"]
