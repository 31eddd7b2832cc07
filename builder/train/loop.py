"""The training function: builds, fits and reports, stops within a batch, and writes a
checkpoint after every epoch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from builder.design import Design
from builder.train.checkpoints import (
    BEST_FILE,
    BEST_INFO,
    _CheckpointWriter,
    read_checkpoint_info,
    restore_checkpoint,
)
from builder.train.compiling import _label_adapter, build_training_model
from builder.train.progress import LiveProgress
from builder.train.settings import TrainConfig, TrainingError

NAN_ADVICE = ("Try a lower learning rate (for example a tenth of it), normalise the inputs "
              "(a Normalization or Rescaling layer, or scaled data), or turn on gradient "
              "clipping.")


@dataclass
class TrainResult:
    """How a training session ended.

    Attributes:
        status: "finished" | "early_stopped" | "stopped" | "diverged".
        message: a sentence for people (empty when it simply finished).
        epochs_done: full epochs trained in total (including earlier sessions).
        history: per-epoch rows of this session ({"epoch": 1, "loss": ...}).
        final: final scores (validation and test metrics when there is such data).
        model: the trained Keras model (kept in memory for Continue).
        checkpoint: the folder of the last checkpoint, when one was written.
        seconds: wall time of this session.
        samples_per_second: training throughput of this session.
        kept_epoch: the epoch whose weights the model ends with, when they are not the
            last epoch's (``keep_best``, or early stopping); 0 otherwise.
    """

    status: str
    message: str
    epochs_done: int
    history: list[dict] = field(default_factory=list)
    final: dict = field(default_factory=dict)
    model: Any = None
    checkpoint: Path | None = None
    seconds: float = 0.0
    samples_per_second: float = 0.0
    kept_epoch: int = 0


def _make_callback_class():
    """The Keras callback class; made on demand so importing this module skips Keras."""
    import keras

    class _Live(keras.callbacks.Callback):
        def __init__(self, progress: LiveProgress | None, stop_event: threading.Event | None,
                     steps_per_epoch: int, writer: _CheckpointWriter | None,
                     on_epoch: Callable | None):
            # Reports, stops on request or on NaN, and checkpoints each full epoch.
            super().__init__()
            self.progress = progress
            self.stop_event = stop_event
            self.steps_per_epoch = steps_per_epoch
            self.writer = writer
            self.on_epoch = on_epoch
            self.diverged: tuple[int, int, float] | None = None
            self.stopped = False
            self.last_step = -1
            self.rows: list[dict] = []
            self._epoch_start = 0.0
            self._epoch = 0
            self._validation_cut = False
            self.validation_cut_epoch = 0

        def _stop_requested(self) -> bool:
            return self.stop_event is not None and self.stop_event.is_set()

        def on_train_begin(self, logs=None):
            if self._stop_requested():
                self.stopped = True
                self.model.stop_training = True

        def on_epoch_begin(self, epoch, logs=None):
            self.last_step = -1
            self._epoch = epoch
            self._epoch_start = time.monotonic()
            self._validation_cut = False

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            self.last_step = batch
            loss = logs.get("loss")
            if isinstance(loss, (int, float)) and not math.isfinite(loss):
                if self.diverged is None:
                    self.diverged = (self._epoch, batch, float(loss))
                self.model.stop_training = True
                return
            if self.progress is not None:
                self.progress.batch(self._epoch, batch, logs)
            if self._stop_requested():
                self.stopped = True
                self.model.stop_training = True

        def on_test_batch_end(self, batch, logs=None):
            if self._stop_requested() or self.diverged is not None:
                self.stopped = self.stopped or self._stop_requested()
                self._validation_cut = True
                self.model.stop_evaluating = True

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            seconds = time.monotonic() - self._epoch_start
            complete = self.last_step + 1 >= self.steps_per_epoch and self.diverged is None
            row = {"epoch": epoch + 1}
            for name, value in logs.items():
                if isinstance(value, (int, float)):
                    row[name] = float(value)
            row["learning_rate"] = _current_learning_rate(self.model)
            row["seconds"] = round(seconds, 4)
            if not complete or self._validation_cut:
                # Validation was cut short: its numbers describe a few batches only.
                row = {k: v for k, v in row.items() if not k.startswith("val_")}
                if complete:
                    self.validation_cut_epoch = epoch + 1
            if not complete:
                row["partial"] = True
            if self.diverged is not None:
                self.rows.append(row)
                return
            if not all(math.isfinite(v) for k, v in row.items() if isinstance(v, float)):
                self.diverged = (epoch, self.last_step, float("nan"))
                self.model.stop_training = True
                self.rows.append(row)
                return
            self.rows.append(row)
            # Recorded before the checkpoint is written: a run killed in between resumes
            # from the earlier checkpoint and records this epoch again, instead of going
            # on from a checkpoint whose last epoch the history never got.
            if self.progress is not None:
                self.progress.epoch_end(row)
            if self.on_epoch is not None:
                self.on_epoch(row)
            if complete and self.writer is not None:
                self.writer.save(self.model, epoch + 1)

    return _Live


def _make_best_weights_class():
    """The Keras callback that keeps the weights of the lowest validation loss."""
    import keras

    class _BestWeights(keras.callbacks.Callback):
        """Copies the weights after each full epoch whose validation loss is the lowest.

        ``restore()`` puts them back at the end of training; ``epoch`` is the one kept,
        counted from 1 as the epoch rows are (across Continue sessions too).
        """

        def __init__(self, live):
            super().__init__()
            self.live = live  # the live callback, called first: its rows are the record
            self.best = math.inf
            self.epoch = 0
            self.last = 0
            self.weights = None

        def on_epoch_end(self, epoch, logs=None):
            row = self.live.rows[-1] if self.live.rows else {}
            # Only full epochs with whole validation count (the row drops cut-short ones).
            value = row.get("val_loss") if not row.get("partial") else None
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                return
            self.last = epoch + 1
            if value < self.best:
                self.best, self.epoch = float(value), epoch + 1
                self.weights = [np.array(w) for w in self.model.get_weights()]

        @property
        def row(self) -> dict:
            """The kept epoch's row (from this session, or the one it was seeded with)."""
            found = next((r for r in self.live.rows if r.get("epoch") == self.epoch), None)
            return found or getattr(self, "_seed_row", {})

        def restore(self, model) -> int:
            """Put the best weights back when they are not the last epoch's; the epoch."""
            if self.weights is None or self.epoch == self.last:
                return 0
            model.set_weights(self.weights)
            return self.epoch

        def seed(self, folder: Path, model, initial_epoch: int) -> None:
            """Start from the best of the sessions before (a Continue or Resume), so a
            session whose epochs are all worse ends with the earlier best, not its own."""
            try:
                info = json.loads((folder / BEST_INFO).read_text(encoding="utf-8"))
                with np.load(folder / BEST_FILE, allow_pickle=False) as stored:
                    weights = [stored[f"w{i:05d}"] for i in range(len(stored.files))]
            except (OSError, ValueError, KeyError):
                return
            shapes = [tuple(w.shape) for w in model.get_weights()]
            epoch, value = info.get("epoch"), info.get("val_loss")
            if ([tuple(w.shape) for w in weights] != shapes or not isinstance(epoch, int)
                    or not 1 <= epoch <= initial_epoch or not isinstance(value, (int, float))):
                return
            self.best, self.epoch, self.weights = float(value), epoch, weights
            self._seed_row = dict(info.get("row") or {"epoch": epoch, "val_loss": value})

        def save(self, folder: Path) -> None:
            """Write the best weights for the next session (they survive a restart)."""
            if self.weights is None:
                return
            np.savez(folder / BEST_FILE, **{f"w{i:05d}": w for i, w in enumerate(self.weights)})
            (folder / BEST_INFO).write_text(json.dumps(
                {"epoch": self.epoch, "val_loss": self.best, "row": self.row}), encoding="utf-8")

    return _BestWeights


