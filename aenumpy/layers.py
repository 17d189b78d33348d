"""Layers, each with its forward and backward pass written out in plain NumPy.

Every layer has the same small interface, so :func:`aenumpy.check_layer` checks any
of them (a student's own layer too):

* ``params`` and ``grads``: dicts with the same keys (empty for a layer without weights);
* ``forward(X) -> Z``, which keeps in ``cache`` what the backward pass needs;
* ``backward(dZ) -> dX``: given ``dZ = ∂E/∂Z``, fills ``grads`` and returns ``∂E/∂X``;
* ``init_params(rng)``: draws the weights again from a ``numpy.random.Generator``.

Two more names serve the models, never a student's own layer: an affine layer (Dense,
Conv2D, ConvTranspose2D) also has ``backward_from_delta(δ) -> dX`` for a caller that
already holds the error at the pre-activation (a loss computed from the logits, a penalty
on ``A``); and a model sets ``needs_dX = False`` on its first layer, whose input is the
data: nobody uses that ``∂E/∂X``, so its backward skips it and returns None.

The dense layer is the lecture's ``z = σ(Wx + b)``. Rows are samples, so for a
batch ``X`` of shape ``(B, d_in)`` it computes ``A = X Wᵀ + b`` and ``Z = f(A)``,
with ``W`` of shape ``(d_out, d_in)`` exactly as in the lecture. Its backward,
given ``dZ = ∂E/∂Z``::

    dA = dZ ⊙ f'(A)          δ, the error at the pre-activation
    dW = dAᵀ X               ∂E/∂W  (d_out, d_in)
    db = Σ_batch dA          ∂E/∂b
    dX = dA W                ∂E/∂X, handed to the layer below
"""
from __future__ import annotations

import numpy as np

from . import activations
from .backend import teaching_class
from ._validate import (check_dtype, check_int, check_layer_input, check_name, check_rng,
                        check_upstream)


class Layer:
    """The interface every layer follows (see the module docstring). Subclass it to
    write your own: set ``params`` in ``__init__``, fill ``grads`` in ``backward``."""

    name = "layer"
    #: whether ``backward`` computes ∂E/∂X: a model sets it False on its first layer, whose
    #: input is the data (its backward then returns None)
    needs_dX = True

    def __init__(self):
        self.params, self.grads, self.cache = {}, {}, {}

    def init_params(self, rng):
        """Draw the weights again from ``rng`` (nothing to draw for a layer without weights)."""

    def forward(self, X):
        raise NotImplementedError

    def backward(self, dZ):
        raise NotImplementedError

    def receive(self, dZ):
        """The start of a backward pass: ``dZ`` checked against the last forward's output
        (a ValueError before any work) and kept in the cache."""
        check_upstream(self, dZ)
        self.cache["dZ"] = dZ

    def output_shape(self, input_shape):
        """One sample's output shape for one sample's input shape (a ValueError when the
        input cannot go through); a model chains these to check its layers when built."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable: ``from_config`` rebuilds the layer."""
        return {a: getattr(self, a) for a in self._args}

    def config(self) -> dict:
        """``{"layer": <class name>, **get_config()}``, what :func:`from_config` takes."""
        return {"layer": teaching_class(type(self)).__name__, **self.get_config()}

    _args: tuple = ()


class AffineLayer(Layer):
    """A layer ``Z = f(A)`` whose pre-activation A is affine in its input and weights
    (Dense, Conv2D, ConvTranspose2D). Its backward starts with the error at the
    pre-activation, ``δ = dZ ⊙ f'(A)`` (:meth:`delta`), and goes on from there
    (:meth:`backward_from_delta`), which a caller that already has δ (a loss computed
    from the logits, a penalty on A) calls directly."""

    def delta(self, dZ):
        """``δ = dZ ⊙ f'(A)``, the error at the pre-activation, from the cached forward."""
        self.receive(dZ)
        return dZ * self.activation.grad(self.cache["A"], self.cache["Z"])

    def backward(self, dZ):
        """Backprop ``dZ = ∂E/∂Z``: ``δ = dZ ⊙ f'(A)``, then :meth:`backward_from_delta`;
        fills ``grads`` and returns ``∂E/∂X``."""
        return self.backward_from_delta(self.delta(dZ))

    def backward_from_delta(self, dA):
        """Backprop the error at the pre-activation, ``dA = δ = ∂E/∂A``: fills ``grads`` and
        returns ``∂E/∂X`` (None when :attr:`needs_dX` is False)."""
        raise NotImplementedError

    def activation_config(self):
        """The activation as a configuration stores it: a built-in's name; a custom
        Activation object cannot be saved by name."""
        name = activations.config_name(self.activation)
        if not isinstance(name, str):
            raise ValueError(f"{self.name}: a custom Activation object cannot be saved by name")
        return name


def from_config(cfg):
    """Rebuild a layer from :meth:`Layer.config` (fresh weights; a model fills them)."""
    if not isinstance(cfg, dict) or cfg.get("layer") not in LAYERS:
        raise ValueError(f"a layer configuration is a dict with 'layer' one of "
                         f"{', '.join(LAYERS)}; got {cfg!r}")
    cfg = dict(cfg)
    return LAYERS[cfg.pop("layer")](**cfg)


