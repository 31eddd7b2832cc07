"""Every kind of prepared data provides all that the TrainingData protocol declares, so
training reads its members directly and never probes for them."""

import inspect

import numpy as np
import pytest

from builder.data.arrays import InMemoryData
from builder.data.images import prepare_images
from builder.data.samples import load_sample
from builder.data.tabular import prepare_tabular
from builder.gan_training import GanImages
from builder.train import TrainingData, describe_data


def _diabetes():
    source = load_sample("diabetes")
    return prepare_tabular(source, "progression", validation=0.2, test=0.2)


def _digits():
    return prepare_images(load_sample("digits"), size=(8, 8), channels=1, validation=0.2,
                          test=0.1)


def _arrays():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    return InMemoryData((x[:15], x[:15, :1]), (x[15:], x[15:, :1]), task="regression")


MAKERS = {"csv regression": _diabetes, "image folders": _digits, "arrays": _arrays,
          "gan pool": lambda: GanImages(_digits())}

DECLARED_METHODS = [name for name, value in vars(TrainingData).items()
                    if inspect.isfunction(value) and not name.startswith("_")]
DECLARED_ATTRIBUTES = list(TrainingData.__annotations__)


def test_the_protocol_declares_what_training_reads():
    assert set(DECLARED_ATTRIBUTES) == {"task", "num_classes", "postprocessing", "info"}
    assert set(DECLARED_METHODS) == {"size", "batches", "arrays", "to_target_units",
                                     "describe"}


@pytest.mark.parametrize("kind", MAKERS)
def test_each_kind_of_data_has_every_member_with_the_declared_parameters(kind):
    data = MAKERS[kind]()
    for name in DECLARED_ATTRIBUTES:
        assert hasattr(data, name), f"{kind} has no {name}"
    assert isinstance(data.info, dict)
    for name in DECLARED_METHODS:
        declared = inspect.signature(getattr(TrainingData, name))
        given = inspect.signature(getattr(data, name))
        wanted = [p for p in declared.parameters if p != "self"]
        missing = [p for p in wanted if p not in given.parameters]
        assert not missing, f"{kind}.{name} does not take {missing}"


@pytest.mark.parametrize("kind", MAKERS)
def test_each_kind_of_data_answers_the_way_training_asks(kind):
    data = MAKERS[kind]()
    train = data.size("train")
    assert train > 0 and data.size("no such split") == 0
    batch = next(iter(data.batches("train", 4, shuffle=False, seed=0, augment=False)))
    first = batch[0] if isinstance(batch, tuple) else batch
    assert len(first) == 4
    x, y = data.arrays("train")
    assert len(x) == len(y) == train
    described = describe_data(data)
    assert described["task"] == data.task and described["sizes"]["train"] == train
    if data.postprocessing is None:
        np.testing.assert_array_equal(data.to_target_units(y), y)


def test_standardised_regression_targets_map_back_to_the_targets_own_units():
    data = _diabetes()
    assert data.postprocessing is not None and data.info["target_std"]
    _, y = data.arrays("train")
    assert abs(float(np.mean(y))) < 0.5  # trained on standardised targets
    raw = load_sample("diabetes").frame["progression"].to_numpy()
    in_units = data.to_target_units(y).reshape(-1)
    assert 20 < in_units.min() and in_units.max() < 360  # the target's own range
    assert set(np.round(in_units, 3)) <= set(np.round(raw.astype("float32"), 3))
