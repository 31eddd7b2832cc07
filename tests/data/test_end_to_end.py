"""The exported model, fed raw rows, predicts what the in-app pipeline predicts."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from builder.compile import build_model
from builder.data import join_model, predict_raw
from builder.data.images import prepare_images
from builder.data.link import fix_all
from builder.data.samples import load_sample
from builder.data.tabular import prepare_tabular
from builder.data.timeseries import prepare_timeseries
from tests.helpers import chain


def _mixed_table(n: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    size = rng.normal(0, 1, n)
    size[::11] = np.nan
    shade = rng.choice(["light", "dark", "medium"], n).astype(object)
    shade[::9] = None
    words = rng.choice(["smooth round", "rough edge", "shiny smooth", "dull rough"], n)
    target = np.where(np.nan_to_num(size) + (shade == "dark") > 0.5, "yes", "no")
    return pd.DataFrame({"size": size, "shade": shade, "grade": rng.integers(1, 4, n),
                         "surface": words, "weight": rng.normal(5, 2, n), "keep": target})


def _trained(prepared, *layers, epochs: int = 2):
    design = fix_all(chain(*layers), prepared)
    model = build_model(design)
    spec = prepared.expected_output()
    model.compile(optimizer="adam", loss=spec.loss)
    model.fit(prepared.batches("train", 32), epochs=epochs, verbose=0, shuffle=False)
    return model


def _in_app(prepared, model, split="test"):
    x, _ = prepared.arrays(split)
    return prepared.to_target_units(model.predict(x, verbose=0))


def _exported(model, tmp_path, raw):
    path = str(tmp_path / "saved_model")
    model.export(path, verbose=False)
    served = tf.saved_model.load(path)
    if isinstance(raw, dict):
        return np.asarray(served.serve({k: tf.constant(v) for k, v in raw.items()}))
    return np.asarray(served.serve(tf.constant(raw)))


def test_tabular_raw_rows_through_savedmodel_and_keras_file(tmp_path):
    prepared = prepare_tabular(_mixed_table(), "keep", kinds={"grade": "categorical",
                                                              "surface": "text"})
    model = _trained(prepared, ("Dense", {"units": 8}), "Dense")
    joined = join_model(prepared, model)
    raw = prepared.raw("test")
    expected = _in_app(prepared, model)
    assert np.allclose(predict_raw(joined, raw), expected, atol=1e-5)
    assert np.allclose(_exported(joined, tmp_path, raw), expected, atol=1e-5)
    path = tmp_path / "model.keras"
    joined.save(path)
    reloaded = keras.saving.load_model(path)
    assert np.allclose(predict_raw(reloaded, raw), expected, atol=1e-5)
    # rows typed by a person, with a missing number and an unseen label
    rows = pd.DataFrame({"size": [0.3, None], "shade": ["dark", "purple"], "grade": [2, 9],
                         "surface": ["smooth", "never seen words"], "weight": [4.0, 7.5]})
    assert predict_raw(joined, prepared.raw_inputs_from_frame(rows)).shape == (2, 1)


def test_regression_predictions_come_back_in_target_units(tmp_path):
    source = load_sample("diabetes")
    prepared = prepare_tabular(source, source.target)
    model = _trained(prepared, ("Dense", {"units": 8}), "Dense", epochs=3)
    joined = prepared.end_to_end(model)
    raw = prepared.raw("test")
    expected = _in_app(prepared, model)
    assert expected.mean() > 20  # target units, not standardised ones
    assert np.allclose(_exported(joined, tmp_path, raw), expected, rtol=1e-5, atol=1e-3)


def test_images_from_uint8_pixels(tmp_path):
    prepared = prepare_images(load_sample("digits"), size=(12, 12))
    model = _trained(prepared, ("Conv2D", {"filters": 4}), "Flatten", "Dense")
    joined = join_model(prepared, model)
    raw = prepared.raw("test", 40)
    expected = model.predict(prepared.arrays("test", 40)[0], verbose=0)
    assert np.allclose(_exported(joined, tmp_path, raw), expected, atol=1e-5)


@pytest.mark.parametrize("middle", [["GlobalAveragePooling1D"], [("LSTM", {"units": 8})]])
def test_text_from_raw_strings(tmp_path, middle):
    source = load_sample("topics")
    prepared = prepare_tabular(source, source.target)
    length = prepared.info["sequence_length"]
    model = _trained(prepared, ("Embedding", {"input_dim": 10, "output_dim": 8}), *middle,
                     "Dense")
    assert model.input.shape == (None, length)
    joined = join_model(prepared, model)
    raw = prepared.raw("test")
    expected = _in_app(prepared, model)
    assert np.allclose(_exported(joined, tmp_path, raw), expected, atol=1e-5)


def test_series_from_raw_windows(tmp_path):
    prepared = prepare_timeseries(load_sample("energy"), "demand", window=16, horizon=2)
    model = _trained(prepared, ("GRU", {"units": 8}), "Dense")
    joined = join_model(prepared, model)
    raw = prepared.raw("test", 50)
    expected = prepared.to_target_units(
        model.predict(prepared.arrays("test", 50)[0], verbose=0))
    assert np.allclose(_exported(joined, tmp_path, raw), expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("sample_id", ["moons", "circles"])
def test_toy_sets_learn(sample_id):
    keras.utils.set_random_seed(0)
    source = load_sample(sample_id)
    prepared = prepare_tabular(source, source.target)
    model = _trained(prepared, ("Dense", {"units": 32}), ("Dense", {"units": 32}), "Dense",
                     epochs=25)
    x, y = prepared.arrays("validation")
    guesses = (model.predict(x, verbose=0)[:, 0] > 0.5).astype(int)
    assert (guesses == y[:, 0]).mean() > 0.75