def glorot_uniform(n_in, n_out, rng, dtype):
    """Glorot & Bengio (2010): ``W ~ U(−r, r)``, ``r = √(6 / (n_in + n_out))``, shape ``(n_out, n_in)``."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_out, n_in)).astype(dtype)


class Dense(AffineLayer):
    """Fully connected layer ``Z = f(X Wᵀ + b)``, the lecture's ``z = σ(Wx + b)``.

    Parameters
    ----------
    n_in, n_out : sizes; ``W`` has shape ``(n_out, n_in)``, ``b`` shape ``(n_out,)``.
    activation : 'sigmoid', 'tanh', 'relu', 'identity' or an
        :class:`aenumpy.activations.Activation`.
    rng : ``numpy.random.Generator`` for the Glorot initialisation.
    tied_to : another Dense whose ``W`` this layer uses transposed (a tied
        decoder, ``W' = Wᵀ``). The layer then owns only ``b``; ``grads['W']``
        still holds ∂E/∂W' (shape ``(n_out, n_in)``), which the model adds,
        transposed, into the other layer's gradient.

    After ``forward`` the attribute ``cache`` holds ``X`` (input), ``A``
    (``Wx + b``) and ``Z`` (output); after ``backward``, ``grads`` holds the
    ``W`` and ``b`` gradients and ``cache`` also ``dZ``, ``dA`` (the error δ) and ``dX``.
    """

    def __init__(self, n_in, n_out, activation="sigmoid", *, rng=None, dtype="float32",
                 name="dense", tied_to=None):
        super().__init__()
        self.n_in = check_int("n_in", n_in, 1)
        self.n_out = check_int("n_out", n_out, 1)
        self.dtype = check_dtype(dtype)
        self.activation = activations.get(activation)
        self.name = check_name("name", name, "a string such as 'enc0'")
        if tied_to is not None and not isinstance(tied_to, Dense):
            raise TypeError(f"tied_to must be a Dense layer or None, got {type(tied_to).__name__}")
        if tied_to is not None and (tied_to.n_in, tied_to.n_out) != (self.n_out, self.n_in):
            raise ValueError(f"a tied layer {n_in}->{n_out} needs a partner {n_out}->{n_in}, "
                             f"got {tied_to.n_in}->{tied_to.n_out}")
        self.tied_to = tied_to
        self.init_params(np.random.default_rng(0) if check_rng(rng) is None else rng)

    def init_params(self, rng):
        """``W`` by Glorot's uniform rule (not for a tied layer: it has no W of its own), ``b = 0``."""
        self.params = {} if self.tied_to is not None else {
            "W": glorot_uniform(self.n_in, self.n_out, rng, self.dtype)}
        self.params["b"] = np.zeros(self.n_out, dtype=self.dtype)

    @property
    def W(self):
        """The weight matrix ``(n_out, n_in)``; for a tied layer the partner's ``W`` transposed."""
        return self.tied_to.params["W"].T if self.tied_to is not None else self.params["W"]

    @property
    def b(self):
        return self.params["b"]

    def output_shape(self, input_shape):
        """``(n_in,)`` → ``(n_out,)``."""
        if tuple(input_shape) != (self.n_in,):
            raise ValueError(f"{self.name}: expected {self.n_in} features per sample (shape "
                             f"({self.n_in},)), got shape {tuple(input_shape)}")
        return (self.n_out,)

    def get_config(self):
        if self.tied_to is not None:
            raise ValueError(f"{self.name}: a tied layer is rebuilt by its model, not alone")
        return {"n_in": self.n_in, "n_out": self.n_out, "activation": self.activation_config()}

    def forward(self, X):
        """``A = X Wᵀ + b``, ``Z = f(A)``; the cache keeps X, A and Z for the backward pass."""
        check_layer_input(self, X)
        A = X @ self.W.T + self.b
        Z = self.activation(A)
        self.cache = {"X": X, "A": A, "Z": Z}
        return Z

    def backward_from_delta(self, dA):
        """From ``δ = dZ ⊙ f'(A)`` (what :meth:`backward` computes first): fills ``grads``,
        returns ``∂E/∂X`` (None when :attr:`needs_dX` is False: the first layer's input is
        the data, which has no use for its gradient)."""
        check_upstream(self, dA)
        X = self.cache["X"]
        dW = dA.T @ X                                   # ∂E/∂W = δᵀ X
        db = dA.sum(axis=0)                             # ∂E/∂b = Σ_batch δ
        dX = dA @ self.W if self.needs_dX else None     # ∂E/∂X = δ W
        self.grads = {"W": dW, "b": db}
        self.cache.update(dA=dA, dX=dX)
        return dX

    def __repr__(self):
        tied = f", tied to {self.tied_to.name}" if self.tied_to is not None else ""
        return f"Dense({self.name}: {self.n_in} -> {self.n_out}, {self.activation.name}{tied})"


# ------------------------------------------------------------------ convolutional layers
#
# Images are (B, C, H, W), channels first. A convolution is a cross-correlation (as in
# every deep-learning library) with PyTorch's weight layouts. The computation is
# "im2col + one matrix product": every k×k patch the kernel visits becomes a column,
# and the convolution is the weight matrix times that matrix of columns. Its adjoint,
# col2im, adds columns back onto the image; it is the input gradient of a convolution
# and the forward pass of a transposed convolution. One pair serves both layers.


def conv_output_size(n, k, stride, padding):
    """Positions of a k-wide window moved ``stride`` at a time over ``n + 2·padding``
    cells: ``⌊(n + 2p − k) / s⌋ + 1`` (28 → 28 for k = 3, p = 1, s = 1; 28 → 14 with s = 2)."""
    return (n + 2 * padding - k) // stride + 1


def im2col(X, k, stride, padding):
    """The patches of a convolution as columns.

    For ``X`` of shape ``(B, C, H, W)`` returns ``cols`` of shape ``(B, C·k·k, Ho·Wo)`` with::

        cols[b, (c, i, j), (y, x)] = Xpad[b, c, y·s + i, x·s + j]

    (``Xpad`` is X with ``padding`` zeros on each side), so column ``(y, x)`` is the
    patch under the kernel at output pixel ``(y, x)``. Built with one strided slice per
    kernel offset ``(i, j)``: the k² slices ``Xpad[:, :, i::s, j::s]`` are copied in turn,
    in X's dtype.
    """
    B, C, H, W = X.shape
    Ho, Wo = conv_output_size(H, k, stride, padding), conv_output_size(W, k, stride, padding)
    p, s = padding, stride
    Xpad = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.empty((B, C, k, k, Ho, Wo), dtype=X.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = Xpad[:, :, i:i + s * Ho:s, j:j + s * Wo:s]
    return cols.reshape(B, C * k * k, Ho * Wo)


def col2im(cols, x_shape, k, stride, padding):
    """The adjoint of :func:`im2col`: every column added back onto its patch.

    For ``cols`` of shape ``(B, C·k·k, Ho·Wo)`` and ``x_shape = (B, C, H, W)``::

        Xpad[b, c, y·s + i, x·s + j] += cols[b, (c, i, j), (y, x)]   for every (i, j, y, x)

    then the padding is cut off. A pixel under several patches receives the sum of all
    their entries. Within one offset ``(i, j)`` the pixels ``y·s + i`` are distinct, so
    each of the k² strided slices is one plain ``+=``.
    """
    B, C, H, W = x_shape
    Ho, Wo = conv_output_size(H, k, stride, padding), conv_output_size(W, k, stride, padding)
    p, s = padding, stride
    cols = cols.reshape(B, C, k, k, Ho, Wo)
    Xpad = np.zeros((B, C, H + 2 * p, W + 2 * p), dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            Xpad[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += cols[:, :, i, j]
    return np.ascontiguousarray(Xpad[:, :, p:p + H, p:p + W])


def weights_times_cols(W, cols, out_hw):
    """The convolution's matrix product ``A_b = W_mat cols_b`` for every sample b.

    ``W`` is ``(c_out, c_in, k, k)``, seen as the matrix ``W_mat`` ``(c_out, c_in·k·k)``;
    ``cols`` is ``(B, c_in·k·k, Ho·Wo)`` from :func:`im2col`. Returns ``(B, c_out, Ho, Wo)``::

        A[b, o, y, x] = Σ_(c,i,j) W[o, c, i, j] · cols[b, (c, i, j), (y, x)]
    """
    A = np.matmul(W.reshape(W.shape[0], -1), cols)  # (c_out, Ck²) @ (B, Ck², HoWo)
    return A.reshape(cols.shape[0], W.shape[0], *out_hw)


def conv2d_input_grad(dA, W, x_shape, stride, padding):
    """``∂E/∂X`` of the convolution ``A = W ⋆ X`` given ``dA = ∂E/∂A``::

        dcols_b = W_matᵀ dA_b         (c_in·k·k, Ho·Wo): what each patch entry receives
        dX      = col2im(dcols)       (B, c_in, H, W)

    i.e. ``dX[b, c, y·s + i − p, x·s + j − p] += Σ_o W[o, c, i, j] dA[b, o, y, x]``. This is
    also the forward pass of a transposed convolution (:class:`ConvTranspose2D`).
    """
    B, c_out = dA.shape[:2]
    dcols = np.matmul(W.reshape(c_out, -1).T, dA.reshape(B, c_out, -1))
    return col2im(dcols, x_shape, W.shape[2], stride, padding)


def conv2d_weight_grad(dA, cols, w_shape):
    """``∂E/∂W`` of the convolution ``A = W ⋆ X`` given ``dA = ∂E/∂A`` and X's columns::

        dW_mat = Σ_b dA_b cols_bᵀ
        i.e. dW[o, c, i, j] = Σ_(b,y,x) dA[b, o, y, x] · Xpad[b, c, y·s + i, x·s + j]
    """
    B, c_out = dA.shape[:2]
    dW = np.matmul(dA.reshape(B, c_out, -1), cols.transpose(0, 2, 1)).sum(axis=0)
    return dW.reshape(w_shape)


def pytorch_default_init(w_shape, n_bias, rng, dtype):
    """PyTorch's default for ``nn.Conv2d`` / ``nn.ConvTranspose2d`` (and ``nn.Linear``):
    ``W, b ~ U(−1/√fan_in, 1/√fan_in)``, with ``fan_in = w_shape[1] · k · k`` read off the
    weight tensor as PyTorch does (``c_in·k²`` for a Conv2D, ``c_out·k²`` for a
    ConvTranspose2D). Returns ``(W, b)``, b with ``n_bias`` entries, W drawn first."""
    r = 1.0 / np.sqrt(np.prod(w_shape[1:]))
    W = rng.uniform(-r, r, size=w_shape).astype(dtype)
    return W, rng.uniform(-r, r, size=n_bias).astype(dtype)


def _check_sizes(what, **sizes):
    """Each of ``sizes`` a whole number ≥ 1 (``padding`` and ``output_padding`` ≥ 0)."""
    return [check_int(f"{what} {name}", v, 0 if name.endswith("padding") else 1)
            for name, v in sizes.items()]


class ImageLayer(Layer):
    """What the image layers share: the input check, done before any work.

    A subclass writes :meth:`output_shape` (one sample's output shape from one sample's
    input shape, raising ``ValueError`` when the input cannot go through);
    :meth:`check_input` checks a whole batch against it."""

    #: the rank of one sample the layer takes (3 for ``(C, H, W)``; None: any)
    sample_rank = 3

    def __init__(self, name):
        super().__init__()
        self.name = check_name("name", name, "a string such as 'enc0'")

    def output_shape(self, input_shape):
        raise NotImplementedError

    def check_input(self, X):
        """``X`` a float array ``(B, *sample)`` whose sample shape passes :meth:`output_shape`;
        returns the output's shape ``(B, *out)``."""
        self.check_batch(X)
        return (X.shape[0], *self.output_shape(X.shape[1:]))

    def check_batch(self, X):
        """``X`` a non-empty float array ``(B, *sample)`` of the rank the layer takes."""
        want = "(B, C, H, W)" if self.sample_rank == 3 else "(B, ...)"
        if not isinstance(X, np.ndarray) or X.dtype.kind != "f":
            got = f"{type(X).__name__}" + (f" of {X.dtype}" if isinstance(X, np.ndarray) else "")
            raise TypeError(f"{self.name}: X must be a float NumPy array {want}, got {got}")
        if X.ndim < 2 or (self.sample_rank is not None and X.ndim != self.sample_rank + 1):
            raise ValueError(f"{self.name}: X must be a batch of shape {want}, got shape {X.shape}"
                             + ("; one image? use X[None]" if X.ndim == self.sample_rank else ""))
        if X.shape[0] == 0:
            raise ValueError(f"{self.name}: X is an empty batch, shape {X.shape}")

    def _image_shape(self, input_shape, channels=None):
        """``(C, H, W)`` from ``input_shape``; with ``channels``, C must be that many."""
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(f"{self.name}: one sample must have shape (C, H, W), got {shape}")
        if channels is not None and shape[0] != channels:
            raise ValueError(f"{self.name}: expected {channels} input channel"
                             f"{'s' if channels != 1 else ''} (shape ({channels}, H, W)), "
                             f"got {shape[0]} (shape {shape})")
        if min(shape) < 1:
            raise ValueError(f"{self.name}: every size of one sample must be >= 1, got {shape}")
        return shape


class ConvLayer(AffineLayer, ImageLayer):
    """What Conv2D and ConvTranspose2D share: their arguments (checked before any work),
    the PyTorch initialisation and the printed form. A subclass gives
    :meth:`weight_shape`, :meth:`output_shape`, ``forward`` and ``backward``."""

    def __init__(self, c_in, c_out, kernel_size, stride, padding, output_padding, activation,
                 rng, dtype, name):
        super().__init__(name)
        kind = type(self).__name__
        self.c_in, self.c_out, self.kernel_size, self.stride = _check_sizes(
            kind, c_in=c_in, c_out=c_out, kernel_size=kernel_size, stride=stride)
        self.padding, self.output_padding = _check_sizes(
            kind, padding=padding, output_padding=output_padding)
        if self.output_padding >= self.stride:
            raise ValueError(f"{kind} output_padding must be smaller than the stride "
                             f"({self.stride}), got {self.output_padding}")
        self.dtype = check_dtype(dtype)
        self.activation = activations.get(activation)
        self.init_params(np.random.default_rng(0) if check_rng(rng) is None else rng)

    def weight_shape(self):
        raise NotImplementedError

    def get_config(self):
        return {"c_in": self.c_in, "c_out": self.c_out, "kernel_size": self.kernel_size,
                "stride": self.stride, "padding": self.padding,
                "activation": self.activation_config()}

    def init_params(self, rng):
        """``W, b ~ U(±1/√fan_in)``, PyTorch's default (:func:`pytorch_default_init`)."""
        W, b = pytorch_default_init(self.weight_shape(), self.c_out, rng, self.dtype)
        self.params = {"W": W, "b": b}

    def __repr__(self):
        extra = f", output_padding {self.output_padding}" if self.output_padding else ""
        return (f"{type(self).__name__}({self.name}: {self.c_in} -> {self.c_out}, "
                f"{self.kernel_size}×{self.kernel_size}, stride {self.stride}, padding "
                f"{self.padding}{extra}, {self.activation.name})")


class Conv2D(ConvLayer):
    """2-D convolution (a cross-correlation) ``Z = f(W ⋆ X + b)``, PyTorch's ``conv2d``.

    ``X`` ``(B, c_in, H, W)`` → ``Z`` ``(B, c_out, Ho, Wo)``, with ``W`` ``(c_out, c_in, k, k)``,
    ``b`` ``(c_out,)``, stride s, zero padding p and ``Ho = ⌊(H + 2p − k)/s⌋ + 1`` (likewise Wo)::

        A[b, o, y, x] = b[o] + Σ_(c,i,j) W[o, c, i, j] · Xpad[b, c, y·s + i, x·s + j]
        Z = f(A)

    ``torch.nn.functional.conv2d(X, W, b, s, p)`` gives the same A. Computed as
    :func:`im2col` and one matrix product (:func:`weights_times_cols`). Backward, given
    ``dZ = ∂E/∂Z``::

        dA = dZ ⊙ f'(A)                              δ, the error at the pre-activation
        db[o] = Σ_(b,y,x) dA[b, o, y, x]
        dW = Σ_b dA_b cols_bᵀ                        (conv2d_weight_grad)
        dX = col2im(W_matᵀ dA_b)                     (conv2d_input_grad)

    By hand: a 1×1 kernel ``W = 1``, ``b = 0``, identity activation returns X; a 3×3
    kernel of ones on a 3×3 image of ones (p = 0) gives the single value 9, and with
    p = 1 a 3×3 output whose corners are 4, edges 6 and centre 9.

    The cache holds ``X``, ``cols``, ``A`` and ``Z`` after forward, and ``dZ``, ``dA`` and
    ``dX`` after backward. Weights: :func:`pytorch_default_init`.
    """

    def __init__(self, c_in, c_out, kernel_size, stride=1, padding=0, activation="relu", *,
                 rng=None, dtype="float32", name="conv"):
        super().__init__(c_in, c_out, kernel_size, stride, padding, 0, activation, rng, dtype, name)

    def weight_shape(self):
        """``(c_out, c_in, k, k)``: so ``fan_in = c_in·k²``."""
        return (self.c_out, self.c_in, self.kernel_size, self.kernel_size)

    def output_shape(self, input_shape):
        """``(c_in, H, W)`` → ``(c_out, Ho, Wo)``; the kernel must fit in the padded image."""
        _, H, W = self._image_shape(input_shape, self.c_in)
        k, p = self.kernel_size, self.padding
        if k > H + 2 * p or k > W + 2 * p:
            raise ValueError(f"{self.name}: the {k}×{k} kernel is larger than the padded input "
                             f"{H + 2 * p}×{W + 2 * p} (input {H}×{W}, padding {p})")
        return (self.c_out, conv_output_size(H, k, self.stride, p),
                conv_output_size(W, k, self.stride, p))

    def forward(self, X):
        """``cols = im2col(X)``, ``A = W_mat cols + b``, ``Z = f(A)``."""
        out_shape = self.check_input(X)
        cols = im2col(X, self.kernel_size, self.stride, self.padding)
        A = weights_times_cols(self.params["W"], cols, out_shape[2:])
        A += self.params["b"][:, None, None]
        Z = self.activation(A)
        self.cache = {"X": X, "cols": cols, "A": A, "Z": Z}
        return Z

    def backward_from_delta(self, dA):
        """From ``δ = dA = dZ ⊙ f'(A)``: ``db = Σ dA``, ``dW = Σ_b dA_b cols_bᵀ``,
        ``dX = col2im(W_matᵀ dA)`` (None when :attr:`needs_dX` is False)."""
        check_upstream(self, dA)
        c = self.cache
        W = self.params["W"]
        self.grads = {"W": conv2d_weight_grad(dA, c["cols"], W.shape),
                      "b": dA.sum(axis=(0, 2, 3))}
        dX = (conv2d_input_grad(dA, W, c["X"].shape, self.stride, self.padding)
              if self.needs_dX else None)
        c.update(dA=dA, dX=dX)
        return dX


class ConvTranspose2D(ConvLayer):
    """Transposed convolution (the adjoint of a convolution) ``Z = f(A)``, PyTorch's ``conv_transpose2d``.

    ``X`` ``(B, c_in, H, W)`` → ``Z`` ``(B, c_out, Ho, Wo)`` with ``W`` ``(c_in, c_out, k, k)``
    (PyTorch's layout), ``b`` ``(c_out,)`` and ``Ho = (H − 1)·s − 2p + k + output_padding``::

        A[b, o, y·s + i − p, x·s + j − p] += Σ_c X[b, c, y, x] · W[c, o, i, j]   (every y, x, i, j)
        A += b[o];  Z = f(A)

    Each input pixel stamps the kernel, scaled, onto the output, s pixels apart. Its
    forward is **exactly the input gradient of a Conv2D** whose weight is this W (a
    Conv2D from c_out to c_in channels with the same k, s, p), taken with ``dA = X``:
    the same :func:`conv2d_input_grad` (a matrix product, then :func:`col2im`). Its
    backward is that Conv2D's forward and weight gradient::

        dA = dZ ⊙ f'(A);   db[o] = Σ_(b,y,x) dA[b, o, y, x]
        dcols = im2col(dA)                 the patches of dA
        dX = W_mat dcols_b                 = Conv2D's forward (weights_times_cols), no bias
        dW = Σ_b X_b dcols_bᵀ              = Conv2D's conv2d_weight_grad with the roles of X and dA swapped

    ``output_padding`` (``< stride``) adds rows and columns at the bottom and right, which
    choose among the output sizes a stride-s Conv2D maps onto the same input size
    (28 → 14 for k = 3, s = 2, p = 1, and 14 → 28 back with ``output_padding = 1``).

    By hand: ``k = s = 1``, ``p = 0``, ``W = 1`` (one channel), ``b = 0``, identity: returns X;
    a 1×1 input ``[[1]]`` with ``k = 3``, ``p = 0`` gives the kernel itself.

    The cache holds ``X``, ``A`` and ``Z`` after forward, and ``dZ``, ``dA``, ``dcols`` and
    ``dX`` after backward. Weights: :func:`pytorch_default_init` (fan_in = c_out·k²).
    """

    def __init__(self, c_in, c_out, kernel_size, stride=1, padding=0, output_padding=0,
                 activation="relu", *, rng=None, dtype="float32", name="convt"):
        super().__init__(c_in, c_out, kernel_size, stride, padding, output_padding, activation,
                         rng, dtype, name)

    def get_config(self):
        return {**super().get_config(), "output_padding": self.output_padding}

    def weight_shape(self):
        """``(c_in, c_out, k, k)``: so ``fan_in = c_out·k²``."""
        return (self.c_in, self.c_out, self.kernel_size, self.kernel_size)

    def output_shape(self, input_shape):
        """``(c_in, H, W)`` → ``(c_out, Ho, Wo)``, ``Ho = (H − 1)·s − 2p + k + output_padding``
        (likewise Wo), which must be ≥ 1."""
        _, H, W = self._image_shape(input_shape, self.c_in)
        k, s, p, op = self.kernel_size, self.stride, self.padding, self.output_padding
        Ho, Wo = (H - 1) * s - 2 * p + k + op, (W - 1) * s - 2 * p + k + op
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{self.name}: the padding {p} crops the whole output: an {H}×{W} "
                             f"input gives (n − 1)·{s} − 2·{p} + {k} + {op} = {Ho}×{Wo}")
        return (self.c_out, Ho, Wo)

    def forward(self, X):
        """``A = conv2d_input_grad(X, W) + b`` (= ``col2im(W_matᵀ X_b) + b``), ``Z = f(A)``."""
        out_shape = self.check_input(X)
        A = conv2d_input_grad(X, self.params["W"], out_shape, self.stride, self.padding)
        A += self.params["b"][:, None, None]
        Z = self.activation(A)
        self.cache = {"X": X, "A": A, "Z": Z}
        return Z

    def backward_from_delta(self, dA):
        """From ``δ = dA = dZ ⊙ f'(A)``: ``dcols = im2col(dA)``, ``db = Σ dA``,
        ``dW = Σ_b X_b dcols_bᵀ``, ``dX = W_mat dcols`` (None when :attr:`needs_dX` is False)."""
        check_upstream(self, dA)
        c = self.cache
        W, X = self.params["W"], c["X"]
        dcols = im2col(dA, self.kernel_size, self.stride, self.padding)
        self.grads = {"W": conv2d_weight_grad(X, dcols, W.shape), "b": dA.sum(axis=(0, 2, 3))}
        dX = weights_times_cols(W, dcols, X.shape[2:]) if self.needs_dX else None
        c.update(dA=dA, dcols=dcols, dX=dX)
        return dX


class MaxPool2D(ImageLayer):
    """Max pooling over ``size × size`` windows, ``size`` apart (``MaxPool2D(2)``: 2×2, stride 2).

    ``X`` ``(B, C, H, W)`` → ``Z`` ``(B, C, ⌊H/size⌋, ⌊W/size⌋)``; rows and columns at the
    bottom and right that do not fill a window are dropped (as PyTorch's ``max_pool2d``)::

        Z[b, c, y, x] = max_(i,j) X[b, c, y·size + i, x·size + j]

    Backward: the whole gradient of each output goes to the input that was the window's
    maximum, the others (and the dropped edge) get 0. When several inputs tie for the
    maximum, the first in row-major order within the window takes it. The cache keeps
    ``argmax`` (that input's position ``i·size + j`` in its window).

    By hand: ``[[1, 3], [3, 2]]`` pools to 3, and the gradient ``g`` goes to the 3 at row 0.
    """

    _args = ("size",)

    def __init__(self, size=2, *, name="pool"):
        super().__init__(name)
        (self.size,) = _check_sizes("MaxPool2D", size=size)

    def output_shape(self, input_shape):
        """``(C, H, W)`` → ``(C, ⌊H/size⌋, ⌊W/size⌋)``; the image must hold one window."""
        C, H, W = self._image_shape(input_shape)
        if H < self.size or W < self.size:
            raise ValueError(f"{self.name}: a {H}×{W} image is smaller than one "
                             f"{self.size}×{self.size} pooling window")
        return (C, H // self.size, W // self.size)

    def windows(self, X):
        """``X`` as ``(B, C, Ho, Wo, size·size)``: each window's entries in row-major order."""
        B, C, H, W = X.shape
        s = self.size
        Ho, Wo = H // s, W // s
        win = X[:, :, :Ho * s, :Wo * s].reshape(B, C, Ho, s, Wo, s)
        return win.transpose(0, 1, 2, 4, 3, 5).reshape(B, C, Ho, Wo, s * s)

    def forward(self, X):
        """``argmax`` of each window (the first one on ties), ``Z`` the value there."""
        self.check_input(X)
        win = self.windows(X)
        argmax = win.argmax(axis=-1)
        Z = np.take_along_axis(win, argmax[..., None], axis=-1)[..., 0]
        self.cache = {"X": X, "argmax": argmax, "Z": Z}
        return Z

    def backward(self, dZ):
        """``dX`` is 0 but at each window's argmax, which receives that window's ``dZ``."""
        self.receive(dZ)
        if not self.needs_dX:
            return None
        X, argmax = self.cache["X"], self.cache["argmax"]
        B, C, Ho, Wo = dZ.shape
        s = self.size
        dwin = np.zeros((B, C, Ho, Wo, s * s), dtype=dZ.dtype)
        np.put_along_axis(dwin, argmax[..., None], dZ[..., None], axis=-1)
        dX = np.zeros(X.shape, dtype=dZ.dtype)
        dX[:, :, :Ho * s, :Wo * s] = (dwin.reshape(B, C, Ho, Wo, s, s)
                                      .transpose(0, 1, 2, 4, 3, 5).reshape(B, C, Ho * s, Wo * s))
        self.cache["dX"] = dX
        return dX

    def __repr__(self):
        return f"MaxPool2D({self.name}: {self.size}×{self.size})"


class Upsample2D(ImageLayer):
    """Nearest-neighbour upsampling by ``scale`` (``Upsample2D(2)``: each pixel becomes a 2×2 block).

    ``X`` ``(B, C, H, W)`` → ``Z`` ``(B, C, H·scale, W·scale)``, PyTorch's
    ``interpolate(X, scale_factor=scale, mode="nearest")``::

        Z[b, c, y, x] = X[b, c, ⌊y/scale⌋, ⌊x/scale⌋]

    Backward: each input pixel was copied into a block, so its gradient is the sum of
    ``dZ`` over that block: ``dX[b, c, y, x] = Σ_(i,j) dZ[b, c, y·scale + i, x·scale + j]``.

    By hand: ``[[1, 2]]`` becomes ``[[1, 1, 2, 2], [1, 1, 2, 2]]``; a ``dZ`` of ones gives ``dX = 4``.
    """

    _args = ("scale",)

    def __init__(self, scale=2, *, name="up"):
        super().__init__(name)
        (self.scale,) = _check_sizes("Upsample2D", scale=scale)

    def output_shape(self, input_shape):
        """``(C, H, W)`` → ``(C, H·scale, W·scale)``."""
        C, H, W = self._image_shape(input_shape)
        return (C, H * self.scale, W * self.scale)

    def forward(self, X):
        """Each pixel repeated ``scale`` times down and across."""
        self.check_input(X)
        Z = X.repeat(self.scale, axis=2).repeat(self.scale, axis=3)
        self.cache = {"X": X, "Z": Z}
        return Z

    def backward(self, dZ):
        """The block sums of ``dZ``."""
        self.receive(dZ)
        if not self.needs_dX:
            return None
        B, C, H, W = self.cache["X"].shape
        s = self.scale
        dX = dZ.reshape(B, C, H, s, W, s).sum(axis=(3, 5))
        self.cache["dX"] = dX
        return dX

    def __repr__(self):
        return f"Upsample2D({self.name}: ×{self.scale})"


class Concat(ImageLayer):
    """Concatenation along the channels: the U-Net's skip connection, ``[U, S] → Z``.

    ``U`` ``(B, C_u, H, W)`` and ``S`` ``(B, C_s, H, W)`` → ``Z`` ``(B, C_u + C_s, H, W)``, PyTorch's
    ``torch.cat([U, S], dim=1)``::

        Z[b, c]       = U[b, c]          for c < C_u
        Z[b, C_u + c] = S[b, c]          for c < C_s

    Backward: each input's entries were copied, unchanged, into its own block of channels,
    so the gradient **splits**: ``dU = dZ[:, :C_u]`` and ``dS = dZ[:, C_u:]``. ``forward``
    takes the two inputs and ``backward(dZ)`` returns the pair ``(dU, dS)``;
    :func:`aenumpy.check_layer` checks it given the pair ``(U, S)``.

    By hand: one channel of ones and one of twos give two channels, the first ones and the
    second twos; a ``dZ`` whose first channel is ``a`` and second ``b`` gives ``dU = a``,
    ``dS = b``.
    """

    def __init__(self, *, name="concat"):
        super().__init__(name)

    def output_shape(self, *input_shapes):
        """``(C_u, H, W)`` and ``(C_s, H, W)`` → ``(C_u + C_s, H, W)``: the images must have the
        same height and width."""
        if len(input_shapes) != 2:
            raise ValueError(f"{self.name}: concatenates two inputs, got {len(input_shapes)}")
        (cu, hu, wu), (cs, hs, ws) = (self._image_shape(s) for s in input_shapes)
        if (hu, wu) != (hs, ws):
            raise ValueError(f"{self.name}: the two inputs must have the same height and width, "
                             f"got {hu}×{wu} and {hs}×{ws}")
        return (cu + cs, hu, wu)

    def check_input(self, U, S):
        """Both inputs checked as image batches of the same batch size, height and width;
        returns the output's shape ``(B, C_u + C_s, H, W)``."""
        for X in (U, S):
            self.check_batch(X)
        if U.shape[0] != S.shape[0]:
            raise ValueError(f"{self.name}: the two inputs must have the same batch size, got "
                             f"{U.shape[0]} and {S.shape[0]}")
        return (U.shape[0], *self.output_shape(U.shape[1:], S.shape[1:]))

    def forward(self, U, S):
        """``Z = [U, S]`` along the channels."""
        self.check_input(U, S)
        Z = np.concatenate([U, S], axis=1)
        self.cache = {"U": U, "S": S, "Z": Z}
        return Z

    def backward(self, dZ):
        """``(dU, dS)``: the channels of ``dZ`` split back into the two inputs' blocks."""
        check_upstream(self, dZ)
        cu = self.cache["U"].shape[1]
        dU, dS = dZ[:, :cu], dZ[:, cu:]
        self.cache.update(dZ=dZ, dU=dU, dS=dS)
        return dU, dS

    def __repr__(self):
        return f"Concat({self.name}: along channels)"


class Reshaping(ImageLayer):
    """A layer that only reshapes: forward ``X.reshape(B, *output_shape)``, backward
    reshapes the gradient back to the input's shape. Subclasses give :meth:`output_shape`."""

    def forward(self, X):
        out_shape = self.check_input(X)
        Z = X.reshape(out_shape)
        self.cache = {"X": X, "Z": Z}
        return Z

    def backward(self, dZ):
        """``dZ`` reshaped back to the input's shape."""
        self.receive(dZ)
        return dZ.reshape(self.cache["X"].shape) if self.needs_dX else None


class Flatten(Reshaping):
    """``(B, C, H, W)`` → ``(B, C·H·W)``, each image read row by row (C order), so a Dense
    layer can follow; backward reshapes the gradient back to ``(B, C, H, W)``."""

    def __init__(self, *, name="flatten"):
        super().__init__(name)

    def output_shape(self, input_shape):
        """``(C, H, W)`` → ``(C·H·W,)``."""
        return (int(np.prod(self._image_shape(input_shape))),)

    def __repr__(self):
        return f"Flatten({self.name})"


class Reshape(Reshaping):
    """``(B, d)`` → ``(B, *shape)`` with ``d = prod(shape)``, e.g. a Dense code back to
    images ``Reshape((8, 7, 7))``; backward reshapes the gradient back to ``(B, d)``."""

    sample_rank = None

    def get_config(self):
        return {"shape": list(self.shape)}

    def __init__(self, shape, *, name="reshape"):
        super().__init__(name)
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not shape:
            raise TypeError(f"Reshape shape must be a tuple of sizes such as (8, 7, 7), got {shape!r}")
        self.shape = tuple(check_int("Reshape size", n, 1) for n in shape)

    def output_shape(self, input_shape):
        """``(d,)`` → ``shape``: one sample must hold exactly ``prod(shape)`` numbers."""
        d, want = int(np.prod(input_shape)), int(np.prod(self.shape))
        if d != want:
            raise ValueError(f"{self.name}: cannot reshape a sample of shape {tuple(input_shape)} "
                             f"({d} numbers) to {self.shape} ({want} numbers)")
        return self.shape

    def __repr__(self):
        return f"Reshape({self.name}: {self.shape})"


#: the layers a saved model's configuration may name
LAYERS = {cls.__name__: cls for cls in (Dense, Conv2D, ConvTranspose2D, MaxPool2D, Upsample2D,
                                        Flatten, Reshape)}
