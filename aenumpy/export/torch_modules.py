"""The exported network in plain PyTorch: the modules a student would write by hand.

This is the one file of the package that imports torch, and only
:func:`aenumpy.export.to_torch` imports it (``import aenumpy`` never does): the classes
below are ordinary ``torch.nn`` code, whose forward passes are the aenumpy models'
evaluation-mode forward passes, and whose backward pass PyTorch's autograd takes, as it
does for any module. aenumpy's own layers never use it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TopK(nn.Module):
    """k-sparse at evaluation: keep the ``k`` units of each sample with the largest ``|z|``
    (``by="abs"``) or the largest ``z`` (``by="value"``), zero the others
    (:class:`aenumpy.regularizers.TopK` with ``k = int(α·k)``). The units of an image's
    feature maps are ranked together, as the aenumpy model ranks them."""

    def __init__(self, k, by="abs"):
        super().__init__()
        self.k, self.by = k, by

    def forward(self, z):
        flat = z.flatten(1)
        keys = flat.abs() if self.by == "abs" else flat
        kept = keys.topk(self.k, dim=1).indices
        mask = torch.zeros_like(flat).scatter_(1, kept, 1.0)
        return (flat * mask).view_as(z)

    def extra_repr(self):
        return f"k={self.k}, by={self.by!r}"


class Autoencoder(nn.Module):
    """``x̂ = decoder(encoder(x))``: the dense and the convolutional autoencoder."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class VariationalAutoencoder(nn.Module):
    """``h = encoder(x)``, ``μ = mu(h)``, ``log σ² = logvar(h)``; the forward pass decodes
    the posterior mean, ``x̂ = decoder(μ)`` (aenumpy's ``reconstruct``). With a Gaussian
    decoder, ``out_logvar`` gives ``log σ²_x`` from the decoder's last hidden layer."""

    def __init__(self, encoder, mu, logvar, decoder, out_logvar=None):
        super().__init__()
        self.encoder, self.mu, self.logvar, self.decoder = encoder, mu, logvar, decoder
        self.out_logvar = out_logvar

    def encode(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.decoder(z)

    def decode_logvar(self, z):
        """Gaussian decoder only: ``log σ²_x`` for codes z."""
        return self.out_logvar(self.decoder[:-1](z))

    def forward(self, x):
        return self.decoder(self.mu(self.encoder(x)))


class UNet(nn.Module):
    """The U-Net: each level down two 3×3 convolutions with ReLU, the second kept as the
    level's skip, then 2×2 max pooling; the bottom's two; each level up nearest upsampling,
    ``torch.cat([upsampled, skip], dim=1)`` (with skips), two convolutions; the 1×1 ``head``
    gives the logits. The convolutions are named after aenumpy's parameters (``down0.conv0``,
    ``bottom.conv1``, ``up0.conv1``, ``head``)."""

    def __init__(self, convs, levels, skips=True):
        super().__init__()
        self.levels, self.skips = levels, skips
        for name, conv in convs.items():          # "down0.conv0" → self.down0.conv0
            owner, _, leaf = name.rpartition(".")
            if owner and not hasattr(self, owner):
                self.add_module(owner, nn.Module())
            (getattr(self, owner) if owner else self).add_module(leaf, conv)

    @staticmethod
    def _pair(level, h):
        return F.relu(level.conv1(F.relu(level.conv0(h))))

    def forward(self, x):
        h, kept = x, []
        for i in range(self.levels):
            h = self._pair(getattr(self, f"down{i}"), h)
            kept.append(h)
            h = F.max_pool2d(h, 2)
        h = self._pair(self.bottom, h)
        for i in reversed(range(self.levels)):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            if self.skips:
                h = torch.cat([h, kept[i]], dim=1)
            h = self._pair(getattr(self, f"up{i}"), h)
        return self.head(h)


def module(m) -> nn.Module:
    """The ``torch.nn`` module of one :class:`~aenumpy.export.network.Module`."""
    if m.torch_class == "TopK":
        return TopK(**m.args)
    return getattr(nn, m.torch_class)(**m.args)


def part_module(part) -> nn.Module:
    """A :class:`~aenumpy.export.network.Part` as an ``nn.Sequential`` (or its one module)."""
    mods = [module(m) for m in part.modules]
    return nn.Sequential(*mods) if part.sequential else mods[0]


#: the module class of each model family, built from the parts by name
CLASSES = {"autoencoder": Autoencoder, "conv": Autoencoder, "vae": VariationalAutoencoder}


def build(net, state) -> nn.Module:
    """The module of ``net`` (a :class:`~aenumpy.export.network.Network`) in its dtype,
    holding the arrays of ``state`` (its state dict), in evaluation mode."""
    parts = {p.name: part_module(p) for p in net.parts}
    tm = (UNet(parts, **net.options) if net.family == "unet" else CLASSES[net.family](**parts))
    tm = tm.to(torch.float64 if net.dtype == "float64" else torch.float32)
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    return tm.eval()
