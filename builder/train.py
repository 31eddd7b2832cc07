"""Training: the settings a person chooses, and the function that trains a design.

``train(design, data, config)`` builds the design's Keras model, fits it on the
prepared data and returns a :class:`TrainResult`. It knows no Streamlit: the app
runs it in a worker thread (``builder.jobs``) and the CLI calls it directly.

While it runs it reports into a :class:`LiveProgress` (per-batch smoothed loss
and metrics, per-epoch rows, samples per second, time left), stops within one
batch when its stop event is set, stops with an explanation when the loss stops
being a finite number, and writes a checkpoint after every epoch so that a run
cut short by a crash can be resumed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from builder import model_output
from builder.design import Design
from builder.vocabulary import TASKS, format_shape

LOSSES = {
    "mean_squared_error": "Mean squared error",
    "mean_absolute_error": "Mean absolute error",
    "huber": "Huber",
    "binary_crossentropy": "Binary cross-entropy",
    "categorical_crossentropy": "Categorical cross-entropy",
    "sparse_categorical_crossentropy": "Sparse categorical cross-entropy",
}
LOSSES_FOR_TASK = {
    "binary": ("binary_crossentropy", "mean_squared_error", "mean_absolute_error", "huber"),
    "multiclass": ("sparse_categorical_crossentropy", "categorical_crossentropy"),
    "regression": ("mean_squared_error", "mean_absolute_error", "huber"),
    "reconstruction": ("mean_squared_error", "mean_absolute_error", "huber",
                       "binary_crossentropy"),
}
CROSS_ENTROPIES = ("binary_crossentropy", "categorical_crossentropy",
                   "sparse_categorical_crossentropy")

OPTIMIZERS = {
    "sgd": "SGD (with momentum)",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
}
SCHEDULES = {
    "constant": "Constant",
    "exponential": "Exponential decay",
    "step": "Step decay",
    "cosine": "Cosine decay",
}
GD_VARIANTS = {
    "mini-batch": "Mini-batch: a few samples per step (the batch size)",
    "batch": "Batch: the whole training set in every step",
    "stochastic": "Stochastic: one sample per step",
}
METRICS = {
    "accuracy": "Accuracy",
    "auc": "AUC",
    "precision": "Precision",
    "recall": "Recall",
    "top3_accuracy": "Top-3 accuracy",
    "mae": "Mean absolute error",
    "mse": "Mean squared error",
    "rmse": "Root mean squared error",
}
METRICS_FOR_TASK = {
    "binary": ("accuracy", "auc", "precision", "recall"),
    "multiclass": ("accuracy", "top3_accuracy"),
    "regression": ("mae", "mse", "rmse"),
    "reconstruction": ("mae", "mse", "rmse"),
}
DEFAULT_METRICS = {
    "binary": ("accuracy",),
    "multiclass": ("accuracy",),
    "regression": ("mae",),
    "reconstruction": ("mae",),
}

MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 65_536
CHECKPOINT_FILE = "checkpoint.npz"
CHECKPOINT_INFO = "checkpoint.json"
BEST_FILE = "best_weights.npz"  # keep_best: the best epoch's weights, across sessions
BEST_INFO = "best_weights.json"

NAN_ADVICE = ("Try a lower learning rate (for example a tenth of it), normalise the inputs "
              "(a Normalization or Rescaling layer, or scaled data), or turn on gradient "
              "clipping.")


class TrainingError(RuntimeError):
    """Training could not start or went wrong; the message says why and what to do."""


# ---------------------------------------------------------------------------
# Settings


@dataclass
class TrainConfig:
    """Everything a person chooses before pressing Train.

    Attributes:
        loss: a key of :data:`LOSSES`; empty means the task's usual loss.
        optimizer: a key of :data:`OPTIMIZERS`.
        learning_rate: step size at the start of training.
        momentum: SGD's momentum (0 is plain gradient descent).
        weight_decay: AdamW's decoupled weight decay.
        schedule: a key of :data:`SCHEDULES`: how the learning rate changes.
        decay_rate: exponential and step decay: the factor per ``decay_epochs``.
        decay_epochs: exponential and step decay: epochs per ``decay_rate`` factor.
        gd_variant: "mini-batch" (``batch_size`` samples per step), "batch" (the
            whole training set per step) or "stochastic" (one sample per step).
        batch_size: samples per step for mini-batch gradient descent.
        epochs: how many passes over the training set in total.
        patience: early stopping: stop after this many epochs without a better
            validation loss (0 switches early stopping off).
        metrics: keys of :data:`METRICS`; empty means the task's usual metrics.
        seed: seeds weights and shuffling, so the same settings train the same way.
        clip_norm: gradient clipping: the largest gradient norm (None for none).
        mixed_precision: compute in float16 on a GPU (the output stays float32).
        xla: compile the training step with XLA (GPU only).
        keep_best: when the data has a validation split, end with the weights of the
            epoch with the lowest validation loss (not the last epoch's); the run says
            which epoch was kept, and Explore and Export use it.
    """

    loss: str = ""
    optimizer: str = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.004
    schedule: str = "constant"
    decay_rate: float = 0.5
    decay_epochs: int = 10
    gd_variant: str = "mini-batch"
    batch_size: int = 32
    epochs: int = 10
    patience: int = 0
    metrics: tuple[str, ...] = ()
    seed: int | None = 42
    clip_norm: float | None = None
    mixed_precision: bool = False
    xla: bool = False
    keep_best: bool = True

    # -- conversions ----------------------------------------------------------

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["metrics"] = list(self.metrics)
        return data

    @classmethod
    def from_dict(cls, raw: Any) -> TrainConfig:
        """Settings from JSON data (a run record, a CLI file), checked by name.

        Raises:
            ValueError: not a mapping, or a setting this version does not know.
        """
        values = checked_settings(cls, raw, "training")
        if isinstance(values.get("metrics"), list):
            values["metrics"] = tuple(values["metrics"])
        return cls(**values)

    def with_task(self, task: str) -> TrainConfig:
        """A copy with the task's usual loss and metrics filled in where left empty."""
        return dataclasses.replace(
            self,
            loss=self.loss or default_loss(task),
            metrics=tuple(self.metrics) if self.metrics else DEFAULT_METRICS.get(task, ()),
        )

    # -- batch size -------------------------------------------------------------

    def effective_batch_size(self, n_train: int) -> int:
        """Samples per step for the gradient descent variant."""
        if self.gd_variant == "batch":
            return max(1, int(n_train))
        if self.gd_variant == "stochastic":
            return 1
        return int(self.batch_size)

    # -- validation ---------------------------------------------------------------

    def problems(self, task: str | None = None, n_train: int | None = None,
                 device_plan=None) -> list[str]:
        """Every setting that cannot be used, as sentences naming the fix."""
        found: list[str] = []
        if task is not None and task not in TASKS:
            found.append(f"The task must be one of {', '.join(TASKS)}; got {task!r:.40}.")
            task = None
        self._check_loss(found, task)
        self._check_optimizer(found)
        self._check_schedule(found)
        self._check_batches(found, n_train, device_plan)
        _check_int(found, "Epochs", self.epochs, 1, MAX_EPOCHS)
        _check_int(found, "Early-stopping patience", self.patience, 0, MAX_EPOCHS,
                   fix="Use 0 to switch early stopping off.")
        self._check_metrics(found, task)
        if self.seed is not None:
            _check_int(found, "The seed", self.seed, 0, 2**31 - 1,
                       fix="Use a whole number such as 42, or leave it empty for a random start.")
        if self.clip_norm is not None:
            _check_number(found, "Gradient clipping (largest norm)", self.clip_norm, 0.0, 1e6,
                          low_open=True, fix="Use a positive number such as 1.0, or switch "
                          "clipping off.")
        for name in ("mixed_precision", "xla", "keep_best"):
            if not isinstance(getattr(self, name), bool):
                found.append(f"'{name}' must be true or false; got "
                             f"{getattr(self, name)!r:.40}.")
        if device_plan is not None:
            from builder import strategy

            if self.mixed_precision is True:
                problem = strategy.mixed_precision_problem(device_plan)
                if problem:
                    found.append(problem)
            if self.xla is True:
                problem = strategy.xla_problem(device_plan)
                if problem:
                    found.append(problem)
        return found

    def validate(self, task: str | None = None, n_train: int | None = None,
                 device_plan=None) -> TrainConfig:
        """Return self when every setting is usable.

        Raises:
            ValueError: with one sentence per problem.
        """
        found = self.problems(task, n_train, device_plan)
        if found:
            raise ValueError(" ".join(found))
        return self

    def _check_loss(self, found: list[str], task: str | None) -> None:
        if not isinstance(self.loss, str):
            found.append(f"The loss must be a name such as 'mean_squared_error'; got "
                         f"{self.loss!r:.40}.")
            return
        if not self.loss:
            return
        if self.loss not in LOSSES:
            found.append(f"Unknown loss {self.loss!r:.40}; choose one of "
                         f"{', '.join(LOSSES)}.")
            return
        if task and self.loss not in LOSSES_FOR_TASK[task]:
            fitting = ", ".join(LOSSES[k] for k in LOSSES_FOR_TASK[task])
            found.append(f"{LOSSES[self.loss]} does not fit a {TASK_WORDS[task]} task; use "
                         f"one of: {fitting}.")

    def _check_optimizer(self, found: list[str]) -> None:
        if self.optimizer not in OPTIMIZERS:
            found.append(f"Unknown optimizer {self.optimizer!r:.40}; choose one of "
                         f"{', '.join(OPTIMIZERS)}.")
        _check_number(found, "The learning rate", self.learning_rate, 0.0, 10.0, low_open=True,
                      fix="Typical values are 0.001 for Adam and 0.01 for SGD.")
        _check_number(found, "Momentum", self.momentum, 0.0, 1.0, high_open=True,
                      fix="Typical values are 0.9, or 0 for plain gradient descent.")
        _check_number(found, "Weight decay", self.weight_decay, 0.0, 1.0,
                      fix="A typical value is 0.004.")

    def _check_schedule(self, found: list[str]) -> None:
        if self.schedule not in SCHEDULES:
            found.append(f"Unknown learning-rate schedule {self.schedule!r:.40}; choose one of "
                         f"{', '.join(SCHEDULES)}.")
        if self.schedule in ("exponential", "step"):
            _check_number(found, "The decay rate", self.decay_rate, 0.0, 1.0, low_open=True,
                          fix="Use a factor such as 0.5 (halve the learning rate).")
            _check_int(found, "Decay epochs", self.decay_epochs, 1, MAX_EPOCHS)

    def _check_batches(self, found: list[str], n_train: int | None, device_plan) -> None:
        if self.gd_variant not in GD_VARIANTS:
            found.append(f"Unknown gradient descent variant {self.gd_variant!r:.40}; choose "
                         f"one of {', '.join(GD_VARIANTS)}.")
            return
        if self.gd_variant == "mini-batch":
            _check_int(found, "The batch size", self.batch_size, 1, MAX_BATCH_SIZE,
                       fix="Typical values are 32 to 256.")
        if n_train is not None and n_train < 1:
            found.append("The training set is empty, so there is nothing to learn from. "
                         "Prepare data with at least one training sample.")
        replicas = len(device_plan.devices) if device_plan is not None else 1
        if device_plan is not None and device_plan.kind == "mirrored" and replicas > 1:
            if self.gd_variant == "stochastic":
                found.append(f"Stochastic gradient descent (one sample per step) cannot be "
                             f"split over {replicas} devices. Use mini-batch gradient descent.")

    def _check_metrics(self, found: list[str], task: str | None) -> None:
        if not isinstance(self.metrics, (list, tuple)):
            found.append(f"Metrics must be a list of names; got {self.metrics!r:.40}.")
            return
        seen = set()
        for metric in self.metrics:
            if metric not in METRICS:
                found.append(f"Unknown metric {metric!r:.40}; choose from "
                             f"{', '.join(METRICS)}.")
            elif task and metric not in METRICS_FOR_TASK[task]:
                fitting = ", ".join(METRICS[k] for k in METRICS_FOR_TASK[task])
                found.append(f"{METRICS[metric]} does not fit a {TASK_WORDS[task]} task; use "
                             f"one of: {fitting}.")
            elif metric in seen:
                found.append(f"The metric {METRICS[metric]} is listed twice. Remove one.")
            seen.add(metric)


TASK_WORDS = {
    "binary": "two-class (binary) classification",
    "multiclass": "multi-class classification",
    "regression": "regression",
    "reconstruction": "reconstruction (autoencoder)",
}


def checked_settings(cls, raw: Any, what: str, hidden: frozenset = frozenset()) -> dict:
    """``raw`` as keyword arguments for the settings dataclass ``cls``, checked by name.

    Args:
        what: the words for the settings in messages ("training", "GAN").
        hidden: fields that are accepted in ``raw`` but dropped (not user settings).

    Raises:
        ValueError: not a mapping, or a name ``cls`` does not have.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"{what.capitalize() if what.islower() else what} settings must be a "
                         f"mapping of names to values; got {type(raw).__name__}.")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise ValueError(f"Unknown {what} setting {unknown[0]!r:.40}; the settings are: "
                         f"{', '.join(sorted(known - hidden))}. Remove it.")
    return {k: v for k, v in raw.items() if k not in hidden}


def default_loss(task: str) -> str:
    """The usual loss for a task."""
    return LOSSES_FOR_TASK.get(task, ("mean_squared_error",))[0]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_int(found, what, value, low, high, fix=""):
    tail = f" {fix}" if fix else ""
    if not _is_int(value):
        found.append(f"{what} must be a whole number; got {value!r:.40}.{tail}")
    elif not low <= value <= high:
        found.append(f"{what} must be from {low} to {high:,}; got {value}.{tail}")


def _check_number(found, what, value, low, high, low_open=False, high_open=False, fix=""):
    tail = f" {fix}" if fix else ""
    if not _is_number(value):
        found.append(f"{what} must be a number; got {value!r:.40}.{tail}")
        return
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        left = "above" if low_open else "at least"
        right = "below" if high_open else "at most"
        found.append(f"{what} must be {left} {low:g} and {right} {high:g}; got {value:g}.{tail}")


# ---------------------------------------------------------------------------
# Data


class TrainingData(Protocol):
    """What training needs from prepared data (``builder.data`` provides it).

    ``batches`` yields batched ``(features, target)`` pairs for a split
    ("train", "validation" or "test").
    """

    task: str
    num_classes: int | None

    def batches(self, split: str, batch_size: int, shuffle: bool = False,
                seed: int | None = None): ...

    def describe(self) -> Any: ...


def split_size(data, split: str) -> int:
    """How many samples a split holds (0 when the data has no such split)."""
    size = getattr(data, "size", None)
    if callable(size):
        try:
            return int(size(split))
        except (KeyError, ValueError):
            return 0
    sizes = getattr(data, "sizes", None)
    if isinstance(sizes, dict):
        return int(sizes.get(split, 0) or 0)
    return 0


def describe_data(data) -> dict:
    """The data's description as a JSON-ready mapping, for the run record."""
    describe = getattr(data, "describe", None)
    described = describe() if callable(describe) else {}
    if not isinstance(described, dict):
        described = {"text": str(described)}
    out = json.loads(json.dumps(described, default=str))
    out.setdefault("task", getattr(data, "task", ""))
    out.setdefault("sizes", {s: split_size(data, s) for s in ("train", "validation", "test")})
    return out


# ---------------------------------------------------------------------------
# Live progress


@dataclass
class ProgressSnapshot:
    """A consistent copy of a run's progress, for one redraw of the page."""

    status: str
    message: str
    epoch: int  # epochs completed
    total_epochs: int
    step: int  # steps done in the current epoch
    steps_per_epoch: int
    fraction: float
    samples_per_second: float
    eta_seconds: float | None
    elapsed_seconds: float
    batch_x: list[float]  # in epochs: 0.5 is halfway through the first, 1.0 its end
    batch_series: dict[str, list[float]]
    epochs: list[dict]  # per-epoch rows: {"epoch": 1, "loss": ..., "val_loss": ...}
    final: dict
    queue_position: int
    device: str
    version: int


class LiveProgress:
    """What a running training reports, safe to read from other threads.

    The training thread writes; pages call :meth:`snapshot` to read a copy. Per-
    batch values are the individual batch loss (and metrics), recovered from Keras's
    running epoch means, smoothed with an exponential moving average; at most
    ``max_points`` are kept (older points are thinned out evenly).
    """

    SMOOTHING = 0.9

    def __init__(self, total_epochs: int = 0, max_points: int = 1500, device: str = ""):
        self._lock = threading.Lock()
        self.max_points = max_points
        self.status = "queued"
        self.message = ""
        self.device = device
        self.total_epochs = total_epochs
        self.initial_epoch = 0
        self.epoch = 0
        self.step = 0
        self.steps_per_epoch = 0
        self.batch_size = 0
        self.n_train = 0
        self.queue_position = 0
        self.batch_x: list[float] = []
        self.batch_series: dict[str, list[float]] = {}
        self.epochs: list[dict] = []
        self.final: dict = {}
        self.version = 0
        self._stride = 1
        self._counter = 0
        self._ema: dict[str, float] = {}
        self._ema_weight = 0.0
        self._previous_means: dict[str, float] = {}
        self._session_start: float | None = None
        self._session_steps = 0
        self._session_samples = 0
        self._elapsed_before = 0.0
        self._last_speed = 0.0
        self._rate_mark: tuple[float, int, int] | None = None

    # -- writing (training thread) ---------------------------------------------

    def set_status(self, status: str, message: str = "") -> None:
        with self._lock:
            self.status = status
            self.message = message
            if status not in ("queued", "starting", "running", "stopping"):
                self._close_session()
            self.version += 1

    def set_queue_position(self, position: int) -> None:
        with self._lock:
            if position != self.queue_position:
                self.queue_position = position
                self.version += 1

    def begin(self, *, total_epochs: int, initial_epoch: int, steps_per_epoch: int,
              batch_size: int, n_train: int, device: str = "") -> None:
        """A training session starts (a fresh run, a continue or a resume)."""
        with self._lock:
            self.status = "running"
            self.message = ""
            self.total_epochs = total_epochs
            self.initial_epoch = initial_epoch
            self.epoch = initial_epoch
            self.step = 0
            self.steps_per_epoch = max(1, steps_per_epoch)
            self.batch_size = batch_size
            self.n_train = n_train
            self.queue_position = 0
            if device:
                self.device = device
            # Rows of epochs that will be trained again (a partial epoch) go.
            self.epochs = [row for row in self.epochs if row["epoch"] <= initial_epoch]
            keep = [i for i, x in enumerate(self.batch_x) if x <= initial_epoch]
            self.batch_x = [self.batch_x[i] for i in keep]
            self.batch_series = {k: [v[i] for i in keep] for k, v in self.batch_series.items()}
            self._previous_means = {}
            self._session_start = time.monotonic()
            self._session_steps = 0
            self._session_samples = 0
            self._rate_mark = None
            self.version += 1

    def batch(self, epoch: int, step: int, logs: dict) -> None:
        """One training step ended (``epoch`` and ``step`` are 0-based)."""
        with self._lock:
            n = step + 1
            self.epoch = epoch
            self.step = n
            self._session_steps += 1
            self._session_samples += self.batch_size
            if self._rate_mark is None:
                # Speed is measured from the end of the first step: that one also pays
                # for building the model and tracing the training function.
                self._rate_mark = (time.monotonic(), self._session_steps,
                                   self._session_samples)
            if step == 0:
                self._previous_means = {}
            weight = self.SMOOTHING * self._ema_weight + (1 - self.SMOOTHING)
            for name, mean in logs.items():
                if not isinstance(mean, (int, float)) or not math.isfinite(mean):
                    continue
                previous = self._previous_means.get(name)
                value = mean if previous is None else n * mean - (n - 1) * previous
                self._previous_means[name] = mean
                ema = self._ema.get(name, 0.0)
                self._ema[name] = self.SMOOTHING * ema + (1 - self.SMOOTHING) * value
            self._ema_weight = weight
            self._counter += 1
            if self._counter % self._stride:
                return
            self.batch_x.append(epoch + n / self.steps_per_epoch)
            for name, ema in self._ema.items():
                series = self.batch_series.setdefault(name, [])
                # A metric that appears late is padded so all series align with batch_x.
                series.extend([ema / weight] * (len(self.batch_x) - len(series)))
            if len(self.batch_x) > self.max_points:
                self.batch_x = self.batch_x[::2]
                self.batch_series = {k: v[::2] for k, v in self.batch_series.items()}
                self._stride *= 2
            self.version += 1

    def epoch_end(self, row: dict) -> None:
        """One epoch ended; ``row`` holds its 1-based "epoch" number and metrics."""
        with self._lock:
            self.epochs = [r for r in self.epochs if r["epoch"] != row["epoch"]]
            self.epochs.append(dict(row))
            self.epochs.sort(key=lambda r: r["epoch"])
            if not row.get("partial"):
                self.epoch = row["epoch"]
                self.step = 0
            self.version += 1

    def set_final(self, final: dict) -> None:
        with self._lock:
            self.final = dict(final)
            self.version += 1

    def _close_session(self) -> None:
        if self._session_start is not None:
            now = time.monotonic()
            session = now - self._session_start
            self._elapsed_before += session
            if self._rate_mark is not None and self._session_steps > self._rate_mark[1]:
                since, _, mark_samples = self._rate_mark
                self._last_speed = (self._session_samples - mark_samples) / max(now - since,
                                                                                1e-9)
            elif session > 0 and self._session_samples:
                self._last_speed = self._session_samples / session
            self._session_start = None

    # -- reading (any thread) -------------------------------------------------------

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            now = time.monotonic()
            session = (now - self._session_start) if self._session_start is not None else 0.0
            per_step, speed = None, self._last_speed
            if self._session_start is not None and self._rate_mark is not None:
                since, mark_steps, mark_samples = self._rate_mark
                if self._session_steps > mark_steps and now > since:
                    per_step = (now - since) / (self._session_steps - mark_steps)
                    speed = (self._session_samples - mark_samples) / (now - since)
                elif session > 0:
                    per_step = session / self._session_steps
                    speed = self._session_samples / session
            completed = sum(1 for r in self.epochs if not r.get("partial"))
            epochs_done = max(completed, self.initial_epoch if self.status == "running" else 0)
            total_steps = max(1, self.total_epochs * self.steps_per_epoch)
            done_steps = min(total_steps, self.epoch * self.steps_per_epoch + self.step)
            if self.status in ("finished", "early_stopped"):
                fraction = 1.0
            else:
                fraction = done_steps / total_steps if self.steps_per_epoch else 0.0
            eta = None
            if self.status == "running" and per_step is not None:
                eta = max(0.0, (total_steps - done_steps) * per_step)
            return ProgressSnapshot(
                status=self.status, message=self.message, epoch=epochs_done,
                total_epochs=self.total_epochs, step=self.step,
                steps_per_epoch=self.steps_per_epoch, fraction=min(1.0, fraction),
                samples_per_second=speed, eta_seconds=eta,
                elapsed_seconds=self._elapsed_before + session,
                batch_x=list(self.batch_x),
                batch_series={k: list(v) for k, v in self.batch_series.items()},
                epochs=[dict(r) for r in self.epochs], final=dict(self.final),
                queue_position=self.queue_position, device=self.device, version=self.version,
            )


# ---------------------------------------------------------------------------
# Checkpoints


def _variables(model) -> tuple[list, list]:
    optimizer = getattr(model, "optimizer", None)
    return list(model.weights), list(optimizer.variables) if optimizer is not None else []


def _relative_path(variable) -> str:
    # Model and optimizer names get numbered when built twice in one process
    # ("model_1/dense/kernel"); the part after the first "/" is stable.
    path = getattr(variable, "path", "") or getattr(variable, "name", "")
    return path.split("/", 1)[-1]


def snapshot_state(model) -> dict[str, np.ndarray]:
    """The model's weights and optimizer state as NumPy arrays (fast; no I/O)."""
    weights, optimizer_vars = _variables(model)
    arrays = {}
    for i, variable in enumerate(weights):
        arrays[f"w{i:05d}"] = np.asarray(variable.numpy())
    for i, variable in enumerate(optimizer_vars):
        arrays[f"o{i:05d}"] = np.asarray(variable.numpy())
    return arrays


def write_checkpoint(folder: Path, arrays: dict[str, np.ndarray], info: dict) -> Path:
    """Write a checkpoint atomically: the arrays, then the JSON that names its epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CHECKPOINT_FILE
    temporary = folder / f".{CHECKPOINT_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(temporary, target)
    info_temporary = folder / f".{CHECKPOINT_INFO}.tmp"
    info_temporary.write_text(json.dumps(info), encoding="utf-8")
    os.replace(info_temporary, folder / CHECKPOINT_INFO)
    return target


def read_checkpoint_info(folder: str | os.PathLike) -> dict | None:
    """The checkpoint's description (``epochs_done`` ...), or None when there is none."""
    path = Path(folder) / CHECKPOINT_INFO
    if not path.is_file() or not (Path(folder) / CHECKPOINT_FILE).is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def restore_checkpoint(model, folder: str | os.PathLike) -> dict:
    """Load weights and optimizer state written by :func:`write_checkpoint`.

    The model must be compiled with the same design and settings; the optimizer is
    built here if it has not been yet.

    Raises:
        TrainingError: the checkpoint is missing, damaged, or of another design.
    """
    folder = Path(folder)
    info = read_checkpoint_info(folder)
    if info is None:
        raise TrainingError(f"There is no checkpoint in {folder}. Start a new run instead.")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    weights, optimizer_vars = _variables(model)
    try:
        with np.load(folder / CHECKPOINT_FILE, allow_pickle=False) as stored:
            arrays = {k: stored[k] for k in stored.files}
    except (OSError, ValueError) as exc:
        raise TrainingError(f"The checkpoint in {folder} cannot be read ({exc}). Start a new "
                            "run instead.") from exc
    paths = info.get("paths", {})
    for prefix, variables in (("w", weights), ("o", optimizer_vars)):
        names = sorted(k for k in arrays if k.startswith(prefix))
        if len(names) != len(variables):
            raise TrainingError(
                "The checkpoint does not match this design and these settings (it holds "
                f"{len(names)} {'weights' if prefix == 'w' else 'optimizer values'}, the model "
                f"has {len(variables)}). Resume with the design the run started with.")
        for name, variable in zip(names, variables):
            array = arrays[name]
            expected = paths.get(name)
            if tuple(array.shape) != tuple(variable.shape) or (
                    expected is not None and prefix == "w"
                    and expected != _relative_path(variable)):
                raise TrainingError(
                    f"The checkpoint's {expected or name} does not fit the model's "
                    f"{_relative_path(variable)} {tuple(variable.shape)}. Resume with the design "
                    "the run started with.")
            variable.assign(array)
    return info


class _CheckpointWriter:
    """Writes checkpoints in a background thread, so training does not wait for disk."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: Future | None = None
        self.last: Path | None = None

    def save(self, model, epochs_done: int) -> None:
        arrays = snapshot_state(model)
        weights, _ = _variables(model)
        info = {"epochs_done": int(epochs_done), "saved_at": time.time(),
                "paths": {f"w{i:05d}": _relative_path(v) for i, v in enumerate(weights)}}
        self._wait()
        self._pending = self._pool.submit(write_checkpoint, self.folder, arrays, info)

    def _wait(self) -> None:
        if self._pending is not None:
            self.last = self._pending.result()
            self._pending = None

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)


# ---------------------------------------------------------------------------
# Results


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


# ---------------------------------------------------------------------------
# Building and compiling


_MIXED_LOCK = threading.Lock()


def check_fit(model, data, config: TrainConfig) -> tuple[list[str], bool]:
    """Whether the model's inputs and outputs fit the data and the loss.

    Returns:
        ``(problems, from_logits)``: sentences naming the fix, and whether the
        output gives raw scores (so cross-entropy must apply softmax/sigmoid itself).
    """
    problems: list[str] = []
    task = data.task
    from_logits = False
    if len(model.outputs) != 1:
        names = ", ".join(f"'{_node_of(t)}'" for t in model.outputs)
        problems.append(f"The design has {len(model.outputs)} outputs ({names}); training needs "
                        "exactly one. Join them (Concatenate) or remove the extra ones.")
        return problems, from_logits
    if len(model.inputs) != 1:
        names = ", ".join(f"'{_node_of(t)}'" for t in model.inputs)
        problems.append(f"The design has {len(model.inputs)} Inputs ({names}); the data gives "
                        "one input per sample. Keep one Input.")
        return problems, from_logits
    spec = data.batches("train", 2).element_spec
    x_spec, y_spec = spec[0], spec[1]
    input_shape = tuple(model.inputs[0].shape[1:])
    data_shape = tuple(x_spec.shape[1:]) if hasattr(x_spec, "shape") else None
    input_name = _node_of(model.inputs[0])
    if data_shape is not None and not _shapes_fit(input_shape, data_shape):
        problems.append(f"The Input '{input_name}' expects samples of shape "
                        f"{format_shape(input_shape)}, but the data's samples are "
                        f"{format_shape(data_shape)}. Set the Input's shape to "
                        f"{format_shape(data_shape)}.")
    output = model.outputs[0]
    out_shape = tuple(output.shape[1:])
    out_name = _node_of(output)
    activation = model_output.output_activation(model)
    loss = config.loss or default_loss(task)
    if task in ("binary", "multiclass", "regression") and len(out_shape) != 1:
        problems.append(f"The output '{out_name}' gives {format_shape(out_shape)} per sample; a "
                        f"{TASK_WORDS[task]} network must end in a vector. Add Flatten (or "
                        "global pooling) and a Dense layer at the end.")
        return problems, from_logits
    units_fit = not (task == "binary" and out_shape[-1] not in (1, 2))
    if not units_fit:
        problems.append(f"For two-class (binary) classification the output '{out_name}' must "
                        f"give 1 value per sample (sigmoid: the chance of the positive class) "
                        f"or 2 (softmax: one probability per class); it gives "
                        f"{out_shape[-1]}. Set its units to 1 with a sigmoid activation.")
    if task == "multiclass" and data.num_classes and out_shape[-1] != data.num_classes:
        problems.append(f"The data has {data.num_classes} classes, but the output '{out_name}' "
                        f"gives {out_shape[-1]} values per sample. Set its units to "
                        f"{data.num_classes} (with a softmax activation).")
    if task == "regression":
        y_shape = tuple(y_spec.shape[1:])
        targets = y_shape[-1] if y_shape else 1
        if targets is not None and out_shape[-1] != targets:
            problems.append(f"The data has {targets} target value(s) per sample, but the output "
                            f"'{out_name}' gives {out_shape[-1]}. Set its units to {targets} "
                            "with a linear activation.")
    if task == "reconstruction" and data_shape is not None and not _shapes_fit(out_shape,
                                                                               data_shape):
        problems.append(f"An autoencoder's output must have the input's shape "
                        f"{format_shape(data_shape)}; the output '{out_name}' gives "
                        f"{format_shape(out_shape)}. Change the decoder's last layers.")
    two_columns = is_two_class_softmax(task, out_shape)
    if two_columns and loss not in CROSS_ENTROPIES:
        problems.append(f"The output '{out_name}' gives 2 values per sample (one per class), "
                        f"but {LOSSES.get(loss, loss)} compares one value per sample with the "
                        "0/1 target. Choose binary cross-entropy, or set the output to 1 unit "
                        "with a sigmoid activation.")
    if two_columns and activation != "softmax":
        problems.append(f"The output '{out_name}' gives 2 values per sample with "
                        f"{activation or 'no'} activation; for two classes they must be "
                        "probabilities that sum to 1. Set its activation to softmax (or use "
                        "1 unit with a sigmoid activation).")
    elif loss in CROSS_ENTROPIES and task in ("binary", "multiclass") and units_fit \
            and not two_columns:
        wanted = "sigmoid" if task == "binary" else "softmax"
        if activation == "linear":
            from_logits = True
        elif task == "binary" and activation == "softmax":
            problems.append(f"The output '{out_name}' uses softmax over one value, which is "
                            "always 1, so nothing can be learned. Use a sigmoid activation "
                            "(or 2 units with softmax).")
        elif activation != wanted:
            problems.append(f"The output '{out_name}' uses {activation}, but cross-entropy "
                            f"needs probabilities ({wanted}) or raw scores (linear). Set its "
                            f"activation to {wanted}.")
    return problems, from_logits


def is_two_class_softmax(task: str, output_shape: tuple) -> bool:
    """Whether a binary classifier's output is two values (softmax) instead of one (sigmoid).

    Both are right for two classes: the 0/1 target then reads as a class index, the
    loss is cross-entropy over the two classes, and the binary scores (AUC,
    precision, recall) read the second value, the positive class's probability.
    """
    return task == "binary" and tuple(output_shape)[-1:] == (2,) and len(output_shape) == 1


def preflight(design: Design, data, config: TrainConfig, device_plan=None) -> list[str]:
    """Every reason a run could not start, as sentences (empty when it can start).

    Cheap enough to call when Train is pressed: the model is built without
    allocating its weights.
    """
    from builder import graph
    from builder.compile import build_model
    from builder.validate import analyze

    task = data.task
    found = config.with_task(task).problems(task, split_size(data, "train") or None,
                                            device_plan)
    report = analyze(design)
    if not report.ok:
        first = "; ".join(p.message for p in report.problems[:3])
        more = len(report.problems) - 3
        found.append(f"The design has {len(report.problems)} problem(s); fix them on the Build "
                     f"page first: {first}" + (f" (and {more} more)." if more > 0 else ""))
        return found
    with graph.no_weight_allocation():
        model = build_model(design)
        fit_problems, _ = check_fit(model, data, config.with_task(task))
    return found + fit_problems


def _node_of(tensor) -> str:
    from builder.keras_internals import layer_name_of

    return layer_name_of(tensor, "?")


def _shapes_fit(expected: tuple, given: tuple) -> bool:
    if len(expected) != len(given):
        return False
    return all(e is None or g is None or e == g for e, g in zip(expected, given))


def _make_loss(loss: str, from_logits: bool, two_columns: bool = False):
    import keras

    if loss == "binary_crossentropy" and two_columns:
        # The same cross-entropy, over the two classes' probabilities.
        return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    if loss == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(from_logits=from_logits)
    if loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    if loss == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    if loss == "huber":
        return keras.losses.Huber()
    if loss == "mean_absolute_error":
        return keras.losses.MeanAbsoluteError()
    return keras.losses.MeanSquaredError()


def _make_metrics(config: TrainConfig, task: str, loss: str, from_logits: bool,
                  target_scale: list[float] | None = None, two_columns: bool = False) -> list:
    import keras

    if two_columns:
        from builder import two_class_metrics as two

        kinds = {"accuracy": lambda: keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                 "auc": lambda: two.PositiveClassAUC(name="auc"),
                 "precision": lambda: two.PositiveClassPrecision(name="precision"),
                 "recall": lambda: two.PositiveClassRecall(name="recall")}
        return [kinds[metric]() for metric in config.metrics if metric in kinds]
    made = []
    threshold = 0.0 if from_logits else 0.5
    for metric in config.metrics:
        if metric == "accuracy":
            if task == "binary":
                made.append(keras.metrics.BinaryAccuracy(name="accuracy", threshold=threshold))
            elif loss == "categorical_crossentropy":
                made.append(keras.metrics.CategoricalAccuracy(name="accuracy"))
            else:
                made.append(keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
        elif metric == "top3_accuracy":
            cls = (keras.metrics.TopKCategoricalAccuracy if loss == "categorical_crossentropy"
                   else keras.metrics.SparseTopKCategoricalAccuracy)
            made.append(cls(k=3, name="top3_accuracy"))
        elif metric == "auc":
            made.append(keras.metrics.AUC(name="auc", from_logits=from_logits))
        elif metric == "precision":
            made.append(keras.metrics.Precision(name="precision", thresholds=threshold))
        elif metric == "recall":
            made.append(keras.metrics.Recall(name="recall", thresholds=threshold))
        elif metric in ("mae", "mse", "rmse") and target_scale is not None:
            from builder.target_metrics import TargetUnitsError

            made.append(TargetUnitsError(target_scale, kind=metric, name=metric))
        elif metric == "mae":
            made.append(keras.metrics.MeanAbsoluteError(name="mae"))
        elif metric == "mse":
            made.append(keras.metrics.MeanSquaredError(name="mse"))
        elif metric == "rmse":
            made.append(keras.metrics.RootMeanSquaredError(name="rmse"))
    return made


def regression_target_scale(data) -> list[float] | None:
    """Each regression target's standard deviation, when training sees standardised targets.

    The error metrics are then reported in the target's own units; None otherwise.
    """
    if getattr(data, "task", None) != "regression" or getattr(data, "postprocessing",
                                                               None) is None:
        return None
    std = (getattr(data, "info", None) or {}).get("target_std")
    if std is None:
        return None
    values = np.asarray(std, dtype=np.float64).reshape(-1)
    return [float(v) for v in values] if values.size and np.all(np.isfinite(values)) else None


def standardised_regression(data) -> bool:
    """Whether a regression run trains on standardised targets.

    Its loss is then in standard deviations of the target, while its error metrics
    (mae, mse, rmse) are in the target's own units. ``data`` is the prepared data or
    the run's data description (:func:`describe_data`).
    """
    if isinstance(data, dict):
        return data.get("task") == "regression" and bool((data.get("info") or {})
                                                         .get("target_std"))
    return regression_target_scale(data) is not None


UNITS_NOTE = ("The loss is on the standardised target (in its standard deviations); mae, "
              "mse and rmse are in the target's own units.")


def score_words(key: str, standardised: bool) -> str:
    """A score's name for people, with its unit where units differ: "test loss (...)"."""
    words = key.replace("_", " ")
    name = key.split("_", 1)[1] if key.startswith(("val_", "test_")) else key
    if standardised and name == "loss":
        return f"{words} (standardised target)"
    if standardised and name in ("mae", "mse", "rmse"):
        return f"{words} (target units)"
    return words


def _make_optimizer(config: TrainConfig, steps_per_epoch: int):
    import keras

    rate: Any = float(config.learning_rate)
    if config.schedule in ("exponential", "step"):
        rate = keras.optimizers.schedules.ExponentialDecay(
            rate, decay_steps=max(1, steps_per_epoch * config.decay_epochs),
            decay_rate=float(config.decay_rate), staircase=config.schedule == "step")
    elif config.schedule == "cosine":
        # alpha keeps a little learning rate at the end, so Continue still moves.
        rate = keras.optimizers.schedules.CosineDecay(
            rate, decay_steps=max(1, steps_per_epoch * config.epochs), alpha=0.01)
    clip = {"clipnorm": float(config.clip_norm)} if config.clip_norm else {}
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=float(config.momentum), **clip)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=float(config.weight_decay), **clip)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(rate, **clip)
    return keras.optimizers.Adam(rate, **clip)


