"""The convolutional autoencoder (lecture: "CNN y autoencoders").

An encoder and a decoder given as lists of layers (:class:`~aenumpy.layers.Conv2D`,
:class:`~aenumpy.layers.ConvTranspose2D`, :class:`~aenumpy.layers.MaxPool2D`,
:class:`~aenumpy.layers.Upsample2D`, :class:`~aenumpy.layers.Flatten`,
:class:`~aenumpy.layers.Reshape`, :class:`~aenumpy.layers.Dense`) on images ``(B, C, H, W)``::

    x → enc0 → enc1 → … → z (the code) → dec0 → … → x̂,     E = loss(x, x̂) + penalties

The training step is the one every autoencoder of the lecture takes
(:class:`~aenumpy.models.autoencoder.AutoencoderBase`): corruption on the input, masks and
penalties on a code seen as one row of units per sample, backward from the output down.
The loss is summed over every pixel and averaged over the batch.

The model names its layers by position (``enc{i}``, ``dec{i}``: a pooling layer takes a
number too) and draws every weight again from its own seed, so the same seed gives the
same model whatever the layers passed in held. It checks, when built, that the layers
chain (each layer's output shape is the next one's input) and that the decoder gives
back the input's shape.
"""
from __future__ import annotations

import numpy as np

from .. import losses
from .. import layers as L
from ..backend import build_exactly
from .._validate import check_choice, check_data, check_dtype, check_int
from ..layers import AffineLayer, Layer, from_config as layer_from_config
from ..regularizers import (Dropout, InputCorruption, KLSparsity, L1Activity, TopK, WeightDecay,
                            check_regularizer_list, from_config)
from .autoencoder import AutoencoderBase, check_bce_output, rows

#: the regularizers that apply to a convolutional autoencoder (a contractive penalty needs
#: a dense layer's Jacobian)
APPLY = (InputCorruption, KLSparsity, L1Activity, TopK, Dropout, WeightDecay)


def _layer_list(name, layers):
    """A non-empty list of :class:`aenumpy.layers.Layer` objects, distinct from each other."""
    if not isinstance(layers, (list, tuple)) or len(layers) == 0:
        raise TypeError(f"{name} must be a non-empty list of layers (ae.layers.Conv2D(...), "
                        f"ae.layers.MaxPool2D(2), ...), got {layers!r}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{name}[{i}] must be a layer of aenumpy.layers (Conv2D, "
                            f"MaxPool2D, ...), got {type(layer).__name__}: {layer!r}")
    return list(layers)


