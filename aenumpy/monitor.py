"""Training dynamics: what ``fit(..., monitor=True)`` records about the steps of a run.

Three per-epoch records are added to the :class:`aenumpy.history.History`, each a
:class:`PerEpoch` list with one dict per epoch; indexing it by a name gives that
name's values over the epochs (``hist["grad_norm"]["enc0.W"]``). Every value is
the mean of a per-step quantity over the epoch's measured steps (by default one
step in ten: the epoch's 1st, 11th, 21st, …; ``Monitor(every=1)`` measures them
all, see :class:`Monitor`):

* ``grad_norm[θ]``: ``‖∂E/∂θ‖_F``, for every parameter θ (the keys of
  ``model.params``), from the gradient the optimizer is given;
* ``update_ratio[θ]``: ``‖Δθ‖_F / ‖θ‖_F`` with ``Δθ = θ_after − θ_before`` the
  change the optimizer's step made, measured (a copy of θ before the step is
  subtracted from θ after it) and divided by the norm before the step. Steps on
  which ``‖θ‖ = 0`` (a bias still at its zero initialisation) do not count; a
  value is ``None`` when no step of the epoch counted;
* ``activations[layer]``: statistics of each layer's output ``Z`` (its
  ``cache["Z"]`` after the step's forward pass; the layer names of
  ``model.layers``): a dict ``{"mean", "std", "saturated", "dead"}`` with the
  mean and the standard deviation of the entries of ``Z``; ``saturated`` the
  fraction of entries of a sigmoid output within 0.01 of 0 or 1 (tanh:
  ``|z| > 0.99``), where ``σ'(a)`` is below 0.0099 and almost no gradient flows
  back; ``dead`` the fraction of a ReLU layer's units that are 0 for every
  sample of the batch (no gradient reaches their weights). ``None`` where a
  statistic does not apply to the activation.

Sums of squares are dot products ``a·a`` of the flattened arrays in their own
dtype (float32 while training: a relative error of about ``√k·ε`` for k
entries). Epochs recorded without the monitor (a run resumed with it, or the
other way round) hold ``None``, so every record has one entry per epoch.
Everything is plain Python floats and dicts: the history stays JSON-serialisable
and goes into checkpoints and ``metrics.json`` as it is.
"""
from __future__ import annotations

import functools
import math

import numpy as np

#: the History keys the monitor writes
MONITORED = ("grad_norm", "update_ratio", "activations")

