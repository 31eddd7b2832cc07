"""The few Keras layers Neural Canvas defines itself, registered for safe loading.

They are plain, serialisable layers (no user code), registered under the
``neural_canvas`` package so that a saved ``.keras`` file loads with safe mode on.
"""

from __future__ import annotations

import keras
import numpy as np

from builder.vocabulary import DATE_PATTERN


@keras.saving.register_keras_serializable(package="neural_canvas")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to a sequence of token vectors.

    Input and output shape: ``(batch, length, features)`` with ``length`` at most
    ``max_length``.
    """

    def __init__(self, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)

    def build(self, input_shape):
        length, features = input_shape[-2], input_shape[-1]
        if length is not None and length > self.max_length:
            raise ValueError(
                f"PositionEmbedding takes sequences of at most {self.max_length} steps; "
                f"got {length}. Raise 'max_length' to at least {length}."
            )
        self.position_vectors = self.add_weight(
            name="position_vectors",
            shape=(self.max_length, features),
            initializer="glorot_uniform",
        )

    def call(self, inputs):
        length = keras.ops.shape(inputs)[-2]
        positions = self.position_vectors[:length]
        return inputs + keras.ops.cast(positions, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["max_length"] = self.max_length
        return config


# Layers of the data preprocessing that travels in the model (builder/data). They
# live here, not in builder.data.tabular, so that loading a saved model needs only
# this module imported.


@keras.saving.register_keras_serializable(package="neural_canvas")
class FillMissing(keras.layers.Layer):
    """Replaces NaN (a missing number) with a fixed value per feature."""

    def __init__(self, values, **kwargs):
        super().__init__(**kwargs)
        self.values = [float(v) for v in np.ravel(values)]

    def call(self, inputs):
        fill = keras.ops.cast(keras.ops.convert_to_tensor(self.values), inputs.dtype)
        return keras.ops.where(keras.ops.isnan(inputs), fill, inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "values": list(self.values)}


@keras.saving.register_keras_serializable(package="neural_canvas")
class MissingIndicator(keras.layers.Layer):
    """1.0 where a number is missing (NaN), else 0.0."""

    def call(self, inputs):
        return keras.ops.cast(keras.ops.isnan(inputs), "float32")

    def compute_output_shape(self, input_shape):
        return input_shape


# Dates travel as raw text (vocabulary.DATE_PATTERN) and become numbers inside the model.
# Anything else (or an empty string) is a missing date.
DATE_FEATURES = ("days since 1970-01-01", "month", "day of month", "day of week (Monday 0)")
TIME_FEATURE = "hour of day"


def date_parts(strings, hours: bool):
    """Numbers from ISO date strings: one row per string, NaN for a missing date.

    Columns: days since 1970-01-01, month (1-12), day of month, day of week
    (Monday 0) and, when ``hours``, the hour of day with minutes as a fraction.
    Whole numbers throughout (but the hour), so they are exact in float32. The
    Data page computes the training inputs with this very function.

    Args:
        strings: a string tensor of any shape (flattened).
        hours: add the hour-of-day column.
    """
    import tensorflow as tf

    text = tf.strings.strip(tf.reshape(strings, [-1]))
    valid = tf.strings.regex_full_match(text, DATE_PATTERN)
    text = tf.where(valid, text, "1970-01-01")

    def number(start, length, source=text):
        return tf.strings.to_number(tf.strings.substr(source, start, length), tf.int64)

    year, month, day = number(0, 4), number(5, 2), number(8, 2)
    # Days from the civil date (H. Hinnant's algorithm; proleptic Gregorian calendar).
    shifted = year - tf.cast(month <= 2, tf.int64)
    era = tf.math.floordiv(shifted, 400)
    year_of_era = shifted - era * 400
    day_of_year = (153 * tf.math.floormod(month + 9, 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146097 + day_of_era - 719468
    weekday = tf.math.floormod(days + 3, 7)  # 1970-01-01 was a Thursday
    columns = [tf.cast(v, tf.float32) for v in (days, month, day, weekday)]
    if hours:
        # A date alone reads as midnight: pad, so that position 11 always exists.
        clock = tf.strings.substr(tf.strings.join([text, " 00:00"]), 11, 5)
        columns.append(tf.cast(number(0, 2, clock), tf.float32)
                       + tf.cast(number(3, 2, clock), tf.float32) / 60.0)
    out = tf.stack(columns, axis=1)
    return tf.where(valid[:, None], out, tf.constant(float("nan"), tf.float32))


@keras.saving.register_keras_serializable(package="neural_canvas")
class DateFeatures(keras.layers.Layer):
    """ISO date strings -> (days since 1970, month, day, weekday[, hour]); NaN if missing."""

    def __init__(self, hours: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.hours = bool(hours)
        self._convert_input_args = False  # string inputs stay strings

    def call(self, inputs):
        return date_parts(inputs, self.hours)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(DATE_FEATURES) + int(self.hours))

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")

    def get_config(self):
        return {**super().get_config(), "hours": self.hours}


# A trained regression model's .keras keeps its compile settings, which name our
# target-units error metrics: importing this module registers them too.
from builder import target_metrics  # noqa: E402,F401
