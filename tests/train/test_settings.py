"""Training settings: defaults per task, refused values with their fix, device-dependent options."""


import pytest

from builder.train import (
    TrainConfig,
)
from tests.train.builders import CPU, GPU, TWO_CPUS


def test_default_settings_are_valid_and_fill_the_task_defaults():
    config = TrainConfig()
    assert config.problems() == []
    filled = config.with_task("multiclass")
    assert filled.loss == "sparse_categorical_crossentropy"
    assert filled.metrics == ("accuracy",)
    assert TrainConfig().with_task("regression").loss == "mean_squared_error"
    assert TrainConfig(loss="huber", metrics=("rmse",)).with_task("regression").metrics == (
        "rmse",)


@pytest.mark.parametrize("changes, words", [
    ({"learning_rate": 0}, ["learning rate", "above 0"]),
    ({"learning_rate": float("nan")}, ["learning rate", "must be a number"]),
    ({"optimizer": "adagrad"}, ["Unknown optimizer 'adagrad'", "sgd, adam"]),
    ({"momentum": 1.0}, ["Momentum", "below 1"]),
    ({"epochs": 0}, ["Epochs", "from 1"]),
    ({"epochs": 2.5}, ["Epochs", "whole number"]),
    ({"batch_size": 0}, ["batch size", "from 1"]),
    ({"batch_size": True}, ["batch size", "whole number"]),
    ({"gd_variant": "full"}, ["gradient descent variant 'full'", "mini-batch"]),
    ({"schedule": "cyclic"}, ["schedule 'cyclic'", "cosine"]),
    ({"schedule": "step", "decay_rate": 0.0}, ["decay rate", "above 0"]),
    ({"patience": -1}, ["patience", "switch early stopping off"]),
    ({"seed": -5}, ["seed", "from 0"]),
    ({"clip_norm": 0.0}, ["clipping", "above 0"]),
    ({"metrics": ("f1",)}, ["Unknown metric 'f1'"]),
    ({"metrics": ("accuracy", "accuracy")}, ["listed twice"]),
    ({"loss": "hinge"}, ["Unknown loss 'hinge'"]),
    ({"mixed_precision": "yes"}, ["'mixed_precision' must be true or false"]),
])
def test_bad_settings_are_named_with_a_fix(changes, words):
    problems = TrainConfig(**changes).problems()
    assert len(problems) == 1, problems
    for word in words:
        assert word.lower() in problems[0].lower()
    with pytest.raises(ValueError) as raised:
        TrainConfig(**changes).validate()
    assert str(raised.value) == problems[0]


def test_losses_and_metrics_must_fit_the_task():
    problems = TrainConfig(loss="binary_crossentropy", metrics=("mae",)).problems("multiclass")
    assert any("Binary cross-entropy does not fit a multi-class" in p for p in problems)
    assert any("Mean absolute error does not fit a multi-class" in p for p in problems)
    assert TrainConfig(loss="huber", metrics=("rmse",)).problems("regression") == []
    assert TrainConfig().problems("clustering") == [
        "The task must be one of binary, multiclass, regression, reconstruction; got "
        "'clustering'."]


def test_device_dependent_settings():
    problems = TrainConfig(mixed_precision=True, xla=True).problems(device_plan=CPU)
    assert any("Mixed precision" in p and "Switch mixed precision off" in p for p in problems)
    assert any("XLA" in p and "Switch XLA off" in p for p in problems)
    assert TrainConfig(mixed_precision=True, xla=True).problems(device_plan=GPU) == []
    stochastic = TrainConfig(gd_variant="stochastic").problems(device_plan=TWO_CPUS)
    assert stochastic == ["Stochastic gradient descent (one sample per step) cannot be split "
                          "over 2 devices. Use mini-batch gradient descent."]


def test_gradient_descent_variants_set_the_samples_per_step():
    assert TrainConfig(gd_variant="batch", batch_size=32).effective_batch_size(500) == 500
    assert TrainConfig(gd_variant="stochastic").effective_batch_size(500) == 1
    assert TrainConfig(batch_size=64).effective_batch_size(500) == 64
    assert TrainConfig().problems(n_train=0) == [
        "The training set is empty, so there is nothing to learn from. Prepare data with at "
        "least one training sample."]


def test_settings_round_trip_and_unknown_names_are_refused():
    config = TrainConfig(optimizer="sgd", metrics=("accuracy", "auc"), clip_norm=1.0)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="Unknown training setting 'lr'"):
        TrainConfig.from_dict({"lr": 0.1})
    with pytest.raises(ValueError, match="must be a mapping"):
        TrainConfig.from_dict([1, 2])