def build_training_model(design: Design, data, config: TrainConfig, steps_per_epoch: int):
    """Build and compile the design's model for this data and these settings.

    Call it inside the strategy's scope when training on several devices.

    Raises:
        DesignError: the design has problems (see its ``report``).
        TrainingError: the design does not fit the data or the loss.
    """
    import keras

    from builder.compile import build_model

    if config.seed is not None:
        keras.utils.set_random_seed(int(config.seed))
    loss = config.loss or default_loss(data.task)
    # The dtype policy is per thread in Keras 3; set it only around building.
    previous = keras.config.dtype_policy()
    if config.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_model(design)
        problems, from_logits = check_fit(model, data, config)
        if problems:
            raise TrainingError(" ".join(problems))
        if config.mixed_precision:
            # Keep the output (and so the loss) in float32 for numerical stability.
            output = keras.layers.Activation("linear", dtype="float32",
                                             name=f"{_node_of(model.outputs[0])}_float32")(
                model.outputs[0])
            model = keras.Model(model.inputs, output, name=model.name)
    finally:
        keras.config.set_dtype_policy(previous)
    two_columns = is_two_class_softmax(data.task, tuple(model.outputs[0].shape[1:]))
    model.compile(
        optimizer=_make_optimizer(config, steps_per_epoch),
        loss=_make_loss(loss, from_logits, two_columns),
        metrics=_make_metrics(config, data.task, loss, from_logits,
                              regression_target_scale(data), two_columns),
        jit_compile=bool(config.xla),
    )
    return model


