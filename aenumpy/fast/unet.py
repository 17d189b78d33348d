"""The fast twin of the U-Net: the same forward and backward, on batch-innermost rows.

NumPy reference: :class:`aenumpy.UNet`. The twin turns every layer into its fast twin
(:class:`.conv.FastConv2D`, :class:`.pool.FastMaxPool2D`, :class:`.pool.FastUpsample2D` and
:class:`FastConcat` here), so a batch becomes rows once, at the first convolution, and every
layer reads and hands on rows (:mod:`.conv`): a concatenation along the channels is two
blocks of rows one after the other. The loss reads the head's rows
(:mod:`.pixel_loss`), and the gradients of a skip's two paths add on rows. The entry of each
decoder level (upsampling, concatenation, convolution) is one sum on the low-resolution rows
and the skip's (:mod:`.upconv`): the upsampled block and the concatenation are never made.
The order of the pass and its bookkeeping are the teaching model's code.
"""
from __future__ import annotations

import numpy as np

from ..backend import worth_compiling
from ..layers import Concat
from ..losses import PixelBinaryCrossEntropy, SoftmaxCrossEntropy
from ..models import UNet
from ._jit import kernel_threads
from .._validate import check_upstream
from .activation import CODES, code_of
from .conv import DirectConv, images, is_rows_view, new_rows, rows_of
from .models import make_fast, work
from .optim import runs_compiled
from .pixel_loss import bce_rows_nb, softmax_ce_rows_nb
from .upconv import up_conv_backward, up_conv_forward


def _rows_pair(*arrays):
    """True when every array is a rows view (:func:`.conv.is_rows_view`) of one float dtype."""
    return (all(is_rows_view(a) for a in arrays) and len({a.dtype for a in arrays}) == 1
            and arrays[0].dtype.char in "fd")


class FastConcat(Concat):
    """:class:`aenumpy.layers.Concat` on rows: ``[U, S]`` along the channels is U's rows then
    S's rows, and the backward hands each input its own block of ``dZ``'s rows. NumPy
    reference: ``aenumpy.layers.Concat.forward`` and ``.backward``, which run for inputs that
    are not rows."""

    def forward(self, U, S):
        """``Z = [U, S]``: the two inputs' rows copied one after the other."""
        out_shape = self.check_input(U, S)
        if not _rows_pair(U, S):
            return super().forward(U, S)
        nu = U[0].size
        Zr = new_rows(nu + S[0].size, U.shape[0], U.dtype)
        Zr[:nu] = U.base[:-1]
        Zr[nu:-1] = S.base[:-1]
        Z = images(Zr, out_shape)
        self.cache = {"U": U, "S": S, "Z": Z}
        return Z

    def backward(self, dZ):
        """``(dU, dS)``: the first ``C_u·H·W`` rows of ``dZ`` and the rest, each as rows of its
        own."""
        c = self.cache
        if "Z" not in c or not _rows_pair(dZ, c["U"], c["S"]):
            return super().backward(dZ)
        U, S = c["U"], c["S"]
        nu = U[0].size
        dUr, dSr = new_rows(nu, len(dZ), dZ.dtype), new_rows(S[0].size, len(dZ), dZ.dtype)
        dUr[:-1] = dZ.base[:nu]
        dSr[:-1] = dZ.base[nu:-1]
        dU, dS = images(dUr, U.shape), images(dSr, S.shape)
        c.update(dZ=dZ, dU=dU, dS=dS)
        return dU, dS


#: the pixel losses the kernels of :mod:`.pixel_loss` compute
LOSS_KERNELS = (SoftmaxCrossEntropy, PixelBinaryCrossEntropy)


