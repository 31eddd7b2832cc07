"""A table's columns: what kind each is, what it holds, and how raw inputs write it.

A :class:`TabularSource` is a table the person brought (read by
:func:`builder.data.csv_reading.load_csv`, or a sample) with its column kinds
detected once: numeric, categorical, text, date or id. Detection judges
uniqueness on a sample of rows, so it stays fast on a million; missing values
are counted over every row. The charts of the Data page (histograms, top labels,
rows per month) and the class balance come from here too, and so does the text a
categorical raw input carries for a value (``"3"``, ``"2.5"``, ``"red"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from builder.vocabulary import DATE_PATTERN

COLUMN_KINDS = ("numeric", "categorical", "text", "date", "id")
MAX_CATEGORIES = 200
DETECT_SAMPLE = 20_000  # rows on which uniqueness is judged

_SPACES = re.compile(r"\s+")
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|index|key|row)$|^unnamed: ?\d+$", re.IGNORECASE)


@dataclass
class ColumnInfo:
    """What detection found about one column."""

    name: str
    kind: str
    dtype: str
    missing: int
    unique: int
    reason: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "dtype": self.dtype,
                "missing": self.missing, "unique": self.unique, "reason": self.reason}


@dataclass
class TabularSource:
    """A table the person brought (or a sample), before any choices.

    Attributes:
        frame: the table.
        name: file or sample name.
        encoding: the text encoding it was read with.
        delimiter: the field separator.
        notes: what reading did that the person should know.
        target: the suggested target column(s) (samples).
        task: the suggested task (samples), or None to infer.
        mode: how the page should offer it: ``"tabular"``, ``"text"`` or ``"timeseries"``.
        description: a sentence about the data (samples).
    """

    frame: pd.DataFrame
    name: str = "data.csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    notes: list[str] = field(default_factory=list)
    target: list[str] = field(default_factory=list)
    task: str | None = None
    mode: str = "tabular"
    description: str = ""
    _columns: dict[str, ColumnInfo] | None = field(default=None, repr=False)
    _missing: dict[str, int] | None = field(default=None, repr=False)  # counted on reading

    @property
    def columns(self) -> dict[str, ColumnInfo]:
        """Detected column types (computed once)."""
        if self._columns is None:
            self._columns = detect_columns(self.frame, missing=self._missing)
        return self._columns


def frame_source(frame: pd.DataFrame, name: str = "table", **kwargs) -> TabularSource:
    """Wrap an in-memory DataFrame (a sample) as a TabularSource."""
    frame = frame.copy()
    frame.columns = clean_names(frame.columns)
    return TabularSource(frame=frame, name=name, **kwargs)


def clean_names(columns) -> list[str]:
    names, seen = [], set()
    for i, column in enumerate(columns):
        text = str(column).strip() or f"column_{i + 1}"
        base, n = text, 2
        while text in seen:
            text, n = f"{base}_{n}", n + 1
        seen.add(text)
        names.append(text)
    return names


def missing_counts(frame: pd.DataFrame) -> list[int]:
    """Missing values per column (by position), without DataFrame-wide passes."""
    counts = []
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        if series.dtype == np.float64:
            counts.append(int(np.count_nonzero(np.isnan(series.to_numpy()))))
        elif series.dtype.kind in "iub":
            counts.append(0)
        elif (chunked := arrow_text(series)) is not None:  # Arrow keeps the count
            counts.append(int(chunked.null_count))
        else:
            counts.append(int(series.isna().sum()))
    return counts


def arrow_text(series: pd.Series):
    """The Arrow ChunkedArray of an Arrow-backed text column (pandas' ``str``), or None."""
    chunked = getattr(series.array, "_pa_array", None)
    if chunked is None:
        return None
    import pyarrow as pa

    if not (pa.types.is_string(chunked.type) or pa.types.is_large_string(chunked.type)):
        return None
    return chunked


def detect_columns(frame: pd.DataFrame, sample_rows: int = DETECT_SAMPLE,
                   missing: Mapping[str, int] | None = None) -> dict[str, ColumnInfo]:
    """Guess each column's kind: numeric, categorical, text, date or id (ignored).

    Uniqueness is judged on the first ``sample_rows`` rows, so detection stays fast
    on a million rows; missing counts are over all rows.
    """
    sample = frame.head(sample_rows)
    if missing is None or set(missing) != set(frame.columns):
        missing = dict(zip(frame.columns, missing_counts(frame)))
    return {
        column: _detect_one(column, sample[column], int(missing[column]))
        for column in frame.columns
    }


def _detect_one(name: str, sample: pd.Series, missing: int) -> ColumnInfo:
    if sample.dtype == np.float64:  # the common case, in NumPy: a third of the time
        floats = sample.to_numpy()
        floats = floats[~np.isnan(floats)]
        values = pd.Series(floats, copy=False)
        unique = len(pd.unique(floats))
    else:
        values = sample.dropna()
        unique = int(values.nunique())
    dtype = str(sample.dtype)

    def info(kind: str, reason: str) -> ColumnInfo:
        return ColumnInfo(name, kind, dtype, missing, unique, reason)

    if len(values) == 0:
        return info("id", "every value is missing")
    if pd.api.types.is_datetime64_any_dtype(sample.dtype):
        return info("date", "dates")
    if pd.api.types.is_bool_dtype(sample.dtype):
        return info("numeric", "true/false values")
    if pd.api.types.is_numeric_dtype(sample.dtype):
        whole = pd.api.types.is_integer_dtype(sample.dtype) or _whole_numbers(
            values.to_numpy(dtype=np.float64))
        if whole and unique == len(values) and len(values) >= 20:
            steps = np.diff(values.to_numpy(dtype=np.float64))
            if _ID_NAME.search(name) or (len(steps) and np.all(steps == 1)):
                return info("id", "every value is different, counting up like a row number")
        if _ID_NAME.search(name) and whole and unique > 0.95 * len(values):
            return info("id", "named like an identifier")
        if unique == 1:
            return info("numeric", "a single value (it carries no information)")
        return info("numeric", "numbers")
    text = values.head(2000).astype(str)
    dates = text.str.strip().str.fullmatch(DATE_PATTERN)
    if float(dates.mean()) >= 0.95:
        timed = bool((text.str.strip().str.len() >= 16).any())
        return info("date", "dates and times (YYYY-MM-DD hh:mm)" if timed
                    else "dates (YYYY-MM-DD)")
    items = text.tolist()  # Python strings: a loop over them beats a pandas regex map
    lengths = np.array([len(v) for v in items], dtype=float)
    words = np.array([len(_SPACES.findall(v)) + 1 for v in items], dtype=float)
    if float(np.median(words)) >= 4 or float(lengths.mean()) >= 40:
        return info("text", "sentences of several words")
    ratio = unique / max(len(values), 1)
    if _ID_NAME.search(name) or (ratio > 0.95 and len(values) >= 20):
        return info("id", "a different value in (nearly) every row")
    if unique > max(MAX_CATEGORIES, 0.5 * len(values)) and float(words.mean()) > 1.5:
        return info("text", "many different multi-word values")
    return info("categorical", f"{unique} distinct labels")


def _whole_numbers(values: np.ndarray) -> bool:
    """Whether every value is a finite whole number (``trunc``: a tenth of ``mod``'s time)."""
    return bool(np.array_equal(np.trunc(values), values) and np.isfinite(values).all())


def column_summary(frame: pd.DataFrame, column: str, kind: str, bins: int = 20) -> dict:
    """Counts for one column's chart: a histogram (numeric), rows per month or year
    (dates) or top labels (others).

    Returns:
        ``{"type": "histogram", "edges": [...], "counts": [...]}`` or
        ``{"type": "bar", "labels": [...], "counts": [...], "other": n}``.
    """
    series = frame[column]
    if kind == "numeric":
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return {"type": "histogram", "edges": [], "counts": []}
        counts, edges = np.histogram(values, bins=bins)
        return {"type": "histogram", "edges": edges.tolist(), "counts": counts.tolist()}
    if kind == "text":
        sample = series.dropna().head(DETECT_SAMPLE).astype(str)
        lengths = sample.str.split().str.len().to_numpy(dtype=np.float64)
        counts, edges = np.histogram(lengths if len(lengths) else np.zeros(0), bins=bins)
        return {"type": "histogram", "edges": edges.tolist(), "counts": counts.tolist(),
                "label": "words per value"}
    if kind == "date":
        return _date_summary(series)
    top = _label_counts(series)
    shown = top.head(20)
    return {"type": "bar", "labels": [str(v) for v in shown.index],
            "counts": [int(c) for c in shown.to_numpy()], "other": int(top.iloc[20:].sum())}


def _date_summary(series: pd.Series) -> dict:
    """Rows per month (per year when the dates span more than three years)."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = series.astype("string").str.strip()
    stamps = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601").dropna()
    if stamps.empty:
        return {"type": "bar", "labels": [], "counts": [], "other": 0, "label": "rows per month"}
    years, months = stamps.dt.year.to_numpy(), stamps.dt.month.to_numpy()
    monthly = (years.max() - years.min()) * 12 + 12 <= 36
    keys = years * 100 + months if monthly else years
    counts = pd.Series(keys).value_counts().sort_index()
    labels = [f"{k // 100}-{k % 100:02d}" if monthly else str(k) for k in counts.index]
    return {"type": "bar", "labels": labels, "counts": [int(c) for c in counts.to_numpy()],
            "other": 0, "label": "rows per month" if monthly else "rows per year"}


def class_balance(frame: pd.DataFrame, target: str) -> pd.Series:
    """Rows per class of a target column (missing values left out), largest first."""
    return _label_counts(frame[target])


def _label_counts(series: pd.Series) -> pd.Series:
    """Rows per label, labels written as raw inputs write them, largest first."""
    counts = series.value_counts(dropna=True)
    counts.index = [canonical_text(v) for v in counts.index]
    return counts.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")


def canonical_text(value: Any) -> str:
    """A value as the text a categorical raw input carries ("3", "2.5", "red")."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(float(value))
    return str(value)


def canonical_texts(series: pd.Series) -> np.ndarray:
    """Canonical strings of a column, missing as ""; an object array."""
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
            series.dtype):
        return series.fillna("").to_numpy(dtype=object)
    return np.array([canonical_text(v) if not _is_missing(v) else "" for v in series], dtype=object)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
