"""What an exported model is: its PyTorch modules, their names and their weights' layouts.

Every export (the state dict, the safetensors file, the ``torch.nn.Module``, the ONNX graph)
is written from one description of the model, a :class:`Network`: named parts, each an
``nn.Sequential`` of modules or one module, in the order of the forward pass. A module is
recorded by its PyTorch class name and constructor arguments, with its parameters given as
the model's own parameter keys, so that a PyTorch name maps to one aenumpy array::

    Autoencoder(64, [32]):  encoder = Sequential(Linear(64, 32), Sigmoid())
                            decoder = Sequential(Linear(32, 64), Sigmoid())
                            encoder.0.weight ← enc0.W, …, decoder.0.bias ← dec0.b

The layouts need no conversion: a Dense ``W`` is ``(d_out, d_in)`` as ``nn.Linear``'s weight,
a Conv2D ``W`` ``(c_out, c_in, k, k)`` as ``nn.Conv2d``'s and a ConvTranspose2D ``W``
``(c_in, c_out, k, k)`` as ``nn.ConvTranspose2d``'s. A tied decoder layer (``W' = Wᵀ``) is
exported untied: its weight is the encoder weight, transposed.

The network is the model's **evaluation-mode** forward pass, the one ``reconstruct`` takes
(and ``decode(encode(x)[0])``, through μ, for a VAE). Regularizers that act only in training
(dropout, the penalties, weight decay, corruption) have no module. ``TopK`` keeps
``int(α·k)`` units at evaluation, so it is exported as a module of its own after the layer
it masks. What cannot be exported is refused with :class:`NotExportable`, naming the layer:
a layer class that is not one of :mod:`aenumpy.layers`, a custom Activation object, and a
corruption with ``at_eval=True`` (random noise at evaluation, which an exported network
cannot draw as aenumpy draws it).

Each model family is described by its own function (:func:`dense_network`,
:func:`vae_network`, :func:`conv_network`, :func:`unet_network`), chosen by ``model.family``
in :data:`DESCRIBE`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import activations
from .. import layers as L
from ..backend import teaching_class
from ..regularizers import Dropout, HiddenMask, InputCorruption, TopK

#: the PyTorch module of each built-in activation (identity has none: nothing is inserted)
ACTIVATION_MODULES = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU", "identity": None}


class NotExportable(ValueError):
    """A model, or a part of it, that has no exported equivalent; the message names it."""


@dataclass(frozen=True)
class Param:
    """One exported parameter: the model's parameter ``key`` (``"enc0.W"``), transposed or not."""

    key: str
    transposed: bool = False

    def value(self, model) -> np.ndarray:
        """The array the export writes: a C-ordered copy of the model's parameter."""
        v = model.params[self.key]
        return np.array(v.T if self.transposed else v, order="C")   # always a copy

    def shape(self, model) -> tuple:
        """The shape of :meth:`value`."""
        shape = model.params[self.key].shape
        return shape[::-1] if self.transposed else shape


@dataclass
class Module:
    """One PyTorch module: its ``torch.nn`` class name (or ``"TopK"``), its constructor
    arguments, and its parameters (``"weight"``, ``"bias"`` → :class:`Param`). ``layer``
    names the aenumpy layer it comes from, for messages."""

    torch_class: str
    args: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    layer: str = ""


@dataclass
class Part:
    """A named part of the network: an ``nn.Sequential`` of modules (``sequential``), or one
    module (the VAE's ``mu`` and ``logvar`` heads)."""

    name: str
    modules: list
    sequential: bool = True

    def entries(self):
        """``(state-dict prefix, module)`` in order: ``"encoder.0"``, … or ``"mu"``."""
        if not self.sequential:
            return [(self.name, self.modules[0])]
        return [(f"{self.name}.{i}", m) for i, m in enumerate(self.modules)]


@dataclass
class Network:
    """A model as PyTorch modules: ``family`` (``model.family``), its :class:`Part` s in order,
    the float dtype, and one sample's shape at each end: ``shapes["x"]`` (the input and
    the reconstruction) and ``shapes["code"]`` (the code; for a VAE, μ and log σ²)."""

    family: str
    parts: list
    dtype: np.dtype
    shapes: dict
    #: what else the module class needs (a U-Net's number of levels and whether it skips)
    options: dict = field(default_factory=dict)

    def __getitem__(self, name) -> Part:
        return next(p for p in self.parts if p.name == name)

    def entries(self):
        """Every ``(prefix, module)`` of every part, in order."""
        return [e for p in self.parts for e in p.entries()]

    def params(self):
        """``state-dict name → Param``, in order: ``encoder.0.weight``, ``encoder.0.bias``, …"""
        return {f"{prefix}.{k}": p for prefix, m in self.entries() for k, p in m.params.items()}


