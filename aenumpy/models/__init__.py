"""Models: the (stacked) autoencoder, the variational autoencoder, the convolutional autoencoder,
and the U-Net that labels every pixel."""
from .autoencoder import Autoencoder
from .base import is_vae
from .conv import ConvAutoencoder, conv_layers
from .unet import UNet
from .vae import VariationalAutoencoder

__all__ = ["Autoencoder", "ConvAutoencoder", "VariationalAutoencoder", "conv_layers", "is_vae",
           "UNet"]