def _current_learning_rate(model) -> float:
    try:
        return float(np.asarray(model.optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return float("nan")


def train(design: Design, data, config: TrainConfig, *,
          progress: LiveProgress | None = None,
          stop_event: threading.Event | None = None,
          run_dir: str | os.PathLike | None = None,
          model=None,
          initial_epoch: int = 0,
          resume: bool = False,
          device_plan=None,
          strategy=None,
          on_epoch: Callable[[dict], None] | None = None,
          evaluate_test: bool = True,
          is_chief: bool = True,
          report_end: bool = True,
          callbacks: list | None = None) -> TrainResult:
    """Train a design on prepared data.

    Args:
        design: the design to build (ignored when ``model`` is given).
        data: prepared data (:class:`TrainingData`).
        config: the settings; ``config.epochs`` is the total epoch count, so a
            Continue passes more epochs than were done and ``initial_epoch``.
        progress: receives live batch and epoch reports.
        stop_event: when set, training stops after the current batch; what was
            learned is kept (and checkpointed).
        run_dir: where the per-epoch checkpoint goes (None: no checkpoints).
        model: an already trained model to go on training (Continue).
        initial_epoch: full epochs already trained.
        resume: load the checkpoint in ``run_dir`` first (after a crash); its
            epoch count replaces ``initial_epoch``.
        device_plan / strategy: where to train (default: :func:`strategy.plan`).
        on_epoch: called with each epoch's row (for the run store).
        evaluate_test: score the test split at the end, when the data has one.
        is_chief: whether this process writes checkpoints (multi-worker training).
        report_end: set the final status on ``progress``; a caller with more to do
            before the run is over (saving files, recording it) passes False and
            sets it itself.
        callbacks: more Keras callbacks (e.g. the Explore page's learning-cycle
            recorder), called after the live reporting.

    Raises:
        ValueError: a setting cannot be used.
        DesignError: the design has problems.
        TrainingError: the design does not fit the data, or training failed.
    """
    import keras
    import tensorflow as tf

    from builder import strategy as strategy_module

    task = data.task
    n_train = data.size("train")
    if device_plan is None:
        device_plan = strategy_module.plan()
    config = config.with_task(task)
    config.validate(task=task, n_train=n_train or None, device_plan=device_plan)
    if strategy is None and model is None:
        strategy = strategy_module.make_strategy(device_plan)
    batch_size = config.effective_batch_size(n_train)
    steps_per_epoch = max(1, math.ceil(n_train / batch_size)) if n_train else 1

    def scope():
        return strategy.scope() if strategy is not None else contextlib.nullcontext()

    folder = Path(run_dir) if run_dir is not None else None

    with scope():
        if model is None:
            model = build_training_model(design, data, config, steps_per_epoch)
        if resume:
            if folder is None:
                raise TrainingError("Resuming needs the run's folder with its checkpoint.")
            info = restore_checkpoint(model, folder)
            initial_epoch = int(info.get("epochs_done", 0))

    adapter = _label_adapter(data, config.loss)
    seed = config.seed if config.seed is not None else int(np.random.default_rng().integers(2**31))
    train_ds = data.batches("train", batch_size, shuffle=True, seed=seed)
    n_val = data.size("validation")
    val_ds = data.batches("validation", min(max(batch_size, 32), 4096)) if n_val else None
    if adapter is not None:
        train_ds = train_ds.map(adapter)
        val_ds = val_ds.map(adapter) if val_ds is not None else None
    if device_plan.kind == "multi_worker":
        from builder import multi_worker_fit

        with scope():
            multi_worker_fit.prepare(model, train_ds)
        # In-memory data has no files to split: each worker takes every n-th batch.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        train_ds = train_ds.with_options(options)
        val_ds = val_ds.with_options(options) if val_ds is not None else None

    writer = _CheckpointWriter(folder) if folder is not None and is_chief else None
    live = _make_callback_class()(progress, stop_event, steps_per_epoch, writer, on_epoch)
    all_callbacks: list = [live]
    best = None
    if config.keep_best and val_ds is not None:
        best = _make_best_weights_class()(live)
        if folder is not None and initial_epoch:
            best.seed(folder, model, initial_epoch)
        all_callbacks.append(best)
    early = None
    if config.patience:
        early = keras.callbacks.EarlyStopping(
            monitor="val_loss" if val_ds is not None else "loss",
            patience=int(config.patience), restore_best_weights=True)
        all_callbacks.append(early)
    all_callbacks.extend(callbacks or [])

    if progress is not None:
        progress.begin(total_epochs=config.epochs, initial_epoch=initial_epoch,
                       steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                       n_train=n_train, device=device_plan.label)
    started = time.monotonic()
    try:
        if initial_epoch < config.epochs:
            # The dataset shuffles itself (seeded); fit's own shuffle does not apply to it.
            model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                      initial_epoch=initial_epoch, callbacks=all_callbacks, verbose=0,
                      shuffle=False)
    except tf.errors.ResourceExhaustedError as exc:
        raise TrainingError(
            f"Training ran out of memory on {device_plan.label}. Use a smaller batch size, "
            "fewer units or filters, or smaller inputs.") from exc
    except (tf.errors.OpError, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise TrainingError(
            f"Training failed: {detail[:400]} Check that the design's Input and output match "
            "the data (the Analyze view shows every shape).") from exc
    finally:
        if writer is not None:
            writer.close()
    seconds = time.monotonic() - started

    completed_rows = [r for r in live.rows if not r.get("partial")]
    epochs_done = initial_epoch + len(completed_rows)
    if live.diverged is not None:
        epoch, batch, _ = live.diverged
        if folder is not None and read_checkpoint_info(folder) is not None:
            # Keep what was learned before the numbers broke, not the broken weights.
            with scope():
                restore_checkpoint(model, folder)
            kept = "the weights of the last good epoch were kept"
        else:
            kept = "no epoch finished before it, so there are no good weights to keep"
        status = "diverged"
        message = (f"The loss became NaN or infinite in epoch {epoch + 1}, batch {batch + 1}, "
                   f"so training stopped ({kept}). {NAN_ADVICE}")
    elif live.stopped:
        status = "stopped"
        message = stop_message(epochs_done, live.validation_cut_epoch)
        if writer is not None and folder is not None:
            # Keep the partial epoch's learning for a Continue after a restart too.
            writer = _CheckpointWriter(folder)
            writer.save(model, epochs_done)
            writer.close()
    elif early is not None and early.stopped_epoch > 0:
        status = "early_stopped"
        watched = "validation loss" if val_ds is not None else "training loss"
        message = (f"Early stopping: the {watched} did not improve for {config.patience} "
                   f"epoch(s), so training stopped after epoch {epochs_done} and kept the best "
                   "weights.")
    else:
        status = "finished"
        message = ""

    kept_epoch, kept_row = 0, None
    if status in ("finished", "early_stopped", "stopped"):
        if best is not None:
            if folder is not None and is_chief:
                best.save(folder)
            with scope():
                kept_epoch = best.restore(model)
            kept_row = best.row if kept_epoch else None
        elif early is not None and early.stopped_epoch > 0 and completed_rows and \
                early.best_epoch + 1 < completed_rows[-1]["epoch"]:
            kept_epoch = early.best_epoch + 1  # Keras counts from 0, across Continue too
    rows = live.rows
    if kept_epoch:
        row = kept_row or next(r for r in live.rows if r.get("epoch") == kept_epoch)
        if row not in rows:  # kept from an earlier session
            rows = [row, *rows]
        last_words = (f"the last epoch's was {completed_rows[-1]['val_loss']:.4f}"
                      if completed_rows and "val_loss" in completed_rows[-1] else
                      "no epoch of this session did better")
        message = (message + " " if message else "") + (
            f"Kept the weights of epoch {kept_epoch}, whose validation loss "
            f"({row['val_loss']:.4f}) was the lowest; {last_words}.")
    final = _final_scores(model, data, rows, batch_size, adapter,
                          evaluate_test and status in ("finished", "early_stopped"),
                          kept_epoch)
    if progress is not None:
        progress.set_final(final)
        if report_end:
            progress.set_status(status, message)
    samples = n_train * len(completed_rows)
    return TrainResult(
        status=status, message=message, epochs_done=epochs_done, history=live.rows,
        final=final, model=model,
        checkpoint=folder if folder is not None and read_checkpoint_info(folder) else None,
        seconds=seconds, samples_per_second=samples / seconds if seconds > 0 else 0.0,
        kept_epoch=kept_epoch,
    )


def stop_message(epochs_done: int, validation_cut_epoch: int = 0) -> str:
    """What a stop kept, counted as the epoch table counts (full epochs only)."""
    message = f"Stopped after {epochs_done} full epoch(s); what was learned is kept."
    if validation_cut_epoch and validation_cut_epoch == epochs_done:
        message += (f" The stop came while epoch {epochs_done} was being validated, so that "
                    "epoch has no validation scores.")
    return message


def _final_scores(model, data, rows: list[dict], batch_size: int, adapter, with_test: bool,
                  kept_epoch: int = 0):
    final: dict = {}
    complete = [r for r in rows if not r.get("partial")]
    if complete:
        # The scores of the weights the model ends with: the kept epoch's, or the last's.
        last = next((r for r in complete if r.get("epoch") == kept_epoch), complete[-1])
        final.update({k: v for k, v in last.items() if k not in ("epoch", "seconds")})
        if kept_epoch:
            final["kept_epoch"] = kept_epoch
    if with_test and data.size("test"):
        test_ds = data.batches("test", min(max(batch_size, 32), 4096))
        if adapter is not None:
            test_ds = test_ds.map(adapter)
        scores = model.evaluate(test_ds, return_dict=True, verbose=0)
        final.update({f"test_{k}": float(v) for k, v in scores.items()})
    # Regression trains on standardised targets, so Keras's error metrics are in standard
    # deviations; the final errors are given in the target's own units instead, as the
    # Explore page shows them. The losses stay what the optimiser minimised.
    if data.task == "regression" and data.postprocessing is not None:
        to_units = data.to_target_units
        for prefix, split in (("", "train"), ("val_", "validation"), ("test_", "test")):
            names = [m for m in ("mae", "mse", "rmse") if f"{prefix}{m}" in final]
            if not names or not data.size(split):
                continue
            x, y = data.arrays(split)
            predicted = model.predict(x, batch_size=min(max(batch_size, 32), 4096), verbose=0)
            errors = (np.asarray(to_units(predicted), np.float64).reshape(len(x), -1)
                      - np.asarray(to_units(y), np.float64).reshape(len(x), -1))
            mse = float(np.mean(errors ** 2))
            values = {"mae": float(np.mean(np.abs(errors))), "mse": mse, "rmse": math.sqrt(mse)}
            final.update({f"{prefix}{name}": values[name] for name in names})
    return final