#: activation name → (low, high): an output below low or above high is saturated
#: (the derivative is almost 0 there: σ' < 0.0099, tanh' < 0.02)
SATURATED = {"sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99)}


class PerEpoch(list):
    """One dict per epoch ``{name: value}`` (or ``None`` for an epoch not monitored).

    ``series[i]`` is epoch i+1's dict; ``series["enc0.W"]`` is the list of that
    name's values over the epochs (``None`` where it was not recorded).
    """

    def __getitem__(self, i):
        if isinstance(i, str):
            if i not in self.names():
                raise KeyError(f"{i!r} was not recorded; the names are {self.names()}")
            return [None if e is None else e.get(i) for e in self]
        return super().__getitem__(i)

    def names(self):
        """The names recorded, in the order they first appear."""
        seen = {}
        for e in self:
            seen.update(dict.fromkeys(e or ()))
        return list(seen)


def per_epoch(key, value):
    """``value`` as a :class:`PerEpoch` when ``key`` is a monitored record (a plain list of
    dicts, as read back from JSON), else unchanged. :class:`aenumpy.history.History` calls
    it for every item set, so a history read from a checkpoint indexes by name again."""
    if key in MONITORED and isinstance(value, list) and not isinstance(value, PerEpoch):
        return PerEpoch(value)
    return value


def _sumsq(a):
    """``Σ a²`` over every entry: one BLAS dot of the flattened array (a view when contiguous)."""
    f = a.ravel(order="K")
    return float(np.dot(f, f))


def activation_stats(Z, activation, scratch=None):
    """``(mean, std, saturated, dead)`` of a layer output ``Z`` of shape ``(B, ...)``
    for the activation named ``activation`` (see the module docstring; ``None``
    where a statistic does not apply). The rows are the samples; every other
    axis indexes a unit. ``mean = Σz / n`` and ``std = √(Σ(z − mean)² / n)``
    over the n entries, the sums being BLAS dot products (``Σz = z · 1``).
    ``scratch``, a dict kept by the caller, holds the temporaries between calls,
    so that a monitored step allocates nothing."""
    f = Z.ravel(order="K")
    n = f.size
    scratch = {} if scratch is None else scratch
    if scratch.get("d") is None or scratch["d"].size < n or scratch["d"].dtype != f.dtype:
        scratch.update(d=np.empty(n, f.dtype), mask=np.empty(n, bool))
    d, mask = scratch["d"][:n], scratch["mask"][:n]
    mean = float(np.dot(f, _ones(n, f.dtype))) / n
    np.subtract(f, f.dtype.type(mean), out=d)
    std = math.sqrt(float(np.dot(d, d)) / n)
    saturated = dead = None
    if activation in SATURATED:
        low, high = SATURATED[activation]
        saturated = int(np.count_nonzero(np.less(f, low, out=mask))
                        + np.count_nonzero(np.greater(f, high, out=mask))) / n
    if activation == "relu":
        dead = dead_fraction(Z)
    return mean, std, saturated, dead


def dead_fraction(Z):
    """The fraction of dead ReLU units of a layer output ``Z`` ``(B, ...)``: a unit (every axis
    but the first) is dead when its output is 0 for every sample of the batch, so that no
    gradient reaches its weights: ``(1/n) Σ_j 1[max_b z_bj ≤ 0]``."""
    top = Z.reshape(Z.shape[0], -1).max(axis=0)
    return int(np.count_nonzero(top <= 0)) / top.size


def update_ratio(before, after, out=None):
    """The update ratio of a parameter, ``‖Δθ‖_F / ‖θ‖_F`` with ``Δθ = θ_after − θ_before`` and
    the norm taken before the step (about 1e-3 in a healthy run); None when ``‖θ_before‖ = 0``.
    ``Δθ`` is written into ``out`` when given (``before`` itself may be ``out``)."""
    norm2 = _sumsq(before)
    if norm2 == 0.0:
        return None
    delta = np.subtract(after, before, out=out)
    return math.sqrt(_sumsq(delta) / norm2)


@functools.lru_cache(maxsize=32)
def _ones(n, dtype):
    """A read-only vector of n ones (``Σz = z · 1`` as one BLAS call)."""
    v = np.ones(n, dtype=dtype)
    v.flags.writeable = False
    return v


#: the statistics of ``activations[layer]``, in the order :func:`activation_stats` returns them
STATS = ("mean", "std", "saturated", "dead")

#: by default the monitor measures one step in EVERY (see :class:`Monitor`)
EVERY = 10


class Monitor:
    """The bookkeeping of ``fit(..., monitor=True)`` (or ``monitor=Monitor(every=k)``).

    The monitor measures the first step of each epoch and then one step in
    ``every`` (steps 1, 1 + every, 1 + 2·every, … of the epoch; ``every=1``
    measures them all), and each recorded value is the mean over the epoch's
    measured steps. Measuring a step costs about as much memory traffic as the
    optimizer's step (θ is copied, subtracted, and four sums of squares taken),
    which is why not every step is measured by default.

    fit calls :meth:`start` once, :meth:`before_step` with each step's
    gradients (after the forward and backward pass, before the optimizer),
    :meth:`after_step` after the optimizer's step, and :meth:`end_epoch` when
    an epoch is done, which appends the epoch's means to the history.
    """

    def __init__(self, every=None):
        every = EVERY if every is None else every
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be an integer >= 1 (measure one step in every), "
                             f"got {every!r}")
        self.every = int(every)

    @classmethod
    def of(cls, monitor):
        """fit's ``monitor=`` argument as a Monitor (a new one for True), or None for False."""
        if isinstance(monitor, cls):
            return monitor
        if isinstance(monitor, (bool, np.bool_)):
            return cls() if monitor else None
        raise TypeError(f"monitor must be True, False or an aenumpy.monitor.Monitor(every=...), "
                        f"got {monitor!r} ({type(monitor).__name__})")

    def __repr__(self):
        return f"Monitor(every={self.every})"

    def start(self, model, history):
        """Begin recording ``model``'s training into ``history`` (a dict of per-epoch lists)."""
        self.model = model
        self.history = history
        done = len(history.get("loss", ()))
        for key in MONITORED:
            series = history[key] = per_epoch(key, list(history.get(key, [])))
            series.extend([None] * (done - len(series)))   # epochs run without the monitor
        # θ before the step, one buffer per parameter in θ's own memory layout
        self._params = [(k, p, np.empty_like(p)) for k, p in model.params.items()]
        self._layers = [layer for layer in model.layers if hasattr(layer, "cache")]
        self._scratch = {}
        self._start_epoch()
        return self

    def _start_epoch(self):
        self.steps = 0          # steps of the epoch so far
        self.measured = 0       # of which measured
        self._on = False
        self._grad = dict.fromkeys(self.model.params, 0.0)
        self._ratio = {k: [0.0, 0] for k in self.model.params}   # sum, steps counted
        self._act = {}

    def before_step(self, grads):
        """On a measured step: record ``‖∂E/∂θ‖`` and the statistics of every layer's
        output, and keep θ before the optimizer's step."""
        self._on = self.steps % self.every == 0
        self.steps += 1
        if not self._on:
            return
        self.measured += 1
        for k, g in grads.items():
            self._grad[k] += math.sqrt(_sumsq(g))
        for k, p, before in self._params:
            np.copyto(before, p)
        for layer in self._layers:
            Z = layer.cache.get("Z")
            if Z is None:
                continue
            act = getattr(getattr(layer, "activation", None), "name", None)
            scratch = self._scratch.setdefault(layer.name, {})
            acc = self._act.setdefault(layer.name, [0.0, 0.0, 0.0, 0.0, 0])
            for i, v in enumerate(activation_stats(Z, act, scratch)):
                acc[i] = None if v is None else acc[i] + v
            acc[4] += 1

    def after_step(self):
        """On a measured step: record ``‖θ_after − θ_before‖ / ‖θ_before‖`` for every parameter."""
        if not self._on:
            return
        for k, p, before in self._params:
            r = update_ratio(before, p, out=before)
            if r is not None:
                acc = self._ratio[k]
                acc[0] += r
                acc[1] += 1

    def end_epoch(self):
        """Append the means over the epoch's measured steps to the history; start the next epoch."""
        n = max(self.measured, 1)
        self.history["grad_norm"].append({k: v / n for k, v in self._grad.items()})
        self.history["update_ratio"].append(
            {k: (s / c if c else None) for k, (s, c) in self._ratio.items()})
        self.history["activations"].append(
            {name: {s: (None if v is None else float(v) / acc[4]) for s, v in zip(STATS, acc)}
             for name, acc in self._act.items()})
        self._start_epoch()


def monitored(history):
    """True when ``history`` holds the records of ``fit(..., monitor=True)`` for at least
    one epoch."""
    return all(isinstance(history.get(k), list) for k in MONITORED) and any(
        e is not None for e in history["grad_norm"])
