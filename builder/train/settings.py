"""The settings a person chooses for a run, checked with a sentence for each mistake,
and the words the pages use for losses, optimizers, schedules and metrics.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from builder.vocabulary import TASKS

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


class TrainingError(RuntimeError):
    """Training could not start or went wrong; the message says why and what to do."""


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
