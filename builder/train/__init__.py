"""Training: the settings a person chooses, and the function that trains a design.

``train(design, data, config)`` builds the design's Keras model, fits it on the
prepared data and returns a :class:`TrainResult`. It knows no Streamlit: the app
runs it in a worker process (``builder.worker``) and the CLI calls it directly.

While it runs it reports into a :class:`LiveProgress` (per-batch smoothed loss
and metrics, per-epoch rows, samples per second, time left), stops within one
batch when its stop event is set, stops with an explanation when the loss stops
being a finite number, and writes a checkpoint after every epoch so that a run
cut short by a crash can be resumed.

One module a job, in the order a run needs them:

- :mod:`~builder.train.settings`: :class:`TrainConfig` and the words for losses,
  optimizers, schedules and metrics;
- :mod:`~builder.train.training_data`: what training reads from prepared data;
- :mod:`~builder.train.fit_check`: whether the model fits the data and the loss;
- :mod:`~builder.train.compiling`: loss, metrics, optimizer and units;
- :mod:`~builder.train.progress`: the live progress pages read;
- :mod:`~builder.train.checkpoints`: the weights after every epoch, and the best;
- :mod:`~builder.train.loop`: the training function.

This package's own names are the ones the rest of the app uses.
"""

from __future__ import annotations

from builder.train.checkpoints import (
    CHECKPOINT_FILE,
    read_checkpoint_info,
    restore_checkpoint,
    snapshot_state,
)
from builder.train.compiling import (
    UNITS_NOTE,
    build_training_model,
    learning_cycle_recorder,
    score_words,
    standardised_regression,
)
from builder.train.fit_check import check_fit, is_two_class_softmax, preflight
from builder.train.loop import TrainResult, stop_message, train
from builder.train.progress import LiveProgress, ProgressSnapshot
from builder.train.settings import (
    DEFAULT_METRICS,
    GD_VARIANTS,
    LOSSES,
    LOSSES_FOR_TASK,
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    METRICS,
    METRICS_FOR_TASK,
    OPTIMIZERS,
    SCHEDULES,
    TASK_WORDS,
    TASKS,
    TrainConfig,
    TrainingError,
    checked_settings,
    default_loss,
)
from builder.train.training_data import TrainingData, describe_data

__all__ = [
    "CHECKPOINT_FILE", "DEFAULT_METRICS", "GD_VARIANTS", "LOSSES", "LOSSES_FOR_TASK",
    "MAX_BATCH_SIZE", "MAX_EPOCHS", "METRICS", "METRICS_FOR_TASK", "OPTIMIZERS", "SCHEDULES",
    "TASKS", "TASK_WORDS", "UNITS_NOTE", "LiveProgress", "ProgressSnapshot", "TrainConfig",
    "TrainResult", "TrainingData", "TrainingError", "build_training_model", "check_fit",
    "checked_settings", "default_loss", "describe_data", "is_two_class_softmax",
    "learning_cycle_recorder", "preflight", "read_checkpoint_info", "restore_checkpoint",
    "score_words", "snapshot_state", "standardised_regression",
    "stop_message", "train",
]
