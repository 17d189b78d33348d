"""The dense layer's fast twin: the same formulas, compiled.

NumPy reference: :class:`aenumpy.layers.Dense`. The products ``X Wᵀ``, ``δᵀ X`` and
``δ W`` run split over the kernels' threads (:func:`.blas.matmul`); the bias, the
activation and its derivative run fused in one pass (:mod:`.activation`); ``W`` lies
in memory as :mod:`.layout` says (same values, same shape). A custom activation, or an
input of another dtype, runs the teaching code.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_layer_input, check_upstream
from ..layers import Dense
from .activation import act_backward, bias_act, code_of
from .blas import matmul
from .layout import is_column_major, weight_layout


class FastDense(Dense):
    """:class:`aenumpy.layers.Dense` with compiled kernels (module docstring)."""

    def init_params(self, rng):
        """As :meth:`Dense.init_params`, then ``W`` laid out for the BLAS (:mod:`.layout`)."""
        super().init_params(rng)
        self.lay_out()

    def lay_out(self):
        """Store ``W`` in its fast memory layout (column-major for a narrowing layer)."""
        if "W" in self.params:
            self.params["W"] = np.asarray(self.params["W"], order=weight_layout(self.n_in,
                                                                                self.n_out))

    def _code(self, X):
        """The activation's kernel code, or None when the teaching code must run."""
        code = code_of(self.activation)
        return code if X.dtype == self.dtype and X.ndim == 2 else None

    def forward(self, X):
        """``A = X Wᵀ + b``, ``Z = f(A)``: one split product, then bias and activation in
        one pass. NumPy reference: :meth:`Dense.forward`."""
        code = self._code(X) if isinstance(X, np.ndarray) else None
        if code is None:
            return super().forward(X)
        check_layer_input(self, X)
        A = matmul(X, self.W.T)
        Z = np.empty_like(A)
        bias_act(A, self.b, code, Z)
        self.cache = {"X": X, "A": A, "Z": Z}
        return Z

    def delta(self, dZ):
        """``δ = dZ ⊙ f'(A)`` in one pass. NumPy reference: :meth:`Dense.delta`."""
        code = self._code(dZ) if isinstance(dZ, np.ndarray) else None
        if code is None or dZ.dtype != self.cache["Z"].dtype:
            return super().delta(dZ)
        check_upstream(self, dZ)
        self.cache["dZ"] = dZ
        return act_backward(dZ, self.cache["Z"], code, np.empty_like(dZ))

    def backward_from_delta(self, dA):
        """From ``δ``: ``dW = δᵀX`` (computed in W's memory layout), ``db = Σ δ``,
        ``dX = δ W``. NumPy reference: :meth:`Dense.backward_from_delta`."""
        check_upstream(self, dA)
        X = self.cache["X"]
        if dA.dtype != X.dtype:
            return super().backward_from_delta(dA)
        gW = matmul(X.T, dA).T if is_column_major(self.W) else matmul(dA.T, X)
        self.grads = {"W": gW, "b": dA.sum(axis=0)}
        dX = matmul(dA, self.W) if self.needs_dX else None
        self.cache.update(dA=dA, dX=dX)
        return dX
