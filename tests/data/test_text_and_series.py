"""Text columns through TextVectorization, and time series windows."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from builder.data.errors import DataError
from builder.data.tabular import prepare_tabular
from builder.data.text import choose_sequence_length, synthetic_topics, vocabulary
from builder.data.timeseries import make_windows, prepare_timeseries, synthetic_series

# -- text ------------------------------------------------------------------------------


def test_vocabulary_matches_what_adapt_would_find():
    texts = np.array(["The cat sat.", "the DOG sat!", "A cat, a dog; a bird?", "Naïve café"])
    ours = vocabulary(texts, max_tokens=100)
    layer = keras.layers.TextVectorization()
    layer.adapt(texts)
    theirs = layer.get_vocabulary()[2:]  # after padding and [UNK]
    assert sorted(ours) == sorted(theirs)
    assert ours[:3] == ["a", "cat", "sat"] or ours[0] == "a"  # most frequent first
    assert vocabulary(texts, max_tokens=2) == ours[:2]


def test_sequence_length_covers_most_texts():
    texts = np.array(["word " * n for n in range(1, 101)])
    assert choose_sequence_length(texts) == 96
    assert choose_sequence_length(np.array(["a"])) == 4
    assert choose_sequence_length(np.array(["w " * 1000])) == 256


def test_a_single_text_column_becomes_token_sequences():
    frame = synthetic_topics(200)
    prepared = prepare_tabular(frame, "topic")
    assert prepared.kind == "text" and prepared.input_dtype == "int32"
    assert prepared.class_names == ["cooking", "sport", "technology", "weather"]
    length = prepared.info["sequence_length"]
    x, _ = prepared.arrays("test")
    assert x.shape[1:] == (length,) and x.dtype == np.int32
    assert x.max() < prepared.info["vocabulary_size"]
    raw = prepared.raw("test")
    assert raw.ndim == 1 and isinstance(raw[0], str)
    assert np.array_equal(np.asarray(prepared.preprocessing(raw)), x)
    unseen = prepared.raw_inputs_from_frame(pd.DataFrame({"text": ["zebra goal goal"]}))
    tokens = np.asarray(prepared.preprocessing(unseen))[0]
    assert tokens[0] == 1 and tokens[1] == tokens[2] > 1 and tokens[3] == 0


def test_text_among_other_columns_becomes_word_counts():
    frame = synthetic_topics(120)
    frame["length"] = frame["text"].str.len()
    prepared = prepare_tabular(frame, "topic", kinds={"text": "text"})
    assert prepared.kind == "tabular"
    x, _ = prepared.arrays("validation")
    out = np.asarray(prepared.preprocessing(prepared.raw("validation")))
    assert np.abs(out - x).max() < 1e-5
    assert prepared.info["layout"][-1]["kind"] == "text"


def test_synthetic_topics_are_fixed():
    assert synthetic_topics(50).equals(synthetic_topics(50))
    assert not synthetic_topics(50, seed=1).equals(synthetic_topics(50))


def test_text_without_words():
    frame = pd.DataFrame({"text": ["!!!", "...", "?"] * 10, "t": [0, 1, 0] * 10})
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "t", kinds={"text": "text"})
    assert caught.value.code == "no_words"


# -- time series -------------------------------------------------------------------------


def test_windows_and_horizon():
    values = np.arange(10, dtype=np.float32)[:, None]
    x, y, starts = make_windows(values, values * 10, window=3, horizon=2, stride=2)
    assert starts.tolist() == [0, 2, 4]
    assert x[:, :, 0].tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    assert y.tolist() == [[30, 40], [50, 60], [70, 80]]
    empty_x, empty_y, _ = make_windows(values[:3], values[:3], 3, 1)
    assert len(empty_x) == 0 and empty_y.shape == (0, 1)


def test_split_by_time_never_leaks_targets():
    frame = synthetic_series(600)
    prepared = prepare_timeseries(frame, "demand", features=["temperature", "demand"],
                                  window=12, horizon=3, stride=1)
    assert prepared.kind == "timeseries" and prepared.task == "regression"
    assert prepared.input_shape == (12, 2)
    assert prepared.target_names == ["demand (t+1)", "demand (t+2)", "demand (t+3)"]
    train_end = prepared.info["periods"]["train_end"]
    demand = frame["demand"].to_numpy(np.float32)
    raw_train = prepared.raw("train")
    # every training window's inputs lie before the end of the training period
    positions = [int(np.flatnonzero(np.isclose(demand, w[0, 1]))[0]) for w in raw_train[-3:]]
    assert max(positions) + 12 + 3 <= train_end + 1
    y_train = prepared.to_target_units(prepared.splits["train"].y)
    assert np.isin(np.round(y_train[-1], 3), np.round(demand[:train_end], 3)).all()
    x, _ = prepared.arrays("test")
    assert np.abs(np.asarray(prepared.preprocessing(prepared.raw("test"))) - x).max() < 1e-5


def test_time_column_sorts_and_gaps_are_filled():
    frame = synthetic_series(300).iloc[::-1].reset_index(drop=True)
    frame.loc[10, "temperature"] = np.nan
    prepared = prepare_timeseries(frame, "demand", features=["temperature"], window=8,
                                  time_column="hour")
    assert any("sorted by 'hour'" in note for note in prepared.notes)
    assert any("filled 1 missing" in note for note in prepared.notes)
    assert not np.isnan(prepared.arrays("train")[0]).any()


@pytest.mark.parametrize("kwargs, code", [
    ({"window": 0}, "bad_window"), ({"horizon": 5000}, "bad_window"),
    ({"window": 2.5}, "bad_window"), ({"window": 290}, "series_too_short"),
    ({"features": ["label"]}, "not_numeric"), ({"time_column": "nope"}, "unknown_column"),
    ({"validation": 0.9}, "bad_split"),
])
def test_bad_series_settings(kwargs, code):
    frame = synthetic_series(300)
    frame["label"] = "x"
    with pytest.raises(DataError) as caught:
        prepare_timeseries(frame, "demand", **kwargs)
    assert caught.value.code == code
    assert caught.value.fix