def fixed_batch(data, config: TrainConfig, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The first ``size`` training samples, with targets in the form the loss takes.

    The learning-cycle recorder measures gradients on this same batch every epoch.
    """
    import inspect

    config = config.with_task(data.task)
    # Image data augments training batches by default; the fixed batch stays clean.
    options = {"augment": False} if "augment" in inspect.signature(data.batches).parameters else {}
    batch = next(iter(data.batches("train", size, shuffle=False, **options)))
    adapter = _label_adapter(data, config.loss)
    if adapter is not None:
        batch = adapter(*batch)
    return np.asarray(batch[0]), np.asarray(batch[1])


def learning_cycle_recorder(data, config: TrainConfig, path: str | os.PathLike):
    """The Explore page's recorder of gradient norms and weight histograms per epoch.

    It rewrites ``path`` (JSON) after every epoch and never stops training.
    """
    from builder.learning_cycle import LearningCycleRecorder

    x, y = fixed_batch(data, config)
    return LearningCycleRecorder(x, y, path)


def _label_adapter(data, loss: str):
    """A map over (x, y) batches that puts labels in the form the loss needs, or None."""
    import tensorflow as tf

    if data.task != "multiclass":
        return None
    y_spec = data.batches("train", 2).element_spec[1]
    sparse = len(y_spec.shape) == 1 or (len(y_spec.shape) == 2 and y_spec.shape[-1] == 1)
    classes = int(data.num_classes or 0)
    if loss == "categorical_crossentropy" and sparse:
        def one_hot(x, y):
            return x, tf.one_hot(tf.reshape(tf.cast(y, tf.int32), [-1]), classes)
        return one_hot
    if loss == "sparse_categorical_crossentropy" and not sparse:
        def to_index(x, y):
            return x, tf.argmax(y, axis=-1, output_type=tf.int32)
        return to_index
    return None


# ---------------------------------------------------------------------------
# The live callback


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


# ---------------------------------------------------------------------------
# The training function


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
    n_train = split_size(data, "train")
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
    n_val = split_size(data, "validation")
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
    if with_test and split_size(data, "test"):
        test_ds = data.batches("test", min(max(batch_size, 32), 4096))
        if adapter is not None:
            test_ds = test_ds.map(adapter)
        scores = model.evaluate(test_ds, return_dict=True, verbose=0)
        final.update({f"test_{k}": float(v) for k, v in scores.items()})
    # Regression trains on standardised targets, so Keras's error metrics are in standard
    # deviations; the final errors are given in the target's own units instead, as the
    # Explore page shows them. The losses stay what the optimiser minimised.
    to_units = getattr(data, "to_target_units", None)
    if (data.task == "regression" and callable(to_units)
            and getattr(data, "postprocessing", None) is not None and hasattr(data, "arrays")):
        for prefix, split in (("", "train"), ("val_", "validation"), ("test_", "test")):
            names = [m for m in ("mae", "mse", "rmse") if f"{prefix}{m}" in final]
            if not names or not split_size(data, split):
                continue
            x, y = data.arrays(split)
            predicted = model.predict(x, batch_size=min(max(batch_size, 32), 4096), verbose=0)
            errors = (np.asarray(to_units(predicted), np.float64).reshape(len(x), -1)
                      - np.asarray(to_units(y), np.float64).reshape(len(x), -1))
            mse = float(np.mean(errors ** 2))
            values = {"mae": float(np.mean(np.abs(errors))), "mse": mse, "rmse": math.sqrt(mse)}
            final.update({f"{prefix}{name}": values[name] for name in names})
    return final
