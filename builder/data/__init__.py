"""Datasets for training: loaders for CSV, image folders, text and time series.

Every loader ends in a :class:`PreparedData`: train, validation and test splits of
``(model_input, target)`` pairs, plus ``preprocessing``, a Keras model that maps
*raw* inputs (a dict of raw column values for CSV, uint8 pixels for images, raw
strings for text, raw windows for time series) to the tensor the design's Input
node receives. Training fits the design on the prepared inputs; export joins
``preprocessing``, the trained design and ``postprocessing`` into one model that
takes raw inputs (:func:`join_model`).

Model inputs are computed once, with NumPy or with the very Keras layers in
``preprocessing`` (tests check that both agree). What is stored may be compact
(uint8 pixels; a table's category indices), and ``x_map`` turns it into model
inputs batch by batch (scaling, one-hot encoding): a few cheap tensor operations per
batch, never the preprocessing model. TensorFlow is imported lazily, so that the
archive and CSV helpers stay cheap to import (tests/test_import_graph.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from builder.data.errors import DataError
from builder.json_ready import json_ready
from builder.vocabulary import TASKS

KINDS = ("tabular", "images", "text", "timeseries")
SPLITS = ("train", "validation", "test")
EPSILON = 1e-7  # keras.backend.epsilon(): Normalization divides by max(std, epsilon)

__all__ = [
    "DataError", "KINDS", "OutputSpec", "PreparedData", "SPLITS", "SplitArrays", "TASKS",
    "join_model", "predict_raw",
]


@dataclass
class SplitArrays:
    """One split, held as arrays.

    Attributes:
        x: the stored inputs, in the order of ``y``: the model inputs themselves, or
            a compact form that ``PreparedData.x_map`` turns into them batch by
            batch (uint8 pixels; a table's dense columns and category indices,
            one-hot encoded on the fly). Arrays, tensors, or a tuple of them.
        y: the targets: (n, 1) float32 0/1 for binary, (n,) int32 class indices for
            multiclass, (n, k) float32 standardised values for regression; for
            reconstruction the stored inputs again (the target is the model input).
        raw: ``raw(limit)`` gives the raw inputs of the first ``limit`` rows (all
            when None), in the form the end-to-end model takes.
        labels: reconstruction only: the class ids the samples had, kept beside the
            data for the Explore page (training never sees them), or None.
    """

    x: Any
    y: Any
    raw: Callable[[int | None], Any]
    labels: Any = None

    def __len__(self) -> int:
        return int(len(self.y))


def _head(value: Any, limit: int | None) -> Any:
    if isinstance(value, tuple):
        return tuple(part[:limit] for part in value)
    return value[:limit]


@dataclass(frozen=True)
class OutputSpec:
    """What the design's output must be for this data, and how training scores it."""

    units: int
    activation: str
    loss: str
    metrics: tuple[str, ...]
    shape: tuple[int, ...]  # the output shape without the batch

    def to_dict(self) -> dict:
        return {"units": self.units, "activation": self.activation, "loss": self.loss,
                "metrics": list(self.metrics), "shape": list(self.shape)}


