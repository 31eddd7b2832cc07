"""The model as training compiles it: loss, metrics, optimizer and schedule from the
settings, and the units the scores are in.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from builder.design import Design
from builder.train.fit_check import _node_of, check_fit, is_two_class_softmax
from builder.train.settings import TrainConfig, TrainingError, default_loss


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
    if data.task != "regression" or data.postprocessing is None:
        return None
    std = data.info.get("target_std")
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
    config = config.with_task(data.task)
    # Image data augments training batches by default; the fixed batch stays clean.
    batch = next(iter(data.batches("train", size, shuffle=False, augment=False)))
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
