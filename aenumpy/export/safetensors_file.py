"""The state dict as a safetensors file, which PyTorch loads without aenumpy.

safetensors is a plain format: a JSON header (each tensor's name, dtype, shape and byte
range) followed by the raw little-endian data. ``safetensors.torch.load_file(path)`` gives
PyTorch tensors, and ``module.load_state_dict`` of a module of the shape
:func:`aenumpy.export.to_torch` builds takes them.
"""
from __future__ import annotations

import os

from .._validate import check_path
from ._optional import require
from .state import state_dict


def save_safetensors(model, path) -> str:
    """Write :func:`~aenumpy.export.state_dict` ``(model)`` to ``path`` with
    ``safetensors.numpy.save_file`` (header metadata ``{"format": "pt"}``, what PyTorch
    tools expect). Returns the path written."""
    check_path("path", path)
    sd = state_dict(model)                    # refuses what cannot be exported, before the import
    st = require("safetensors.numpy", "save_safetensors")
    path = os.fspath(path)
    st.save_file(dict(sd), path, metadata={"format": "pt"})
    return path
