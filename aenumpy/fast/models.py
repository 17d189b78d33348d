"""The fast twins of the models: the same forward and backward, with compiled kernels.

NumPy references: :class:`aenumpy.Autoencoder`, :class:`aenumpy.VariationalAutoencoder` and
:class:`aenumpy.ConvAutoencoder`.
A twin overrides only the small methods where the teaching model hands work to its
regularizers and its loss; everything else (the order of the pass, the caches, the
gradients' bookkeeping) is the teaching model's own code.

A twin whose forward pass costs fewer than :func:`aenumpy.backend.min_work`
multiply-adds per sample keeps the teaching layers and methods: compiling would cost
more than such a model's whole run.
"""
from __future__ import annotations

import numpy as np

from .. import losses
from ..activations import Sigmoid
from ..backend import worth_compiling
from ..layers import Conv2D, ConvTranspose2D, Dense, MaxPool2D, Upsample2D
from ..models import Autoencoder, ConvAutoencoder, VariationalAutoencoder
from ..models.autoencoder import rows
from ..regularizers import Contractive, GaussianNoise, KLSparsity, Penalty, TopK
from ..regularizers.sparsity import CLIP
from .activation import code_of
from .blas import matmul
from .buffers import empty
from .conv import (
    DirectConv,
    FastConv2D,
    FastConvTranspose2D,
    images,
    is_rows_view,
    new_rows,
    rows_of,
)
from .dense import FastDense
from .loss import output_loss
from .noise import add_gaussian, n_words
from .optim import runs_compiled
from .pcg64 import raw_words
from .pool import FastMaxPool2D, FastUpsample2D
from .regularizers import contractive_sigmoid, kl_sparsity, topk_mask

#: each teaching layer's fast twin
LAYER_TWINS = {Dense: FastDense, Conv2D: FastConv2D, ConvTranspose2D: FastConvTranspose2D,
               MaxPool2D: FastMaxPool2D, Upsample2D: FastUpsample2D}

#: the fast layers that take images as rows (:mod:`.conv`) as they lie
ROWS_IN = (FastConv2D, FastConvTranspose2D, FastMaxPool2D, FastUpsample2D)

#: the output losses the fused kernel computes: the loss's class and its code there
LOSS_CODES = {losses.SquaredError: 0, losses.BinaryCrossEntropy: 1}


def _floats(*arrays):
    """True when the arrays are float32 or float64 and all of one dtype (what the kernels take)."""
    return len({a.dtype for a in arrays}) == 1 and arrays[0].dtype in (np.float32, np.float64)


def work(model):
    """Multiply-adds of one sample's forward pass: ``n_in·n_out`` for a dense layer,
    ``c_in·k²`` per output value of a convolution (``c_out·k²`` per input value of a
    transposed one), one per output value of any other layer."""
    shapes = getattr(model, "shapes", None)
    ins = [getattr(model, "input_shape", None)] + list(shapes or [])[:-1]
    total = 0
    for k, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            total += layer.n_in * layer.n_out
        elif isinstance(layer, ConvTranspose2D):
            total += int(np.prod(ins[k])) * layer.c_out * layer.kernel_size ** 2
        elif isinstance(layer, Conv2D):
            total += int(np.prod(shapes[k])) * layer.c_in * layer.kernel_size ** 2
        elif shapes is not None:
            total += int(np.prod(shapes[k]))
    return total


def make_fast(layer):
    """Turn a built teaching layer into its fast twin in place (:data:`LAYER_TWINS`): the
    same object (a tied partner keeps pointing at it), the same arrays; a dense ``W``
    re-laid out (:meth:`.dense.FastDense.lay_out`). A student's own layer stays as it is."""
    twin = LAYER_TWINS.get(type(layer))
    if twin is not None:
        layer.__class__ = twin
        if isinstance(layer, FastDense):
            layer.lay_out()
    return layer


def _accelerate(model):
    """Decide whether the model runs compiled (``model.fast``) and, if so, turn its layers
    into their fast twins (:func:`make_fast`)."""
    model.fast = worth_compiling(work(model))
    if model.fast:
        for layer in model.layers:
            make_fast(layer)
        model._collect_params()
        runs_compiled(model.params)
    return model.fast