# ------------------------------------------------------------------ one layer
def activation_modules(layer) -> list:
    """The module of ``layer.activation`` (none for the identity); a custom Activation
    object is refused."""
    name = activations.config_name(layer.activation)
    if not isinstance(name, str):
        raise NotExportable(f"layer {layer.name} has a custom Activation object "
                            f"({type(layer.activation).__name__}); only 'sigmoid', 'tanh', "
                            f"'relu' and 'identity' have an exported equivalent")
    cls = ACTIVATION_MODULES[name]
    return [] if cls is None else [Module(cls, layer=layer.name)]


def _weights(layer):
    """``{"weight": …, "bias": …}`` of an affine layer; a tied Dense takes its partner's
    weight, transposed (the export is untied)."""
    tied = getattr(layer, "tied_to", None)
    weight = Param(f"{tied.name}.W", True) if tied is not None else Param(f"{layer.name}.W")
    return {"weight": weight, "bias": Param(f"{layer.name}.b")}


def layer_modules(layer, in_shape=None) -> list:
    """The modules of one aenumpy layer: the layer's own, then its activation's.

    ``Dense`` → ``Linear``, ``Conv2D`` → ``Conv2d``, ``ConvTranspose2D`` →
    ``ConvTranspose2d``, ``MaxPool2D`` → ``MaxPool2d``, ``Upsample2D`` → ``Upsample``
    (nearest), ``Flatten`` → ``Flatten``, ``Reshape`` → ``Unflatten`` (after a ``Flatten``
    when one sample's input ``in_shape`` is not flat). A layer of any other class, a
    student's own or a subclass, is refused.
    """
    cls = teaching_class(type(layer))
    if cls not in L.LAYERS.values():
        raise NotExportable(f"layer {getattr(layer, 'name', '?')} is a {cls.__name__}, not one of "
                            f"aenumpy.layers ({', '.join(L.LAYERS)}): its forward pass has no "
                            f"exported equivalent")
    name = layer.name
    if cls is L.Dense:
        return [Module("Linear", {"in_features": layer.n_in, "out_features": layer.n_out},
                       _weights(layer), name)] + activation_modules(layer)
    if cls in (L.Conv2D, L.ConvTranspose2D):
        args = {"in_channels": layer.c_in, "out_channels": layer.c_out,
                "kernel_size": layer.kernel_size, "stride": layer.stride,
                "padding": layer.padding}
        if cls is L.ConvTranspose2D:
            args["output_padding"] = layer.output_padding
        torch_cls = "Conv2d" if cls is L.Conv2D else "ConvTranspose2d"
        return [Module(torch_cls, args, _weights(layer), name)] + activation_modules(layer)
    if cls is L.MaxPool2D:
        return [Module("MaxPool2d", {"kernel_size": layer.size, "stride": layer.size}, layer=name)]
    if cls is L.Upsample2D:
        return [Module("Upsample", {"scale_factor": layer.scale, "mode": "nearest"}, layer=name)]
    if cls is L.Flatten:
        return [Module("Flatten", layer=name)]
    unflatten = Module("Unflatten", {"dim": 1, "unflattened_size": tuple(layer.shape)}, layer=name)
    flat = in_shape is None or len(in_shape) == 1
    return [unflatten] if flat else [Module("Flatten", layer=name), unflatten]


# ----------------------------------------------------------------- regularizers
def _regularizer_masks(model) -> dict:
    """``{encoder layer index: TopK}``: the masks that act at evaluation. Refused: a
    corruption with ``at_eval=True``, a HiddenMask of another class (its evaluation mask is
    unknown), two TopK on one layer."""
    masks = {}
    for r in getattr(model, "regularizers", []):
        if isinstance(r, InputCorruption) and r.at_eval:
            raise NotExportable(
                f"{r!r} corrupts the input at evaluation (at_eval=True) with random noise, "
                f"which an exported network cannot reproduce; export a model built without "
                f"at_eval (the weights stay the same)")
        if isinstance(r, HiddenMask) and type(r) not in (TopK, Dropout):
            raise NotExportable(f"{r!r} is a HiddenMask of its own class: its mask at "
                                f"evaluation has no exported equivalent")
        if type(r) is TopK:
            i = r.layer_index(model)
            if i in masks:
                raise NotExportable(f"two TopK regularizers act on encoder layer enc{i}; the "
                                    f"export takes one per layer")
            masks[i] = r
    return masks


def topk_module(r, units, layer_name) -> list:
    """``TopK`` at evaluation: keep ``min(n, int(α·k))`` of the layer's ``units`` (no
    module when that keeps them all, as the model puts no mask there)."""
    kept = r.units_kept(units, training=False)
    return [] if kept >= units else [Module("TopK", {"k": kept, "by": r.by}, layer=layer_name)]


