"""The record of a training run: what :func:`aenumpy.fit` returns and a checkpoint keeps."""
from __future__ import annotations

from .monitor import per_epoch


class History(dict):
    """Per-epoch record: ``loss`` (mean training objective), ``val_loss`` (the objective
    on the validation data in evaluation mode), ``seconds``; for a model that corrupts its
    input also ``val_reconstruction`` (the clean reconstruction error); plus
    ``stopped_early`` and ``message``. A dict of lists. With ``fit(..., monitor=True)`` also
    ``grad_norm``, ``update_ratio`` and ``activations`` (see :mod:`aenumpy.monitor`)."""

    def __init__(self):
        super().__init__(loss=[], val_loss=[], seconds=[])
        self.stopped_early = False
        self.message = ""

    def __setitem__(self, key, value):  # a monitored record read back from JSON indexes by name
        super().__setitem__(key, per_epoch(key, value))

    @property
    def epochs(self):
        return len(self["loss"])

    def __repr__(self):
        last = f", last loss {self['loss'][-1]:.4f}" if self["loss"] else ""
        return f"History({self.epochs} epochs{last}{', stopped early' if self.stopped_early else ''})"
