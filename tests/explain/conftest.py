"""Tiny models and data for the explain tests, made in the test run (no files)."""

from __future__ import annotations

import keras
import numpy as np
import pytest


def left_half_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """16x16 grey images: class 1 has a bright square in the left half.

    Both classes get a bright square in the right half half of the time, so the
    right half carries no information about the label.
    """
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 16, 16, 1)) * 0.2).astype("float32")
    y = rng.integers(0, 2, n)
    for i in range(n):
        if y[i]:
            r, c = rng.integers(0, 13), rng.integers(0, 5)
            x[i, r:r + 3, c:c + 3, 0] = 1.0
        if rng.random() < 0.5:
            r, c = rng.integers(0, 13), rng.integers(8, 13)
            x[i, r:r + 3, c:c + 3, 0] = 1.0
    return x, y.astype("int32")


def tiny_cnn(shape=(16, 16, 1), classes: int = 2, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape, name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool_1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_2")(x)
    x = keras.layers.MaxPooling2D(name="pool_2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


@pytest.fixture(scope="session")
def left_half_model():
    """A tiny CNN trained (about 2 s) to find the left-half square, and held-out images."""
    x, y = left_half_images(1200, seed=0)
    model = tiny_cnn()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    x_test, y_test = left_half_images(64, seed=1)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy > 0.95, f"the tiny CNN did not learn the task (accuracy {accuracy:.2f})"
    return model, x_test, y_test
