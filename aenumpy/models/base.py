"""What both models share: the parameter dict, the generator rule, copies.

* ``params`` maps ``"<layer>.<W|b>"`` to the layers' own arrays (the same objects, so
  an optimizer updating ``params`` updates the layers);
* principle 4: every random draw uses the ``rng`` given, else the model's own
  :attr:`rng`;
* ``copy()`` is ``astype`` in the same dtype; each model's ``astype`` builds its twin
  and hands it to :meth:`Model._with_weights` for the values.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_rng


class Model:
    """Base of :class:`~aenumpy.Autoencoder` and :class:`~aenumpy.VariationalAutoencoder`."""

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

    def _with_weights(self, twin):
        """``twin`` (a freshly built model of the same architecture) with this model's
        parameter values, written into its own arrays (their dtype and layout kept)."""
        for k, v in self.params.items():
            twin.params[k][...] = v
        return twin

    def copy(self):
        """An independent copy (same dtype, same weights)."""
        return self.astype(self.dtype)
