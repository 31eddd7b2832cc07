"""Predictions of a trained model on prepared data, and the scores that go with them.

``predict`` runs the model over a split once; ``evaluate`` turns that into the
numbers and curves the Explore page shows for the task (classification,
regression or reconstruction). ``predict_raw`` answers the "try it" box: a new
image, row or text through the data's own preprocessing, then the model.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from builder.explain import metrics
from builder.explain.metrics import MetricError

DEFAULT_LIMIT = 2000
MAX_IMAGE_BYTES = 20_000_000


class ExploreError(ValueError):
    """Something the Explore page cannot show, with the reason and the fix."""


@dataclass
class Predictions:
    """A model's answers on one split.

    Attributes:
        task: ``binary``, ``multiclass``, ``regression`` or ``reconstruction``.
        split: which split.
        x: the model inputs (kept for galleries, saliency and activations).
        y_true: class ids (classification), targets in their own units
            (regression) or the inputs (reconstruction).
        outputs: the model's raw outputs.
        probabilities: (n, classes) for classification, else None.
        y_pred: predicted class ids, values in target units, or reconstructions.
        class_names: one name per class (classification).
        target_names: one name per target value (regression).
    """

    task: str
    split: str
    x: np.ndarray
    y_true: np.ndarray
    outputs: np.ndarray
    probabilities: np.ndarray | None
    y_pred: np.ndarray
    class_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(len(self.y_true))

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")


def _output_activation(model) -> str:
    from builder.explain.saliency import SaliencyError, output_activation

    try:
        return output_activation(model)
    except SaliencyError:
        return "auto"


def predict(model, prepared, split: str = "validation", limit: int | None = DEFAULT_LIMIT,
            batch_size: int = 256) -> Predictions:
    """Run the model over (the first ``limit`` samples of) a split.

    Raises:
        ExploreError: the split is empty or unknown, or the model does not take the data.
    """
    if split not in prepared.splits:
        raise ExploreError(
            f"The data has no {split!r} split; choose one of {', '.join(prepared.splits)}."
        )
    if len(prepared.splits[split]) == 0:
        raise ExploreError(
            f"The {split} split is empty. Choose another split, or hold out a share of the data "
            "for it on the Data page."
        )
    x, y = prepared.arrays(split, limit)
    expected = tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else None
    if expected is None or len(expected) != x.ndim - 1 or any(
            e is not None and e != g for e, g in zip(expected, x.shape[1:])):
        raise ExploreError(
            f"The model takes samples of shape {expected}, but this data's samples are "
            f"{tuple(x.shape[1:])}. Explore the model with the data it was trained on."
        )
    outputs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    task = prepared.task
    if task in ("binary", "multiclass"):
        probabilities = metrics.to_probabilities(outputs, task, _output_activation(model))
        y_true = metrics.as_labels(y)
        y_pred = np.argmax(probabilities, axis=1)
        names = [str(c) for c in prepared.class_names] or [
            str(i) for i in range(probabilities.shape[1])]
        return Predictions(task, split, x, y_true, outputs, probabilities, y_pred, names)
    if task == "regression":
        y_true = np.asarray(prepared.to_target_units(y), dtype=np.float64)
        y_pred = np.asarray(prepared.to_target_units(outputs), dtype=np.float64)
        return Predictions(task, split, x, y_true.reshape(len(y_true), -1), outputs, None,
                           y_pred.reshape(len(y_pred), -1),
                           target_names=list(prepared.target_names))
    return Predictions(task, split, x, np.asarray(y), outputs, None, outputs)


def evaluate(predictions: Predictions) -> dict:
    """The task's scores.

    Classification: ``accuracy``, ``confusion``, ``per_class`` rows, ``macro`` and
    ``weighted`` averages, and for binary tasks ``roc`` / ``pr`` curves with
    ``roc_auc`` / ``average_precision`` (or ``curve_note`` saying why not).
    Regression: ``mae``, ``rmse``, ``r2`` overall and ``per_target``.
    Reconstruction: ``mse`` and ``mae`` overall and ``per_sample_mse``.
    """
    p = predictions
    if p.is_classification:
        k = p.probabilities.shape[1]
        scores = metrics.class_scores(p.y_true, p.y_pred, k)
        result: dict[str, Any] = {
            "accuracy": scores.accuracy,
            "confusion": metrics.confusion_matrix(p.y_true, p.y_pred, k),
            "per_class": scores.rows(p.class_names),
            "macro": scores.average("macro"),
            "weighted": scores.average("weighted"),
        }
        if p.task == "binary":
            try:
                fpr, tpr, thresholds = metrics.roc_curve(p.y_true, p.probabilities[:, 1])
                precision, recall, pr_thresholds = metrics.precision_recall_curve(
                    p.y_true, p.probabilities[:, 1])
            except MetricError as exc:
                result["curve_note"] = str(exc)
            else:
                result["roc"] = {"fpr": fpr, "tpr": tpr, "thresholds": thresholds}
                result["roc_auc"] = metrics.roc_auc(p.y_true, p.probabilities[:, 1])
                result["pr"] = {"precision": precision, "recall": recall,
                                "thresholds": pr_thresholds}
                result["average_precision"] = metrics.average_precision(
                    p.y_true, p.probabilities[:, 1])
        return result
    if p.task == "regression":
        overall = metrics.regression_scores(p.y_true, p.y_pred)
        names = p.target_names or [f"target {i + 1}" for i in range(p.y_true.shape[1])]
        overall["per_target"] = [
            {"target": names[i] if i < len(names) else f"target {i + 1}",
             **metrics.regression_scores(p.y_true[:, i], p.y_pred[:, i])}
            for i in range(p.y_true.shape[1])]
        return overall
    flat_true = np.asarray(p.y_true, np.float64).reshape(len(p), -1)
    flat_pred = np.asarray(p.y_pred, np.float64).reshape(len(p), -1)
    per_sample = np.mean((flat_true - flat_pred) ** 2, axis=1)
    return {"mse": float(per_sample.mean()),
            "mae": float(np.mean(np.abs(flat_true - flat_pred))),
            "per_sample_mse": per_sample}


def sample_table(predictions: Predictions, order: str = "most_wrong", top_k: int = 3,
                 limit: int = 500) -> list[dict]:
    """Rows for the per-sample table: index, true and predicted labels, probabilities.

    Classification rows are ranked by :func:`metrics.rank_samples`; regression
    rows by the absolute error, largest first.
    """
    p = predictions
    if p.is_classification:
        ranked = metrics.rank_samples(p.y_true, p.probabilities, top_k=top_k, order=order)
        names = p.class_names
        rows = []
        for i in range(min(limit, len(ranked["index"]))):
            top = ", ".join(f"{names[c]} {q:.0%}" for c, q in
                            zip(ranked["top_classes"][i], ranked["top_probabilities"][i]))
            rows.append({"sample": int(ranked["index"][i]), "true": names[ranked["true"][i]],
                         "predicted": names[ranked["predicted"][i]],
                         "confidence": float(ranked["confidence"][i]),
                         "p(true)": float(ranked["true_probability"][i]),
                         "correct": bool(ranked["correct"][i]), "top predictions": top})
        return rows
    if p.task == "regression":
        error = np.abs(p.y_true - p.y_pred).mean(axis=1)
        ranked = np.argsort(-error, kind="stable") if order != "index" else np.arange(len(p))
        names = p.target_names or [f"target {i + 1}" for i in range(p.y_true.shape[1])]
        rows = []
        for i in ranked[:limit]:
            row = {"sample": int(i)}
            for j, name in enumerate(names[:p.y_true.shape[1]]):
                row[f"{name} (true)"] = float(p.y_true[i, j])
                row[f"{name} (predicted)"] = float(p.y_pred[i, j])
            row["absolute error"] = float(error[i])
            rows.append(row)
        return rows
    raise ExploreError("A per-sample table is for classification and regression; an "
                       "autoencoder is shown as originals beside reconstructions.")


# -- "try it": new inputs through the data's preprocessing ---------------------------------------


def image_pixels(data: bytes, channels: int) -> np.ndarray:
    """An uploaded image file as uint8 (height, width, channels), as the data loader reads it.

    Raises:
        ExploreError: the file is too large or not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_IMAGE_BYTES:
        raise ExploreError(
            f"The image file is {len(data):,} bytes; at most {MAX_IMAGE_BYTES:,} are accepted. "
            "Upload a smaller image."
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or (
                    image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(white, rgba)
            converted = image.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ExploreError(
            "The file is not an image that can be read (PNG, JPEG, GIF, BMP or WebP). Upload "
            "an image file."
        ) from exc
    array = np.asarray(converted, dtype=np.uint8)
    return array.reshape(array.shape[0], array.shape[1], channels)


def model_inputs(prepared, raw) -> np.ndarray:
    """Raw inputs (pixels, column dict, strings) -> the model's input array.

    Raises:
        ExploreError: the preprocessing rejects the values.
    """
    import tensorflow as tf

    try:
        if prepared.raw_is_dict:
            tensors = {k: tf.constant(np.asarray(v) if np.asarray(v).dtype.kind not in "OU"
                                      else np.asarray(v).astype(str)) for k, v in raw.items()}
        else:
            array = np.asarray(raw)
            tensors = tf.constant(array.astype(str) if array.dtype.kind in "OU" else array)
        result = np.asarray(prepared.preprocessing(tensors))
    except (tf.errors.OpError, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ExploreError(
            f"These values do not fit the data's preprocessing ({detail}). Give values in the "
            "form of the training data."
        ) from exc
    if prepared.input_dtype == "int32":
        return result.astype(np.int32)
    return result.astype(np.float32)


def predict_raw(model, prepared, raw) -> dict:
    """Predict new raw inputs (a batch) the way the exported model would.

    Returns:
        ``{"inputs": model inputs, "outputs": raw outputs}`` plus, for
        classification, ``probabilities`` and ``predicted`` (class ids); for
        regression, ``values`` in target units.
    """
    x = model_inputs(prepared, raw)
    outputs = np.asarray(model.predict(x, verbose=0))
    result: dict[str, Any] = {"inputs": x, "outputs": outputs}
    if prepared.task in ("binary", "multiclass"):
        probabilities = metrics.to_probabilities(outputs, prepared.task,
                                                 _output_activation(model))
        result["probabilities"] = probabilities
        result["predicted"] = np.argmax(probabilities, axis=1)
    elif prepared.task == "regression":
        result["values"] = np.asarray(prepared.to_target_units(outputs)).reshape(len(x), -1)
    return result


def vocabulary(prepared) -> list[str]:
    """Token strings by id for text data (0 is padding, 1 unknown), else []."""
    if prepared.kind != "text" or prepared.preprocessing is None:
        return []
    for layer in prepared.preprocessing.layers:
        get = getattr(layer, "get_vocabulary", None)
        if callable(get):
            return [str(t) for t in get()]
    return []


def tokens_of(prepared, ids) -> list[str]:
    """The words of one sequence of token ids (padding shown as empty strings)."""
    words = vocabulary(prepared)
    return [words[i] if 0 <= i < len(words) else "?" for i in np.asarray(ids).tolist()]
