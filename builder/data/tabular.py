"""Tables for training: the target and task, the split, and the prepared inputs.

A table comes in as a :class:`TabularSource` (:mod:`builder.data.csv_reading`
reads CSV text; :mod:`builder.data.columns` detects the column kinds).

The measured traps in the design notes shape this module: statistics (means,
variances, vocabularies) are computed with pandas and NumPy on the training rows,
then the Keras preprocessing layers are *built from them* (``Normalization(mean=,
variance=)``, ``StringLookup(vocabulary=)``) instead of calling ``adapt()``, and
the training inputs are computed with NumPy using the same formulas. Tests check
that the Keras preprocessing model maps raw rows to the very same inputs.

Raw inputs, as the end-to-end model takes them: one ``(n, 1)`` tensor per feature
column, float32 for numeric columns (NaN for a missing value) and strings for
categorical columns (an empty string for a missing value; numbers in a categorical
column are written as text, e.g. ``"3"``); text columns take ``(n,)`` strings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import keras
import numpy as np
import pandas as pd

from builder.custom_layers import (
    DATE_FEATURES,
    TIME_FEATURE,
    DateFeatures,
    FillMissing,
    MissingIndicator,
)
from builder.data import EPSILON, PreparedData, SplitArrays, origin
from builder.data.columns import (
    COLUMN_KINDS,
    DETECT_SAMPLE,
    MAX_CATEGORIES,
    TabularSource,
    arrow_text,
    canonical_text,
    canonical_texts,
    frame_source,
)
from builder.data.errors import DataError
from builder.data.row_tables import StoredTable, aligned_empty, tensor_of
from builder.data.splits import _shuffle, _split
from builder.data.targets import EncodedTarget, finish_targets

TASK_CHOICES = ("binary", "multiclass", "regression")
MAX_CLASSES = 1_000
OOV_TOKEN = "[UNK]"


# ---------------------------------------------------------------------------
# Targets.


def task_of_column(series: pd.Series) -> str:
    """Binary, multiclass or regression, from a target column's values.

    Raises:
        DataError: every value is missing, or there is only one value.
    """
    values = series.dropna()
    _check_target_values(series.name, values, len(series))
    numeric = _is_numeric(values)
    if numeric and values.head(DETECT_SAMPLE).nunique() > 50:
        return "regression"
    return _task_from_uniques(pd.unique(values), numeric)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype)


def _task_from_uniques(uniques, numeric: bool) -> str:
    if len(uniques) == 2:
        return "binary"
    if not numeric:
        return "multiclass"
    whole = bool(np.all(np.mod(np.asarray(uniques, dtype=np.float64), 1) == 0))
    return "multiclass" if whole and len(uniques) <= 20 else "regression"


def _check_target_values(name, values: pd.Series, rows: int) -> None:
    if len(values) == 0:
        raise DataError(f"The target '{name}' is missing in all {rows:,} rows.",
                        "Choose a target column that has values.", code="target_all_missing")
    first = values.iloc[0]
    if not (values != first).any():
        only = canonical_text(first)
        raise DataError(
            f"The target '{name}' has a single value ({only!r}) in all {len(values):,} rows "
            "with a value, so there is nothing to learn.",
            "Choose a target column with at least two different values.",
            code="target_one_class",
        )


def _encode_target(frame: pd.DataFrame, target: list[str], task: str | None) -> EncodedTarget:
    notes: list[str] = []
    if task == "reconstruction":
        return EncodedTarget("reconstruction", np.zeros(len(frame), np.int32), None, [], [], notes)
    present = frame[target].notna().all(axis=1).to_numpy()
    dropped = int((~present).sum())
    keep = None if dropped == 0 else present
    if len(target) > 1:
        if task not in (None, "regression"):
            raise DataError(
                f"Several targets ({', '.join(target)}) can only be predicted together as "
                f"numbers (regression); got task '{task}'.",
                "Pick one target column for classification, or choose regression.",
                code="multi_target_classification",
            )
        columns = []
        for column in target:
            values = frame[column] if keep is None else frame[column][keep]
            _check_target_values(column, values, len(frame))
            columns.append(_regression_values(values, column))
        y = np.stack(columns, axis=1)
        task = "regression"
        class_names, target_names = [], list(target)
    else:
        column = target[0]
        series = frame[column] if keep is None else frame[column][keep]
        if len(series) == 0:
            _check_target_values(column, series, len(frame))
        numeric = _is_numeric(series)
        if task is None and numeric and series.head(DETECT_SAMPLE).nunique() > 50:
            task = "regression"
        codes = uniques = None
        if task != "regression":
            # One factorize serves the one-class check, the task and the class indices.
            codes, uniques = _factorize_sorted(series)
            if len(uniques) < 2:
                _check_target_values(column, series, len(frame))
            if task is None:
                task = _task_from_uniques(uniques, numeric)
        if task == "regression":
            _check_target_values(column, series, len(frame))
            y = _regression_values(series, column)[:, None]
            class_names, target_names = [], [column]
        else:
            y, class_names = _class_indices(codes, uniques, column, task)
            target_names = [column]
    if keep is not None:
        notes.append(f"Left out {dropped:,} row(s) with no target value.")
    return EncodedTarget(task, y, keep, class_names, target_names, notes)


def _regression_values(series: pd.Series, column: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bad.any():
        example = series[bad].iloc[0]
        raise DataError(
            f"Regression predicts numbers, but the target '{column}' holds text such as "
            f"{canonical_text(example)!r:.40} ({int(bad.sum()):,} such rows).",
            "Choose binary or multiclass for labels, or a numeric target column.",
            code="target_not_numeric",
        )
    return values.to_numpy(dtype=np.float64)


def _class_indices(codes: np.ndarray, uniques, column: str, task: str
                   ) -> tuple[np.ndarray, list[str]]:
    names = [canonical_text(u) for u in uniques]
    count = len(names)
    if task == "binary" and count != 2:
        raise DataError(
            f"Binary classification needs exactly two classes, but '{column}' has {count:,}.",
            "Choose multiclass (or regression for a number), or another target.",
            code="not_binary",
        )
    if count > MAX_CLASSES:
        raise DataError(
            f"The target '{column}' has {count:,} different values; at most {MAX_CLASSES:,} "
            "classes are supported (it looks like an id, free text or a continuous number).",
            "Choose regression if it is a number, or another target column.",
            code="too_many_classes",
        )
    return codes.astype(np.int32, copy=False), names


# ---------------------------------------------------------------------------
# Preparing a table for training.


def _input_names(columns: Sequence[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", column).strip("_")[:48] or "column"
        if not base[0].isalpha():
            base = "c_" + base
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name.lower())
        names[column] = name
    return names


@dataclass
class _Plan:
    """How each feature column becomes part of the model input."""

    numeric: list[str]
    categorical: list[str]
    text: list[str]
    names: dict[str, str]  # column -> raw input name
    dates: list[str] = field(default_factory=list)
    date_hours: dict[str, bool] = field(default_factory=dict)  # column -> has times of day
    means: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    variances: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    indicators: list[str] = field(default_factory=list)
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    text_layers: dict[str, Any] = field(default_factory=dict)  # column -> TextVectorization
    layout: list[dict] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return self.numeric + self.dates + self.categorical + self.text


@origin.remembered("tabular")
def prepare_tabular(
    source: TabularSource | pd.DataFrame,
    target: str | Sequence[str] | None,
    *,
    features: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    task: str | None = None,
    validation: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    max_categories: int = MAX_CATEGORIES,
    max_tokens: int = 20_000,
    sequence_length: int | None = None,
) -> PreparedData:
    """Turn a table into a training-ready :class:`PreparedData`.

    When the only feature is a text column, the result is ``kind="text"``: token id
    sequences for Embedding/LSTM/Transformer designs. Text columns among other
    features become bag-of-words counts.

    Args:
        source: the table.
        target: the column(s) to predict; None only for ``task="reconstruction"``.
        features: the input columns; default every column that is not a target or id.
        kinds: overrides of the detected column kinds.
        task: ``binary``, ``multiclass``, ``regression`` or ``reconstruction``;
            None to infer from the target.
        validation, test: shares of rows held out (stratified for classification).
        seed: the split seed.
        max_categories: most frequent labels kept per categorical column; the rest
            share the "unknown" slot.
        max_tokens: vocabulary size for text columns.
        sequence_length: tokens per text (text data); None picks the 95th percentile.

    Raises:
        DataError: unknown columns, no features, a target that cannot be learned.
    """
    if isinstance(source, pd.DataFrame):
        source = frame_source(source)
    frame = source.frame
    targets = [target] if isinstance(target, str) else list(target or [])
    if task not in (None, "binary", "multiclass", "regression", "reconstruction"):
        raise DataError(f"Unknown task {task!r}.",
                        "Choose binary, multiclass, regression or reconstruction.",
                        code="bad_task")
    if not targets and task != "reconstruction":
        raise DataError("No target column was chosen.", "Pick the column to predict.",
                        code="no_target")
    for column, kind in (kinds or {}).items():
        if kind not in COLUMN_KINDS:
            raise DataError(f"Unknown column type {kind!r} for '{column}'.",
                            "Choose numeric, categorical, text, date or id.", code="bad_kind")
    unknown = [c for c in [*targets, *(features or [])] if c not in frame.columns]
    if unknown:
        raise DataError(f"The table has no column {unknown[0]!r}.",
                        "Pick columns from the table's header.", code="unknown_column")
    rows = frame
    if targets and task != "reconstruction":  # the rows _encode_target keeps
        present = frame[targets].notna().all(axis=1).to_numpy()
        rows = frame if present.all() else frame.loc[present]
    # Work that needs no column types (the target, the shuffle) and, once the types
    # are known, the per-column work that needs no split run in threads (NumPy,
    # pyarrow and TensorFlow release the GIL) while this thread detects and splits.
    pool = ThreadPoolExecutor(max_workers=_workers())
    try:
        target_job = pool.submit(_encode_target, frame, targets, task)
        shuffle_job = pool.submit(_shuffle, len(rows), seed)
        early = {c: pool.submit(_category_start, rows[c])
                 for c in _likely_categories(rows, targets, kinds or {})}
        column_kinds = {c: info.kind for c, info in source.columns.items()}
        column_kinds.update(kinds or {})
        if features is None:
            features = [c for c in frame.columns if c not in targets and column_kinds[c] != "id"]
        notes = list(source.notes)
        features = [c for c in features if c not in targets]
        if not features or all(column_kinds[c] == "id" for c in features):
            target_job.result()  # a target that cannot be learned is said first
        if not features:
            raise DataError("No feature columns are left to learn from.",
                            "Pick at least one input column that is not the target.",
                            code="no_features")
        ignored = [c for c in features if column_kinds[c] == "id"]
        if ignored:
            notes.append("Left out id-like column(s): " + ", ".join(ignored) + ".")
            features = [c for c in features if column_kinds[c] != "id"]
            if not features:
                raise DataError("Every chosen feature is marked 'id', so nothing is left to "
                                "learn from.", "Mark a feature as numeric, categorical or text.",
                                code="no_features")
        plan = _Plan(
            numeric=[c for c in features if column_kinds[c] == "numeric"],
            categorical=[c for c in features if column_kinds[c] == "categorical"],
            text=[c for c in features if column_kinds[c] == "text"],
            names=_input_names(features),
            dates=[c for c in features if column_kinds[c] == "date"],
        )
        text_only = plan.text == list(features) and len(plan.text) == 1
        complete = {c for c, info in source.columns.items() if info.missing == 0}
        started = None if text_only else _start_columns(pool, rows, plan, early, complete)
        encoded = target_job.result()
        notes.extend(encoded.notes)
        stratify = encoded.y if encoded.task in ("binary", "multiclass") else None
        train, val, tst = _split(len(rows), validation, test, stratify, shuffle_job.result())
        order = np.concatenate([train, val, tst])
        bounds = (len(train), len(train) + len(val))
        settings = dict(target=targets, features=list(features), task=encoded.task,
                        validation=validation, test=test, seed=seed,
                        kinds={c: column_kinds[c] for c in features})
        if text_only:
            from builder.data import text as text_module

            return text_module.prepare_text_column(
                rows, plan.text[0], encoded, order, bounds, source=source.name, notes=notes,
                settings=settings, max_tokens=max_tokens, sequence_length=sequence_length,
                input_name=plan.names[plan.text[0]],
            )
        targets_job = pool.submit(_finished_targets, encoded, order, bounds[0])
        x, plan_notes, table = _features(rows, plan, (train, val, tst), max_categories,
                                         max_tokens, pool, started)
        finished = targets_job.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    notes.extend(plan_notes)
    return _tabular_prepared(source, rows, plan, encoded, finished, x, table, order, bounds,
                             notes, settings)


def _workers() -> int:
    """Threads for per-column work: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def _numeric_start(series: pd.Series, column: str, out: np.ndarray,
                   complete: bool = False) -> _ColumnSums:
    """One numeric column's work that needs no split: its raw float32 values into
    ``out``, and sums over every row (finished by :func:`_numeric_finish`).

    ``complete``: reading counted no missing value in the column, so none is looked
    for (it holds for the numbers as read, not for text converted to numbers).
    """
    notes: list[str] = []
    complete = complete and series.dtype == np.float64
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
            series.dtype):
        converted = pd.to_numeric(series, errors="coerce")
        coerced = int((converted.isna() & series.notna()).sum())
        if coerced:
            notes.append(f"'{column}': {coerced:,} value(s) that are not numbers were "
                         "treated as missing.")
        series = converted
    values = series.to_numpy()
    if values.dtype != np.float64:  # integers, or nullable numbers holding <NA>
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    # out: the raw value as the float32 raw input carries it
    return _sums(values, notes, out, complete=complete)