def _encoder_modules(model, shapes) -> list:
    """The encoder's modules, each layer followed by its TopK mask (if any); ``shapes[i]``
    is one sample's input shape of encoder layer i (None where it does not matter)."""
    masks = _regularizer_masks(model)
    mods = []
    for i, layer in enumerate(model.encoder):
        mods += layer_modules(layer, shapes[i])
        if i in masks:
            mods += topk_module(masks[i], model.units_of(i), layer.name)
    return mods


# --------------------------------------------------------------- each model family
def dense_network(model) -> Network:
    """:class:`aenumpy.Autoencoder`: ``encoder`` and ``decoder``, ``nn.Sequential`` of
    ``Linear`` and activation modules in layer order (``encoder.0.weight``,
    ``encoder.2.weight``, …)."""
    encoder = _encoder_modules(model, [None] * len(model.encoder))
    decoder = [m for layer in model.decoder for m in layer_modules(layer)]
    return Network(model.family, [Part("encoder", encoder), Part("decoder", decoder)],
                   model.dtype, {"x": (model.n_in,), "code": (model.n_code,)})


def vae_network(model) -> Network:
    """:class:`aenumpy.VariationalAutoencoder`: ``encoder`` (the hidden layers), the heads
    ``mu`` and ``logvar`` (one ``Linear`` each), and ``decoder``, whose last layer is the
    output layer ``out``; with ``decoder="gaussian"`` also ``out_logvar``, a ``Linear`` on
    the output of ``decoder[:-1]`` giving log σ²_x."""
    encoder = [m for layer in model.encoder for m in layer_modules(layer)]
    decoder = [m for layer in model.decoder + [model.out] for m in layer_modules(layer)]
    parts = [Part("encoder", encoder),
             Part("mu", layer_modules(model.mu_head), sequential=False),
             Part("logvar", layer_modules(model.logvar_head), sequential=False),
             Part("decoder", decoder)]
    if model.out_logvar is not None:
        parts.append(Part("out_logvar", layer_modules(model.out_logvar), sequential=False))
    return Network(model.family, parts, model.dtype,
                   {"x": (model.n_in,), "code": (model.n_latent,)})


def conv_network(model) -> Network:
    """:class:`aenumpy.ConvAutoencoder`: ``encoder`` and ``decoder``, ``nn.Sequential`` of
    ``Conv2d``, ``ConvTranspose2d``, ``MaxPool2d``, ``Upsample``, ``Flatten``, ``Unflatten``,
    ``Linear`` and activation modules. The network takes images ``(B, C, H, W)``."""
    ins = [model.input_shape] + list(model.shapes[:-1])   # each layer's input, one sample
    n_enc = len(model.encoder)
    encoder = _encoder_modules(model, ins[:n_enc])
    decoder = [m for layer, s in zip(model.decoder, ins[n_enc:]) for m in layer_modules(layer, s)]
    return Network(model.family, [Part("encoder", encoder), Part("decoder", decoder)],
                   model.dtype, {"x": tuple(model.input_shape), "code": tuple(model.code_shape)})


def unet_network(model) -> Network:
    """:class:`aenumpy.UNet`: one ``Conv2d`` per convolution, each a part of its own named
    after its parameters (``down0.conv0``, …, ``bottom.conv1``, ``up0.conv1``, ``head``), so
    the state dict reads ``down0.conv0.weight``. The ReLUs, poolings, nearest upsamplings and
    concatenations hold no weights: they are the module's forward pass. The network takes
    images ``(B, C, H, W)`` and gives the logits ``(B, n_classes, H, W)``."""
    parts = []
    for layer in model.layers:
        if teaching_class(type(layer)) is not L.Conv2D:
            continue
        want = "identity" if layer.name == "head" else "relu"
        if activations.config_name(layer.activation) != want:     # pragma: no cover
            raise NotExportable(f"layer {layer.name} of a U-Net should have the activation "
                                f"{want!r}, has {layer.activation.name!r}")
        parts.append(Part(layer.name, layer_modules(layer)[:1], sequential=False))
    H, W = model.input_shape[1:]
    return Network(model.family, parts, model.dtype,
                   {"x": tuple(model.input_shape), "logits": (model.n_classes, H, W)},
                   {"levels": len(model.down), "skips": model.skips})


#: the description of each model family, by ``model.family``
DESCRIBE = {"autoencoder": dense_network, "vae": vae_network, "conv": conv_network,
            "unet": unet_network}


def describe(model) -> Network:
    """The :class:`Network` of an aenumpy model (refusing, with :class:`NotExportable`,
    what has no exported equivalent)."""
    family = getattr(model, "family", None)
    if family not in DESCRIBE or not isinstance(getattr(model, "params", None), dict):
        raise TypeError(f"the export takes an aenumpy model ({', '.join(sorted(DESCRIBE))}: "
                        f"ae.Autoencoder, ae.VariationalAutoencoder, ae.ConvAutoencoder, "
                        f"ae.UNet), got {type(model).__name__}")
    return DESCRIBE[family](model)
