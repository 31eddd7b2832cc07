"""Classification and regression metrics in plain NumPy.

Each function follows scikit-learn's definition of the same metric (the tests
compare them), so the numbers on the Explore page mean what a reader of the
scikit-learn documentation expects. Bad input raises :class:`MetricError`, a
``ValueError`` whose message names the problem and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class MetricError(ValueError):
    """Labels or scores that a metric cannot use."""


# -- label handling -----------------------------------------------------------------


def as_labels(y, name: str = "labels") -> np.ndarray:
    """Class ids as a 1-D integer array; one-hot rows become their argmax.

    Raises:
        MetricError: the values are not whole numbers or have an unusable shape.
    """
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] > 1:
        return np.argmax(array, axis=1).astype(np.int64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise MetricError(
            f"The {name} must be one class id per sample (a 1-D list) or one-hot rows; got "
            f"an array of shape {array.shape}. Pass one label per sample."
        )
    if array.size and array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise MetricError(
                f"The {name} must be whole class ids such as 0, 1, 2; got values like "
                f"{array[np.argmax(array != np.round(array))]!r}. Use class ids, not scores."
            )
    elif array.size and array.dtype.kind not in "iub":
        raise MetricError(
            f"The {name} must be class ids (integers); got values of type {array.dtype}. "
            "Map class names to ids first."
        )
    if array.size and array.min() < 0:
        raise MetricError(
            f"Class ids cannot be negative; got {int(array.min())} among the {name}. "
            "Number classes from 0."
        )
    return array.astype(np.int64)


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    true = as_labels(y_true, "true labels")
    pred = as_labels(y_pred, "predicted labels")
    if true.shape != pred.shape:
        raise MetricError(
            f"There are {true.size} true labels but {pred.size} predictions. Pass one "
            "prediction per labelled sample."
        )
    if true.size == 0:
        raise MetricError("There are no samples to score. Evaluate on a split with samples.")
    return true, pred


def _class_count(true: np.ndarray, pred: np.ndarray, num_classes: int | None) -> int:
    seen = int(max(true.max(), pred.max())) + 1
    if num_classes is None:
        return seen
    if seen > num_classes:
        raise MetricError(
            f"A label or prediction is class {seen - 1}, but there are only {num_classes} "
            f"classes (0 to {num_classes - 1}). Check that the model's output size matches "
            "the number of classes."
        )
    return int(num_classes)


# -- classification -----------------------------------------------------------------


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts: row = true class, column = predicted class (scikit-learn's layout)."""
    true, pred = _pair(y_true, y_pred)
    k = _class_count(true, pred, num_classes)
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def accuracy(y_true, y_pred) -> float:
    """The fraction of samples whose predicted class is the true class."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(true == pred))


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # scikit-learn's zero_division=0: an undefined ratio counts as 0.
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


@dataclass(frozen=True)
class ClassScores:
    """Per-class precision, recall, F1 and support, plus their averages."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    accuracy: float

    def average(self, kind: str = "macro") -> dict:
        """``macro`` (plain mean over classes) or ``weighted`` (by support)."""
        if kind == "macro":
            weights = np.ones_like(self.support, dtype=np.float64)
        elif kind == "weighted":
            weights = self.support.astype(np.float64)
        else:
            raise MetricError(f"Average must be 'macro' or 'weighted'; got {kind!r}.")
        total = weights.sum()
        if total == 0:
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        return {name: float(np.sum(getattr(self, name) * weights) / total)
                for name in ("precision", "recall", "f1")}

    def rows(self, class_names: list[str] | None = None) -> list[dict]:
        """One dict per class, for a table."""
        names = class_names or [str(i) for i in range(len(self.support))]
        return [
            {"class": names[i] if i < len(names) else str(i),
             "precision": float(self.precision[i]), "recall": float(self.recall[i]),
             "f1": float(self.f1[i]), "support": int(self.support[i])}
            for i in range(len(self.support))
        ]


