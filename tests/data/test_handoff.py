"""Prepared data handed to a training process as files, and prepared again there."""

import numpy as np
import pandas as pd
import pytest

from builder.data import handoff
from builder.data.arrays import InMemoryData
from builder.data.csv_reading import load_csv
from builder.data.images import load_image_zip, prepare_images
from builder.data.samples import load_sample
from builder.data.tabular import prepare_tabular
from builder.data.timeseries import prepare_timeseries
from tests.data.builders import image_bytes, zip_bytes


def _same(first, second):
    assert (first.kind, first.task, first.input_shape) == (second.kind, second.task,
                                                          second.input_shape)
    assert first.class_names == second.class_names and first.sizes == second.sizes
    for split in ("train", "validation", "test"):
        if not first.sizes.get(split):
            continue
        x1, y1 = first.arrays(split)
        x2, y2 = second.arrays(split)
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def _again(prepared, folder):
    handoff.write(prepared, folder)
    return handoff.read(folder)


def test_an_uploaded_csv_with_hostile_names_is_prepared_the_same_again(tmp_path):
    text = ("\"name'); import os #\",\"<b>size</b>\",\"label\"\n"
            + "".join(f"item {i},{i * 0.5},{'yes' if i % 3 else 'no'}\n" for i in range(90)))
    source = load_csv(text.encode(), name="../../etc/passwd.csv")
    prepared = prepare_tabular(source, "label", validation=0.2, test=0.1, seed=3)
    again = _again(prepared, tmp_path / "data")
    _same(prepared, again)
    assert again.source == prepared.source and again.settings == prepared.settings


def test_a_sample_a_bare_frame_and_a_text_column_come_back_the_same(tmp_path):
    source = load_sample("diabetes")
    _same(prepare_tabular(source, source.target, task="regression"),
          _again(prepare_tabular(source, source.target, task="regression"), tmp_path / "a"))
    topics = load_sample("topics").frame
    text = prepare_tabular(topics, "topic", task="multiclass", sequence_length=12)
    assert text.kind == "text"
    _same(text, _again(text, tmp_path / "b"))


def test_time_series_windows_come_back_the_same(tmp_path):
    frame = pd.DataFrame({"t": np.arange(200), "value": np.sin(np.arange(200) / 7.0)})
    prepared = prepare_timeseries(frame, "value", features=["value"], window=12,
                                  time_column="t")
    _same(prepared, _again(prepared, tmp_path / "data"))


def test_images_from_a_zip_and_from_a_sample_come_back_the_same(tmp_path):
    archive = zip_bytes({f"{label}/{i}.png": image_bytes(size=(20, 14), seed=i + 10 * k)
                         for k, label in enumerate(("cat", "dog")) for i in range(12)})
    source = load_image_zip(archive, tmp_path / "extracted", name="pets.zip")
    prepared = prepare_images(source, size=(16, 16), channels=3, seed=4,
                              augment={"flip": "horizontal"})
    again = _again(prepared, tmp_path / "data")
    _same(prepared, again)
    assert again.augmentation is not None
    digits = prepare_images(load_sample("digits"), size=(8, 8), channels=1,
                            task="reconstruction")
    _same(digits, _again(digits, tmp_path / "digits"))


def test_arrays_travel_as_one_npz_without_pickle(tmp_path):
    x = np.arange(40, dtype="float32").reshape(10, 4)
    data = InMemoryData((x[:8], x[:8, :1]), (x[8:], x[8:, :1]), task="regression",
                        name="toy")
    again = _again(data, tmp_path / "data")
    assert again.task == "regression" and again.name == "toy"
    np.testing.assert_array_equal(again.arrays("validation")[0], x[8:])
    assert again.splits == ("train", "validation") and again.size("test") == 0


def test_data_not_made_by_a_prepare_function_is_refused_with_the_fix(tmp_path):
    prepared = prepare_tabular(load_sample("iris"), "species")
    prepared.origin = None
    with pytest.raises(handoff.HandoffError, match="Prepare it on the Data page"):
        handoff.write(prepared, tmp_path / "data")


def test_a_damaged_or_foreign_description_is_refused(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    with pytest.raises(handoff.HandoffError, match="cannot be read"):
        handoff.read(folder)
    (folder / handoff.RECIPE_FILE).write_text('{"format": 99}')
    with pytest.raises(handoff.HandoffError, match="another version"):
        handoff.read(folder)
    (folder / handoff.RECIPE_FILE).write_text('{"format": 1, "kind": "pickle", "options": {}}')
    with pytest.raises(handoff.HandoffError, match="unknown kind"):
        handoff.read(folder)