_BLOCK = 1 << 16  # values per step of _sums: the temporaries stay in the CPU cache


@dataclass
class _ColumnSums:
    """One numeric column's sums over every row, which :func:`_numeric_finish` turns into
    the training rows' mean and variance by taking off the held-out rows."""

    values: np.ndarray  # float64, every row in file order
    shift: float  # a rough mean the sums are taken around (keeps the squares precise)
    total: float  # sum of (value - shift) over the present values
    squares: float  # sum of (value - shift) ** 2 over them
    count: int  # how many values are present
    has_missing: bool
    notes: list[str]


def _sums(values: np.ndarray, notes: list[str], out: np.ndarray | None = None,
          complete: bool = False) -> _ColumnSums:
    """Sums of float64 ``values`` shifted by a rough mean, NaN left out; and the values
    as float32 into ``out`` if given (block by block, while they are in the CPU cache).
    ``complete`` says the values hold no NaN (counted before), so none is looked for.

    The shift keeps the squares from cancelling when the spread is small next to
    the mean. Block by block into small reused buffers, so that no temporary as
    large as the column is made; squares in place, not with np.dot (BLAS called
    from several threads at once crawls).
    """
    head = values[:1000]
    head_missing = np.isnan(head)
    if head_missing.all():
        present = values[~np.isnan(values)]
        if len(present) == 0:
            if out is not None:
                out[...] = values
            return _ColumnSums(values, 0.0, 0.0, 0.0, 0, len(values) > 0, notes)
        shift = float(present[:1000].mean())
    else:
        shift = float(head[~head_missing].mean())
    buffer = np.empty(min(_BLOCK, len(values)))
    flags = np.empty(len(buffer), bool)
    total = squares = 0.0
    n_missing = 0
    for start in range(0, len(values), _BLOCK):
        part = values[start:start + _BLOCK]
        if out is not None:
            out[start:start + _BLOCK] = part
        centred, missing = buffer[:len(part)], flags[:len(part)]
        np.subtract(part, shift, out=centred)
        if not complete:
            np.isnan(part, out=missing)
            count = int(np.count_nonzero(missing))
            if count:
                n_missing += count
                np.copyto(centred, 0.0, where=missing)
        total += float(centred.sum())
        squares += float(np.square(centred, out=centred).sum())
    return _ColumnSums(values, shift, total, squares, len(values) - n_missing, n_missing > 0,
                       notes)


