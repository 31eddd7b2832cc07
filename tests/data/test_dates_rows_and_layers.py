"""Dates, ragged CSV rows, the row-position splits, and the data layers' safe loading."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from builder.data import join_model, predict_raw
from builder.data.columns import column_summary, detect_columns
from builder.data.csv_reading import load_csv
from builder.data.errors import DataError
from builder.data.splits import split_indices
from builder.data.tabular import prepare_tabular
from tests.data.checks import preprocessing_gap

ROOT = Path(__file__).resolve().parents[2]


def _dated(n: int = 150, seed: int = 0, times: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime.datetime(2023, 11, 20, 6, 0)
    stamps = [start + datetime.timedelta(days=int(d), minutes=int(m))
              for d, m in zip(rng.integers(0, 400, n), rng.integers(0, 1440, n))]
    text = [s.strftime("%Y-%m-%d %H:%M" if times else "%Y-%m-%d") for s in stamps]
    text[5] = ""  # a missing date
    size = rng.normal(0, 1, n)
    size[::10] = np.nan
    weekend = np.array([s.weekday() >= 5 for s in stamps])
    return pd.DataFrame({"when": text, "size": size, "shade": rng.choice(["a", "b"], n),
                         "busy": np.where(weekend, "yes", "no")})


# -- dates --------------------------------------------------------------------------


def test_iso_dates_and_date_times_are_detected():
    frame = _dated(times=True)
    frame["day"] = _dated()["when"]
    frame["stamp"] = pd.to_datetime(frame["day"].replace("", None))
    frame["not_quite"] = ["2024-01-31", "soon"] * 75
    info = detect_columns(frame)
    assert info["when"].kind == "date" and "times" in info["when"].reason
    assert info["day"].kind == "date" and info["day"].reason == "dates (YYYY-MM-DD)"
    assert info["stamp"].kind == "date"
    assert info["not_quite"].kind == "categorical"
    bars = column_summary(frame, "day", "date")
    assert bars["type"] == "bar" and bars["labels"][0] == "2023-11"
    assert sum(bars["counts"]) == len(frame) - 1


@pytest.mark.parametrize("times", [False, True])
def test_dates_become_calendar_numbers_inside_the_model(times):
    frame = _dated(times=times)
    prepared = prepare_tabular(frame, "busy", validation=0.2, test=0.2)
    assert prepared.settings["kinds"]["when"] == "date"
    block = next(b for b in prepared.info["layout"] if b["kind"] == "date")
    assert block["column"] == "when" and block["width"] == (5 if times else 4)
    assert block["features"][:4] == ["days since 1970-01-01", "month", "day of month",
                                     "day of week (Monday 0)"]
    assert prepared.raw_spec["when"] == ((1,), "string")
    for split in ("train", "validation", "test"):
        assert preprocessing_gap(prepared, split) < 1e-5
    # The day-of-week feature, unstandardised, is the real weekday of every date.
    raw = prepared.raw("train")["when"][:, 0]
    x, _ = prepared.arrays("train")
    start = block["start"]
    mean = np.array(prepared.info["numeric_means"][1:])  # 'size' comes first
    std = np.sqrt(np.array(prepared.info["numeric_variances"][1:]))
    weekday = np.rint(x[:, start + 3] * std[3] + mean[3])
    for value, got in zip(raw[:40], weekday[:40]):
        if value:
            assert got == datetime.date.fromisoformat(value[:10]).weekday()


def test_a_date_column_can_be_overridden_and_bad_dates_are_noted():
    frame = _dated()
    frame.loc[7, "when"] = "31/01/2024"
    prepared = prepare_tabular(frame, "busy", kinds={"when": "categorical"})
    assert [b["kind"] for b in prepared.info["layout"]].count("date") == 0
    prepared = prepare_tabular(frame, "busy")
    assert any("'when': 1 value(s) are not dates" in note and "31/01/2024" in note
               for note in prepared.notes)
    assert preprocessing_gap(prepared, "train") < 1e-5
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "busy", kinds={"when": "calendar"})
    assert "date" in caught.value.fix


def test_exported_model_takes_raw_date_strings(tmp_path):
    prepared = prepare_tabular(_dated(times=True), "busy")
    inputs = keras.Input(prepared.input_shape)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    joined = join_model(prepared, model)
    raw = prepared.raw("test")
    expected = model.predict(prepared.arrays("test")[0], verbose=0)
    assert np.allclose(predict_raw(joined, raw), expected, atol=1e-5)


# -- the data layers load with only builder.custom_layers imported ---------------------


def test_saved_tabular_model_loads_safely_with_only_custom_layers(tmp_path):
    frame = _dated(times=True)
    assert frame["size"].isna().any()
    prepared = prepare_tabular(frame, "busy")
    layer_types = {type(layer).__name__ for layer in prepared.preprocessing.layers}
    assert {"FillMissing", "MissingIndicator", "DateFeatures"} <= layer_types
    inputs = keras.Input(prepared.input_shape)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    joined = join_model(prepared, model)
    path = tmp_path / "tabular.keras"
    joined.save(path)
    raw = {name: values.tolist() for name, values in prepared.raw("validation", 12).items()}
    (tmp_path / "raw.json").write_text(json.dumps(raw))
    expected = predict_raw(joined, prepared.raw("validation", 12))
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import keras
        import builder.custom_layers  # noqa: F401 - the only Neural Canvas import
        from pathlib import Path
        assert "builder.data.tabular" not in sys.modules
        model = keras.models.load_model({str(path)!r}, safe_mode=True)
        raw = json.loads(Path({str(tmp_path / "raw.json")!r}).read_text())
        import tensorflow as tf
        data = tf.data.Dataset.from_tensor_slices({{k: np.array(v) for k, v in raw.items()}})
        print(json.dumps(model.predict(data.batch(32), verbose=0).tolist()))
        assert "builder.data.tabular" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"TF_CPP_MIN_LOG_LEVEL": "3",
                                                       "CUDA_VISIBLE_DEVICES": "",
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    assert np.allclose(got, expected, atol=1e-6)


def test_the_data_layers_are_still_importable_from_tabular():
    from builder import custom_layers
    from builder.custom_layers import FillMissing, MissingIndicator

    assert FillMissing is custom_layers.FillMissing
    assert MissingIndicator is custom_layers.MissingIndicator
    assert keras.saving.get_registered_name(FillMissing) == "neural_canvas>FillMissing"


# -- ragged rows ----------------------------------------------------------------------


def _rows(n: int, start: int = 0) -> str:
    return "".join(f"{i},{i % 7},{'xy'[i % 2]}\n" for i in range(start, start + n))


def test_a_few_short_rows_are_left_out_and_named():
    data = "a,b,c\n" + _rows(200) + "5,6\n" + _rows(200, 200) + "7\n"
    source = load_csv(data.encode())
    assert len(source.frame) == 400 and source.frame["c"].notna().all()
    note = next(n for n in source.notes if "fewer fields" in n)
    assert "Skipped 2 malformed row(s)" in note and "rows 202, 403" in note


def test_many_short_rows_are_refused_with_their_row_numbers():
    data = "a,b,c\n" + "".join(f"{i},{i}\n" if i % 10 == 0 else f"{i},{i},z\n"
                               for i in range(100))
    with pytest.raises(DataError) as caught:
        load_csv(data.encode(), name="gaps.csv")
    error = caught.value
    assert error.code == "ragged_rows"
    assert "10 rows of 'gaps.csv'" in error.problem
    assert "row 2 has 2, row 12 has 2" in error.problem and "5 more rows" in error.problem
    assert "Skip malformed rows" in error.fix and "a,,c" in error.fix
    source = load_csv(data.encode(), skip_bad_rows=True)
    assert len(source.frame) == 90 and source.frame["c"].notna().all()


def test_an_empty_last_value_with_its_delimiter_is_not_a_short_row():
    data = "a,b,c\n" + _rows(50) + "1,2,\n" + "\n" + _rows(50)
    source = load_csv(data.encode())
    assert len(source.frame) == 101 and source.frame["c"].isna().sum() == 1
    assert not source.notes


def test_short_rows_are_found_past_quoted_line_breaks():
    data = 'a,b,c\n' + _rows(150) + '"two\nlines",2,3\n' + "9,9\n" + _rows(150)
    source = load_csv(data.encode())
    assert len(source.frame) == 301
    assert source.frame.loc[150, "a"] == "two\nlines"
    assert any("row 154," in n or "row 154 " in n for n in source.notes)


def test_long_rows_are_named_too():
    data = "a,b,c\n" + _rows(300) + "1,2,3,4\n" + _rows(10)
    source = load_csv(data.encode())
    assert len(source.frame) == 310
    assert any("more fields than the header's 3 (row 302," in n for n in source.notes)
    many = "a,b,c\n" + _rows(20) + "1,2,3,4\n2,3,4,5\n"
    with pytest.raises(DataError) as caught:
        load_csv(many.encode())
    assert "row 22 has 4, row 23 has 4" in caught.value.problem


# -- splits as row positions ------------------------------------------------------------


def test_splits_are_shuffled_row_positions_of_the_file():
    labels = np.array([0] * 500 + [1] * 300 + [2] * 200)
    train, val, test = split_indices(1000, 0.1, 0.2, seed=0, labels=labels)
    everything = np.concatenate([train, val, test])
    assert np.array_equal(np.sort(everything), np.arange(1000))
    assert [int((labels[val] == c).sum()) for c in range(3)] == [50, 30, 20]
    assert [int((labels[test] == c).sum()) for c in range(3)] == [100, 60, 40]
    assert not np.all(np.diff(train) > 0)  # shuffled, classes mixed
    assert len(set(labels[train[:30]])) == 3
    many = np.arange(1000) % 40  # many classes take the sorting path
    parts = split_indices(1000, 0.2, 0.1, seed=1, labels=many)
    assert [int((many[parts[1]] == c).sum()) for c in range(3)] == [5, 5, 5]
    text_labels = np.array(["b", "a"] * 50)
    parts = split_indices(100, 0.2, 0.2, seed=1, labels=text_labels)
    assert (text_labels[parts[1]] == "a").sum() == 10


def test_batches_gather_the_rows_of_the_file():
    frame = _dated()
    prepared = prepare_tabular(frame, "busy", features=["size", "shade"])
    positions = prepared.splits["validation"].x
    assert positions.dtype == np.int32 and len(positions) == prepared.sizes["validation"]
    x, y = prepared.arrays("validation")
    labels = frame["busy"].to_numpy()[positions]
    assert np.array_equal(y[:, 0], (labels == "yes").astype(np.float32))
    shade = frame["shade"].to_numpy()[positions]
    block = next(b for b in prepared.info["layout"] if b["column"] == "shade")
    assert np.array_equal(x[:, block["start"] + 1] == 1, shade == "a")