def class_scores(y_true, y_pred, num_classes: int | None = None) -> ClassScores:
    """Precision, recall and F1 per class (scikit-learn, ``average=None, zero_division=0``)."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, actual)
    f1 = _safe_divide(2 * tp, predicted + actual)
    total = matrix.sum()
    return ClassScores(precision, recall, f1, matrix.sum(axis=1),
                       float(tp.sum() / total) if total else 0.0)


def cell_indices(y_true, y_pred, true_class: int, predicted_class: int) -> np.ndarray:
    """Indices of the samples in one confusion-matrix cell."""
    true, pred = _pair(y_true, y_pred)
    return np.flatnonzero((true == int(true_class)) & (pred == int(predicted_class)))


# -- threshold curves (binary) --------------------------------------------------------


def _binary_inputs(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    true = as_labels(y_true, "true labels")
    score = np.asarray(scores, dtype=np.float64)
    if score.ndim == 2 and score.shape[1] == 2:
        score = score[:, 1]
    elif score.ndim == 2 and score.shape[1] == 1:
        score = score[:, 0]
    if score.ndim != 1 or score.shape[0] != true.shape[0]:
        raise MetricError(
            f"A threshold curve needs one score per sample; got {true.size} labels and scores "
            f"of shape {score.shape}. Pass the positive class's probability for each sample."
        )
    if true.size == 0:
        raise MetricError("There are no samples to score. Evaluate on a split with samples.")
    if true.max() > 1:
        raise MetricError(
            f"Threshold curves are for two classes (0 and 1); got class {int(true.max())}. "
            "Use the confusion matrix and per-class scores for more classes."
        )
    if not np.all(np.isfinite(score)):
        raise MetricError(
            "Some scores are not finite (NaN or infinity), so the curve cannot be drawn. "
            "The model may have diverged: train it again with a lower learning rate."
        )
    return true, score


def _counts_at_thresholds(true, score):
    """False and true positives at each distinct score, highest threshold first."""
    order = np.argsort(score, kind="mergesort")[::-1]
    score = score[order]
    true = true[order]
    distinct = np.flatnonzero(np.diff(score))
    ends = np.r_[distinct, true.size - 1]
    tps = np.cumsum(true)[ends].astype(np.float64)
    fps = 1 + ends - tps
    return fps, tps, score[ends]


def _need_both_classes(true: np.ndarray, curve: str) -> None:
    positives = int(true.sum())
    if positives == 0 or positives == true.size:
        present = "positive (1)" if positives else "negative (0)"
        raise MetricError(
            f"The {curve} needs samples of both classes, but every sample is {present}. "
            "Evaluate on a split that holds both classes."
        )


def roc_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate and thresholds, as scikit-learn's
    ``roc_curve(..., drop_intermediate=False)`` (the first threshold is +inf)."""
    true, score = _binary_inputs(y_true, scores)
    _need_both_classes(true, "ROC curve")
    fps, tps, thresholds = _counts_at_thresholds(true, score)
    fps = np.r_[0.0, fps]
    tps = np.r_[0.0, tps]
    return fps / fps[-1], tps / tps[-1], np.r_[np.inf, thresholds]


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve (trapezoids), as scikit-learn's ``roc_auc_score``."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def precision_recall_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and thresholds, as scikit-learn's ``precision_recall_curve``
    (``drop_intermediate=False``): recall decreases and the last point is (1, 0)."""
    true, score = _binary_inputs(y_true, scores)
    _need_both_classes(true, "precision-recall curve")
    fps, tps, thresholds = _counts_at_thresholds(true, score)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def average_precision(y_true, scores) -> float:
    """Average precision, as scikit-learn's ``average_precision_score``."""
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


# -- regression -------------------------------------------------------------------------