def conv_layers(channels, down="pool", up="upsample", kernel=3, activation="relu",
                output_activation="sigmoid"):
    """Mirrored encoder and decoder layer lists for one-channel images (``aenumpy train
    --model conv`` builds its network with them).

    Encoder, for each ``c`` of ``channels`` (the image halves each time)::

        pool:    Conv2D(c_prev, c, k, padding k//2), MaxPool2D(2)
        stride:  Conv2D(c_prev, c, k, stride 2, padding k//2)

    Decoder, mirrored, back to one channel (the image doubles each time)::

        upsample:    Upsample2D(2), Conv2D(c_prev, c, k, padding k//2)
        transposed:  ConvTranspose2D(c_prev, c, k, stride 2, padding k//2, output_padding 1)

    With an odd k and padding k//2 a stride-1 convolution keeps the size, a stride-2 one
    gives ``⌈n/2⌉`` and the transposed one ``(n − 1)·2 − 2·(k//2) + k + 1 = 2n``. Every
    layer uses ``activation`` but the last, ``output_activation``. ``conv_layers([16, 8])``
    is the benchmark's ``conv`` network, ``conv_layers([16, 8], "stride", "transposed")`` its
    ``convt``. Pass the two lists to :class:`ConvAutoencoder`.
    """
    if not isinstance(channels, (list, tuple)) or not channels:
        raise TypeError(f"channels must be a non-empty list of channel counts, e.g. [16, 8]; "
                        f"got {channels!r}")
    channels = [check_int(f"channels[{i}]", c, 1) for i, c in enumerate(channels)]
    check_choice("down", down, ("pool", "stride"))
    check_choice("up", up, ("upsample", "transposed"))
    if check_int("kernel", kernel, 1) % 2 == 0:
        raise ValueError(f"kernel must be odd (padding kernel//2 then keeps the image size), "
                         f"got {kernel}")
    p = kernel // 2
    encoder, c_prev = [], 1
    for c in channels:
        if down == "pool":
            encoder += [L.Conv2D(c_prev, c, kernel, padding=p, activation=activation),
                        L.MaxPool2D(2)]
        else:
            encoder.append(L.Conv2D(c_prev, c, kernel, stride=2, padding=p, activation=activation))
        c_prev = c
    decoder, outs = [], list(channels[-2::-1]) + [1]
    for i, c in enumerate(outs):
        act = output_activation if i == len(outs) - 1 else activation
        if up == "upsample":
            decoder += [L.Upsample2D(2), L.Conv2D(c_prev, c, kernel, padding=p, activation=act)]
        else:
            decoder.append(L.ConvTranspose2D(c_prev, c, kernel, stride=2, padding=p,
                                             output_padding=1, activation=act))
        c_prev = c
    return encoder, decoder



