"""Binary scores for a two-class classifier whose output is a 2-unit softmax.

A binary target is one 0/1 value per sample; a design may end either in one
sigmoid unit (the chance of the positive class) or in two softmax units (one
probability per class, the second for the positive class). Keras's AUC, precision
and recall read one probability per sample, so for the two-unit form these
metrics read the positive class's column. They are registered for safe loading,
like our layers.
"""

from __future__ import annotations

import keras
from keras import ops


def _positive_column(y_pred):
    return ops.convert_to_tensor(y_pred)[..., 1:2]


def _labels(y_true):
    return ops.reshape(ops.cast(y_true, "float32"), (-1, 1))


@keras.saving.register_keras_serializable(package="neural_canvas")
class PositiveClassAUC(keras.metrics.AUC):
    """Area under the ROC curve of the positive class's probability (column 1)."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(_labels(y_true), _positive_column(y_pred), sample_weight)


@keras.saving.register_keras_serializable(package="neural_canvas")
class PositiveClassPrecision(keras.metrics.Precision):
    """Precision of "positive" when the positive class's probability passes 0.5."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(_labels(y_true), _positive_column(y_pred), sample_weight)


@keras.saving.register_keras_serializable(package="neural_canvas")
class PositiveClassRecall(keras.metrics.Recall):
    """Recall of the positive class when its probability passes 0.5."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(_labels(y_true), _positive_column(y_pred), sample_weight)
