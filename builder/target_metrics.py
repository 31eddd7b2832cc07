"""Regression errors in the target's own units, for the live curves.

Regression targets are standardised for training (``(y - mean) / std``), so the
plain Keras MAE of a run reads in standard deviations. These metrics multiply the
error by each target's ``std`` first, so "val_mae 3.2" means 3.2 of whatever the
target measures (megawatts, points of progression...), as the final scores do.
They are registered for safe loading, like our layers.
"""

from __future__ import annotations

import keras
from keras import ops

KINDS = ("mae", "mse", "rmse")


@keras.saving.register_keras_serializable(package="neural_canvas")
class TargetUnitsError(keras.metrics.Mean):
    """Mean absolute or squared error (or its root) after scaling by ``scale``.

    Args:
        scale: one factor per target value (the targets' standard deviations).
        kind: ``"mae"``, ``"mse"`` or ``"rmse"``.
    """

    def __init__(self, scale, kind: str = "mae", name: str | None = None, dtype=None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
        super().__init__(name=name or kind, dtype=dtype)
        self.scale = [float(value) for value in (scale if isinstance(scale, (list, tuple))
                                                 else [scale])]
        self.kind = kind

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        y_true = ops.reshape(ops.cast(y_true, self.dtype), ops.shape(y_pred))
        scale = ops.convert_to_tensor(self.scale, dtype=self.dtype)
        error = (y_true - y_pred) * scale
        values = ops.abs(error) if self.kind == "mae" else ops.square(error)
        return super().update_state(ops.mean(values, axis=-1), sample_weight=sample_weight)

    def result(self):
        mean = super().result()
        return ops.sqrt(mean) if self.kind == "rmse" else mean

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "scale": self.scale, "kind": self.kind}
