"""How a design is compiled for its task: losses, output forms, schedules, precision."""


import numpy as np
import pytest

from builder.data.arrays import InMemoryData
from builder.train import (
    TrainConfig,
    preflight,
    train,
)
from tests.train.builders import CPU, GPU, binary_data, classifier


def test_two_softmax_units_are_a_binary_classifier_with_binary_scores():
    """Two classes as two softmax probabilities: cross-entropy, accuracy, AUC, precision."""
    data = binary_data()
    design = classifier(units=2, activation="softmax")
    assert preflight(design, data, TrainConfig()) == []
    config = TrainConfig(epochs=4, learning_rate=0.05, seed=1,
                         metrics=("accuracy", "auc", "precision", "recall"))
    result = train(design, data, config, device_plan=CPU)
    assert result.status == "finished"
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    x, y = (np.asarray(t) for t in next(iter(data.batches("validation", 1000, shuffle=False))))
    probabilities = result.model.predict(x, verbose=0)
    positive = probabilities[:, 1] > 0.5
    truth = y.reshape(-1) == 1
    assert result.final["val_accuracy"] == pytest.approx(np.mean(positive == truth), abs=1e-6)
    assert result.final["val_precision"] == pytest.approx(
        np.sum(positive & truth) / max(np.sum(positive), 1), abs=1e-6)
    assert result.final["val_recall"] == pytest.approx(np.sum(positive & truth) / np.sum(truth),
                                                       abs=1e-6)
    assert 0.5 < result.final["val_auc"] <= 1.0


def test_linear_outputs_train_with_cross_entropy_on_logits():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 4)).astype("float32")
    y = np.argmax(x[:, :3], axis=1).astype("int32")
    data = InMemoryData((x[:120], y[:120]), (x[120:], y[120:]), task="multiclass",
                        num_classes=3)
    design = classifier(units=3, activation="linear")
    for loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        result = train(design, data, TrainConfig(epochs=8, learning_rate=0.05, loss=loss),
                       device_plan=CPU)
        assert result.history[-1]["accuracy"] > 0.7, loss


def test_schedules_change_the_learning_rate():
    design, data = classifier(), binary_data()
    rates = {}
    for schedule in ("constant", "step", "cosine"):
        result = train(design, data, TrainConfig(epochs=3, schedule=schedule, decay_epochs=1,
                                                 decay_rate=0.5, learning_rate=0.01),
                       device_plan=CPU)
        rates[schedule] = [row["learning_rate"] for row in result.history]
    assert rates["constant"] == pytest.approx([0.01, 0.01, 0.01])
    assert rates["step"] == pytest.approx([0.005, 0.0025, 0.00125])
    assert rates["cosine"][0] > rates["cosine"][1] > rates["cosine"][2]


def test_mixed_precision_keeps_the_output_float32():
    import keras

    from builder.train import build_training_model

    config = TrainConfig(mixed_precision=True).with_task("binary")
    model = build_training_model(classifier(), binary_data(), config, steps_per_epoch=6)
    assert model.get_layer("n1").compute_dtype == "float16"
    assert model.outputs[0].dtype == "float32"
    assert model.layers[-1].name == "n2_float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    # The policy is set only while building, and only in this thread.
    assert keras.config.dtype_policy().name == "float32"


def test_xla_compilation_reaches_the_model():
    import tensorflow as tf

    result = train(classifier(), binary_data(), TrainConfig(epochs=1, xla=True), device_plan=GPU,
                   strategy=tf.distribute.get_strategy())
    assert result.status == "finished" and result.model.jit_compile is True


def test_scores_of_a_standardised_regression_say_their_units():
    from builder.train import score_words

    assert score_words("test_loss", True) == "test loss (standardised target)"
    assert score_words("val_mae", True) == "val mae (target units)"
    assert score_words("val_accuracy", True) == "val accuracy"
    assert score_words("test_loss", False) == "test loss"
