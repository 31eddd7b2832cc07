"""The learning cycle, recorded: per-layer gradient norms and weight histograms per epoch.

Two Keras callbacks, and one that runs both and keeps a JSON file up to date:

- :class:`GradientNormRecorder` takes the loss's gradients on a fixed small batch
  at the end of every epoch (and once before the first) and keeps the L2 norm
  per layer and per weight, so vanishing or exploding gradients show as lines
  that fall to zero or climb;
- :class:`WeightHistogramRecorder` keeps a histogram (and mean, spread, range) of
  every trainable weight of every layer, per epoch;
- :class:`LearningCycleRecorder` does both and, given a path, rewrites a JSON file
  after every epoch (atomically), which the Explore page reads.

Records are plain JSON-able dicts. Epochs count as people count: epoch 0 is the
state before training, epoch 1 after the first pass over the data. A recorder
never stops training: if it cannot record (a loss it cannot call, say) it keeps
the reason in ``error`` and goes quiet.

Training records it, so it lives beside training, not in builder/explain/, which only
reads what a run left (the Explore page's learning-cycle tab).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

FORMAT = "neural-canvas-learning-cycle"
VERSION = 1
DEFAULT_BINS = 30
MAX_BATCH = 256


class LearningCycleError(ValueError):
    """A recorder setting or record file that cannot be used."""


def _weight_groups(model) -> list[tuple[str, list[tuple[str, Any]]]]:
    """(layer name, [(weight name, variable), ...]) for layers with trainable weights."""
    groups = []
    seen: set[int] = set()
    for layer in _leaf_layers(model):
        weights = []
        for variable in layer.trainable_weights:
            if id(variable) in seen:
                continue
            seen.add(id(variable))
            path = getattr(variable, "path", variable.name)
            prefix = layer.name + "/"
            short = path[len(prefix):] if path.startswith(prefix) else variable.name
            weights.append((short, variable))
        if weights:
            groups.append((layer.name, weights))
    return groups


def _leaf_layers(model) -> list:
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            layers.extend(_leaf_layers(layer))
        else:
            layers.append(layer)
    return layers


def _every(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LearningCycleError(f"'every' must be a whole number of epochs from 1; got {value!r}.")
    return value


class _Recorder(keras.callbacks.Callback):
    """Shared bookkeeping: which epochs to record, and failing quietly."""

    def __init__(self, every: int = 1):
        super().__init__()
        self.every = _every(every)
        self.error = ""
        self._epochs: dict[int, dict] = {}

    def on_epoch_begin(self, epoch, logs=None):
        # The state before this session's first epoch (epoch 0 for a fresh model).
        if epoch not in self._epochs and not self._epochs.keys() - {epoch}:
            self._safely(epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._completed = epoch + 1
        if (epoch + 1) % self.every == 0:
            self._safely(epoch + 1)

    def on_train_end(self, logs=None):
        # Always keep the final state, whatever ``every`` skipped.
        completed = getattr(self, "_completed", None)
        if completed is not None and completed not in self._epochs:
            self._safely(completed)

    def _safely(self, epoch: int) -> None:
        self._last_epoch = epoch
        if self.error:
            return
        try:
            self._epochs[epoch] = self._measure()
        except Exception as exc:  # a recorder must never break training
            self.error = (f"{type(self).__name__} stopped recording at epoch {epoch}: "
                          f"{' '.join(str(exc).split())[:300]}")

    def _measure(self) -> dict:  # pragma: no cover - each recorder defines its own
        raise NotImplementedError(f"{type(self).__name__} must define _measure().")

    @property
    def epochs(self) -> list[int]:
        return sorted(self._epochs)

    def restore(self, record: dict, through: int) -> None:
        """Take back an earlier session's epochs up to ``through`` from its :meth:`record`
        (a Continue or Resume trains on in a new process)."""
        for index, epoch in enumerate(record.get("epochs") or []):
            if not isinstance(epoch, int) or epoch > through:
                continue
            values = {}
            for layer in record.get("layers") or []:
                weights = {name: series[index] for name, series in layer["weights"].items()
                           if index < len(series) and series[index] is not None}
                if weights:
                    values[layer["name"]] = weights
            self._epochs[epoch] = values

    def _series(self) -> list[tuple[str, dict[str, list]]]:
        """Per layer (first-seen order): each weight's value at every recorded epoch."""
        epochs = self.epochs
        order: list[str] = []
        for epoch in epochs:
            order.extend(n for n in self._epochs[epoch] if n not in order)
        series = []
        for name in order:
            weight_names: list[str] = []
            for epoch in epochs:
                weight_names.extend(w for w in self._epochs[epoch].get(name, {})
                                    if w not in weight_names)
            series.append((name, {w: [self._epochs[e].get(name, {}).get(w) for e in epochs]
                                  for w in weight_names}))
        return series


