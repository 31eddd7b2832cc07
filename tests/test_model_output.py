"""builder.model_output: one reading of a model's output activation for every caller."""

from __future__ import annotations

import keras
import pytest

from builder import model_output
from builder.explain import saliency


def _model(*layers):
    inputs = keras.Input((4,))
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize(("layers", "expected"), [
    ([keras.layers.Dense(3, activation="softmax")], "softmax"),
    ([keras.layers.Dense(1, activation="sigmoid")], "sigmoid"),
    ([keras.layers.Dense(2)], "linear"),
    ([keras.layers.Dense(2), keras.layers.LeakyReLU(negative_slope=0.2)], "leaky_relu"),
    ([keras.layers.Dense(2), keras.layers.Softmax()], "softmax"),
    ([keras.layers.Dense(2), keras.layers.ReLU()], "relu"),
    ([keras.layers.Dense(2, activation="tanh"), keras.layers.Flatten()], "linear"),
    # Mixed precision's float32 cast after the output is looked through.
    ([keras.layers.Dense(3, activation="softmax"),
      keras.layers.Activation("linear", dtype="float32")], "softmax"),
])
def test_the_output_activation_is_read_one_way(layers, expected):
    model = _model(*layers)
    assert model_output.output_activation(model) == expected
    # Saliency (and so the Explore page's probabilities) reads the same word.
    assert saliency.output_activation(model) == expected
