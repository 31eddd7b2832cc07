"""The checkpoint keeps weights and optimizer state."""


import pytest

from builder.train import (
    TrainConfig,
    TrainingError,
    restore_checkpoint,
    train,
)
from tests.helpers import chain
from tests.train.builders import CPU, binary_data, classifier


def test_the_checkpoint_restores_weights_and_optimizer_state(tmp_path):
    design, data = classifier(), binary_data()
    first = train(design, data, TrainConfig(epochs=2), run_dir=tmp_path, device_plan=CPU)
    resumed = train(design, data, TrainConfig(epochs=3), run_dir=tmp_path, resume=True,
                    device_plan=CPU)
    assert resumed.epochs_done == 3 and [r["epoch"] for r in resumed.history] == [3]
    assert int(resumed.model.optimizer.iterations) == int(first.model.optimizer.iterations) + 6
    other = chain(("Dense", {"units": 5}), ("Dense", {"units": 1, "activation": "sigmoid"}),
                  input_shape=(4,))
    with pytest.raises(TrainingError, match="does not fit|does not match"):
        train(other, data, TrainConfig(epochs=3), run_dir=tmp_path, resume=True,
              device_plan=CPU)
    with pytest.raises(TrainingError, match="no checkpoint"):
        restore_checkpoint(first.model, tmp_path / "empty")
