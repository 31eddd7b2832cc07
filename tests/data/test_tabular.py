"""Targets, splits and the tabular preprocessing that travels in the model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from builder.data.csv_reading import load_csv
from builder.data.errors import DataError
from builder.data.splits import split_indices
from builder.data.tabular import prepare_tabular, task_of_column
from tests.data.builders import mixed_table
from tests.data.checks import preprocessing_gap

# -- targets -----------------------------------------------------------------------


@pytest.mark.parametrize("values, task", [
    (["yes", "no"] * 10, "binary"),
    ([0, 1] * 10, "binary"),
    ([1, 2, 3, 4] * 5, "multiclass"),
    (["a", "b", "c"] * 7, "multiclass"),
    (list(np.linspace(0, 1, 60)), "regression"),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21] * 3,
     "regression"),
])
def test_infers_the_task(values, task):
    assert task_of_column(pd.Series(values, name="t")) == task


def test_target_with_one_class():
    frame = pd.DataFrame({"x": range(20), "t": ["same"] * 20})
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "t")
    assert caught.value.code == "target_one_class"
    assert "'same'" in caught.value.problem and "two different values" in caught.value.fix


def test_target_all_missing():
    frame = pd.DataFrame({"x": range(20), "t": [np.nan] * 20})
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "t")
    assert caught.value.code == "target_all_missing"
    assert "all 20 rows" in caught.value.problem


def test_regression_on_text_is_refused():
    frame = mixed_table()
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "label", task="regression")
    assert caught.value.code == "target_not_numeric"
    assert "binary or multiclass" in caught.value.fix


def test_binary_needs_two_classes():
    frame = pd.DataFrame({"x": range(30), "t": ["a", "b", "c"] * 10})
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "t", task="binary")
    assert caught.value.code == "not_binary"


def test_too_many_classes():
    frame = pd.DataFrame({"x": range(1200), "t": [f"k{i}" for i in range(1200)]})
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "t", task="multiclass")
    assert caught.value.code == "too_many_classes"


def test_rows_without_target_are_left_out():
    frame = mixed_table()
    frame.loc[[3, 4, 5], "label"] = None
    prepared = prepare_tabular(frame, "label")
    assert sum(prepared.sizes.values()) == len(frame) - 3
    assert any("3 row(s) with no target" in note for note in prepared.notes)


def test_several_targets_only_for_regression():
    frame = mixed_table()
    prepared = prepare_tabular(frame, ["price", "rooms"], features=["size", "colour"])
    assert prepared.task == "regression"
    assert prepared.splits["train"].y.shape[1] == 2
    assert prepared.expected_output().units == 2
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, ["price", "rooms"], task="multiclass")
    assert caught.value.code == "multi_target_classification"


def test_unknown_columns_and_no_features():
    frame = mixed_table()
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "nope")
    assert caught.value.code == "unknown_column"
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "label", features=["label"])
    assert caught.value.code == "no_features"
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "label", features=["row_id"])
    assert caught.value.code == "no_features"


# -- splits -------------------------------------------------------------------------


def test_stratified_split_keeps_class_shares_and_seed():
    labels = np.array([0] * 80 + [1] * 20)
    train, val, test = split_indices(100, 0.2, 0.1, seed=3, labels=labels)
    assert len(train) + len(val) + len(test) == 100
    assert len(set(train) | set(val) | set(test)) == 100
    assert labels[val].mean() == pytest.approx(0.2)
    assert labels[test].mean() == pytest.approx(0.2)
    again = split_indices(100, 0.2, 0.1, seed=3, labels=labels)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    other = split_indices(100, 0.2, 0.1, seed=4, labels=labels)
    assert not np.array_equal(train, other[0])


@pytest.mark.parametrize("validation, test", [(0.6, 0.1), (-0.1, 0.1), (0.1, 0.7)])
def test_bad_split_shares(validation, test):
    with pytest.raises(DataError) as caught:
        split_indices(100, validation, test, seed=0)
    assert caught.value.code == "bad_split"


def test_too_few_rows():
    frame = pd.DataFrame({"x": range(6), "t": [0, 1] * 3})
    with pytest.raises(DataError) as caught:
        prepare_tabular(frame, "t")
    assert caught.value.code == "too_few_rows"


# -- preprocessing ---------------------------------------------------------------------


def test_preprocessing_model_reproduces_the_training_inputs():
    prepared = prepare_tabular(mixed_table(), "label", features=["size", "colour", "rooms", "note"],
                               kinds={"rooms": "categorical"})
    assert prepared.kind == "tabular" and prepared.task == "binary"
    kinds = [block["kind"] for block in prepared.info["layout"]]
    assert kinds == ["numeric", "missing", "categorical", "categorical", "text"]
    for split in ("train", "validation", "test"):
        assert preprocessing_gap(prepared, split) < 1e-5
    raw = prepared.raw("test", 3)
    assert raw["rooms"].dtype.kind == "U" and raw["size"].dtype == np.float32


def test_numbers_are_standardised_on_training_rows_and_missing_flagged():
    prepared = prepare_tabular(mixed_table(), "label", features=["size"])
    x, _ = prepared.arrays("train")
    assert x.shape[1] == 2  # the value and its missing flag
    present = x[:, 1] == 0
    assert abs(x[present, 0].mean()) < 0.1 and abs(x[present, 0].std() - 1) < 0.1
    assert np.all(x[~present, 0] == 0)  # a missing value becomes the mean


def test_statistics_match_pandas_on_the_training_rows():
    rng = np.random.default_rng(2)
    n = 5000
    big = 1e6 + rng.integers(0, 8, n) * 0.5  # exact in float32, so raw() gives them back
    big[:1500] = np.nan  # the first rows all missing
    frame = pd.DataFrame({"big": big, "small": rng.normal(0, 1e-3, n), "t": [0, 1] * (n // 2)})
    prepared = prepare_tabular(frame, "t")
    raw = prepared.raw("train")
    # In float64: pandas sums a float32 column in float32, off by ~0.1 at 1e6.
    train_rows = pd.DataFrame({"big": raw["big"][:, 0].astype(np.float64),
                               "small": raw["small"][:, 0].astype(np.float64)})
    means = prepared.info["numeric_means"]
    variances = prepared.info["numeric_variances"]
    assert means[0] == pytest.approx(train_rows["big"].mean(), abs=0.07)  # float32 weights
    assert variances[0] == pytest.approx(train_rows["big"].var(ddof=0), rel=1e-6)
    assert variances[1] == pytest.approx(train_rows["small"].var(ddof=0), rel=1e-3)
    assert preprocessing_gap(prepared, "validation") < 1e-5


def test_unseen_and_missing_categories_share_the_unknown_slot():
    prepared = prepare_tabular(mixed_table(), "label", features=["colour"])
    new = pd.DataFrame({"colour": ["purple", None, "red"]})
    raw = prepared.raw_inputs_from_frame(new)
    out = np.asarray(prepared.preprocessing(raw))
    assert out[0, 0] == 1 and out[1, 0] == 1 and out[2, 0] == 0
    assert out.sum(axis=1).tolist() == [1, 1, 1]
    with pytest.raises(DataError):
        prepared.raw_inputs_from_frame(pd.DataFrame({"other": [1]}))


def test_rare_categories_are_capped():
    n = 300
    frame = pd.DataFrame({"city": [f"town{i % 40}" for i in range(n)], "t": [0, 1] * (n // 2)})
    prepared = prepare_tabular(frame, "t", kinds={"city": "categorical"}, max_categories=10)
    assert prepared.input_shape == (11,)
    assert any("10 most frequent" in note for note in prepared.notes)
    assert preprocessing_gap(prepared, "validation") < 1e-6


def test_regression_targets_are_standardised_and_mapped_back():
    prepared = prepare_tabular(mixed_table(), "price", features=["size", "colour"])
    assert prepared.task == "regression"
    y = prepared.splits["train"].y
    assert abs(y.mean()) < 1e-4 and abs(y.std() - 1) < 1e-3
    back = prepared.to_target_units(y[:5])
    post = np.asarray(prepared.postprocessing(y[:5]))
    assert np.allclose(back, post, atol=1e-4)
    original = mixed_table()["price"].to_numpy()
    gaps = np.nanmin(np.abs(back.ravel()[:, None] - original[None, :]), axis=1)
    assert gaps.max() < 1e-3  # every value maps back onto a real price


def test_reconstruction_targets_are_the_inputs():
    prepared = prepare_tabular(mixed_table(), None, task="reconstruction",
                               features=["size", "rooms", "colour"])
    x, y = prepared.arrays("train")
    assert np.array_equal(x, y) and x.shape[1] == prepared.input_shape[0] == 7
    assert prepared.expected_output().shape == prepared.input_shape
    batch_x, batch_y = next(iter(prepared.batches("train", 8)))
    assert np.array_equal(batch_x.numpy(), batch_y.numpy()) and batch_x.shape == (8, 7)


def test_describe_is_json_and_batches_are_shaped():
    prepared = prepare_tabular(mixed_table(), "label")
    record = json.loads(json.dumps(prepared.describe()))
    assert record["task"] == "binary" and record["class_names"] == ["big", "small"]
    assert record["expected_output"]["activation"] == "sigmoid"
    assert "row_id" not in record["feature_names"]
    batch_x, batch_y = next(iter(prepared.batches("train", 16, seed=1)))
    assert batch_x.shape == (16, prepared.input_shape[0]) and batch_y.shape == (16, 1)
    first = next(iter(prepared.batches("train", 16, seed=1)))[1].numpy()
    assert np.array_equal(first, batch_y.numpy())
    val = next(iter(prepared.batches("validation", 8)))[1].numpy()
    assert np.array_equal(val, prepared.splits["validation"].y[:8])
    with pytest.raises(ValueError):
        prepared.batches("train", 0)


def test_unbatched_datasets_match_the_arrays():
    prepared = prepare_tabular(mixed_table(), "rooms", features=["size", "colour"])
    assert prepared.task == "multiclass" and prepared.num_classes == 5
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in prepared.test])
    x, y = prepared.arrays("test")
    assert np.array_equal(np.stack(xs), x) and np.array_equal(np.array(ys), y)


def test_csv_to_prepared_keeps_notes():
    data = "a,b,t\n" + "".join(f"{i},{'xé'[i % 2]},{i % 2}\n" for i in range(40))
    source = load_csv(data.encode("cp1252"))
    prepared = prepare_tabular(source, "t")
    assert any("not UTF-8" in note for note in prepared.notes)
    assert prepared.source == "data.csv"
