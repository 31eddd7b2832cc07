"""Training data from NumPy arrays, for scripts, tests and benchmarks; a worker process
gets it as one ``.npz`` file (:mod:`builder.data.handoff`)."""

from __future__ import annotations

import numpy as np

from builder.vocabulary import TASKS


class InMemoryData:
    """Training data from NumPy arrays: tests, benchmarks, and scripts use it.

    Args:
        train: ``(x, y)`` arrays; ``y`` may be None for reconstruction (y = x).
        validation / test: the same, or None when there is no such split.
        task: one of :data:`TASKS`.
        num_classes: for classification.
        class_names: names of the classes, in label order.
        name: shown in the run history.
    """

    def __init__(self, train, validation=None, test=None, *, task: str,
                 num_classes: int | None = None, class_names=(), name: str = "arrays"):
        if task not in TASKS:
            raise ValueError(f"The task must be one of {', '.join(TASKS)}; got {task!r:.40}.")
        self.task = task
        self.num_classes = num_classes
        self.class_names = tuple(class_names)
        self.name = name
        self.postprocessing = None  # targets are trained on in their own units
        self.info: dict = {}
        self._splits = {}
        for split, pair in (("train", train), ("validation", validation), ("test", test)):
            if pair is None:
                continue
            x, y = pair
            x = np.asarray(x)
            y = x if y is None else np.asarray(y)
            if len(x) != len(y):
                raise ValueError(f"The {split} split has {len(x)} samples but {len(y)} "
                                 "targets; give one target per sample.")
            self._splits[split] = (x, y)

    def size(self, split: str) -> int:
        pair = self._splits.get(split)
        return 0 if pair is None else len(pair[0])

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this data has, in the order train, validation, test."""
        return tuple(self._splits)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The ``(x, y)`` arrays of a split.

        Raises:
            KeyError: there is no such split.
        """
        return self._splits[split]

    def to_target_units(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values)

    def batches(self, split: str, batch_size: int, shuffle: bool | None = None,
                seed: int | None = None, augment: bool | None = None):
        """The split as a batched dataset; ``shuffle`` defaults to off, there is no
        augmentation to apply."""
        import tensorflow as tf

        x, y = self._splits[split]
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def describe(self) -> dict:
        return {"name": self.name, "task": self.task, "num_classes": self.num_classes,
                "sizes": {s: len(p[0]) for s, p in self._splits.items()},
                "feature_shape": list(self._splits["train"][0].shape[1:])}
