"""Targets ready for training, one way for every kind of data: class indices as they
are, regression targets standardised on the training rows, with a postprocessing model
that gives predictions back in target units."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from builder.data import EPSILON


@dataclass
class EncodedTarget:
    """A target column (or several, for regression) read from a table: what training
    predicts, before it is put in split order."""

    task: str
    y: np.ndarray  # class indices (int32) or raw values (float64, n x k)
    keep: np.ndarray | None  # rows with a target value, or None for all
    class_names: list[str]
    target_names: list[str]
    notes: list[str]


def target_postprocessing(mean: np.ndarray, std: np.ndarray):
    """A Keras model mapping standardised predictions back to target units."""
    size = len(mean)
    inputs = keras.Input(shape=(size,), name="standardised")
    layer = keras.layers.Normalization(mean=np.asarray(mean, np.float32).tolist(),
                                       variance=(np.asarray(std, np.float32) ** 2).tolist(),
                                       invert=True, name="to_target_units")
    return keras.Model(inputs, layer(inputs), name="postprocessing")


def standardise_targets(y: np.ndarray, n_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(standardised y, mean, std) with statistics from the first ``n_train`` rows."""
    head = y[:n_train].astype(np.float64)
    mean = head.mean(axis=0)
    var = head.var(axis=0)
    var = np.where(var > 0, var, 1.0)
    mean32 = mean.astype(np.float32)
    std32 = np.maximum(np.sqrt(var.astype(np.float32)), np.float32(EPSILON))
    return ((y.astype(np.float32) - mean32) / std32).astype(np.float32), mean32, std32


def finish_targets(encoded: EncodedTarget, order: np.ndarray, n_train: int):
    """Targets in ``order`` for training, and the postprocessing for regression.

    Returns:
        ``(y, postprocessing, info)``.
    """
    info: dict = {}
    if encoded.task == "regression":
        y, mean, std = standardise_targets(encoded.y[order], n_train)
        info = {"target_mean": mean.tolist(), "target_std": std.tolist()}
        return y, target_postprocessing(mean, std), info
    if encoded.task == "binary":
        return encoded.y[order].astype(np.float32).reshape(-1, 1), None, info
    return encoded.y[order].astype(np.int32), None, info