class GradientNormRecorder(_Recorder):
    """Per-layer gradient norms of the loss on a fixed batch, per epoch.

    Args:
        x, y: the fixed batch (at most 256 samples), in the form the compiled loss
            takes (so, after any label conversion training applies).
        every: record every this many epochs (the last epoch is always kept).
        loss: a Keras loss (name or object); the model's compiled loss by default.

    The forward pass runs in inference mode (Dropout off, batch norm on its moving
    statistics), so that epochs are compared on equal terms.
    """

    def __init__(self, x, y, every: int = 1, loss=None):
        super().__init__(every)
        x_array, y_array = np.asarray(x), np.asarray(y)
        if len(x_array) == 0 or len(x_array) != len(y_array):
            raise LearningCycleError(
                f"The fixed batch needs as many targets as inputs, and at least one; got "
                f"{len(x_array)} inputs and {len(y_array)} targets."
            )
        if len(x_array) > MAX_BATCH:
            raise LearningCycleError(
                f"The fixed batch may hold at most {MAX_BATCH} samples; got {len(x_array)}. "
                "Pass a small slice of the training data."
            )
        self.x, self.y = x_array, y_array
        self.loss = loss
        self.losses: dict[int, float] = {}

    def restore(self, record: dict, through: int) -> None:
        super().restore(record, through)
        for epoch, loss in zip(record.get("epochs") or [], record.get("loss") or []):
            if isinstance(epoch, int) and epoch <= through and loss is not None:
                self.losses[epoch] = float(loss)

    def _loss_fn(self):
        loss = self.loss if self.loss is not None else getattr(self.model, "loss", None)
        if loss is None:
            raise LearningCycleError(
                "The model was compiled without a loss, so there is nothing to differentiate. "
                "Pass loss= to GradientNormRecorder."
            )
        return keras.losses.get(loss) if isinstance(loss, str) else loss

    def _measure(self) -> dict:
        import tensorflow as tf

        model = self.model
        groups = _weight_groups(model)
        variables = [v for _, weights in groups for _, v in weights]
        loss_fn = self._loss_fn()
        with tf.GradientTape() as tape:
            y_pred = model(self.x, training=False)
            # A loss function (not a Loss object) returns one value per sample.
            loss = tf.reduce_mean(loss_fn(self.y, y_pred))
        grads = tape.gradient(loss, variables)
        norms = {}
        index = 0
        for layer_name, weights in groups:
            layer_norms = {}
            for weight_name, _ in weights:
                grad = grads[index]
                index += 1
                layer_norms[weight_name] = (
                    0.0 if grad is None else float(tf.norm(tf.cast(grad, tf.float32))))
            norms[layer_name] = layer_norms
        self.losses[self._last_epoch] = float(loss)
        return norms

    def record(self) -> dict:
        """``{"epochs", "loss", "layers": [{"name", "weights": {w: [...]}, "total": [...]}]}``.

        ``total`` is the layer's whole gradient norm (the root of the summed squares).
        """
        epochs = self.epochs
        layers = []
        for name, weights in self._series():
            total = []
            for e in epochs:
                values = list(self._epochs[e].get(name, {}).values())
                total.append(math.sqrt(sum(v * v for v in values)) if values else None)
            layers.append({"name": name, "weights": weights, "total": total})
        return {"epochs": epochs, "loss": [self.losses.get(e) for e in epochs],
                "batch_size": int(len(self.x)), "layers": layers, "error": self.error}


class WeightHistogramRecorder(_Recorder):
    """Histograms of every trainable weight of every layer, per epoch.

    Args:
        bins: bars per histogram (each epoch's range is its own).
        every: record every this many epochs (the last epoch is always kept).
    """

    def __init__(self, bins: int = DEFAULT_BINS, every: int = 1):
        super().__init__(every)
        if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 200:
            raise LearningCycleError(f"'bins' must be a whole number from 2 to 200; got {bins!r}.")
        self.bins = bins

    def _measure(self) -> dict:
        result = {}
        for layer_name, weights in _weight_groups(self.model):
            result[layer_name] = {name: histogram(np.asarray(variable), self.bins)
                                  for name, variable in weights}
        return result

    def record(self) -> dict:
        """``{"epochs", "bins", "layers": [{"name", "weights": {w: [histogram per epoch]}}]}``."""
        epochs = self.epochs
        layers = [{"name": name, "weights": weights} for name, weights in self._series()]
        return {"epochs": epochs, "bins": self.bins, "layers": layers, "error": self.error}