def _regression_inputs(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.ndim == 1:
        true = true[:, None]
    if pred.ndim == 1:
        pred = pred[:, None]
    if true.ndim > 2 or pred.ndim > 2:
        true = true.reshape(true.shape[0], -1)
        pred = pred.reshape(pred.shape[0], -1)
    if true.shape != pred.shape:
        raise MetricError(
            f"The targets have shape {true.shape} but the predictions {pred.shape}. The model's "
            "output needs one value per target column."
        )
    if true.shape[0] == 0:
        raise MetricError("There are no samples to score. Evaluate on a split with samples.")
    if not (np.all(np.isfinite(true)) and np.all(np.isfinite(pred))):
        raise MetricError(
            "Some targets or predictions are not finite (NaN or infinity). Drop rows with "
            "missing targets, or train again with a lower learning rate if the model diverged."
        )
    return true, pred


def mean_absolute_error(y_true, y_pred) -> float:
    """Mean absolute error, averaged over output columns (scikit-learn's default)."""
    true, pred = _regression_inputs(y_true, y_pred)
    return float(np.mean(np.mean(np.abs(true - pred), axis=0)))


def root_mean_squared_error(y_true, y_pred) -> float:
    """Root mean squared error per output column, then averaged (scikit-learn's)."""
    true, pred = _regression_inputs(y_true, y_pred)
    return float(np.mean(np.sqrt(np.mean((true - pred) ** 2, axis=0))))


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination, averaged over output columns (scikit-learn's).

    A constant target gives 1.0 when predicted exactly and 0.0 otherwise, as
    scikit-learn does with ``force_finite=True``.
    """
    true, pred = _regression_inputs(y_true, y_pred)
    residual = np.sum((true - pred) ** 2, axis=0)
    total = np.sum((true - true.mean(axis=0)) ** 2, axis=0)
    scores = np.ones(true.shape[1])
    defined = total != 0
    scores[defined] = 1 - residual[defined] / total[defined]
    scores[~defined & (residual != 0)] = 0.0
    return float(np.mean(scores))


def regression_scores(y_true, y_pred) -> dict:
    """MAE, RMSE and R² in one dict."""
    return {"mae": mean_absolute_error(y_true, y_pred),
            "rmse": root_mean_squared_error(y_true, y_pred),
            "r2": r2_score(y_true, y_pred)}


# -- per-sample ranking ---------------------------------------------------------------------


def rank_samples(y_true, probabilities, top_k: int = 3, order: str = "most_wrong") -> dict:
    """A per-sample table: true class, top predictions and their probabilities.

    Args:
        y_true: class ids.
        probabilities: (samples, classes) rows of class probabilities.
        top_k: how many top predictions to list per sample.
        order: ``most_wrong`` (the lowest probability given to the true class
            first), ``confidence`` (most confident first) or ``index``.

    Returns:
        Columns as arrays of equal length: ``index``, ``true``, ``predicted``,
        ``confidence`` (probability of the predicted class), ``true_probability``,
        ``correct``, ``top_classes`` (samples x k) and ``top_probabilities``.
    """
    true = as_labels(y_true, "true labels")
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != true.size:
        raise MetricError(
            f"Need one row of class probabilities per sample; got {true.size} labels and "
            f"probabilities of shape {probs.shape}."
        )
    if true.size and true.max() >= probs.shape[1]:
        raise MetricError(
            f"A true label is class {int(true.max())} but the model gives only "
            f"{probs.shape[1]} class probabilities. Check the model's output size."
        )
    k = max(1, min(int(top_k), probs.shape[1]))
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    top_p = np.take_along_axis(probs, top, axis=1)
    true_p = probs[np.arange(true.size), true]
    predicted = top[:, 0]
    if order == "most_wrong":
        # Wrong samples first, the ones that gave their true class the least probability
        # (the most confidently wrong) at the top.
        keys = (true_p, predicted == true)
        rank = np.lexsort(keys)
    elif order == "confidence":
        rank = np.argsort(-top_p[:, 0], kind="stable")
    elif order == "index":
        rank = np.arange(true.size)
    else:
        raise MetricError(
            f"Order must be 'most_wrong', 'confidence' or 'index'; got {order!r}."
        )
    return {
        "index": rank,
        "true": true[rank],
        "predicted": predicted[rank],
        "confidence": top_p[rank, 0],
        "true_probability": true_p[rank],
        "correct": (predicted == true)[rank],
        "top_classes": top[rank],
        "top_probabilities": top_p[rank],
    }


# -- model outputs -> probabilities ----------------------------------------------------------


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def to_probabilities(outputs, task: str, activation: str = "auto") -> np.ndarray:
    """Classifier outputs as (samples, classes) probabilities.

    Args:
        outputs: the model's outputs: (n, 1) for binary, (n, classes) otherwise.
        task: ``"binary"`` or ``"multiclass"``.
        activation: the output layer's activation. ``"linear"`` means raw scores
            (logits), so sigmoid or softmax is applied here; ``"auto"`` applies it
            when the values are not already probabilities.
    """
    z = np.asarray(outputs, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2:
        raise MetricError(
            f"A classifier's outputs must be one row per sample; got shape {z.shape}. The "
            "design must end in a Dense layer."
        )
    if not np.all(np.isfinite(z)):
        raise MetricError(
            "Some model outputs are NaN or infinite, so there are no probabilities to show. "
            "Train again with a lower learning rate."
        )
    if task == "binary" and z.shape[1] == 1:
        raw = activation == "linear" or (
            activation == "auto" and (z.min() < 0 or z.max() > 1))
        p = 1 / (1 + np.exp(-z[:, 0])) if raw else z[:, 0]
        return np.column_stack([1 - p, p])
    if task not in ("binary", "multiclass"):
        raise MetricError(f"Probabilities are for classification; this task is {task!r}.")
    is_distribution = z.min() >= 0 and np.allclose(z.sum(axis=1), 1.0, atol=1e-3)
    raw = activation == "linear" or (activation == "auto" and not is_distribution)
    return _softmax(z) if raw else z
