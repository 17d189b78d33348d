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
    """Base of :class:`~aenumpy.Autoencoder`, :class:`~aenumpy.VariationalAutoencoder`,
    :class:`~aenumpy.ConvAutoencoder` and :class:`~aenumpy.UNet`."""

    #: which model of the lecture this is, public and saved with it (a model file records it
    #: under the key ``"kind"``): ``"autoencoder"``, ``"vae"``, ``"conv"`` or ``"unet"``
    family = "model"
    #: True for a model that must be given targets to train (a U-Net learns labels); the
    #: others target their input unless given ``Y``
    needs_targets = False

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

    def validate_targets(self, Y, X, name="Y"):
        """Targets ``Y`` for the inputs ``X`` (a model trained toward something other than its
        input: clean images, completed images, masks): checked as :meth:`validate` checks a
        target, with one per row of X."""
        Y = self.validate(Y, name, targets=True)
        if len(Y) != len(X):
            raise ValueError(f"{name} must have one target per input: X has {len(X)} rows, "
                             f"{name} {len(Y)}")
        return Y

    def _inputs_and_targets(self, X, Y, checked):
        """``(X, target)`` of a training step: the target is X itself, or ``Y`` when given (X
        is then only an input, so not held to the range of the output)."""
        if checked:
            return X, (X if Y is None else Y)
        if Y is None:
            X = self.validate(X)
            return X, X
        X = self.validate(X, targets=False)
        return X, self.validate_targets(Y, X)

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