def _fused_output(X, out, loss, need_grad, x_rows=None):
    """``(E, δ_out)`` by the fused kernel on one row per sample, or, when the output layer
    hands on rows (:mod:`.conv`) and ``x_rows`` holds X as rows, on those rows (δ_out as
    rows too); None when the teaching code must run."""
    loss_code = LOSS_CODES.get(type(loss))
    act_code = code_of(getattr(out, "activation", None))
    A, Z = out.cache.get("A"), out.cache["Z"]
    if loss_code is None or act_code is None or (loss_code == 1 and act_code != 1) \
            or not _floats(X, A, Z):
        return None
    if x_rows is not None and is_rows_view(A) and is_rows_view(Z):
        dA = new_rows(x_rows.shape[0] - 1, len(X), A.dtype)
        E = output_loss(x_rows[:-1], A.base[:-1], Z.base[:-1], loss_code, act_code, dA[:-1],
                        len(X))
        return E, (images(dA, A.shape) if need_grad else None)
    if not (A.flags.c_contiguous and Z.flags.c_contiguous):
        return None
    dA = empty(A.shape, A.dtype)
    E = output_loss(rows(X), rows(A), rows(Z), loss_code, act_code, rows(dA))
    return E, (dA if need_grad else None)


class FastAutoencoderBase:
    """The fast versions of :class:`~aenumpy.models.autoencoder.AutoencoderBase`'s four
    places where the regularizers and the loss act (a mixin for the twins below): fused
    output loss, Box–Muller Gaussian corruption, and the top-k, KL-sparsity and
    contractive (sigmoid) kernels of :mod:`.regularizers`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _accelerate(self)

    def _corrupt(self, r, X, rng):
        """Gaussian corruption ``x̃ = x + σ ε`` with ε by Box–Muller from the generator's
        raw words (:mod:`.noise`: a different draw from the teaching path's
        ``rng.standard_normal``, from the same generator)."""
        if self.fast and type(r) is GaussianNoise and _floats(X) and X.flags.c_contiguous:
            bits = raw_words(rng.bit_generator, n_words(X.size, X.dtype))
            return add_gaussian(X, r.sigma, bits, np.empty_like(X))
        return super()._corrupt(r, X, rng)

    def _mask(self, r, Z, rng, training):
        """Top-k's mask by the radix-select kernel."""
        if self.fast and type(r) is TopK and _floats(Z) and Z.ndim == 2:
            kk = r.units_kept(Z.shape[1], training)
            return None if kk >= Z.shape[1] else topk_mask(Z, kk, r.by)
        return super()._mask(r, Z, rng, training)

    def _penalty(self, r, view, need_grad):
        """KL sparsity, and the contractive penalty of a sigmoid layer, by their kernels."""
        if self.fast and type(r) is KLSparsity and _floats(view.Z) and view.Z.ndim == 2:
            dZ = np.empty_like(view.Z) if need_grad else None
            value, rho_hat = kl_sparsity(view.Z, r.rho, r.beta, CLIP, dZ)
            return Penalty(float(value), dZ=dZ, info={"rho_hat": rho_hat})
        if self.fast and type(r) is Contractive and type(view.activation) is Sigmoid \
                and _floats(view.A, view.W) and view.A.ndim == 2:
            dA = np.empty_like(view.A) if need_grad else None
            dW = np.empty_like(view.W) if need_grad else None  # W's memory layout
            value = contractive_sigmoid(view.A, view.W, r.lam, dA, dW)
            info = {"jacobian_norm": value / r.lam if r.lam else None}
            return Penalty(value, dA=dA, dW=dW, info=info) if need_grad else Penalty(value)
        return super()._penalty(r, view, need_grad)

    def _output_error(self, X, need_grad):
        """The loss and ``δ_out`` in one fused pass (:mod:`.loss`)."""
        fused = _fused_output(X, self.decoder[-1], self.loss_fn, need_grad) if self.fast else None
        return super()._output_error(X, need_grad) if fused is None else fused


class FastAutoencoder(FastAutoencoderBase, Autoencoder):
    """:class:`aenumpy.Autoencoder` with compiled kernels: fast Dense layers and the kernels
    of :class:`FastAutoencoderBase`."""


