"""The few Keras layers Neural Canvas defines itself, registered for safe loading.

They are plain, serialisable layers (no user code), registered under the
``neural_canvas`` package so that a saved ``.keras`` file loads with safe mode on.
"""

from __future__ import annotations

import keras


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