def _numeric_finish(start: _ColumnSums, held: np.ndarray,
                    column: str) -> tuple[float, float, bool, list[str]]:
    """Mean and variance over the training rows: the sums over every row less the
    sums over the ``held`` out rows (a small gather, not a copy of the training rows).

    A constant column gets variance 1 (it is centred, never divided by ~0); a
    column with no training values mean 0.

    Returns:
        ``(mean, variance, has_missing, notes)``, in float32 precision.
    """
    shift, total, squares, count = start.shift, start.total, start.squares, start.count
    has_missing, notes = start.has_missing, start.notes
    held_values = start.values.take(held)
    held_missing = np.isnan(held_values)
    count -= len(held) - int(np.count_nonzero(held_missing))
    if count == 0:
        notes.append(f"'{column}' has no values in the training rows; it is filled with 0.")
        return 0.0, 1.0, has_missing, notes
    held_centred = held_values - shift
    if held_missing.any():
        np.copyto(held_centred, 0.0, where=held_missing)
    total -= float(held_centred.sum())
    squares -= float(np.square(held_centred, out=held_centred).sum())
    offset = total / count
    var = max(squares / count - offset * offset, 0.0)
    var = var if var > 0 else 1.0
    return float(np.float32(shift + offset)), float(np.float32(var)), has_missing, notes


