"""The learning cycle: gradient norms and weight histograms recorded per epoch, as JSON."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from builder import learning_cycle
from builder.explain import figures
from builder.learning_cycle import (
    GradientNormRecorder,
    LearningCycleError,
    LearningCycleRecorder,
    WeightHistogramRecorder,
)


def data(n=128, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")[:, None]
    return x, y


def model_of(depth=2, activation="relu", units=16, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    x = inputs
    for i in range(depth):
        x = keras.layers.Dense(units, activation=activation, name=f"dense_{i + 1}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="out")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    return model


def test_gradient_norms_are_recorded_before_training_and_after_every_epoch(tmp_path):
    x, y = data()
    model = model_of()
    path = tmp_path / "run" / "learning_cycle.json"
    recorder = LearningCycleRecorder(x[:32], y[:32], path, bins=12)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[recorder])
    assert recorder.error == ""
    record = learning_cycle.load(path)
    assert record == json.loads(json.dumps(recorder.record()))
    grads = record["gradient_norms"]
    assert grads["epochs"] == [0, 1, 2, 3]
    assert [layer["name"] for layer in grads["layers"]] == ["dense_1", "dense_2", "out"]
    assert set(grads["layers"][0]["weights"]) == {"kernel", "bias"}
    # The last entry equals the gradient of the loss on the fixed batch, by hand.
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(y[:32], model(x[:32], training=False))
        loss = tf.reduce_mean(loss)
    kernel_grad = tape.gradient(loss, model.get_layer("dense_1").kernel)
    assert grads["layers"][0]["weights"]["kernel"][-1] == pytest.approx(
        float(tf.norm(kernel_grad)), rel=1e-4)
    assert grads["loss"][-1] == pytest.approx(float(loss), rel=1e-4)
    layer = grads["layers"][1]
    for i in range(4):
        assert layer["total"][i] == pytest.approx(
            np.hypot(layer["weights"]["kernel"][i], layer["weights"]["bias"][i]))
    assert grads["loss"][-1] < grads["loss"][0]


def test_vanishing_gradients_show_as_norms_that_shrink_towards_the_input():
    x, y = data()
    model = model_of(depth=8, activation="sigmoid", units=8)
    recorder = GradientNormRecorder(x[:64], y[:64])
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[recorder])
    totals = {layer["name"]: layer["total"][0] for layer in recorder.record()["layers"]}
    # Eight sigmoid layers: the first layer's gradient is orders of magnitude smaller.
    assert totals["dense_1"] < totals["out"] / 100, totals
    relu = model_of(depth=8, activation="relu", units=8)
    relu_recorder = GradientNormRecorder(x[:64], y[:64])
    relu.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[relu_recorder])
    relu_totals = {layer["name"]: layer["total"][0] for layer in relu_recorder.record()["layers"]}
    assert (relu_totals["dense_1"] / relu_totals["out"]) > 10 * (totals["dense_1"] / totals["out"])


def test_weight_histograms_count_every_weight_and_follow_the_training():
    x, y = data()
    model = model_of()
    recorder = WeightHistogramRecorder(bins=10, every=2)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[recorder])
    record = recorder.record()
    assert record["epochs"] == [0, 2, 3]  # every 2nd epoch, and always the last
    kernel = record["layers"][0]["weights"]["kernel"]
    for histogram in kernel:
        assert sum(histogram["counts"]) == 6 * 16 == histogram["size"]
        assert len(histogram["edges"]) == 11
    final = model.get_layer("dense_1").kernel.numpy()
    assert kernel[-1]["mean"] == pytest.approx(float(final.mean()), rel=1e-5)
    assert kernel[-1]["std"] == pytest.approx(float(final.std()), rel=1e-5)
    assert kernel[0]["mean"] != kernel[-1]["mean"]
    figure = figures.weight_histogram_figure(record, "dense_1", "kernel")
    assert len(figure.data) == 3
    assert figures.gradient_norm_lines({"epochs": [0], "layers": []}).layout.yaxis.type == "log"


def test_continuing_training_appends_epochs():
    x, y = data()
    model = model_of()
    recorder = GradientNormRecorder(x[:16], y[:16])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[recorder])
    model.fit(x, y, epochs=4, initial_epoch=2, verbose=0, callbacks=[recorder])
    assert recorder.record()["epochs"] == [0, 1, 2, 3, 4]
    fresh = GradientNormRecorder(x[:16], y[:16])
    model.fit(x, y, epochs=5, initial_epoch=4, verbose=0, callbacks=[fresh])
    assert fresh.record()["epochs"] == [4, 5]  # the state it started from, then epoch 5


def test_a_recorder_that_cannot_record_never_stops_training():
    x, y = data()
    model = model_of()
    recorder = GradientNormRecorder(x[:8], np.zeros((8, 5), "float32"))  # wrong target shape
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[recorder])
    assert len(history.history["loss"]) == 2
    assert "stopped recording at epoch 0" in recorder.error
    assert recorder.record()["epochs"] == []


def test_bad_settings_and_files_are_sentences(tmp_path):
    x, y = data()
    with pytest.raises(LearningCycleError, match="as many targets as inputs"):
        GradientNormRecorder(x[:4], y[:3])
    with pytest.raises(LearningCycleError, match="at most 256"):
        GradientNormRecorder(np.zeros((300, 6)), np.zeros((300, 1)))
    with pytest.raises(LearningCycleError, match="'bins'"):
        WeightHistogramRecorder(bins=1)
    with pytest.raises(LearningCycleError, match="'every'"):
        WeightHistogramRecorder(every=0)
    with pytest.raises(LearningCycleError, match="no learning-cycle record"):
        learning_cycle.load(tmp_path / "missing.json")
    other = tmp_path / "other.json"
    other.write_text('{"format": "something else"}')
    with pytest.raises(LearningCycleError, match="not a learning-cycle record"):
        learning_cycle.load(other)
    torn = tmp_path / "torn.json"
    torn.write_text('{"format": "neural-canvas')
    with pytest.raises(LearningCycleError, match="cannot be read"):
        learning_cycle.load(torn)