def histogram(values: np.ndarray, bins: int = DEFAULT_BINS) -> dict:
    """Counts, bin edges and summary numbers of an array, as JSON-able lists."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return {"counts": [], "edges": [], "mean": None, "std": None, "min": None, "max": None,
                "size": int(flat.size), "non_finite": int(flat.size)}
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(finite, bins=bins, range=(low, high))
    return {"counts": counts.astype(int).tolist(), "edges": edges.tolist(),
            "mean": float(finite.mean()), "std": float(finite.std()),
            "min": float(finite.min()), "max": float(finite.max()),
            "size": int(flat.size), "non_finite": int(flat.size - finite.size)}


class LearningCycleRecorder(keras.callbacks.Callback):
    """Gradient norms and weight histograms together, saved to ``path`` after each epoch.

    Args:
        x, y: the fixed batch for the gradient norms (see :class:`GradientNormRecorder`).
        path: the JSON file to keep up to date (None: keep in memory only).
        bins / every / loss: passed to the two recorders.
    """

    def __init__(self, x, y, path: str | os.PathLike | None = None, *, bins: int = DEFAULT_BINS,
                 every: int = 1, loss=None):
        super().__init__()
        self.gradients = GradientNormRecorder(x, y, every=every, loss=loss)
        self.weights = WeightHistogramRecorder(bins=bins, every=every)
        self.path = Path(path) if path is not None else None

    def restore(self, through: int) -> None:
        """Keep the epochs up to ``through`` that ``path`` already holds (from an earlier
        session of the same run); a missing or unreadable file keeps nothing."""
        if self.path is None or not self.path.is_file():
            return
        try:
            record = load(self.path)
        except (LearningCycleError, OSError, ValueError):
            return
        self.gradients.restore(record.get("gradient_norms") or {}, through)
        self.weights.restore(record.get("weight_histograms") or {}, through)

    def set_model(self, model):
        super().set_model(model)
        self.gradients.set_model(model)
        self.weights.set_model(model)

    def on_epoch_begin(self, epoch, logs=None):
        self.gradients.on_epoch_begin(epoch, logs)
        self.weights.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.gradients.on_epoch_end(epoch, logs)
        self.weights.on_epoch_end(epoch, logs)
        self._save()

    def on_train_end(self, logs=None):
        self.gradients.on_train_end(logs)
        self.weights.on_train_end(logs)
        self._save()

    @property
    def error(self) -> str:
        return " ".join(e for e in (self.gradients.error, self.weights.error) if e)

    def record(self) -> dict:
        """The whole record, as written to the JSON file."""
        return {"format": FORMAT, "version": VERSION,
                "gradient_norms": self.gradients.record(),
                "weight_histograms": self.weights.record()}

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            save(self.record(), self.path)
        except OSError as exc:
            self.gradients.error = self.gradients.error or (
                f"The learning-cycle record could not be written to {str(self.path)!r}: "
                f"{exc.strerror or exc}.")


def save(record: dict, path: str | os.PathLike) -> Path:
    """Write a record as JSON, atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".lc-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(record, stream, allow_nan=False, default=_plain)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def load(path: str | os.PathLike) -> dict:
    """Read a learning-cycle record.

    Raises:
        LearningCycleError: the file is missing, damaged or not such a record.
    """
    source = Path(path)
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LearningCycleError(
            f"There is no learning-cycle record at {str(source)!r}. Train the model again to "
            "record gradients and weights."
        ) from exc
    except (OSError, ValueError) as exc:
        raise LearningCycleError(
            f"The learning-cycle record {str(source)!r} cannot be read ({exc}). Train the model "
            "again to record it afresh."
        ) from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise LearningCycleError(
            f"{str(source)!r} is not a learning-cycle record. Choose the file training wrote."
        )
    if raw.get("version", 0) > VERSION:
        raise LearningCycleError(
            f"The learning-cycle record was written by a newer Neural Canvas (version "
            f"{raw.get('version')}); update Neural Canvas to read it."
        )
    return raw
