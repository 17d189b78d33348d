"""The hot loops: each a plain NumPy reference and a Numba version that agree.

See :mod:`aenumpy.fast._jit` for the switch (``AENUMPY_JIT=0``).
"""
from ._jit import jit_enabled, use_jit

__all__ = ["jit_enabled", "use_jit"]
