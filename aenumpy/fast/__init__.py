"""The speed backend: compiled twins of the teaching path's hot classes.

Principle 3: the teaching path is the code; speed lives beside it. This package holds
the Numba kernels (:mod:`._jit` compiles each lazily, ``cache=True``), the matrix
products split over the kernels' threads (:mod:`.blas`), weight layouts (:mod:`.layout`)
and the classes that use them: :class:`~.models.FastAutoencoder`,
:class:`~.models.FastVariationalAutoencoder`, :class:`~.models.FastConvAutoencoder`,
:class:`~.dense.FastDense`,
:class:`~.optim.FastAdam`. Each is a subclass of the teaching class it stands in for,
and names it as its NumPy reference.

Importing this package imports nothing compiled: it only registers the twins with
:mod:`aenumpy.backend`, by name; a twin's module is imported when it is first built
(never with ``AENUMPY_JIT=0``).
"""
from .. import backend
from ..models import Autoencoder, ConvAutoencoder, VariationalAutoencoder
from ..optim import Adam

backend.register(Autoencoder, "aenumpy.fast.models:FastAutoencoder")
backend.register(VariationalAutoencoder, "aenumpy.fast.models:FastVariationalAutoencoder")
backend.register(ConvAutoencoder, "aenumpy.fast.models:FastConvAutoencoder")
backend.register(Adam, "aenumpy.fast.optim:FastAdam")
backend.register_routine("gather_rows", "aenumpy.fast.gather:gather_rows")
backend.register_routine("all_finite", "aenumpy.fast.optim:all_finite")