def _date_start(series: pd.Series, column: str) -> tuple:
    """A date column's numbers, one row per feature (file order), computed by the
    model's own DateFeatures function, with their sums; and whether it has times."""
    import tensorflow as tf

    from builder.custom_layers import date_parts

    notes: list[str] = []
    strings = canonical_texts(series).astype(str)
    with tf.device("CPU:0"):
        parts = np.asarray(date_parts(tf.constant(strings), hours=True))
    hours = bool(np.nanmax(parts[:, -1], initial=0.0) > 0) if len(parts) else False
    if not hours:
        parts = parts[:, :-1]
    bad = np.isnan(parts[:, 0]) & (strings != "")
    if bad.any():
        notes.append(f"'{column}': {int(bad.sum()):,} value(s) are not dates like 2024-01-31 "
                     f"(e.g. {strings[bad][0][:30]!r}) and were treated as missing.")
    if np.isnan(parts[:, 0]).all():
        notes.append(f"'{column}' has no dates; its features are filled with 0.")
    rows = np.ascontiguousarray(parts.T)
    return rows, hours, notes, [_sums(row.astype(np.float64), []) for row in rows]


def _factorize_sorted(series: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(series, sort=True)``, sorting the few uniques instead of the rows."""
    indices, rank, uniques = _dictionary_codes(series)
    return np.take(rank, indices), uniques


def _dictionary_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray, Any]:
    """A column as ``(indices, rank, uniques)``: each row's index into a dictionary of its
    values (in no particular order; never negative), ``rank`` mapping a dictionary index
    to the value's position in the sorted ``uniques`` (-1 for missing).

    ``rank[indices]`` is ``pd.factorize(series, sort=True)[0]``. Kept apart, a caller
    that maps the codes on (one-hot positions) composes the two small tables and
    passes over the rows once.
    """
    arrow = _arrow_dictionary_codes(series)
    if arrow is not None:
        return arrow
    codes, uniques = pd.factorize(series)
    try:
        by_value = np.argsort(np.asarray(uniques), kind="stable")
    except TypeError:  # values that do not compare (mixed types): let pandas sort
        codes, uniques = pd.factorize(series, sort=True)
        by_value = np.arange(len(uniques))
    rank = np.empty(len(by_value) + 1, np.int32)  # index 0 holds the missing values
    rank[0] = -1
    rank[1 + by_value] = np.arange(len(by_value), dtype=np.int32)
    return (codes + 1).astype(np.int32, copy=False), rank, uniques.take(by_value)


def _arrow_dictionary_codes(series: pd.Series
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`_dictionary_codes` of an Arrow-backed text column (pandas' ``str``), or None.

    Arrow's dictionary encoding gives int32 indices without a round trip through
    pandas (about a third less time and half the memory traffic); the few labels
    are then sorted as Python strings, as pandas would.
    """
    chunked = arrow_text(series)
    if chunked is None or chunked.num_chunks == 0:
        return None
    encoded = chunked.dictionary_encode(null_encoding="encode")
    dictionary = encoded.chunk(0).dictionary
    if not all(chunk.dictionary.equals(dictionary) for chunk in encoded.chunks[1:]):
        return None  # not one shared dictionary: let pandas do it
    labels = dictionary.to_pylist()
    present = [i for i, label in enumerate(labels) if label is not None]
    uniques = np.array([labels[i] for i in present], dtype=object)
    by_value = np.argsort(uniques, kind="stable")
    rank = np.full(len(labels), -1, np.int32)  # a missing value (null) gets code -1
    rank[np.asarray(present, np.intp)[by_value]] = np.arange(len(present), dtype=np.int32)
    parts = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks]
    indices = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return indices.astype(np.int32, copy=False), rank, uniques[by_value]