class ConvAutoencoder(AutoencoderBase):
    """An autoencoder of convolutional (and any other) layers, with hand-written backprop.

    Parameters
    ----------
    encoder, decoder : lists of layers from :mod:`aenumpy.layers`.
    input_shape : one sample's shape, ``(C, H, W)``.
    loss : 'mse' (the lecture's ``½ Σ (x − x̂)²``, not a per-pixel mean) or 'bce' (binary
        cross-entropy; needs an output in (0, 1)), summed over every pixel and averaged over
        the batch.
    regularizers : corruption, KL sparsity and L1 on a code, top-k over each sample's
        code, dropout, weight decay (on every weight); any other is refused.
    seed : seeds the weights of every layer and, through :attr:`rng`, every noise draw.
    dtype : 'float32' (train) or 'float64' (check).

    ``encode``, ``decode`` and ``reconstruct`` take images ``(B, C, H, W)`` or flat rows
    ``(B, C·H·W)`` and answer in the same form. After a training step :attr:`cache` and
    each layer's ``cache`` hold every forward and backward quantity (feature maps too).
    """

    family = "conv"

    def __init__(self, encoder, decoder, input_shape, loss="mse", regularizers=(), seed=0,
                 dtype="float32"):
        self.encoder = _layer_list("encoder", encoder)
        self.decoder = _layer_list("decoder", decoder)
        if len({id(layer) for layer in self.encoder + self.decoder}) != len(self.layers):
            raise ValueError("a layer object appears twice in encoder + decoder; build each "
                             "layer once")
        if isinstance(input_shape, (int, np.integer)):
            input_shape = (input_shape,)
        if not isinstance(input_shape, (tuple, list)) or not input_shape:
            raise TypeError(f"input_shape must be one sample's shape, e.g. (1, 28, 28); "
                            f"got {input_shape!r}")
        self.input_shape = tuple(check_int("input_shape", n, 1) for n in input_shape)
        self.dtype = check_dtype(dtype)
        self.seed = check_int("seed", seed, 0)
        self.loss_fn = losses.get(loss)
        regularizers = check_regularizer_list(regularizers)
        for r in regularizers:
            if not isinstance(r, APPLY):
                raise ValueError(f"{r.name} does not apply to a ConvAutoencoder (it needs a "
                                 f"dense layer's Jacobian); use corruption, KLSparsity, "
                                 f"L1Activity, TopK, Dropout or WeightDecay")
        self.shapes = self._chain()
        check_bce_output(self.loss_fn, self._last_activation(len(self.layers) - 1))
        init_rng = np.random.default_rng(self.seed)
        for prefix, part in (("enc", self.encoder), ("dec", self.decoder)):
            for i, layer in enumerate(part):
                layer.name = f"{prefix}{i}"
                if hasattr(layer, "dtype"):
                    layer.dtype = self.dtype
                layer.init_params(init_rng)
                layer.needs_dX = (prefix, i) != ("enc", 0)   # enc0's input is the data
        self._collect_params()
        self._seed_rng()
        self._bind(regularizers)
        out = self._last_activation(len(self.layers) - 1)
        #: the targets must lie in [0, 1]: a sigmoid output or the cross-entropy
        self.unit_range = getattr(out, "name", None) == "sigmoid" or self.loss_fn.name == "bce"
        self.cache = {}

    def _chain(self):
        """One sample's shape after every layer, checked layer by layer; the decoder must
        give back ``input_shape``."""
        shapes, shape = [], self.input_shape
        for part, layers in (("encoder", self.encoder), ("decoder", self.decoder)):
            for i, layer in enumerate(layers):
                try:
                    shape = tuple(layer.output_shape(shape))
                except ValueError as exc:
                    raise ValueError(f"{part}[{i}] ({layer!r}) cannot take a sample of shape "
                                     f"{shape}: {exc}") from None
                shapes.append(shape)
        if shape != self.input_shape:
            raise ValueError(f"the decoder's output shape {shape} is not the input's shape "
                             f"{self.input_shape}: change the decoder's layers so that they "
                             f"undo the encoder's")
        return shapes

    def _last_activation(self, k):
        """The activation of the last layer with one at or before position k of the layers
        (pooling, upsampling and reshaping keep the range of their input)."""
        for layer in self.layers[k::-1]:
            if isinstance(layer, AffineLayer):
                return layer.activation
        return None

    # ------------------------------------------------------------------ info
    @property
    def layers(self):
        """Every layer, encoder then decoder."""
        return self.encoder + self.decoder

    @property
    def code_shape(self):
        """One sample's code: the output shape of the last encoder layer."""
        return self.shapes[len(self.encoder) - 1]

    def units_of(self, i):
        return int(np.prod(self.shapes[i]))

    def activation_of(self, i):
        return self._last_activation(i)

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable (used by save/load and astype)."""
        if type(self.loss_fn) is not losses.LOSSES.get(self.loss_fn.name):
            raise ValueError("loss is a custom Loss object and cannot be saved by name")
        return {"encoder": [layer.config() for layer in self.encoder],
                "decoder": [layer.config() for layer in self.decoder],
                "input_shape": list(self.input_shape), "loss": self.loss_fn.name,
                "regularizers": [r.config() for r in self.regularizers], "seed": self.seed,
                "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, cfg: dict):
        """Rebuild a model from :meth:`get_config` (fresh weights; ``load`` fills them)."""
        cfg = dict(cfg)
        for part in ("encoder", "decoder"):
            cfg[part] = [layer_from_config(c) for c in cfg.get(part, [])]
        cfg["regularizers"] = [from_config(r) for r in cfg.get("regularizers", [])]
        return cls(**cfg)

    def astype(self, dtype):
        """A copy of the model in another dtype (gradcheck uses a float64 copy)."""
        cfg = self.get_config()
        clone = build_exactly(type(self), [layer_from_config(c) for c in cfg["encoder"]],
                              [layer_from_config(c) for c in cfg["decoder"]], self.input_shape,
                              loss=self.loss_fn, seed=self.seed, dtype=np.dtype(dtype).name)
        clone.regularizers = self.regularizers  # same objects, so schedules stay in step
        return self._with_weights(clone)

    def __repr__(self):
        shapes = " → ".join(str(s) for s in [self.input_shape] + self.shapes)
        regs = f", regularizers={self.regularizers}" if self.regularizers else ""
        return (f"ConvAutoencoder({shapes}, loss={self.loss_fn.name}, {self.dtype.name}{regs}, "
                f"{self.runs_on})")

    # ---------------------------------------------------------- shapes
    def validate(self, X, name="X", targets=True):
        """X as a batch of images ``(B, *input_shape)`` or of flat rows ``(B, C·H·W)``, in the
        model's dtype and in the form it came; as targets within [0, 1] when the output is
        a sigmoid or the loss the cross-entropy (principle 6)."""
        d = int(np.prod(self.input_shape))
        dims = ", ".join(map(str, self.input_shape))
        shape = np.shape(X) if isinstance(X, (np.ndarray, list, tuple)) else None
        unit = targets and self.unit_range
        why = "(the targets of a sigmoid output / binary cross-entropy)" if unit else ""
        if shape is not None and len(shape) == 1 + len(self.input_shape) and len(shape) > 2:
            if tuple(shape[1:]) != self.input_shape:
                raise ValueError(f"{name} must have shape (batch, {dims}) (the model's "
                                 f"input_shape), got {tuple(shape)}")
            flat = check_data(np.reshape(X, (shape[0], -1)), d, self.dtype, name, unit, why)
            return flat.reshape(shape)
        if shape is not None and (len(shape) != 2 or shape[1] != d):
            raise ValueError(f"{name} must be images (batch, {dims}) or flat rows (batch, {d}) "
                             f"(each row the {dims} image read row by row), got shape "
                             f"{tuple(shape)}")
        return check_data(X, d, self.dtype, name, unit, why)

    #: images per forward pass in evaluation (encode, decode, reconstruct): the feature
    #: maps of a whole test set at once would take gigabytes
    EVAL_BATCH = 500

    def images(self, X):
        """``X`` as images ``(B, *input_shape)`` (a view of flat rows)."""
        return X.reshape((len(X),) + self.input_shape)

    def _in_batches(self, f, X):
        """``f`` on :attr:`EVAL_BATCH` rows of X at a time, the results stacked."""
        n = self.EVAL_BATCH
        return np.concatenate([f(X[i:i + n]) for i in range(0, len(X), n)])

    def _encode(self, X, rng, training, corrupt=None):
        return super()._encode(self.images(X), rng, training, corrupt)

    def encode(self, X, rng=None):
        """The code of each image (evaluation mode), shaped ``(B, *code_shape)`` for images
        and ``(B, units)`` for flat rows."""
        X = self.validate(X, targets=False)
        rng = self._rng(rng)
        Z = self._in_batches(lambda x: self._encode(x, rng, training=False), X)
        return Z if X.ndim > 2 else rows(Z)

    def decode(self, Z):
        """Images from codes ``(B, *code_shape)``, or flat rows from flat codes ``(B, units)``."""
        units = int(np.prod(self.code_shape))
        shape = np.shape(Z) if isinstance(Z, (np.ndarray, list, tuple)) else None
        coded = shape is not None and tuple(shape[1:]) == self.code_shape
        if shape is not None and not coded and (len(shape) != 2 or shape[1] != units):
            raise ValueError(f"Z must be codes (batch, {', '.join(map(str, self.code_shape))}) or "
                             f"flat codes (batch, {units}), got shape {tuple(shape)}")
        Zr = check_data(np.reshape(Z, (shape[0], -1)) if coded else Z, units, self.dtype, "Z")
        Xh = self._in_batches(self._decode, Zr.reshape((len(Zr),) + self.code_shape))
        return Xh if coded else rows(Xh)

    def reconstruct(self, X, rng=None):
        """``x̂ = decode(encode(x))`` in evaluation mode, in the form X came in."""
        X = self.validate(X, targets=False)
        rng = self._rng(rng)
        Xh = self._in_batches(lambda x: self._decode(self._encode(x, rng, training=False)), X)
        return Xh if X.ndim > 2 else rows(Xh)
