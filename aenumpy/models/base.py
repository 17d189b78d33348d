"""What every model shares: the parameter dict, the generator rule, checks, copies.

* ``params`` maps ``"<layer>.<W|b>"`` to the layers' own arrays (the same objects, so
  an optimizer updating ``params`` updates the layers);
* principle 4: every random draw uses the ``rng`` given, else the model's own
  :attr:`rng`;
* :meth:`validate` checks a batch once; ``loss_and_grads(X, checked=True)`` then skips
  the checks (:func:`aenumpy.fit` checks the whole data set before the first step);
* ``copy()`` is ``astype`` in the same dtype; each model's ``astype`` builds a new model of
  its own class (:func:`aenumpy.backend.build_exactly`) and hands it to
  :meth:`Model._with_weights` for the values.

A model class is :class:`aenumpy.backend.Replaceable`: with the speed backend on,
building it builds its fast twin from :mod:`aenumpy.fast` (a subclass).
"""
from __future__ import annotations

import numpy as np

from .._validate import check_rng
from ..backend import Replaceable


def is_vae(model) -> bool:
    """Is ``model`` a variational autoencoder (``model.family == "vae"``)? Its ``encode``
    returns ``(μ, log σ²)`` and the code a picture or a score uses is the mean ``μ(x)``.
    Any object whose ``family`` is ``"vae"`` counts (a stand-in in a test, a student's own)."""
    return getattr(model, "family", None) == "vae"


class Model(Replaceable):
    """Base of :class:`~aenumpy.Autoencoder`, :class:`~aenumpy.VariationalAutoencoder` and
    :class:`~aenumpy.ConvAutoencoder`."""

    #: which model of the lecture this is, public and saved with it (a model file records it
    #: under the key ``"kind"``): ``"autoencoder"``, ``"vae"`` or ``"conv"``
    family = "model"

    @property
    def layers(self):
        """Every layer, in the order of :attr:`params`."""
        raise NotImplementedError

    @property
    def runs_on(self) -> str:
        """Which implementation computes this model's steps, as its repr says:
        ``"speed backend"`` (its fast twin, running the compiled kernels of
        :mod:`aenumpy.fast`) or ``"teaching path"`` (the plain NumPy a student reads; a fast
        twin whose work is below :func:`aenumpy.backend.min_work` runs it too)."""
        return "speed backend" if getattr(self, "fast", False) else "teaching path"

    def _collect_params(self):
        """``params``: ``"<layer name>.<key>"`` → the layer's own array, for every layer."""
        self.params = {f"{layer.name}.{k}": v for layer in self.layers
                       for k, v in layer.params.items()}

    def _seed_rng(self):
        """:attr:`rng`, the Generator every draw uses when none is passed (principle 4)."""
        self.rng = np.random.default_rng([self.seed, 1])

    def _rng(self, rng):
        """Principle 4: the Generator given, else the model's own :attr:`rng`."""
        check_rng(rng)
        return self.rng if rng is None else rng

    def validate(self, X, name="X", targets=True):
        """``X`` checked as a batch for this model (shape, NaN/inf and, for ``targets``,
        the range the loss needs) and returned in the model's dtype; a clear ValueError
        otherwise (principle 6)."""
        raise NotImplementedError

    def _with_weights(self, other):
        """``other`` (a freshly built model of the same architecture) with this model's
        parameter values, written into its own arrays."""
        for k, v in self.params.items():
            other.params[k][...] = v
        return other

    def copy(self):
        """An independent copy (same dtype, same weights)."""
        return self.astype(self.dtype)

    def _collect_grads(self):
        """The gradient of every parameter after a backward pass, keyed like :attr:`params`."""
        return {f"{layer.name}.{k}": layer.grads[k] for layer in self.layers for k in layer.params}