def _category_start(series: pd.Series) -> tuple:
    """Dictionary indices of every row, their ranks, the labels (sorted) and the count
    of each dictionary entry over every row."""
    indices, rank, uniques = _dictionary_codes(series)
    names = [canonical_text(u) for u in uniques]
    return indices, rank, names, np.bincount(indices, minlength=len(rank))


def _category_finish(start: tuple, held: np.ndarray, max_categories: int, column: str,
                     out: np.ndarray) -> tuple[list[str], str]:
    """The vocabulary and a note; the one-hot positions of every row into ``out``.

    The vocabulary holds the labels seen in the training rows (every row not in
    ``held``; the most frequent ``max_categories``); position 0 is "unknown or
    missing", as in StringLookup.
    """
    indices, rank, names, entry_counts = start
    entry_counts = entry_counts - np.bincount(indices.take(held), minlength=len(rank))
    counts = np.zeros(len(names), np.int64)  # by sorted label
    labelled = rank >= 0
    counts[rank[labelled]] = entry_counts[labelled]
    usable = [i for i, name in enumerate(names) if counts[i] > 0 and name not in ("", OOV_TOKEN)]
    note = ""
    if len(usable) > max_categories:
        top = sorted(usable, key=lambda i: -counts[i])[:max_categories]
        note = (f"'{column}' has {len(usable):,} labels; the {max_categories} most frequent "
                "are kept and the rest share the 'unknown' slot.")
        usable = sorted(top)
    by_label = np.zeros(len(names) + 1, dtype=out.dtype)  # the last slot serves rank -1
    by_label[usable] = np.arange(1, len(usable) + 1)
    np.take(by_label[rank], indices, out=out)  # dictionary entry -> one-hot position
    return [names[i] for i in usable], note


