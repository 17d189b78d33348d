"""``fit()``: minibatch training with history, a progress bar, and a stop on divergence.

A run is a loop of epochs, each in named pieces:

* :func:`train_epoch`: a seeded permutation of the rows, then its minibatches
  (:func:`minibatches`, ``X[idx]``), each one a call to the model's ``loss_and_grads``, a
  check for divergence (:func:`divergence`) and the optimizer's ``step``;
* :func:`validation_loss`: the objective on the validation data, in evaluation mode;
* :func:`end_epoch`: the epoch's record in the history, its line of progress, and the
  checkpoint (:func:`save_checkpoint`).

Divergence: when a batch's loss or gradient is not finite, or the loss explodes
(above 1e3 and more than ``explode_factor`` times the first batch's loss),
training stops with a message naming the likely cause and the
model keeps its last good weights: a snapshot of the parameters (and of the
optimizer's state) taken every ``snapshot_every`` steps on which the loss was
finite.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import io as _io
from . import optim as optim_mod
from ._validate import (check_bool, check_callable, check_float, check_int, check_model,
                        check_path)
from .backend import routine
from .history import History
from .monitor import Monitor
from .regularizers import InputCorruption


class TrainingDiverged(RuntimeWarning):
    """Warned when fit() stops because the loss became non-finite or exploded."""


def _progress(total, enabled, desc):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, unit="batch", leave=False, mininterval=0.2)


# ------------------------------------------------------------------ the pieces of a step
def minibatches(order, batch_size, *arrays):
    """The minibatches of one epoch: for each run of ``batch_size`` indices ``idx`` of
    ``order`` (the last run may be short), the tuple ``(A[idx] for A in arrays)``, the rows
    of the data set copied into a new batch. (The speed backend's version gathers into
    arrays it keeps for the epoch, on the kernels' threads.)"""
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        yield tuple(A[idx] for A in arrays)


def all_finite(grads):
    """True when every gradient entry is finite (no NaN, no ±inf)."""
    return all(bool(np.isfinite(g).all()) for g in grads.values())


def divergence(loss, grads, first_loss, explode_factor, finite=all_finite):
    """Why this step's loss or gradient cannot be trusted, or None: the loss is not finite,
    or it exploded (above 1e3 and more than ``explode_factor`` times the run's first loss),
    or a gradient entry is not finite."""
    if not math.isfinite(loss):
        return f"the loss became {loss:.4g} (not finite)"
    if first_loss is not None and loss > 1e3 and loss > explode_factor * max(first_loss, 1e-12):
        return f"the loss became {loss:.4g}"
    if not finite(grads):
        return f"a gradient became not finite (the loss was {loss:.4g})"
    return None


def validation_loss(model, X, batch_size, rng, Y=None):
    """The objective on X (toward the targets Y, when given) in evaluation mode
    (``model.loss(..., training=False)``: no dropout, top-k at its evaluation k, the
    denoising corruption drawn from ``rng``), as fit reports the training loss: the mean
    over minibatches of ``batch_size`` rows (in order) of each batch's objective, weighted
    by its size. (A penalty on batch statistics, such as KL sparsity's ρ̂, sees batches as
    in training; and a whole test set never goes through a convolutional model at once.)"""
    total = 0.0
    for i in range(0, len(X), batch_size):
        xb = X[i:i + batch_size]
        targets = {} if Y is None else {"Y": Y[i:i + batch_size]}
        total += model.loss(xb, rng=rng, checked=True, training=False, **targets) * len(xb)
    return total / len(X)


def check_training_data(model, X, Y, x_name="X", y_name="Y"):
    """``(X, Y)`` checked for the model: X as its own target when there is no Y, else X as
    the input and Y as one target per row of X (``model.validate_targets``)."""
    if Y is None:
        if getattr(model, "needs_targets", False):
            raise ValueError(f"a {type(model).__name__} trains toward per-pixel targets, not its "
                             f"input: pass them, fit(model, {x_name}, {y_name}=labels, ...)")
        return model.validate(X, x_name), None
    X = model.validate(X, x_name, targets=False)
    return X, model.validate_targets(Y, X, y_name)


def _check_validation(model, X_val, Y_val, training_targets):
    """``(X_val, Y_val)`` checked as the training data was: targets with targets."""
    if X_val is None:
        if Y_val is not None:
            raise ValueError("Y_val needs X_val, the inputs it belongs to")
        return None, None
    if training_targets != (Y_val is not None):
        raise ValueError("validation needs the same kind of targets as training: pass Y_val "
                         "with X_val when training with Y (and not without it)")
    return check_training_data(model, X_val, Y_val, "X_val", "Y_val")


# ------------------------------------------------------------------ the state of a run
def _snapshot(model, optimizer, into=None):
    """Copies of the parameters and the optimizer state. With ``into`` (an earlier
    snapshot of the same shapes) the copies are written into its arrays, so a
    snapshot every few steps allocates nothing."""
    sd = optimizer.state_dict()
    if into is not None:
        params, opt_state = into
        if (params.keys() == model.params.keys() and opt_state.keys() == sd.keys()
                and all(params[k].shape == v.shape and params[k].dtype == v.dtype
                        for k, v in model.params.items())
                and all(np.shape(opt_state[k]) == np.shape(v) and opt_state[k].dtype == np.asarray(v).dtype
                        for k, v in sd.items())):
            for k, v in model.params.items():
                np.copyto(params[k], v)
            for k, v in sd.items():
                np.copyto(opt_state[k], v)
            return into
    return ({k: v.copy() for k, v in model.params.items()},
            {k: np.array(v, copy=True) for k, v in sd.items()})


def _restore(model, optimizer, snap):
    params, opt_state = snap
    for k, v in params.items():
        model.params[k][...] = v
    optimizer.load_state_dict(opt_state)


@dataclass
class Run:
    """What a training run carries from step to step and epoch to epoch (and a checkpoint
    keeps): the model and its optimizer, the history, the generator of the shuffling and
    the noise, the steps done, the last good snapshot and the run's first loss."""

    model: object
    optimizer: object
    history: History
    rng: np.random.Generator
    seed: int
    epochs: int
    monitor: Monitor | None = None
    step: int = 0
    first_loss: float | None = None
    snap: tuple | None = None
    spare: tuple | None = None    # the snapshot before last: its arrays are reused
    snap_step: int = 0
    settings: dict = field(default_factory=dict)

    def take_snapshot(self):
        """The last good weights, every ``snapshot_every`` steps."""
        self.snap, self.spare = _snapshot(self.model, self.optimizer, into=self.spare), self.snap
        self.snap_step = self.step

    def stop(self, epoch, s, why):
        """Stop a diverging run: the last good weights back, and the history says why."""
        _restore(self.model, self.optimizer, self.snap)
        lr = getattr(self.optimizer, "lr", None)
        self.history.stopped_early = True
        self.history.message = (
            f"training diverged at epoch {epoch + 1}, step {s + 1}: {why}. The model keeps "
            f"its last good weights (from step {self.snap_step} of the run). Likely cause: "
            f"the learning rate is too large (lr={lr}); try one ten times smaller, or check "
            f"the data for extreme values.")
        warnings.warn(self.history.message, TrainingDiverged, stacklevel=4)


# ------------------------------------------------------------------ one epoch
def train_epoch(run, X, epoch, batch_size, shuffle=True, progress=False, Y=None):
    """One pass over the rows of X (toward Y, when given) in minibatches; returns the mean
    training loss, or None when the run diverged (:meth:`Run.stop` has then restored the
    last good weights)."""
    model, optimizer, monitor = run.model, run.optimizer, run.monitor
    for r in getattr(model, "regularizers", []):
        r.on_epoch_begin(epoch, run.epochs)
    if hasattr(model, "on_epoch_begin"):
        model.on_epoch_begin(epoch, run.epochs)
    order = run.rng.permutation(len(X)) if shuffle else np.arange(len(X))
    data = (X,) if Y is None else (X, Y)
    batches = routine("minibatches", minibatches)(order, batch_size, *data)
    finite = routine("all_finite", all_finite)
    bar = _progress(math.ceil(len(X) / batch_size), progress, f"epoch {epoch + 1}/{run.epochs}")
    total, count = 0.0, 0
    try:
        for s, (xb, *yb) in enumerate(batches):
            targets = {"Y": yb[0]} if yb else {}
            loss, grads = model.loss_and_grads(xb, rng=run.rng, checked=True, **targets)
            if run.first_loss is None and math.isfinite(loss):
                run.first_loss = abs(loss)
            why = divergence(loss, grads, run.first_loss, run.settings["explode_factor"], finite)
            if why is not None:
                run.stop(epoch, s, why)
                return None
            if monitor is not None:
                monitor.before_step(grads)
            optimizer.step(model.params, grads)
            if monitor is not None:
                monitor.after_step()
            run.step += 1
            if run.step % run.settings["snapshot_every"] == 0:
                run.take_snapshot()
            total += loss * len(xb)
            count += len(xb)
            if bar is not None:
                bar.update(1)
                if s % 10 == 0:
                    bar.set_postfix(loss=f"{total / count:.4f}")
    finally:
        if bar is not None:
            bar.close()
    return total / max(count, 1)


def _corrupts_input(model):
    return any(isinstance(r, InputCorruption) for r in getattr(model, "regularizers", []))


def end_epoch(run, epoch, loss, t0, X_val, batch_size, progress, Y_val=None):
    """The epoch's record: training loss, validation loss in evaluation mode and, for a
    model that corrupts its input, the clean reconstruction error beside it; the seconds
    since ``t0`` (training and validation); the monitor's epoch; and the line of progress."""
    h = run.history
    h["loss"].append(loss)
    if X_val is not None:
        h["val_loss"].append(validation_loss(run.model, X_val, batch_size,
                                             np.random.default_rng([run.seed, 7]), Y_val))
        if _corrupts_input(run.model) and hasattr(run.model, "reconstruction_error"):
            h.setdefault("val_reconstruction", []).append(run.model.reconstruction_error(X_val))
    h["seconds"].append(time.perf_counter() - t0)
    if run.monitor is not None:
        run.monitor.end_epoch()
    if progress:
        val = f"  val {h['val_loss'][-1]:.4f}" if X_val is not None else ""
        print(f"epoch {epoch + 1}/{run.epochs}  loss {h['loss'][-1]:.4f}{val}  "
              f"({h['seconds'][-1]:.2f} s)")


def save_checkpoint(run, path, epoch):
    """Weights, optimizer state, epochs and steps done, history, and the states of the
    shuffling/noise generator and of ``model.rng``, in one file (:mod:`aenumpy.io`)."""
    _io.save_training_state(path, run.model, run.optimizer, epoch=epoch + 1, step=run.step,
                            seed=run.seed, history=run.history, rng=run.rng,
                            model_rng=getattr(run.model, "rng", None), first_loss=run.first_loss)


# ------------------------------------------------------------------ fit
def _check_args(model, optimizer, *, progress, shuffle, explode_factor, callback, history,
                start_epoch, checkpoint, resume):
    """Every argument of :func:`aenumpy.fit` but the data and the sizes."""
    check_model(model)
    if optimizer is not None and not isinstance(optimizer, optim_mod.Optimizer):
        raise TypeError(f"optimizer must be an aenumpy.optim optimizer (e.g. ae.optim.Adam(lr=1e-3)),"
                        f" got {type(optimizer).__name__}")
    check_bool("progress", progress)
    check_bool("shuffle", shuffle)
    check_float("explode_factor", explode_factor, 1, low_open=True)
    check_callable("callback", callback)
    if history is not None and not isinstance(history, dict):
        raise TypeError(f"history must be an aenumpy History (what fit returns) or None, got "
                        f"{type(history).__name__}")
    check_int("start_epoch", start_epoch, 0)
    check_path("checkpoint", checkpoint, allow_none=True)
    check_path("resume", resume, allow_none=True)
    if resume is not None and (history is not None or start_epoch != 0):
        raise ValueError("resume= restores the history and the epoch from the checkpoint; "
                         "do not pass history= or start_epoch= with it")


def _start(model, optimizer, history, start_epoch, seed, epochs, resume, monitor):
    """The run's state: fresh, or read back from the checkpoint ``resume``; returns
    ``(run, start_epoch)``."""
    resumed = _io.load_training_state(resume, model, optimizer) if resume is not None else None
    if resumed is not None:  # weights, optimizer state, history, epoch, generators
        optimizer, history, start_epoch = resumed["optimizer"], resumed["history"], resumed["epoch"]
        seed = resumed["seed"]
    run = Run(model=model, optimizer=optim_mod.Adam() if optimizer is None else optimizer,
              history=History() if history is None else history, seed=seed, epochs=epochs,
              rng=(np.random.default_rng([seed, start_epoch]) if resumed is None
                   else resumed["rng"]), monitor=monitor)
    if resumed is not None:
        run.step = run.snap_step = resumed["step"]
        run.first_loss = resumed["first_loss"]
    run.snap = _snapshot(model, run.optimizer)
    return run, start_epoch


def fit(model, X, epochs=10, batch_size=128, optimizer=None, X_val=None, seed=0,
        progress=True, shuffle=True, snapshot_every=10, explode_factor=1e4, callback=None,
        history=None, start_epoch=0, checkpoint=None, checkpoint_every=1, resume=None,
        monitor=False, Y=None, Y_val=None):
    """Train ``model`` on the rows of ``X`` with minibatches.

    Parameters
    ----------
    model : an aenumpy model (:class:`aenumpy.Autoencoder`, :class:`aenumpy.ConvAutoencoder`,
        :class:`aenumpy.VariationalAutoencoder`, :class:`aenumpy.UNet`).
    X : training data ``(N, n_in)`` (or images); checked once here (shape, NaN/inf, range).
    epochs, batch_size : as usual; the last batch of an epoch may be short.
    optimizer : an :mod:`aenumpy.optim` optimizer (default ``Adam(lr=1e-3)``).
    X_val : optional validation data; after each epoch ``history["val_loss"]`` gets its
        objective in evaluation mode (no dropout, top-k keeping its evaluation ``α·k``),
        computed as the training loss is (the mean over minibatches of ``batch_size`` of
        the batch objective) with a fixed noise seed so epochs are comparable. A denoising
        model's objective keeps its corruption (the task it learns is x from x̃), so
        ``history["val_reconstruction"]`` also gets the clean reconstruction error
        (``model.reconstruction_error``: no corruption, no penalty).
    Y, Y_val : targets, one per row of X (and of X_val): the model learns to map X to Y (clean
        or completed images, masks; a :class:`aenumpy.UNet`'s per-pixel labels, which it
        needs). Without them a model reconstructs its input. Each step gathers ``Y[idx]``
        beside ``X[idx]``.
    seed : seeds the shuffling and every noise draw of the run: same seed, same numbers.
    progress : show a tqdm progress bar.
    snapshot_every : steps between snapshots of the last good weights.
    explode_factor : stop when a batch loss exceeds this many times the first
        batch's loss (and is above 1e3 in absolute terms).
    callback : optional ``f(epoch, history)`` called after each epoch; return
        True to stop.
    history, start_epoch : continue a run by hand (prefer ``resume``).
    checkpoint, checkpoint_every : write a checkpoint file (atomically, see
        :func:`aenumpy.io.save_training_state`) every ``checkpoint_every`` epochs
        and after the last (:func:`save_checkpoint`).
    resume : a checkpoint file written with ``checkpoint=``: the model (same
        configuration) and optimizer (None: the checkpoint's) continue from it up
        to ``epochs`` in total, bit-identical to a run never interrupted. The
        checkpoint's seed is used.
    monitor : True (or an :class:`aenumpy.monitor.Monitor`, e.g. ``Monitor(every=1)`` to
        measure every step) records the training dynamics per epoch in the history:
        gradient norms, update ratios and activation statistics (see
        :mod:`aenumpy.monitor`; draw them with :func:`aenumpy.plot.dynamics`).

    Returns a :class:`History`. On divergence a :class:`TrainingDiverged`
    warning is issued, ``history.stopped_early`` is True and
    ``history.message`` says what happened; the model holds its last good weights.
    """
    epochs = check_int("epochs", epochs, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 1)
    settings = {"snapshot_every": check_int("snapshot_every", snapshot_every, 1),
                "explode_factor": explode_factor}
    monitor = Monitor.of(monitor)
    _check_args(model, optimizer, progress=progress, shuffle=shuffle,
                explode_factor=explode_factor, callback=callback, history=history,
                start_epoch=start_epoch, checkpoint=checkpoint, resume=resume)
    X, Y = check_training_data(model, X, Y)
    X_val, Y_val = _check_validation(model, X_val, Y_val, Y is not None)
    run, start_epoch = _start(model, optimizer, history, start_epoch, seed, epochs, resume,
                              monitor)
    run.settings = settings
    if monitor is not None:
        monitor.start(model, run.history)
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        loss = train_epoch(run, X, epoch, batch_size, shuffle, progress, Y)
        if loss is None:
            return run.history
        end_epoch(run, epoch, loss, t0, X_val, batch_size, progress, Y_val)
        if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs):
            save_checkpoint(run, checkpoint, epoch)
        if callback is not None and callback(epoch, run.history):
            break
    return run.history
