"""Designs that do not fit the data are refused, each with the fix."""


import pytest

from builder.compile import DesignError
from builder.train import (
    TrainConfig,
    TrainingError,
    preflight,
    train,
)
from tests.helpers import chain
from tests.train.builders import CPU, binary_data, classifier


def test_designs_that_do_not_fit_the_data_are_refused_with_the_fix():
    data = binary_data()
    problems = preflight(classifier(units=3, activation="softmax"), data, TrainConfig())
    assert any("must give 1 value per sample" in p and "units to 1" in p for p in problems)
    assert len(problems) == 1, problems  # no second sentence that contradicts the first
    wrong_input = chain(("Dense", {"units": 1, "activation": "sigmoid"}), input_shape=(7,))
    assert any("expects samples of shape (7,)" in p and "Set the Input's shape to (4,)" in p
               for p in preflight(wrong_input, data, TrainConfig()))
    relu = classifier(activation="relu")
    assert any("uses relu" in p and "Set its activation to sigmoid" in p
               for p in preflight(relu, data, TrainConfig()))
    broken = chain(("Dense", {"units": -1}), input_shape=(4,))
    assert any("fix them on the Build page" in p for p in preflight(broken, data, TrainConfig()))
    assert preflight(classifier(), data, TrainConfig()) == []
    with pytest.raises(TrainingError, match="units to 1"):
        train(classifier(units=3, activation="softmax"), data, TrainConfig(epochs=1),
              device_plan=CPU)
    with pytest.raises(DesignError):
        train(broken, data, TrainConfig(epochs=1), device_plan=CPU)


@pytest.mark.parametrize("units, activation, loss, words", [
    (2, "relu", None, ["gives 2 values per sample with relu", "Set its activation to softmax"]),
    (2, "softmax", "mean_squared_error", ["compares one value per sample",
                                          "Choose binary cross-entropy"]),
    (1, "softmax", None, ["softmax over one value", "Use a sigmoid activation"]),
    (3, "softmax", None, ["must give 1 value per sample (sigmoid", "or 2 (softmax",
                          "Set its units to 1"]),
])
def test_binary_outputs_that_cannot_work_get_one_consistent_fix(units, activation, loss, words):
    problems = preflight(classifier(units=units, activation=activation), binary_data(),
                         TrainConfig(loss=loss))
    assert len(problems) == 1, problems
    assert all(word in problems[0] for word in words), problems