@dataclass
class _Started:
    """Column work begun before the split (see :func:`_start_columns`)."""

    numbers: np.ndarray  # (numeric columns, rows) float32, filled by the jobs
    numeric: list  # futures of _numeric_start
    dates: list  # futures of _date_start
    categories: list  # futures of _category_start


def _start_columns(pool: ThreadPoolExecutor, rows: pd.DataFrame, plan: _Plan,
                   early: Mapping[str, Any], complete: set[str]) -> _Started:
    """Start the per-column work that needs no split, in threads (NumPy, pyarrow and
    TensorFlow release the GIL), while the caller encodes the target and splits;
    ``early`` holds category work started before the types were known, ``complete``
    the columns in which reading counted no missing value."""
    numbers = aligned_empty((len(plan.numeric), len(rows)), np.float32)
    return _Started(
        numbers=numbers,
        numeric=[pool.submit(_numeric_start, rows[c], c, numbers[i], c in complete)
                 for i, c in enumerate(plan.numeric)],
        dates=[pool.submit(_date_start, rows[c], c) for c in plan.dates],
        categories=[early[c] if c in early else pool.submit(_category_start, rows[c])
                    for c in plan.categorical],
    )


def _likely_categories(rows: pd.DataFrame, targets: list[str],
                       kinds: Mapping[str, str]) -> list[str]:
    """Text columns that will very likely be categorical features: their encoding can
    start before type detection has run (few labels in the first rows; no override)."""
    if len(rows) < 50_000:  # small tables: nothing worth the guess
        return []
    found = []
    for column in rows.columns:
        series = rows[column]
        if column in targets or kinds.get(column, "categorical") != "categorical":
            continue
        if not pd.api.types.is_string_dtype(series.dtype):
            continue
        head = series.head(1000).dropna()
        if len(head) and head.nunique() <= min(MAX_CATEGORIES, 0.2 * len(head)):
            found.append(column)
    return found


