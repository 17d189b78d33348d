"""The state dict: the model's weights under PyTorch's names and layouts, and back.

``state_dict(model)`` is what ``to_torch(model).state_dict()`` holds, as NumPy arrays
(:mod:`.network` gives the names). ``load_state_dict(model, sd)`` is the reverse: weights
trained in PyTorch, in a module of the same shape, go into an aenumpy model. Every name,
shape and dtype is checked before anything is written, and the error names the first
mismatch. The values are written into the model's own arrays, so the model (and any fast
layout of its weights) keeps them.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .network import describe


def state_dict(model) -> OrderedDict:
    """``name → ndarray`` with PyTorch's names and layouts (copies, C-ordered, in the model's
    dtype): ``encoder.0.weight``, ``encoder.0.bias``, … A tied decoder is exported untied."""
    return OrderedDict((name, p.value(model)) for name, p in describe(model).params().items())


def as_array(value, name) -> np.ndarray:
    """A NumPy array or a tensor (anything with ``detach().cpu().numpy()``, read without
    importing torch) as a NumPy array."""
    if isinstance(value, np.ndarray):
        return value
    if all(hasattr(value, a) for a in ("detach", "cpu", "numpy")):
        try:
            return value.detach().cpu().numpy()
        except (TypeError, RuntimeError) as exc:   # a dtype NumPy does not have (bfloat16)
            raise TypeError(f"state_dict[{name!r}]: this tensor has no NumPy equivalent "
                            f"({exc}); convert it with .float() first") from None
    raise TypeError(f"state_dict[{name!r}] must be a NumPy array or a torch tensor, got "
                    f"{type(value).__name__}")


def _checked(sd, want, dtype) -> dict:
    """Every entry of ``sd`` against ``want`` (name → expected shape), in order: the first
    missing or unexpected name, wrong shape, wrong dtype or non-finite value raises."""
    if not isinstance(sd, Mapping):
        raise TypeError(f"state_dict must be a mapping name → array (a dict, or a torch "
                        f"module's .state_dict()), got {type(sd).__name__}")
    for name, shape in want.items():
        if name not in sd:
            raise ValueError(f"state_dict has no {name!r} (expected shape {shape}); the model "
                             f"expects the names {', '.join(want)}")
    for name in sd:
        if name not in want:
            raise ValueError(f"state_dict has an unexpected entry {name!r}; the model expects "
                             f"the names {', '.join(want)}")
    arrays = {}
    for name, shape in want.items():
        a = as_array(sd[name], name)
        if a.shape != shape:
            raise ValueError(f"state_dict[{name!r}] has shape {a.shape}, expected {shape}")
        if a.dtype != dtype:
            raise ValueError(f"state_dict[{name!r}] has dtype {a.dtype}, the model's is "
                             f"{dtype}: convert one of them (module.float() or .double(), "
                             f"model.astype('{a.dtype}'))")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"state_dict[{name!r}] contains NaN or inf")
        arrays[name] = a
    return arrays


def load_state_dict(model, state_dict):
    """Write ``state_dict`` (PyTorch's names and layouts, tensors or arrays) into ``model``.

    The names, shapes and dtype (the model's) must be exactly those of
    :func:`state_dict` ``(model)``; the first mismatch raises before anything is written.
    A tied model takes its decoder weights from the encoder's, so a decoder weight that is
    not exactly the encoder weight transposed is refused (load it into a model built with
    ``tied=False``). Returns the model.
    """
    params = describe(model).params()
    want = {name: p.shape(model) for name, p in params.items()}
    arrays = _checked(state_dict, want, model.dtype)
    source = {p.key: name for name, p in params.items() if not p.transposed}
    for name, p in params.items():
        if p.transposed and not np.array_equal(arrays[name], arrays[source[p.key]].T):
            raise ValueError(f"state_dict[{name!r}] is not {source[p.key]!r} transposed, and "
                             f"the model is tied (its decoder uses the encoder weight "
                             f"transposed); load it into a model built with tied=False")
    for name, p in params.items():
        if not p.transposed:
            model.params[p.key][...] = arrays[name]
    return model
