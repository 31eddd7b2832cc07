"""Column kinds, their charts, and a sample's copy of its table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from builder.data.columns import class_balance, column_summary, detect_columns, frame_source
from tests.data.builders import mixed_table


def test_detects_kinds():
    info = detect_columns(mixed_table())
    assert info["row_id"].kind == "id"
    assert info["size"].kind == "numeric" and info["size"].missing == 8
    assert info["colour"].kind == "categorical" and info["colour"].missing == 10
    assert info["note"].kind == "text"
    assert info["label"].kind == "categorical"
    assert info["rooms"].kind == "numeric"


def test_detects_ids_by_name_and_all_missing_columns():
    frame = pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(50)],
                          "empty": [np.nan] * 50, "x": np.arange(50) % 7})
    info = detect_columns(frame)
    assert info["customer_id"].kind == "id"
    assert info["empty"].kind == "id" and "missing" in info["empty"].reason
    assert info["x"].kind == "numeric"


def test_column_summaries_for_charts():
    frame = mixed_table()
    hist = column_summary(frame, "size", "numeric", bins=10)
    assert hist["type"] == "histogram" and len(hist["counts"]) == 10
    assert sum(hist["counts"]) == frame["size"].notna().sum()
    bars = column_summary(frame, "colour", "categorical")
    assert bars["type"] == "bar" and set(bars["labels"]) == {"red", "green", "blue"}
    words = column_summary(frame, "note", "text")
    assert words["label"] == "words per value"
    balance = class_balance(frame, "label")
    assert balance.sum() == len(frame)


def test_frame_source_copies():
    frame = mixed_table()
    source = frame_source(frame, name="t")
    source.frame.loc[0, "size"] = 999
    assert frame.loc[0, "size"] != 999