def _features(rows: pd.DataFrame, plan: _Plan, parts: tuple[np.ndarray, ...],
              max_categories: int, max_tokens: int, pool: ThreadPoolExecutor,
              started: _Started) -> tuple[dict, list[str], StoredTable]:
    """The stored inputs of each split, the notes, and the table that expands them
    (the ``x_map``: called on row positions, it gives their model inputs).

    Statistics come from the training rows only. The columns are kept once, in
    file order, as TensorFlow tensors (raw numbers, one-hot positions of the
    categories, text word counts); each split stores only its row positions, in
    shuffled order, and the returned table gathers a batch of rows and computes
    the model inputs from them with the preprocessing model's own formulas
    (standardise, fill the missing with the mean, flag them, one-hot encode). No
    shuffled or split copy of the table is made: at a million rows that matters.
    """
    import tensorflow as tf

    notes: list[str] = []
    train, val, tst = parts
    n = len(rows)
    held_mask = np.zeros(n, bool)  # a mask, not a sort: in file order, the gathers go forward
    held_mask[val] = True
    held_mask[tst] = True
    held = np.flatnonzero(held_mask)
    k = len(plan.numeric)
    numeric = [pool.submit(_numeric_finish, job.result(), held, column)
               for job, column in zip(started.numeric, plan.numeric)]
    dates = [job.result() for job in started.dates]
    date_stats = [pool.submit(_numeric_finish, start, held, column)
                  for column, (_, _, _, starts) in zip(plan.dates, dates) for start in starts]
    # One-hot positions: one byte each while they fit (a quarter of the memory of int32).
    codes = aligned_empty((len(plan.categorical), n),
                          np.uint8 if max_categories < 256 else np.int32)
    categories = [pool.submit(_category_finish, job.result(), held, max_categories, column,
                              codes[i])
                  for i, (job, column) in enumerate(zip(started.categories, plan.categorical))]
    results = [job.result() for job in numeric + date_stats]
    plan.means = np.array([r[0] for r in results], np.float32)
    plan.variances = np.array([r[1] for r in results], np.float32)
    plan.indicators = [c for c, r in zip(plan.numeric, results) if r[2]]
    for result in results[:k]:
        notes.extend(result[3])
    numbers = started.numbers
    if dates:
        for column, (_, hours, date_notes, _) in zip(plan.dates, dates):
            plan.date_hours[column] = hours
            notes.extend(date_notes)
        numbers = aligned_empty((k + sum(len(d[0]) for d in dates), n), np.float32)
        numbers[:k] = started.numbers
        numbers[k:] = np.concatenate([d[0] for d in dates])
    for column, job in zip(plan.categorical, categories):
        plan.vocabularies[column], kept_note = job.result()
        if kept_note:
            notes.append(kept_note)
    text_counts = []
    if plan.text:
        from builder.data import text as text_module

        for column in plan.text:
            strings = canonical_texts(rows[column]).astype(str)
            plan.vocabularies[column] = text_module.vocabulary(strings.take(train), max_tokens)
            plan.text_layers[column] = text_module.vectorizer(
                plan.vocabularies[column], "multi_hot", name=f"words_{plan.names[column]}")
            text_counts.append(tf.cast(plan.text_layers[column](strings), tf.float32))
    _layout(plan)
    with tf.device("CPU:0"):
        stored = StoredTable(
            numbers=tensor_of(numbers) if len(numbers) else None,
            means=tf.constant(plan.means),
            # Normalization's divisor, computed once by the same TF ops (bit for bit).
            scales=tf.maximum(tf.sqrt(tf.constant(plan.variances)),
                              tf.constant(EPSILON, tf.float32)),
            flags=[plan.numeric.index(c) for c in plan.indicators],
            codes=tensor_of(codes) if len(codes) else None,
            depths=[len(plan.vocabularies[c]) + 1 for c in plan.categorical],
            text=(text_counts[0] if len(text_counts) == 1 else tf.concat(text_counts, axis=1))
            if text_counts else None,
            rows=n,
        )
    x = {name: positions.astype(np.int32 if n < 2**31 else np.int64)
         for name, positions in zip(("train", "validation", "test"), parts)}
    return x, notes, stored


def _layout(plan: _Plan) -> None:
    """Where each column's values sit in the model input (for explanations)."""
    start = 0
    for column in plan.numeric:
        plan.layout.append({"column": column, "kind": "numeric", "start": start, "width": 1})
        start += 1
    for column in plan.dates:
        width = len(DATE_FEATURES) + int(plan.date_hours[column])
        plan.layout.append({"column": column, "kind": "date", "start": start, "width": width,
                            "features": list(DATE_FEATURES) + (
                                [TIME_FEATURE] if plan.date_hours[column] else [])})
        start += width
    for column in plan.indicators:
        plan.layout.append({"column": column, "kind": "missing", "start": start, "width": 1})
        start += 1
    for column in plan.categorical:
        width = len(plan.vocabularies[column]) + 1
        plan.layout.append({"column": column, "kind": "categorical", "start": start,
                            "width": width})
        start += width
    for column in plan.text:
        width = len(plan.vocabularies[column]) + 1  # multi_hot: slot 0 is unknown words
        plan.layout.append({"column": column, "kind": "text", "start": start, "width": width})
        start += width