@dataclass(eq=False)
class PreparedData:
    """A training-ready dataset whose preprocessing travels inside the model.

    Attributes:
        kind: ``"tabular"``, ``"images"``, ``"text"`` or ``"timeseries"``.
        task: ``"binary"``, ``"multiclass"``, ``"regression"`` or ``"reconstruction"``.
        splits: ``{"train", "validation", "test"}`` -> :class:`SplitArrays`.
        preprocessing_factory: builds ``preprocessing``, the Keras model mapping raw
            inputs to the design's input tensor, on first use (training does not
            need it; checking, explaining and exporting do).
        input_shape: shape of one model input, without the batch.
        input_dtype: ``"float32"`` or ``"int32"`` (token ids).
        raw_spec: name -> (shape without batch, dtype) of each raw input.
        raw_is_dict: whether the raw inputs are a dict (CSV columns) or one tensor.
        num_classes: classes for classification (2 for binary), else None.
        class_names: class labels, index order.
        target_names: the target column(s), one name per target value.
        feature_names: the raw columns (or channels) that go in.
        postprocessing: Keras model mapping model outputs back to target units
            (regression targets are standardised for training), or None.
        augmentation: Keras random layers applied to training batches, or None.
        x_map: a TensorFlow function mapping a batch of stored inputs to model
            inputs, or None when they are stored as model inputs.
        cache: whether tf.data caches the mapped inputs (images: scaled once).
        source: where the data came from (file or sample name).
        settings: the choices that made this dataset (for the run record).
        notes: sentences about what was done (rows dropped, encoding guessed...).
        info: kind-specific facts (vocabulary_size, sequence_length, window...).
        frame_encoder: CSV data only: DataFrame rows -> raw inputs.
        origin: ``(kind, source, options)``: the prepare call that made this data, so
            that a training process can make it again (:mod:`builder.data.handoff`).
    """

    kind: str
    task: str
    splits: dict[str, SplitArrays]
    preprocessing_factory: Callable[[], Any]
    input_shape: tuple[int, ...]
    input_dtype: str
    raw_spec: dict[str, tuple[tuple, str]]
    raw_is_dict: bool = False
    num_classes: int | None = None
    class_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    postprocessing: Any = None
    augmentation: Any = None
    x_map: Callable[[Any], Any] | None = field(default=None, repr=False)
    cache: bool = False
    source: str = ""
    settings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    frame_encoder: Callable[[Any], Any] | None = field(default=None, repr=False)
    origin: tuple | None = field(default=None, repr=False)
    _datasets: dict = field(default_factory=dict, repr=False)
    _preprocessing: Any = field(default=None, repr=False)

    @property
    def preprocessing(self):
        """Keras model: raw inputs -> the tensor the design's Input node receives."""
        if self._preprocessing is None:
            self._preprocessing = self.preprocessing_factory()
        return self._preprocessing

    # -- sizes and arrays -----------------------------------------------------

    def size(self, split: str) -> int:
        """Rows (or images, or windows) in a split; 0 when there is no such split."""
        return len(self.splits[split]) if split in self.splits else 0

    @property
    def sizes(self) -> dict[str, int]:
        """Rows (or images, or windows) per split that this data has."""
        return {name: self.size(name) for name in self.splits}

    def arrays(self, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The model inputs and targets of a split as NumPy arrays.

        Args:
            split: ``"train"``, ``"validation"`` or ``"test"``.
            limit: only the first ``limit`` rows.
        """
        part = self._split(split)
        x = _head(part.x, limit)
        if self.x_map is not None:
            x = self.x_map(x)
        x = np.asarray(x)
        y = x if self.task == "reconstruction" else np.asarray(_head(part.y, limit))
        return x, y

    def raw(self, split: str, limit: int | None = None) -> Any:
        """The raw inputs of a split, as the end-to-end model takes them."""
        return self._split(split).raw(limit)

    def _split(self, split: str) -> SplitArrays:
        if split not in self.splits:
            raise KeyError(f"No split {split!r}; the splits are {', '.join(self.splits)}.")
        return self.splits[split]

    # -- tf.data ----------------------------------------------------------------

    def _mapped(self, batches, parallel: bool):
        """``batches`` of stored ``(x, y)`` mapped to ``(model input, target)``.

        A stored table's tensors travel along the pipeline as a second input instead
        of being captured by the map function (see :meth:`StoredTable.expander`):
        TensorFlow holds a function's captures in reference cycles, which would keep
        the table in memory after its dataset is dropped, until a garbage collection.
        """
        import tensorflow as tf

        calls = tf.data.AUTOTUNE if parallel else None
        reconstruct = self.task == "reconstruction"
        tensors = self.x_map.tensors() if hasattr(self.x_map, "expander") else None
        if tensors:
            expand = self.x_map.expander()
            carried = tf.data.Dataset.from_tensors(tensors).repeat()

            @tf.autograph.experimental.do_not_convert  # plain TF ops: skip the slow conversion
            def pairs_from_table(stored, table):
                x = expand(stored[0], table)
                return (x, x) if reconstruct else (x, stored[1])

            return tf.data.Dataset.zip((batches, carried)).map(pairs_from_table,
                                                                 num_parallel_calls=calls)
        x_map = self.x_map

        @tf.autograph.experimental.do_not_convert
        def pairs(x, y):
            if x_map is not None:
                x = x_map(x)
            return (x, x) if reconstruct else (x, y)

        return batches.map(pairs, num_parallel_calls=calls)

    def _stored(self, split: str):
        key = ("stored", split)
        if key not in self._datasets:
            import tensorflow as tf

            part = self._split(split)
            self._datasets[key] = tf.data.Dataset.from_tensor_slices((part.x, part.y))
        return self._datasets[key]

    def dataset(self, split: str):
        """The unbatched ``tf.data.Dataset`` of ``(model_input, target)`` for a split."""
        if split not in self._datasets:
            import tensorflow as tf

            ds = self._stored(split)
            if self.x_map is not None or self.task == "reconstruction":
                # Read element by element (previews, checks), a batch is mapped in well
                # under a millisecond: a parallel map's threads cost more to start than
                # they give. Cached data feeds training from here, so it maps in parallel.
                ds = self._mapped(ds.batch(1024), parallel=self.cache)
                # unbatch() forgets the length; Keras needs it for steps per epoch.
                ds = ds.unbatch().apply(
                    tf.data.experimental.assert_cardinality(len(self._split(split))))
            if self.cache:
                ds = ds.cache()
            self._datasets[split] = ds
        return self._datasets[split]

    @property
    def train(self):
        return self.dataset("train")

    @property
    def validation(self):
        return self.dataset("validation")

    @property
    def test(self):
        return self.dataset("test")

    def batches(self, split: str, batch_size: int = 32, shuffle: bool | None = None,
                seed: int | None = 0, augment: bool | None = None):
        """Batched, prefetched ``tf.data`` of a split, ready for ``model.fit``.

        Args:
            split: ``"train"``, ``"validation"`` or ``"test"``.
            batch_size: samples per batch.
            shuffle: reshuffle every epoch; defaults to True for ``"train"`` only.
            seed: the shuffle seed.
            augment: apply ``augmentation`` (images); defaults to True for
                ``"train"`` when augmentation was chosen. Never applied to targets
                of reconstruction, which stay the clean image.
        """
        import tensorflow as tf

        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive whole number; got {batch_size!r}.")
        # Cached data is shuffled after the mapping; other data is shuffled in its
        # compact stored form and mapped a whole batch at a time.
        mapped_later = not self.cache and (self.x_map is not None or
                                           self.task == "reconstruction")
        ds = self._stored(split) if mapped_later else self.dataset(split)
        n = len(self._split(split))
        if shuffle is None:
            shuffle = split == "train"
        if shuffle and n > 1:
            ds = ds.shuffle(min(n, 100_000), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(int(batch_size))
        if mapped_later:
            ds = self._mapped(ds, parallel=True)
        if augment is None:
            augment = split == "train"
        if augment and self.augmentation is not None:
            layers = self.augmentation
            ds = ds.map(lambda x, y: (layers(x, training=True), y),
                        num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    # -- the model around the design ---------------------------------------------

    def expected_output(self) -> OutputSpec:
        """The output layer this data needs, and the loss and metrics to train with."""
        if self.task == "binary":
            return OutputSpec(1, "sigmoid", "binary_crossentropy", ("accuracy",), (1,))
        if self.task == "multiclass":
            units = int(self.num_classes or 0)
            return OutputSpec(units, "softmax", "sparse_categorical_crossentropy",
                              ("accuracy",), (units,))
        if self.task == "regression":
            units = int(self.splits["train"].y.shape[-1])
            return OutputSpec(units, "linear", "mse", ("mae",), (units,))
        activation = "sigmoid" if self.kind == "images" else "linear"
        shape = tuple(self.input_shape)
        return OutputSpec(shape[-1], activation, "mse", ("mae",), shape)

    def to_target_units(self, values: np.ndarray) -> np.ndarray:
        """Map model outputs back to the target's own units (regression); else unchanged."""
        if self.postprocessing is None:
            return np.asarray(values)
        mean = np.asarray(self.info["target_mean"], dtype=np.float32)
        std = np.asarray(self.info["target_std"], dtype=np.float32)
        return np.asarray(values, dtype=np.float32) * std + mean

    def end_to_end(self, model) -> Any:
        """``join_model(self, model)``: one model from raw inputs to target units."""
        return join_model(self, model)

    def raw_inputs_from_frame(self, frame) -> Any:
        """Raw inputs for new rows of a DataFrame with the source's columns (CSV data).

        Raises:
            DataError: a needed column is missing, or this data did not come from a table.
        """
        if self.frame_encoder is None:
            raise DataError(f"This {self.kind} dataset does not take table rows.",
                            "Give the inputs in the form of the training data.",
                            code="not_tabular")
        return self.frame_encoder(frame)

    def describe(self) -> dict:
        """A JSON-able summary for the run record."""
        return {
            "kind": self.kind,
            "task": self.task,
            "source": self.source,
            "sizes": self.sizes,
            "input_shape": list(self.input_shape),
            "input_dtype": self.input_dtype,
            "raw_inputs": {name: {"shape": list(shape), "dtype": dtype}
                           for name, (shape, dtype) in self.raw_spec.items()},
            "num_classes": self.num_classes,
            "class_names": [str(c) for c in self.class_names[:1000]],
            "target_names": list(self.target_names),
            "feature_names": list(self.feature_names),
            "expected_output": self.expected_output().to_dict(),
            "settings": json_ready(self.settings, text_fallback=True),
            "notes": list(self.notes),
            "info": json_ready(self.info, text_fallback=True),
        }


def join_model(prepared: PreparedData, model, name: str = "end_to_end"):
    """One Keras model: raw inputs -> preprocessing -> design model -> target units.

    This is what export saves: fed raw rows (or pixels, or strings), it predicts
    what the in-app pipeline predicts.

    Args:
        prepared: the data the model was trained on.
        model: the trained design model (takes ``prepared.input_shape``).
        name: the joined model's name.
    """
    import keras

    inputs = {
        key: keras.Input(shape=tuple(shape), dtype=dtype, name=key)
        for key, (shape, dtype) in prepared.raw_spec.items()
    }
    raw = inputs if prepared.raw_is_dict else next(iter(inputs.values()))
    # training=False is recorded in the joined graph: called without a training
    # argument (a SavedModel endpoint, a reloaded .keras), it predicts; augmentation
    # layers would otherwise default to augmenting.
    outputs = model(prepared.preprocessing(raw, training=False), training=False)
    if prepared.postprocessing is not None:
        outputs = prepared.postprocessing(outputs, training=False)
    return keras.Model(raw, outputs, name=name)


def predict_raw(model, raw, batch_size: int = 256) -> np.ndarray:
    """Predictions of an end-to-end model for raw inputs (as ``PreparedData.raw`` gives).

    Keras's ``predict`` refuses NumPy string arrays inside a dict, so the raw inputs
    go through ``tf.data`` instead.
    """
    import tensorflow as tf

    if isinstance(raw, dict):
        raw = {key: np.asarray(value) for key, value in raw.items()}
    dataset = tf.data.Dataset.from_tensor_slices(raw).batch(int(batch_size))
    return model.predict(dataset, verbose=0)
