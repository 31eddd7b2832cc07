"""What training reads from prepared data (the TrainingData protocol) and the description
kept with a run.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np


class TrainingData(Protocol):
    """Everything training reads from prepared data.

    :class:`builder.data.PreparedData` (CSV, images, text, series),
    :class:`builder.data.arrays.InMemoryData` (NumPy arrays) and
    :class:`builder.gan_training.GanImages` (a GAN's pool of images) provide it; a test
    checks each against this list, so a member training starts to read is declared here.

    Attributes:
        task: one of :data:`builder.vocabulary.TASKS`.
        num_classes: the number of classes for classification, else None.
        postprocessing: a Keras model mapping outputs back to target units (regression on
            standardised targets), or None when outputs are in the target's units already.
        info: facts about the data; training reads ``info["target_std"]`` (a regression
            target's standard deviations) when ``postprocessing`` is set.
    """

    task: str
    num_classes: int | None
    postprocessing: Any
    info: dict

    def size(self, split: str) -> int:
        """How many samples ``split`` ("train", "validation", "test") holds; 0 if none."""

    def batches(self, split: str, batch_size: int, shuffle: bool | None = None,
                seed: int | None = None, augment: bool | None = None):
        """Batched ``(features, target)`` pairs of a split as a ``tf.data.Dataset``.

        ``augment`` applies the data's random augmentation (by default to "train" only);
        data without augmentation accepts it and does nothing.
        """

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """A split's model inputs and targets as NumPy arrays."""

    def to_target_units(self, values: np.ndarray) -> np.ndarray:
        """Model outputs (or targets as trained on) in the target's own units."""

    def describe(self) -> dict:
        """A JSON-ready description for the run record."""


def describe_data(data: TrainingData) -> dict:
    """The data's description as a JSON-ready mapping, for the run record."""
    described = data.describe()
    out = json.loads(json.dumps(described, default=str))
    out.setdefault("task", data.task)
    out.setdefault("sizes", {s: data.size(s) for s in ("train", "validation", "test")})
    return out