def _frame_encoder(plan: _Plan):
    """A function: DataFrame rows -> the raw input dict the preprocessing model takes."""

    def encode(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        missing = [c for c in plan.columns if c not in frame.columns]
        if missing:
            raise DataError(f"The rows have no column {missing[0]!r}.",
                            "Give every feature column the model was trained on: "
                            + ", ".join(plan.columns) + ".", code="unknown_column")
        raw: dict[str, np.ndarray] = {}
        for column in plan.numeric:
            values = pd.to_numeric(frame[column], errors="coerce")
            raw[plan.names[column]] = values.to_numpy(dtype=np.float32,
                                                      na_value=np.nan).reshape(-1, 1)
        for column in plan.dates + plan.categorical:
            raw[plan.names[column]] = canonical_texts(frame[column]).astype(str).reshape(-1, 1)
        for column in plan.text:
            raw[plan.names[column]] = canonical_texts(frame[column]).astype(str)
        return raw

    return encode


def _build_preprocessing(plan: _Plan):
    inputs: dict[str, Any] = {}
    parts = []
    if plan.numeric or plan.dates:
        tensors = []
        for column in plan.numeric:
            name = plan.names[column]
            inputs[name] = keras.Input(shape=(1,), dtype="float32", name=name)
            tensors.append(inputs[name])
        for column in plan.dates:
            name = plan.names[column]
            inputs[name] = keras.Input(shape=(1,), dtype="string", name=name)
            tensors.append(DateFeatures(hours=plan.date_hours[column],
                                        name=f"date_{name}")(inputs[name]))
        joined = tensors[0] if len(tensors) == 1 else keras.layers.Concatenate(
            name="numeric_columns")(tensors)
        filled = FillMissing(plan.means, name="fill_missing")(joined)
        parts.append(keras.layers.Normalization(
            mean=plan.means.tolist(), variance=plan.variances.tolist(), name="normalize")(filled))
        if plan.indicators:
            flags = [inputs[plan.names[c]] for c in plan.indicators]
            flags = flags[0] if len(flags) == 1 else keras.layers.Concatenate(
                name="missing_columns")(flags)
            parts.append(MissingIndicator(name="missing_flags")(flags))
    for column in plan.categorical:
        name = plan.names[column]
        inputs[name] = keras.Input(shape=(1,), dtype="string", name=name)
        lookup = keras.layers.StringLookup(vocabulary=plan.vocabularies[column],
                                           output_mode="one_hot", name=f"lookup_{name}")
        parts.append(lookup(inputs[name]))
    for column in plan.text:
        name = plan.names[column]
        inputs[name] = keras.Input(shape=(), dtype="string", name=name)
        parts.append(plan.text_layers[column](inputs[name]))
    output = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="features")(parts)
    return keras.Model(inputs, output, name="preprocessing")


def _finished_targets(encoded: EncodedTarget, order: np.ndarray, n_train: int):
    """:func:`finish_targets`, or ``(None, None, {})`` for reconstruction (no targets)."""
    if encoded.task == "reconstruction":
        return None, None, {}
    return finish_targets(encoded, order, n_train)


def _tabular_prepared(source: TabularSource, rows: pd.DataFrame, plan: _Plan,
                      encoded: EncodedTarget, finished: tuple, x: dict, table: StoredTable,
                      order: np.ndarray, bounds: tuple[int, int], notes: list[str],
                      settings: dict) -> PreparedData:
    n_train, n_fit = bounds
    y, postprocessing, info = finished
    encoder = _frame_encoder(plan)
    cuts = {"train": slice(0, n_train), "validation": slice(n_train, n_fit),
            "test": slice(n_fit, len(order))}

    def raw_for(part: slice):
        positions = order[part]

        def raw(limit: int | None = None):
            return encoder(rows.iloc[positions[:limit]])

        return raw

    splits = {name: SplitArrays(x=x[name], y=x[name] if y is None else y[part],
                                raw=raw_for(part))
              for name, part in cuts.items()}
    raw_spec = {}
    for column in plan.columns:
        dtype = "float32" if column in plan.numeric else "string"  # dates come as text
        raw_spec[plan.names[column]] = (() if column in plan.text else (1,), dtype)
    info.update(layout=plan.layout, input_names=dict(plan.names),
                numeric_means=plan.means.tolist(), numeric_variances=plan.variances.tolist(),
                vocabulary_sizes={c: len(v) for c, v in plan.vocabularies.items()})
    return PreparedData(
        kind="tabular", task=encoded.task, splits=splits,
        preprocessing_factory=partial(_build_preprocessing, plan),
        input_shape=(sum(block["width"] for block in plan.layout),), input_dtype="float32",
        raw_spec=raw_spec, raw_is_dict=True,
        num_classes=_num_classes(encoded), class_names=list(encoded.class_names),
        target_names=list(encoded.target_names), feature_names=plan.columns,
        postprocessing=postprocessing, source=source.name, settings=settings, notes=notes,
        info=info, frame_encoder=encoder, x_map=table,
    )


def _num_classes(encoded: EncodedTarget) -> int | None:
    if encoded.task in ("binary", "multiclass"):
        return len(encoded.class_names)
    return None
