"""U-Net: an encoder-decoder with skip connections that labels every pixel (segmentation).

A convolutional autoencoder squeezes the image through a small code and rebuilds it; the
decoder only sees the code, so fine detail (where exactly an edge lies) is lost at the
bottleneck. For **segmentation** the output is not the image but a class for each of its
pixels, and that detail is what matters. U-Net (Ronneberger, Fischer & Brox, 2015) keeps
the encoder-decoder and adds **skip connections**: each decoder level also receives, by
concatenation along the channels, the encoder's features of the same resolution.

With ``channels = (c_0, …, c_L)``, every 3×3 convolution padded by 1 and followed by a ReLU::

    down i (i < L):   h = conv1(conv0(h))          keep h as skip i,  h = maxpool(h)   (size / 2)
    bottom:           h = conv1(conv0(h))          c_{L−1} → c_L → c_L
    up i (L−1 … 0):   h = upsample(h)              (size × 2)
                      h = [h, skip i]              concatenation along the channels (skips=True)
                      h = conv1(conv0(h))          (c_{i+1} + c_i) → c_i → c_i
    head:             logits = 1×1 conv(h)         c_0 → K classes, no activation

The loss compares each pixel's logits with its label (:mod:`aenumpy.losses`, per-pixel
softmax cross-entropy, or the binary cross-entropy from the logit for one class), averaged
over the batch and the pixels. The backward pass runs the same chain in reverse; the one new
rule is at a **branch**: skip i fed both the pooling (down the encoder) and the concatenation
(across to the decoder), so its gradient is the **sum** of what comes back along the two.

``skips=False`` removes the concatenations (each ``up{i}.conv0`` then takes c_{i+1} channels):
the same encoder-decoder without skips, a SegNet-like convolutional autoencoder, for comparison.
"""
from __future__ import annotations

import numpy as np

from .. import losses
from ..backend import build_exactly
from .._validate import check_bool, check_data, check_dtype, check_int, check_labels
from ..layers import Concat, Conv2D, MaxPool2D, Upsample2D
from .base import Model


def _channels(channels):
    """``(c_0, …, c_L)``: at least two whole numbers ≥ 1 (one level down and the bottom)."""
    if not isinstance(channels, (list, tuple)) or len(channels) < 2:
        raise TypeError(f"channels must be a list of at least two channel counts (c_0, …, c_L), "
                        f"e.g. (8, 16, 32); got {channels!r}")
    return tuple(check_int(f"channels[{i}]", c, 1) for i, c in enumerate(channels))


