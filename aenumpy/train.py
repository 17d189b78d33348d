"""``fit()``: minibatch training with history, a progress bar, and a stop on divergence.

One epoch: a seeded permutation of the rows, then minibatches gathered by index
(``X[idx]``, no copy of the data set per epoch), each one a call to the model's
``loss_and_grads`` and the optimizer's ``step``.

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

import numpy as np

from . import io as _io
from . import optim as optim_mod
from ._validate import (check_bool, check_callable, check_float, check_int, check_model,
                        check_path)
from .backend import routine
from .history import History
from .monitor import Monitor


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


def validation_loss(model, X, batch_size, rng, Y=None):
    """The objective on X (toward the targets Y, when given) as fit reports the training
    loss: the mean over minibatches of ``batch_size`` rows (in order) of each batch's
    objective, weighted by its size. (A penalty on batch statistics, such as KL sparsity's
    ρ̂, sees batches as in training; and a whole test set never goes through a
    convolutional model at once.)"""
    total = 0.0
    for i in range(0, len(X), batch_size):
        xb = X[i:i + batch_size]
        targets = {} if Y is None else {"Y": Y[i:i + batch_size]}
        total += model.loss(xb, rng=rng, checked=True, **targets) * len(xb)
    return total / len(X)


def check_training_data(model, X, Y, x_name="X", y_name="Y"):
    """``(X, Y)`` checked for the model: X as its own target when there is no Y, else X as
    the input and Y as one target per row of X (:meth:`validate_targets`)."""
    if Y is None:
        if getattr(model, "needs_targets", False):
            raise ValueError(f"a {type(model).__name__} trains toward per-pixel targets, not its "
                             f"input: pass them, fit(model, {x_name}, {y_name}=labels, ...)")
        return model.validate(X, x_name), None
    X = model.validate(X, x_name, targets=False)
    return X, model.validate_targets(Y, X, y_name)


def gather_rows(X, idx, out):
    """The minibatch ``out = X[idx]``: rows of the data set copied into a batch buffer."""
    return np.take(X, idx, axis=0, out=out)


def _buffer(bufs, A, n):
    """An array for ``n`` rows of ``A``, kept in ``bufs`` per batch size."""
    b = bufs.get(n)
    if b is None:
        b = bufs[n] = np.empty((n,) + A.shape[1:], A.dtype)
    return b


def all_finite(grads):
    """True when every gradient entry is finite (no NaN, no ±inf)."""
    return all(bool(np.isfinite(g).all()) for g in grads.values())


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


def _restore(model, optimizer, snap):
    params, opt_state = snap
    for k, v in params.items():
        model.params[k][...] = v
    optimizer.load_state_dict(opt_state)


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
    X_val : optional validation data; its objective is computed after each epoch as the
        training loss is (the mean over minibatches of ``batch_size`` of the batch objective),
        with a fixed noise seed so epochs are comparable.
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
        and after the last: weights, optimizer state, epochs and steps done,
        history, and the states of the shuffling/noise generator and of ``model.rng``.
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
    snapshot_every = check_int("snapshot_every", snapshot_every, 1)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 1)
    monitor = Monitor.of(monitor)
    _check_args(model, optimizer, progress=progress, shuffle=shuffle,
                explode_factor=explode_factor, callback=callback, history=history,
                start_epoch=start_epoch, checkpoint=checkpoint, resume=resume)
    X, Y = check_training_data(model, X, Y)
    if X_val is not None:
        if (Y is None) != (Y_val is None):
            raise ValueError("validation needs the same kind of targets as training: pass Y_val "
                             "with X_val when training with Y (and not without it)")
        X_val, Y_val = check_training_data(model, X_val, Y_val, "X_val", "Y_val")
    elif Y_val is not None:
        raise ValueError("Y_val needs X_val, the inputs it belongs to")
    resumed = None
    if resume is not None:  # weights, optimizer state, history, epoch, generators
        resumed = _io.load_training_state(resume, model, optimizer)
        optimizer, history, start_epoch = resumed["optimizer"], resumed["history"], resumed["epoch"]
        seed = resumed["seed"]
    optimizer = optim_mod.Adam() if optimizer is None else optimizer
    if not isinstance(optimizer, optim_mod.Optimizer):
        raise TypeError(f"optimizer must be an aenumpy.optim optimizer, got {type(optimizer).__name__}")
    history = History() if history is None else history
    n = X.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    rng = np.random.default_rng([seed, start_epoch]) if resumed is None else resumed["rng"]
    snap = _snapshot(model, optimizer)
    spare = None  # the snapshot before last: its arrays are reused for the next one
    snap_step, step = 0, 0
    first_loss = None
    if resumed is not None:
        snap_step = step = resumed["step"]
        first_loss = resumed["first_loss"]
    regs = getattr(model, "regularizers", [])
    gather, finite = routine("gather_rows", gather_rows), routine("all_finite", all_finite)
    bufs, ybufs = {}, {}
    if monitor is not None:
        monitor.start(model, history)
    for epoch in range(start_epoch, epochs):
        for r in regs:
            r.on_epoch_begin(epoch, epochs)
        if hasattr(model, "on_epoch_begin"):
            model.on_epoch_begin(epoch, epochs)
        t0 = time.perf_counter()
        order = rng.permutation(n) if shuffle else np.arange(n)
        bar = _progress(steps_per_epoch, progress, f"epoch {epoch + 1}/{epochs}")
        total, count = 0.0, 0
        try:
            for s in range(steps_per_epoch):
                idx = order[s * batch_size:(s + 1) * batch_size]
                # X[idx] (and Y[idx]), gathered into buffers kept per batch size
                xb = gather(X, idx, _buffer(bufs, X, len(idx)))
                targets = {} if Y is None else {"Y": gather(Y, idx, _buffer(ybufs, Y, len(idx)))}
                loss, grads = model.loss_and_grads(xb, rng=rng, checked=True, **targets)
                if first_loss is None and math.isfinite(loss):
                    first_loss = abs(loss)
                bad = not math.isfinite(loss) or (
                    first_loss is not None and loss > 1e3 and loss > explode_factor * max(first_loss, 1e-12))
                if bad or not finite(grads):
                    _restore(model, optimizer, snap)
                    lr = getattr(optimizer, "lr", None)
                    history.stopped_early = True
                    history.message = (
                        f"training diverged at epoch {epoch + 1}, step {s + 1}: the loss became "
                        f"{loss:.4g}" + ("" if math.isfinite(loss) else " (not finite)")
                        + f". The model keeps its last good weights (from step {snap_step} of the "
                        f"run). Likely cause: the learning rate is too large (lr={lr}); try one "
                        f"ten times smaller, or check the data for extreme values.")
                    warnings.warn(history.message, TrainingDiverged, stacklevel=2)
                    return history
                if monitor is not None:
                    monitor.before_step(grads)
                optimizer.step(model.params, grads)
                if monitor is not None:
                    monitor.after_step()
                step += 1
                if step % snapshot_every == 0:
                    snap, spare = _snapshot(model, optimizer, into=spare), snap
                    snap_step = step
                total += loss * len(idx)
                count += len(idx)
                if bar is not None:
                    bar.update(1)
                    if s % 10 == 0:
                        bar.set_postfix(loss=f"{total / count:.4f}")
        finally:
            if bar is not None:
                bar.close()
        history["loss"].append(total / max(count, 1))
        if X_val is not None:
            history["val_loss"].append(validation_loss(model, X_val, batch_size,
                                                       np.random.default_rng([seed, 7]), Y_val))
        history["seconds"].append(time.perf_counter() - t0)
        if monitor is not None:
            monitor.end_epoch()
        if progress:
            val = f"  val {history['val_loss'][-1]:.4f}" if X_val is not None else ""
            print(f"epoch {epoch + 1}/{epochs}  loss {history['loss'][-1]:.4f}{val}"
                  f"  ({history['seconds'][-1]:.2f} s)")
        if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs):
            _io.save_training_state(checkpoint, model, optimizer, epoch=epoch + 1, step=step,
                                    seed=seed, history=history, rng=rng,
                                    model_rng=getattr(model, "rng", None), first_loss=first_loss)
        if callback is not None and callback(epoch, history):
            break
    return history
