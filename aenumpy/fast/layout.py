"""How a weight matrix lies in memory: a speed detail that never changes a value or a shape.

``W`` always has the lecture's shape ``(d_out, d_in)``. For a layer that narrows
(``d_in > d_out``, an encoder) it is stored column-major (``W.T`` is C-contiguous),
for any other layer row-major. The reason is the BLAS: with a batch of 128 the
product ``∂E/∂W`` runs faster when its output is tall rather than wide, and the
forward product ``X Wᵀ`` is faster too when ``Wᵀ`` is contiguous (docs/speed.md). A
tied decoder's ``W' = Wᵀ`` is then row-major, which is its fast layout, and its
gradient adds to the encoder's without a transposed copy.

Only the fast twins know of layouts: :class:`~aenumpy.fast.dense.FastDense` lays its W
out so, and :class:`~aenumpy.fast.optim.FastAdam` and the divergence check walk arrays in
memory order through :func:`flat_view` and :func:`flat_like`. The teaching path's
NumPy works on either layout unchanged.
"""
from __future__ import annotations

import numpy as np


def is_column_major(a) -> bool:
    """True for a 2-D array stored column-major (F-contiguous and not also C-contiguous)."""
    return a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous


def weight_layout(n_in: int, n_out: int) -> str:
    """``"F"`` (column-major) for a narrowing layer ``n_in > n_out``, else ``"C"``."""
    return "F" if n_in > n_out else "C"


def flat_view(a):
    """``a``'s entries as a 1-D *view* in memory order (for in-place updates)."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    if a.flags.f_contiguous:
        return a.T.reshape(-1)
    raise ValueError(f"an array of shape {a.shape} that is not contiguous has no flat view")


def flat_like(a, ref):
    """``a``'s entries as 1-D in ``ref``'s memory order: a view when both share the
    layout, otherwise a copy (entry k of the result pairs with entry k of
    ``flat_view(ref)``)."""
    return (a.T if is_column_major(ref) else a).reshape(-1)


def same_layout(a, ref):
    """``a`` itself when it has ``ref``'s layout, else a copy of it in that layout."""
    order = "F" if is_column_major(ref) else "C"
    ok = a.flags.f_contiguous if order == "F" else a.flags.c_contiguous
    return a if ok else np.array(a, order=order)