class UNet(Model):
    """U-Net for per-pixel classification, with hand-written backprop (module docstring).

    Parameters
    ----------
    in_channels : channels of the input images (1 for grey).
    n_classes : K, the logits per pixel: two or more classes (softmax cross-entropy, labels
        ``0 … K−1``), or one foreground class (binary cross-entropy from the logit, targets in
        [0, 1]).
    channels : ``(c_0, …, c_L)``: c_i features at level i, c_L at the bottom; L levels down.
    input_shape : one image's shape ``(in_channels, H, W)``, H and W multiples of 2^L so that
        every pooling halves exactly (default ``(in_channels, 32, 32)``).
    skips : concatenate each encoder level's features into the decoder (U-Net); False gives
        the same network without skip connections.
    loss : None (chosen by ``n_classes``), 'softmax_ce' or 'bce_logits'.
    seed : seeds the weights (PyTorch's default initialisation, ``U(±1/√fan_in)``).
    dtype : 'float32' (train) or 'float64' (check).

    Parameters are named ``"down0.conv0.W"``, ``"down0.conv0.b"``, …, ``"bottom.conv1.W"``,
    ``"up0.conv1.b"``, ``"head.W"``, with PyTorch's Conv2d layout ``(c_out, c_in, k, k)``.
    After a training step every layer's ``cache`` holds its forward and backward quantities
    and :attr:`cache` the logits, E and ``∂E/∂logits``.
    """

    family = "unet"
    #: fit() must be given targets: the model learns labels, not its input
    needs_targets = True
    #: images per forward pass in evaluation (forward, predict): bounds the memory
    EVAL_BATCH = 500

    def __init__(self, in_channels=1, n_classes=2, channels=(8, 16, 32), input_shape=None,
                 skips=True, loss=None, seed=0, dtype="float32"):
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.n_classes = check_int("n_classes", n_classes, 1)
        self.channels = _channels(channels)
        self.skips = check_bool("skips", skips)
        self.seed = check_int("seed", seed, 0)
        self.dtype = check_dtype(dtype)
        self.loss_fn = losses.get_pixel_loss(loss, self.n_classes)
        self.input_shape = self._check_input_shape(input_shape)
        L, c = len(self.channels) - 1, self.channels

        def conv(name, c_in, c_out, k=3, act="relu"):
            return Conv2D(c_in, c_out, k, padding=k // 2, activation=act, dtype=self.dtype,
                          name=name)

        self.down, self.pools, c_prev = [], [], self.in_channels
        for i in range(L):
            self.down.append((conv(f"down{i}.conv0", c_prev, c[i]),
                              conv(f"down{i}.conv1", c[i], c[i])))
            self.pools.append(MaxPool2D(2, name=f"down{i}.pool"))
            c_prev = c[i]
        self.bottom = (conv("bottom.conv0", c[L - 1], c[L]), conv("bottom.conv1", c[L], c[L]))
        # the decoder levels, indexed by their level i (built and run from L − 1 down to 0)
        self.upsamples, self.concats, self.up = [None] * L, [None] * L, [None] * L
        for i in reversed(range(L)):
            self.upsamples[i] = Upsample2D(2, name=f"up{i}.upsample")
            self.concats[i] = Concat(name=f"up{i}.concat") if self.skips else None
            c_in = c[i + 1] + c[i] if self.skips else c[i + 1]
            self.up[i] = (conv(f"up{i}.conv0", c_in, c[i]), conv(f"up{i}.conv1", c[i], c[i]))
        self.head = conv("head", c[0], self.n_classes, k=1, act="identity")
        self.shapes = self._chain()
        init_rng = np.random.default_rng(self.seed)
        for layer in self.layers:
            layer.init_params(init_rng)
        self.down[0][0].needs_dX = False       # its input is the data
        self._collect_params()
        self._seed_rng()
        self.cache = {}

    def _check_input_shape(self, input_shape):
        """``(in_channels, H, W)`` with H and W multiples of 2^L (each pooling halves exactly)."""
        if input_shape is None:
            input_shape = (self.in_channels, 32, 32)
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
            raise TypeError(f"input_shape must be one image's shape (C, H, W), e.g. (1, 32, 32); "
                            f"got {input_shape!r}")
        shape = tuple(check_int("input_shape", n, 1) for n in input_shape)
        if shape[0] != self.in_channels:
            raise ValueError(f"input_shape {shape} has {shape[0]} channels but in_channels is "
                             f"{self.in_channels}")
        L = len(self.channels) - 1
        if shape[1] % 2 ** L or shape[2] % 2 ** L:
            raise ValueError(f"a U-Net of {L} levels halves the image {L} times, so its height "
                             f"and width must be multiples of 2^{L} = {2 ** L}; got "
                             f"{shape[1]}×{shape[2]} (pad or crop the images, or use fewer "
                             f"channels)")
        return shape

    def _chain(self):
        """One image's shape after every layer of :attr:`layers` (each layer's
        ``output_shape``; a concatenation takes the last skip kept, that of the pooling
        nearest the bottom not yet used)."""
        shapes, kept, shape = [], [], self.input_shape
        for layer in self.layers:
            if isinstance(layer, MaxPool2D):
                kept.append(shape)                    # the skip: this level before pooling
            shape = (layer.output_shape(shape, kept.pop()) if isinstance(layer, Concat)
                     else layer.output_shape(shape))
            shapes.append(tuple(shape))
        return shapes

    # ------------------------------------------------------------------ info
    @property
    def layers(self):
        """Every layer in the order of the forward pass (that of :attr:`params`)."""
        out = []
        for i in range(len(self.down)):
            out += [*self.down[i], self.pools[i]]
        out += list(self.bottom)
        for i in reversed(range(len(self.up))):
            concat = [self.concats[i]] if self.skips else []
            out += [self.upsamples[i], *concat, *self.up[i]]
        return out + [self.head]

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable (used by save/load and astype)."""
        return {"in_channels": self.in_channels, "n_classes": self.n_classes,
                "channels": list(self.channels), "input_shape": list(self.input_shape),
                "skips": self.skips, "loss": self.loss_fn.name, "seed": self.seed,
                "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, cfg: dict):
        """Rebuild a model from :meth:`get_config` (fresh weights; ``load`` fills them)."""
        return cls(**cfg)

    def astype(self, dtype):
        """A copy of the model in another dtype (gradcheck uses a float64 copy)."""
        cfg = dict(self.get_config(), dtype=np.dtype(dtype).name)
        return self._with_weights(build_exactly(type(self), **cfg))

    def __repr__(self):
        return (f"UNet({self.in_channels}×{self.input_shape[1]}×{self.input_shape[2]} → "
                f"{self.n_classes} classes, channels {self.channels}, "
                f"{'skips' if self.skips else 'no skips'}, loss={self.loss_fn.name}, "
                f"{self.dtype.name}, {self.runs_on})")

    # ---------------------------------------------------------------- checks
    def validate(self, X, name="X", targets=False):
        """X as a batch of images ``(B, *input_shape)`` in the model's dtype, finite (the
        images are inputs, never targets: ``targets`` is ignored)."""
        shape = np.shape(X) if isinstance(X, (np.ndarray, list, tuple)) else None
        if shape is None or tuple(shape[1:]) != self.input_shape or len(shape) != 4:
            raise ValueError(f"{name} must be images of shape (batch, "
                             f"{', '.join(map(str, self.input_shape))}) (the model's input_shape),"
                             f" got " + (f"shape {tuple(shape)}" if shape is not None
                                         else type(X).__name__))
        d = int(np.prod(self.input_shape))
        return check_data(np.reshape(X, (shape[0], d)), d, self.dtype, name).reshape(shape)

    def validate_targets(self, Y, X, name="Y"):
        """Per-pixel targets for the images X: labels ``(B, H, W)`` in ``[0, n_classes)``
        (int64), or, with one class, values in [0, 1] in the model's dtype."""
        shape = (len(X), *self.input_shape[1:])
        if self.n_classes >= 2:
            return check_labels(Y, self.n_classes, shape, name)
        if not isinstance(Y, np.ndarray) or np.shape(Y) != shape:
            raise ValueError(f"{name} must be targets of shape {shape} (one per pixel of X), got "
                             + (f"shape {np.shape(Y)}" if isinstance(Y, np.ndarray)
                                else type(Y).__name__))
        flat = check_data(Y.reshape(shape[0], -1), int(np.prod(shape[1:])), self.dtype, name,
                          unit_range=True, why="(the probability of the foreground class)")
        return flat.reshape(shape)

    # ------------------------------------------------------------- forward
    def _forward(self, X):
        """The logits of one batch, every layer's cache filled (module docstring)."""
        h, skips = X, []
        for (conv0, conv1), pool in zip(self.down, self.pools):
            h = conv1.forward(conv0.forward(h))
            skips.append(h)                           # skip i: level i at full resolution
            h = pool.forward(h)
        h = self.bottom[1].forward(self.bottom[0].forward(h))
        for i in reversed(range(len(self.up))):
            h = self.up[i][1].forward(self._up_entry(i, h, skips[i]))
        return self.head.forward(h)

    def _up_entry(self, i, h, skip):
        """The entry of up level i: h upsampled ×2, concatenated with skip i as
        ``[upsampled, skip]`` (with skips), then ``up{i}.conv0``."""
        h = self.upsamples[i].forward(h)
        if self.skips:
            h = self.concats[i].forward(h, skip)
        return self.up[i][0].forward(h)

    def _up_entry_backward(self, i, d):
        """The backward of :meth:`_up_entry` from ``d = ∂E/∂(up{i}.conv0's output)``: the
        gradient for the level below (through the concatenation's first block and the
        upsampling) and that of skip i (None without skips)."""
        d = self.up[i][0].backward(d)
        d_skip = None
        if self.skips:
            d, d_skip = self.concats[i].backward(d)    # the gradient splits
        return self.upsamples[i].backward(d), d_skip

    def _in_batches(self, f, X):
        """``f`` on :attr:`EVAL_BATCH` images of X at a time, the results stacked."""
        n = self.EVAL_BATCH
        return np.concatenate([f(X[i:i + n]) for i in range(0, len(X), n)])

    def forward(self, X):
        """The logits ``(B, n_classes, H, W)`` of the images X."""
        return self._in_batches(self._forward, self.validate(X))

    def predict(self, X):
        """Each pixel's label ``(B, H, W)``: the class of the largest logit, or, with one class,
        1 where the logit is positive (σ(a) > ½)."""
        A = self.forward(X)
        if self.n_classes == 1:
            return (A[:, 0] > 0).astype(np.int64)
        return A.argmax(axis=1)

    def _loss(self, Y, A, need_grad):
        """``E = loss(Y, logits)`` and ``∂E/∂logits``
        (:meth:`aenumpy.losses.PixelLoss.value_and_delta`)."""
        return self.loss_fn.value_and_delta(Y, A, need_grad)

    # ---------------------------------------------------------------- loss
    def _objective(self, X, Y, need_grad):
        """Forward pass, ``E = loss(Y, logits)`` and, when ``need_grad``, ``∂E/∂logits``."""
        A = self._forward(X)
        E, dA = self._loss(Y, A, need_grad)
        self.cache = {"x": X, "y": Y, "logits": A, "E": E, "dE/dlogits": dA}
        return E, dA

    def _backward(self, dA):
        """Backprop from ``dA = ∂E/∂logits`` through every layer, in reverse; returns the grads.

        The decoder gives each concatenation's gradient back as two pieces: one continues
        down the decoder, the other (``∂E/∂skip i``) waits until the encoder's backward reaches
        level i, where it is **added** to what comes back through the pooling: skip i was used
        twice, so its gradient is the sum of the two paths'."""
        d = self.head.backward(dA)                     # identity head: δ = ∂E/∂logits
        dskip = [None] * len(self.up)
        for i in range(len(self.up)):                  # the decoder, level 0 first (it ran last)
            d, dskip[i] = self._up_entry_backward(i, self.up[i][1].backward(d))
        d = self.bottom[0].backward(self.bottom[1].backward(d))
        for i in reversed(range(len(self.down))):     # the encoder, from the bottom up
            d = self.pools[i].backward(d)
            if self.skips:
                d = self._branch_sum(d, dskip[i])     # the branch: the two paths' gradients add
            conv0, conv1 = self.down[i]
            d = conv0.backward(conv1.backward(d))     # None at down0.conv0: the data's gradient
        return self._collect_grads()

    def _branch_sum(self, d_pool, d_skip):
        """``∂E/∂skip = d_pool + d_skip``: what came back through the pooling plus what came
        back through the concatenation."""
        return d_pool + d_skip

    def loss_and_grads(self, X, Y, rng=None, checked=False):
        """The loss on images X with per-pixel targets Y and its gradient for every parameter.

        Returns ``(loss, grads)`` with ``grads`` keyed like :attr:`params`. The model draws no
        noise (``rng`` is accepted for the models' common interface). ``checked=True`` skips
        the checks of X and Y (they went through :meth:`validate` and
        :meth:`validate_targets`)."""
        X, Y = self._checked(X, Y, rng, checked)
        E, dA = self._objective(X, Y, need_grad=True)
        return E, self._backward(dA)

    def loss(self, X, Y, rng=None, checked=False, training=True) -> float:
        """The same loss as :meth:`loss_and_grads`, without the gradients. A U-Net has no
        dropout or top-k: its loss is the same in evaluation mode (``training=False``, as
        :func:`aenumpy.fit` reports the validation loss)."""
        X, Y = self._checked(X, Y, rng, checked)
        return self._objective(X, Y, need_grad=False)[0]

    def _checked(self, X, Y, rng, checked):
        self._rng(rng)
        if checked:
            return X, Y
        X = self.validate(X)
        return X, self.validate_targets(Y, X)
