"""The ingest's fast paths give what the plain pandas/NumPy ways give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder.data.columns import missing_counts
from builder.data.csv_reading import _control_ratio, load_csv
from builder.data.splits import split_indices
from builder.data.tabular import _factorize_sorted, _sums, prepare_tabular
from tests.data.checks import preprocessing_gap


def _arrow_text(values) -> pd.Series:
    series = pd.Series(values, dtype="str")
    if getattr(series.array, "_pa_array", None) is None:
        pytest.skip("pandas' str dtype is not Arrow-backed here")
    return series


@pytest.mark.parametrize("values", [
    ["b", "a", None, "b", "é", "Z", "", "a"],
    ["only"] * 5,
    [None, None, "x"],
])
def test_arrow_factorize_matches_pandas_sorted(values):
    series = _arrow_text(values)
    codes, uniques = _factorize_sorted(series)
    expected_codes, expected_uniques = pd.factorize(series.astype(object), sort=True)
    assert codes.tolist() == expected_codes.tolist()
    assert list(uniques) == list(expected_uniques)


def test_arrow_factorize_over_many_chunks():
    # read_csv makes a chunked Arrow column; labels first met in late chunks keep order.
    rng = np.random.default_rng(0)
    labels = np.array([f"shop_{k:02d}" for k in range(40)], dtype=object)
    column = labels[rng.integers(0, 40, 300_000)]
    column[rng.random(len(column)) < 0.01] = None
    column[-1] = "zz_last"
    source = load_csv(pd.DataFrame({"shop": column, "x": 1.0}).to_csv(index=False).encode())
    series = source.frame["shop"]
    codes, uniques = _factorize_sorted(series)
    expected_codes, expected_uniques = pd.factorize(series.astype(object), sort=True)
    assert codes.tolist() == expected_codes.tolist()
    assert list(uniques) == list(expected_uniques)


def test_missing_counts_match_isna():
    frame = pd.DataFrame({
        "text": pd.Series(["x", None, "y", None], dtype="str"),
        "objects": pd.Series(["x", None, None, 3], dtype=object),
        "numbers": [1.0, np.nan, 2.0, 3.0],
        "whole": [1, 2, 3, 4],
    })
    assert missing_counts(frame) == frame.isna().sum().tolist()


def test_control_ratio_counts_control_characters_but_line_breaks_and_tabs():
    text = "".join(chr(i) for i in range(160))
    expected = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\x7f")
    assert _control_ratio(text) == expected / len(text)
    assert _control_ratio("a,b\tc\r\n1,2,3\n") == 0.0


def test_sums_fill_the_float32_copy_block_by_block():
    rng = np.random.default_rng(1)
    values = rng.normal(5, 2, 200_003)
    values[::7] = np.nan
    out = np.empty(len(values), np.float32)
    sums = _sums(values, [], out)
    np.testing.assert_array_equal(out, values.astype(np.float32))
    present = values[~np.isnan(values)]
    assert sums.count == len(present) and sums.has_missing
    assert sums.shift + sums.total / sums.count == pytest.approx(present.mean(), rel=1e-12)
    everything_missing = np.full(10, np.nan)
    out = np.zeros(10, np.float32)
    _sums(everything_missing, [], out)
    assert np.isnan(out).all()


@pytest.mark.parametrize("classes", [None, 2, 3, 12])
def test_split_parts_are_disjoint_shuffled_and_complete(classes):
    rng = np.random.default_rng(2)
    n = 5_000
    labels = None if classes is None else rng.integers(0, classes, n)
    train, val, test = split_indices(n, 0.1, 0.2, 3, labels)
    joined = np.concatenate([train, val, test])
    assert sorted(joined.tolist()) == list(range(n))
    assert len(val) == pytest.approx(0.1 * n, abs=classes or 1)
    assert len(test) == pytest.approx(0.2 * n, abs=classes or 1)
    assert not np.all(np.diff(val) > 0)  # shuffled, not in file order


def test_prepared_categories_from_arrow_text_match_training_rows():
    rng = np.random.default_rng(3)
    n = 2_000
    frame = pd.DataFrame({
        "colour": pd.Series(rng.choice(["red", "green", "blue"], n), dtype="str"),
        "size": rng.normal(0, 1, n),
        "label": pd.Series(rng.choice(["no", "yes"], n), dtype="str"),
    })
    prepared = prepare_tabular(frame, "label", validation=0.1, test=0.1, seed=0)
    assert prepared.class_names == ["no", "yes"]
    assert prepared.info["vocabulary_sizes"] == {"colour": 3}
    x, y = prepared.arrays("train")
    expected = (frame["label"].to_numpy()[prepared.splits["train"].x] == "yes")
    assert y.ravel().tolist() == expected.astype(np.float32).tolist()


@pytest.mark.parametrize("max_categories", [5, 300])
def test_category_positions_from_numbers_with_gaps_match_the_preprocessing_model(
        max_categories):
    # Numbers marked categorical take pandas' factorize path (not Arrow's), with missing
    # values; 300 labels allowed store int32 positions, fewer one byte each.
    rng = np.random.default_rng(4)
    n = 3_000
    rooms = rng.integers(1, 9, n).astype(float)
    rooms[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame({"rooms": rooms, "size": rng.normal(0, 1, n),
                          "label": rng.integers(0, 2, n)})
    prepared = prepare_tabular(frame, "label", kinds={"rooms": "categorical"},
                               max_categories=max_categories, validation=0.2, test=0.1)
    vocabulary_size = prepared.info["vocabulary_sizes"]["rooms"]
    assert vocabulary_size == min(8, max_categories)
    assert preprocessing_gap(prepared, "validation") < 1e-6
    x, _ = prepared.arrays("validation")
    positions = x[:, -(vocabulary_size + 1):].argmax(axis=1)
    missing = np.isnan(rooms[prepared.splits["validation"].x])
    assert (positions[missing] == 0).all() and (positions[~missing] > 0).sum() > 0


def test_sums_of_a_complete_column_skip_the_missing_checks_with_the_same_result():
    rng = np.random.default_rng(5)
    values = rng.normal(3, 2, 150_001)
    checked, skipped = np.empty(len(values), np.float32), np.empty(len(values), np.float32)
    first, second = _sums(values, [], checked), _sums(values, [], skipped, complete=True)
    assert (first.shift, first.total, first.squares, first.count, first.has_missing) == (
        second.shift, second.total, second.squares, second.count, second.has_missing)
    np.testing.assert_array_equal(checked, skipped)


def test_numbers_read_from_text_are_checked_for_missing_values_even_when_complete():
    # The column has no missing *text*; converting it to numbers makes one.
    frame = pd.DataFrame({"n": ["1", "2", "x", "4"] * 10, "t": [0, 1] * 20})
    prepared = prepare_tabular(frame, "t", kinds={"n": "numeric"})
    assert [b["kind"] for b in prepared.info["layout"]] == ["numeric", "missing"]
    assert any("not numbers" in note for note in prepared.notes)
    assert np.isfinite(prepared.info["numeric_means"]).all()


def test_timestamp_labels_keep_pandas_text_in_the_vocabulary():
    # A datetime column marked categorical: labels read as pandas shows them.
    when = pd.Series(pd.to_datetime(["2024-01-02", "2024-03-04"] * 20))
    frame = pd.DataFrame({"when": when, "t": [0, 1] * 20})
    prepared = prepare_tabular(frame, "t", kinds={"when": "categorical"})
    assert prepared.info["vocabulary_sizes"] == {"when": 2}
    assert preprocessing_gap(prepared, "train") < 1e-6
