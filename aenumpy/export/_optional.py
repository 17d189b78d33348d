"""The export's optional packages, imported only by the function that needs them."""
from __future__ import annotations

import importlib

#: how to install each optional package (torch pinned: a looser requirement pulls a
#: multi-GB CUDA build on a machine without a GPU)
INSTALL = {"onnx": "pip install 'aenumpy[export]' (or pip install onnx)",
           "safetensors": "pip install 'aenumpy[export]' (or pip install safetensors)",
           "torch": "pip install torch==2.13.0 (CPU build; any recent PyTorch works)"}


def require(module: str, what: str):
    """``importlib.import_module(module)``, or an ImportError saying that ``what`` needs it
    and how to install it."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{what} needs the optional package {top!r}, which is not installed "
                          f"({exc}): {INSTALL[top]}") from None
