"""Argument checks shared by the regularizers (principle 6: refuse before any work)."""
from __future__ import annotations

import numbers

from .._validate import check_float


def check_layer_arg(cls_name, layer):
    """``layer`` is None (the code layer), an int ≥ 0 or a name ``'enc{i}'``.

    Only the type is checked here; the range (``0 … L−1``) is checked at bind time,
    when the model's depth is known (:meth:`base._HiddenRegularizer.layer_index`).
    """
    if layer is None:
        return None
    if isinstance(layer, str):
        if layer.startswith("enc") and layer[3:].isdigit():
            return layer
        raise ValueError(f"{cls_name}: layer must be an encoder layer index or a name like "
                         f"'enc0', got {layer!r}")
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
        raise TypeError(f"{cls_name}: layer must be None, an int or 'enc<i>', got {layer!r}")
    if layer < 0:
        raise ValueError(f"{cls_name}: layer must be >= 0 (enc0 is the first encoder layer), "
                         f"got {layer}")
    return int(layer)


def check_rate(cls_name, name, value):
    """A probability ``p`` in [0, 1): the fraction corrupted or dropped (1 would leave nothing)."""
    return check_float(f"{cls_name}: {name}", value, 0.0, 1.0, high_open=True)


def check_nonneg(cls_name, name, value):
    """A non-negative, finite weight (λ, β, σ)."""
    return check_float(f"{cls_name}: {name}", value, 0.0)
