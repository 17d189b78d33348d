"""The speed backend: compiled twins of the teaching path's hot classes.

The teaching path is the code; speed lives beside it (docs/design.md, principle 3). This
package holds the Numba kernels (:mod:`._jit` compiles each lazily, ``cache=True``), the
matrix products split over the kernels' threads (:mod:`.blas`), weight layouts
(:mod:`.layout`), reused output arrays (:mod:`.buffers`) and the classes that use them: the
models :class:`~.models.FastAutoencoder`, :class:`~.models.FastVariationalAutoencoder` and
:class:`~.models.FastConvAutoencoder` and :class:`~.unet.FastUNet`; the layers :class:`~.dense.FastDense`,
:class:`~.conv.FastConv2D`, :class:`~.conv.FastConvTranspose2D`,
:class:`~.pool.FastMaxPool2D`, :class:`~.pool.FastUpsample2D` and :class:`~.unet.FastConcat`; and
:class:`~.optim.FastAdam`. Each is a subclass of the teaching class it stands in for, and
names it as its NumPy reference.

Importing this package imports nothing compiled: it only registers the twins with
:mod:`aenumpy.backend`, by name; a twin's module is imported when it is first built
(never with ``AENUMPY_JIT=0``).
"""
from .. import backend
from ..models import Autoencoder, ConvAutoencoder, UNet, VariationalAutoencoder
from ..optim import Adam

backend.register(Autoencoder, "aenumpy.fast.models:FastAutoencoder")
backend.register(VariationalAutoencoder, "aenumpy.fast.models:FastVariationalAutoencoder")
backend.register(ConvAutoencoder, "aenumpy.fast.models:FastConvAutoencoder")
backend.register(UNet, "aenumpy.fast.unet:FastUNet")
backend.register(Adam, "aenumpy.fast.optim:FastAdam")
backend.register_routine("minibatches", "aenumpy.fast.gather:minibatches")
backend.register_routine("all_finite", "aenumpy.fast.optim:all_finite")