class FastConvAutoencoder(FastAutoencoderBase, ConvAutoencoder):
    """:class:`aenumpy.ConvAutoencoder` with compiled kernels: fast convolution, pooling and
    upsampling layers and the kernels of :class:`FastAutoencoderBase`. A fast convolution
    followed by another hands its images on as views of its batch-innermost rows
    (:attr:`.conv.DirectConv.rows_out`), and so does one followed by a fast pooling or
    upsampling layer, which hands rows on in turn: the next reads them without a copy. A
    fast convolution at the output hands on rows too, and the fused loss reads them with
    the input's rows, which the first layer made."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        layers = self.layers
        for layer, after in zip(layers, layers[1:] + [None]):
            if isinstance(layer, DirectConv):
                layer.rows_out = after is None or isinstance(after, ROWS_IN)

    def _input_rows(self, X):
        """The batch X as rows (:mod:`.conv`): those the first layer made of it in this
        step's forward pass (its input when nothing corrupted it), else a new copy."""
        first, x = self.encoder[0], self.cache.get("x")
        made = getattr(first, "_rows", None)
        if (made is not None and x is not None and made["X_images"] is x and x.size == X.size
                and x.ctypes.data == X.ctypes.data and X.flags.c_contiguous):
            return made["X"]
        return rows_of(self.images(np.ascontiguousarray(X)))

    def _output_error(self, X, need_grad):
        """The loss and ``δ_out`` by the fused kernel on the output layer's rows (and the
        input's), when it hands on rows."""
        out = self.decoder[-1]
        if self.fast and isinstance(out, DirectConv) and out.rows_out and _floats(X):
            fused = _fused_output(X, out, self.loss_fn, need_grad, self._input_rows(X))
            if fused is not None:
                return fused
        return super()._output_error(X, need_grad)


class FastVariationalAutoencoder(VariationalAutoencoder):
    """:class:`aenumpy.VariationalAutoencoder` with compiled kernels: fast Dense layers,
    the fused Bernoulli output, and the μ and log σ² heads run as one product on their
    stacked weights (each head's W a view of its half of ``heads_W``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.heads_W = None
        if _accelerate(self):
            L = self.n_latent
            self.heads_W = np.ascontiguousarray(  # row-major, so each half is contiguous
                np.concatenate([self.mu_head.params["W"], self.logvar_head.params["W"]]))
            self.mu_head.params["W"] = self.heads_W[:L]
            self.logvar_head.params["W"] = self.heads_W[L:]
            self._collect_params()
            runs_compiled(self.params)

    def _heads_joined(self):
        """True while both heads' W are the two halves of ``heads_W`` (a W replaced by
        another array makes the heads run one by one again)."""
        return (self.heads_W is not None and self.mu_head.params["W"].base is self.heads_W
                and self.logvar_head.params["W"].base is self.heads_W)

    def _heads_forward(self, h):
        """``[μ, log σ²] = h [W_μ; W_logvar]ᵀ + [b_μ, b_logvar]``, one product; the heads'
        caches are filled as :meth:`Dense.forward` fills them."""
        if not (self._heads_joined() and _floats(h, self.heads_W)):
            return super()._heads_forward(h)
        L = self.n_latent
        A = matmul(h, self.heads_W.T)
        mu = A[:, :L] + self.mu_head.b
        lv = A[:, L:] + self.logvar_head.b
        self.mu_head.cache = {"X": h, "A": mu, "Z": mu}
        self.logvar_head.cache = {"X": h, "A": lv, "Z": lv}
        return mu, lv

    def _heads_backward(self, dmu, dlv):
        """``δ = [∂E/∂μ, ∂E/∂log σ²]``: the heads' ``∂E/∂W = δᵀh`` and ``∂E/∂b = Σ δ`` (views
        of one product), and ``∂E/∂h = δ [W_μ; W_logvar]``."""
        h = self.mu_head.cache["X"]
        if not (self._heads_joined() and _floats(h, dmu, dlv)):
            return super()._heads_backward(dmu, dlv)
        L = self.n_latent
        d = np.concatenate((dmu, dlv), axis=1)
        gW = matmul(d.T, h)
        gb = d.sum(axis=0)
        for head, dA, part in ((self.mu_head, dmu, slice(0, L)),
                               (self.logvar_head, dlv, slice(L, 2 * L))):
            head.cache.update(dA=dA, dX=None)
            head.grads = {"W": gW[part], "b": gb[part]}
        return matmul(d, self.heads_W)

    def _nll(self, X, out, lvx, need_grad, per_sample=False):
        """The Bernoulli decoder's cross-entropy and ``δ_out`` in one fused pass."""
        if self.fast and self.likelihood == "bernoulli" and not per_sample:
            fused = _fused_output(X, self.out, self._bce, need_grad)
            if fused is not None:
                return fused[0], fused[1], None
        return super()._nll(X, out, lvx, need_grad, per_sample)