class FastUNet(UNet):
    """:class:`aenumpy.UNet` with compiled kernels: every layer its fast twin, rows from the
    first convolution to the loss (module docstring). Under
    :func:`aenumpy.backend.min_work` multiply-adds per image it keeps the teaching layers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fast = worth_compiling(work(self))
        if self.fast:
            for layer in self.layers:
                if type(layer) is Concat:
                    layer.__class__ = FastConcat
                else:
                    make_fast(layer)
                if isinstance(layer, DirectConv):
                    layer.rows_out = True       # every layer after a convolution reads rows
            self._collect_params()
            runs_compiled(self.params)

    def _fused(self, i, *arrays):
        """Whether up level i's entry runs as one sum (:mod:`.upconv`): the model compiles, its
        inputs are rows of one float dtype, and ``up{i}.conv0`` is the design's (3×3, padding
        1, ReLU, the weights' dtype)."""
        conv = self.up[i][0]
        return (self.fast and _rows_pair(*arrays) and arrays[0].dtype == conv.params["W"].dtype
                and code_of(conv.activation) == CODES["relu"])

    def _up_entry(self, i, h, skip):
        """``up{i}.conv0([up(h), skip])`` by :func:`.upconv.up_conv_forward` (NumPy reference:
        ``UNet._up_entry``). ``up{i}.conv0``'s cache holds A and Z, and for the backward the
        inputs U and S, Z's rows and the 2×2 kernels (``W_parity``); the upsampling and the
        concatenation, whose outputs are never made, hold nothing."""
        S = skip if self.skips else None
        if not self._fused(i, h, *((S,) if S is not None else ())):
            return super()._up_entry(i, h, skip)
        conv = self.up[i][0]
        Ar, Zr, shape, Wp = up_conv_forward(h, S, conv.params["W"], conv.params["b"], True)
        A, Z = images(Ar, shape), images(Zr, shape)
        self.upsamples[i].cache = {}
        if self.skips:
            self.concats[i].cache = {}
        conv.cache = {"A": A, "Z": Z, "U": h, "S": S, "Z_rows": Zr, "W_parity": Wp}
        conv._rows = conv._delta = None
        return Z

    def _up_entry_backward(self, i, d):
        """The backward of the fused entry, :func:`.upconv.up_conv_backward` (NumPy reference:
        ``UNet._up_entry_backward``): fills ``up{i}.conv0``'s grads and returns the gradient
        for h (on its own pixels) and for the skip."""
        conv = self.up[i][0]
        c = conv.cache
        if "U" not in c:
            return super()._up_entry_backward(i, d)
        check_upstream(conv, d)
        d = d if is_rows_view(d) else images(rows_of(np.asarray(d, c["Z"].dtype)), d.shape)
        dA, dW, db, dU, dS = up_conv_backward(c["U"], c["S"], conv.params["W"], c["W_parity"], d,
                                              c["Z_rows"], CODES["relu"])
        conv.grads = {"W": dW, "b": db}
        c.update(dZ=d, dA=dA)
        return dU, dS

    def _branch_sum(self, d_pool, d_skip):
        """``d_pool + d_skip`` on rows (NumPy reference: ``UNet._branch_sum``)."""
        if not (self.fast and _rows_pair(d_pool, d_skip)):
            return super()._branch_sum(d_pool, d_skip)
        R = new_rows(d_pool[0].size, len(d_pool), d_pool.dtype)
        np.add(d_pool.base[:-1], d_skip.base[:-1], out=R[:-1])
        return images(R, d_pool.shape)

    def _loss(self, Y, A, need_grad):
        """E and ``∂E/∂logits`` by :func:`.pixel_loss.softmax_ce_rows_nb` or
        :func:`.pixel_loss.bce_rows_nb` on the head's rows (NumPy reference:
        ``UNet._loss``)."""
        if not (self.fast and type(self.loss_fn) in LOSS_KERNELS and _rows_pair(A)):
            return super()._loss(Y, A, need_grad)
        B, K = A.shape[:2]
        P = A[0, 0].size
        T = np.ascontiguousarray(Y.reshape(B, P).T)           # the targets as rows (P, B)
        if K == 1:
            T = T.astype(A.dtype, copy=False)
        dAr = new_rows(K * P, B, A.dtype)
        N = B * P
        E = (softmax_ce_rows_nb(A.base, T, K, dAr, N, kernel_threads()) if K > 1
             else bce_rows_nb(A.base, T, dAr, N, kernel_threads()))
        return float(E), (images(dAr, A.shape) if need_grad else None)
