"""Every sample loads offline, the same every time, and prepares for training."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from builder.data.columns import TabularSource
from builder.data.errors import DataError
from builder.data.images import ImageSource, prepare_images
from builder.data.samples import get_sample, list_samples, load_sample, spirals
from builder.data.tabular import prepare_tabular
from builder.data.timeseries import prepare_timeseries

SAMPLE_IDS = [s.id for s in list_samples()]


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access during a sample load")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def prepare(sample_id: str):
    sample = get_sample(sample_id)
    source = sample.load()
    if sample.kind == "images":
        return prepare_images(source)
    if sample.kind == "timeseries":
        return prepare_timeseries(source, source.target, window=24)
    return prepare_tabular(source, source.target, task=source.task)


def test_the_required_samples_are_there():
    kinds = {s.id: (s.kind, s.task) for s in list_samples()}
    assert kinds["breast_cancer"] == ("tabular", "binary")
    assert kinds["diabetes"] == ("tabular", "regression")
    assert kinds["digits"] == ("images", "multiclass")
    assert kinds["topics"] == ("text", "multiclass")
    assert kinds["energy"] == ("timeseries", "regression")
    assert {"spirals", "moons", "circles"} <= set(kinds)


@pytest.mark.parametrize("sample_id", SAMPLE_IDS)
def test_each_sample_loads_offline_and_prepares(no_network, sample_id):
    sample = get_sample(sample_id)
    prepared = prepare(sample_id)
    assert prepared.kind == sample.kind
    assert prepared.task == sample.task
    assert min(prepared.sizes.values()) > 0
    x, y = prepared.arrays("train", 4)
    assert x.shape[1:] == prepared.input_shape
    assert len(y) == 4
    spec = prepared.expected_output()
    if sample.task == "multiclass":
        assert spec.units == prepared.num_classes == len(prepared.class_names) >= 3
    if sample.task == "binary":
        assert spec.units == 1 and len(prepared.class_names) == 2


@pytest.mark.parametrize("sample_id", ["breast_cancer", "topics", "energy", "digits"])
def test_samples_are_the_same_every_time(sample_id):
    first, second = load_sample(sample_id), load_sample(sample_id)
    if isinstance(first, TabularSource):
        assert first.frame.equals(second.frame)
        assert first.target and first.description
    else:
        assert isinstance(first, ImageSource)
        assert np.array_equal(first.pixels, second.pixels)
        assert first.pixels.dtype == np.uint8 and first.pixels.max() == 255


def test_spirals_have_interleaved_arms():
    frame = spirals(300, arms=3)
    assert frame["label"].value_counts().tolist() == [100, 100, 100]
    assert frame[["x1", "x2"]].abs().max().max() < 1.3


def test_unknown_sample():
    with pytest.raises(DataError) as caught:
        get_sample("mnist_full")
    assert "breast_cancer" in caught.value.fix
