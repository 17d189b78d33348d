"""Models: the (stacked) autoencoder, the variational autoencoder, the convolutional autoencoder."""
from .autoencoder import Autoencoder
from .conv import ConvAutoencoder
from .vae import VariationalAutoencoder

__all__ = ["Autoencoder", "ConvAutoencoder", "VariationalAutoencoder"]
