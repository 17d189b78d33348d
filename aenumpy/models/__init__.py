"""Models: the (stacked) autoencoder, the variational autoencoder, the convolutional autoencoder."""
from .autoencoder import Autoencoder
from .base import is_vae
from .conv import ConvAutoencoder
from .vae import VariationalAutoencoder

__all__ = ["Autoencoder", "ConvAutoencoder", "VariationalAutoencoder", "is_vae"]
