"""Tables: read a CSV safely, detect column types, pick a target, prepare for training.

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

import codecs
import contextlib
import csv
import io
import math
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from builder.custom_layers import (
    DATE_FEATURES,
    DATE_PATTERN,
    TIME_FEATURE,
    DateFeatures,
    FillMissing,
    MissingIndicator,
)
from builder.data import EPSILON, PreparedData, SplitArrays
from builder.data.errors import DataError
from builder.data.row_tables import StoredTable, aligned_empty, tensor_of

COLUMN_KINDS = ("numeric", "categorical", "text", "date", "id")
TASK_CHOICES = ("binary", "multiclass", "regression")
ENCODINGS = ("auto", "utf-8", "cp1252", "latin-1", "utf-16", "utf-8-sig")
ENCODING_NAMES = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 (with BOM)", "cp1252": "Windows-1252 (Western)",
    "latin-1": "Latin-1 (ISO-8859-1)", "utf-16": "UTF-16",
}
DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 5_000
MAX_CLASSES = 1_000
MAX_CATEGORIES = 200
MIN_ROWS = 10
SNIFF_BYTES = 64 * 1024
DETECT_SAMPLE = 20_000
# Bigger uploads are parsed from a temp file: pandas parses a local file of 5 MB or more in
# threads, byte range by byte range, but a file object in one (a 6 MB upload: 26 -> 21 ms).
IN_MEMORY_LIMIT = 5 * 1024 * 1024
OOV_TOKEN = "[UNK]"

_MAGIC = (
    (b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx)",
     "In Excel or LibreOffice use File > Save As and choose 'CSV UTF-8'."),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel or Word file (.xls/.doc)",
     "In Excel or LibreOffice use File > Save As and choose 'CSV UTF-8'."),
    (b"%PDF", "a PDF document", "Export the table as CSV from the program that made it."),
    (b"\x89PNG", "a PNG image", "Choose a CSV text file; images go in a zip of class folders."),
    (b"\xff\xd8\xff", "a JPEG image",
     "Choose a CSV text file; images go in a zip of class folders."),
    (b"GIF8", "a GIF image", "Choose a CSV text file; images go in a zip of class folders."),
    (b"SQLite format 3", "a SQLite database", "Export the table as CSV first."),
    (b"\x1f\x8b", "a gzip-compressed file", "Decompress it first and upload the CSV inside."),
    (b"PAR1", "a Parquet file", "Convert it to CSV first (pandas: read_parquet, to_csv)."),
    (b"\x7fELF", "a program, not data", "Choose a CSV text file."),
)

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters but tab, CR, LF
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|index|key|row)$|^unnamed: ?\d+$", re.IGNORECASE)


# ---------------------------------------------------------------------------
# Reading a CSV.


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


def _describe_binary(head: bytes) -> tuple[str, str] | None:
    for magic, what, fix in _MAGIC:
        if head.startswith(magic):
            return what, fix
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[:400]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _guess_encoding(head: bytes) -> tuple[str, str | None]:
    """(encoding, note) from the first bytes; the note says when it is a guess."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", None
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16, None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    return _fallback_encoding(head)


def _fallback_encoding(data: bytes) -> tuple[str, str]:
    try:
        data.decode("cp1252")
        encoding = "cp1252"
    except UnicodeDecodeError:
        encoding = "latin-1"
    return encoding, (
        f"The file is not UTF-8 text; it was read as {ENCODING_NAMES[encoding]}. If accented "
        "letters look wrong in the preview, choose the file's encoding under 'Encoding'."
    )


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    return len(_CONTROL.findall(text)) / len(text)


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most fields (comma on ties)."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    best, best_count = ",", 1
    for delimiter in DELIMITERS:
        try:
            count = len(next(csv.reader([line], delimiter=delimiter)))
        except (csv.Error, StopIteration):
            continue
        if count > best_count:
            best, best_count = delimiter, count
    return best


def _read_head(source) -> tuple[bytes, int]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return data[:SNIFF_BYTES], len(data)
    path = Path(source)
    with open(path, "rb") as handle:
        return handle.read(SNIFF_BYTES), path.stat().st_size


def load_csv(
    source: bytes | str | os.PathLike,
    *,
    name: str | None = None,
    encoding: str | None = None,
    skip_bad_rows: bool = False,
    delimiter: str | None = None,
) -> TabularSource:
    """Read CSV text into a :class:`TabularSource`, refusing broken input clearly.

    Args:
        source: the file's bytes, or a path.
        name: the file name for messages (default: the path's name).
        encoding: the text encoding; None or ``"auto"`` to detect it.
        skip_bad_rows: skip rows with more fields than the header instead of refusing.
        delimiter: the field separator; None to detect ``, ; tab |``.

    Raises:
        DataError: empty, header-only, binary, undecodable or malformed input.
    """
    if name is None:
        name = Path(source).name if isinstance(source, (str, os.PathLike)) else "data.csv"
    head, size = _read_head(source)
    if size == 0 or not head.strip():
        raise DataError(f"'{name}' is empty.",
                        "Choose a CSV file with a header row and at least one data row.",
                        code="empty_file")
    binary = _describe_binary(head)
    if binary:
        what, fix = binary
        raise DataError(f"'{name}' is {what}, not CSV text.", fix, code="binary_file")
    notes: list[str] = []
    if encoding in (None, "", "auto"):
        encoding, note = _guess_encoding(head)
        guessed = True
        if note:
            notes.append(note)
    else:
        guessed = False
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise DataError(f"'{encoding}' is not a text encoding Python knows.",
                            "Choose one of: " + ", ".join(ENCODINGS[1:]) + ".",
                            code="bad_encoding") from exc
    if b"\x00" in head and not encoding.startswith("utf-16"):
        raise DataError(f"'{name}' holds binary data (NUL bytes), not CSV text.",
                        "Choose a CSV text file, e.g. saved from a spreadsheet as 'CSV UTF-8'.",
                        code="binary_file")
    head_text = head.decode(encoding, errors="replace")
    if _control_ratio(head_text[:20000]) > 0.01:
        raise DataError(f"'{name}' is full of control characters, so it is binary data, "
                        "not CSV text.",
                        "Choose a CSV text file, e.g. saved from a spreadsheet as 'CSV UTF-8'.",
                        code="binary_file")
    if delimiter is None:
        delimiter = _sniff_delimiter(head_text)
    try:
        frame, skipped = _parse(source, size, encoding, delimiter, skip_bad_rows)
    except UnicodeDecodeError as exc:
        if not guessed:
            raise DataError(
                f"'{name}' is not valid {ENCODING_NAMES.get(encoding, encoding)} text "
                f"(byte {exc.start:,} cannot be decoded).",
                "Choose another encoding under 'Encoding', or 'auto' to let the app guess.",
                code="bad_encoding",
            ) from exc
        data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else (
            Path(source).read_bytes())
        encoding, note = _fallback_encoding(data)
        notes.append(note)
        frame, skipped = _parse(source, size, encoding, delimiter, skip_bad_rows)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"'{name}' has no columns: it holds only blank lines.",
                        "Choose a CSV file with a header row and at least one data row.",
                        code="empty_file") from exc
    except pd.errors.ParserError as exc:
        raise _parser_error(name, str(exc)) from exc
    except MemoryError as exc:
        raise DataError(f"'{name}' is too large to load into memory here.",
                        "Use a sample of the rows (the first 100,000 are plenty to start).",
                        code="too_large") from exc
    frame = _ragged_rows(frame, skipped, source, name, encoding, delimiter, skip_bad_rows,
                         notes)
    missing = _missing_counts(frame)
    _check_frame(frame, name, missing)
    frame.columns = _clean_names(frame.columns)
    if all(_is_number(c) for c in frame.columns):
        notes.append("The first row looks like numbers, not column names; it was used as the "
                     "header. Add a header row if it is data.")
    return TabularSource(frame=frame, name=name, encoding=encoding, delimiter=delimiter,
                         notes=notes, _missing=dict(zip(frame.columns, missing)))


def _parse(source, size: int, encoding: str, delimiter: str, skip_bad_rows: bool):
    """The table, and ``(line, fields)`` of each row with more fields than the header.

    Such rows are judged afterwards with the short rows (see _ragged_rows). The
    parser is asked to fail on the first: skipping them with a warning makes it
    run at half speed, so that is done only when the file has some.
    """
    try:
        return _read(source, size, encoding, delimiter, "error"), []
    except pd.errors.ParserError as exc:
        if not re.search(r"Expected \d+ fields in line \d+, saw \d+", str(exc)):
            raise
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        frame = _read(source, size, encoding, delimiter, "warn")
    skipped = sorted({(int(line), int(saw)) for w in caught for line, saw in  # read twice?
                      re.findall(r"Skipping line (\d+): expected \d+ fields, saw (\d+)",
                                 str(w.message))})
    return frame, skipped


# pandas' default missing-value spellings (read_csv's ``na_values``), in two groups.
# The parser looks up every field whose first character starts one of the spellings;
# the few that start like a number ("-nan", "1.#IND", ...) would make it look up
# most numbers, a sixth of the whole read. They are read as text first, and looked
# for afterwards (see _may_hold_number_like_missing): only a text column can hold
# one, and when one may be there the file is read again with all of them.
MISSING_WORDS = ("", "#N/A", "#N/A N/A", "#NA", "<NA>", "N/A", "NA", "NULL", "NaN", "None",
                 "n/a", "nan", "null")
NUMBER_LIKE_MISSING = ("-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN")


def _read(source, size: int, encoding: str, delimiter: str, on_bad_lines: str) -> pd.DataFrame:
    """The table as ``pandas.read_csv`` reads it with its default missing values."""
    # pandas reads UTF-8 by default; naming it explicitly makes the C parser slower.
    kwargs = dict(sep=delimiter, encoding=None if encoding == "utf-8" else encoding,
                  on_bad_lines=on_bad_lines)
    if isinstance(source, (bytes, bytearray, memoryview)) and size > IN_MEMORY_LIMIT:
        with _temporary_copy(bytes(source)) as path:
            return _read_twice_if_needed(lambda: path, kwargs)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read_twice_if_needed(lambda: io.BytesIO(bytes(source)), kwargs)
    return _read_twice_if_needed(lambda: source, kwargs)


def _read_twice_if_needed(open_source, kwargs: dict) -> pd.DataFrame:
    """Read with the quick missing values; again with pandas' own if a text column may
    hold one of the others. ``open_source()`` gives the path or a fresh file object."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = pd.read_csv(open_source(), keep_default_na=False,
                            na_values=list(MISSING_WORDS), **kwargs)
    if _may_hold_number_like_missing(frame):
        # the first read's warnings (a column of mixed types) may be about those values
        return pd.read_csv(open_source(), **kwargs)
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    return frame


def _may_hold_number_like_missing(frame: pd.DataFrame) -> bool:
    """Whether a text column may hold one of NUMBER_LIKE_MISSING (never a false no).

    Arrow-backed text is scanned as bytes: each spelling holds a '#' or a '-' followed
    by 'n' or 'N' (a millisecond per million short values). Other text is compared.
    """
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        if series.dtype.kind in "fiubmM" or isinstance(series.dtype, pd.CategoricalDtype):
            continue
        chunked = _arrow_text(series)
        if chunked is None:
            if series.isin(NUMBER_LIKE_MISSING).any():
                return True
            continue
        for chunk in chunked.chunks:
            data = chunk.buffers()[2]
            if data is None:
                continue
            text = np.frombuffer(data, np.uint8)
            if np.count_nonzero(text == ord("#")):
                return True
            dashes = np.flatnonzero(text[:-1] == ord("-"))
            if len(dashes) and np.isin(text[dashes + 1], (ord("n"), ord("N"))).any():
                return True
    return False


def _arrow_text(series: pd.Series):
    """The Arrow ChunkedArray of an Arrow-backed text column (pandas' ``str``), or None."""
    chunked = getattr(series.array, "_pa_array", None)
    if chunked is None:
        return None
    import pyarrow as pa

    if not (pa.types.is_string(chunked.type) or pa.types.is_large_string(chunked.type)):
        return None
    return chunked


@contextlib.contextmanager
def _temporary_copy(data: bytes):
    """A temporary file holding ``data`` (a large upload parses faster from a file)."""
    handle, path = tempfile.mkstemp(suffix=".csv", prefix="nc-upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


BAD_ROW_SHARE = 0.01  # ragged rows up to this share of the rows are left out with a note


def _ragged_rows(frame: pd.DataFrame, long_rows: list[tuple[int, int]], source, name: str,
                 encoding: str, delimiter: str, skip_bad_rows: bool,
                 notes: list[str]) -> pd.DataFrame:
    """Leave out rows with more or fewer fields than the header, or refuse the file.

    pandas fills a short row with missing values without a word, and skips long
    rows when told to. Both are malformed: a few (at most ``BAD_ROW_SHARE`` of the
    rows, or any number with ``skip_bad_rows``) are left out with a note naming
    them; more make a DataError naming the first rows and the fix.
    """
    short = _short_rows(frame, source, encoding, delimiter, [line for line, _ in long_rows])
    if not long_rows and not short:
        return frame
    width = frame.shape[1]
    bad = sorted([(line, saw, "long") for line, saw in long_rows]
                 + [(line, saw, "short") for _, line, saw in short])
    total = len(frame) + len(long_rows)
    if not skip_bad_rows and len(bad) > BAD_ROW_SHARE * total:
        if len(bad) == 1:
            line, saw, _ = bad[0]
            problem = (f"Row {line} of '{name}' has {saw} field{'s' * (saw != 1)} but the "
                       f"header has {width} (ragged rows).")
        else:
            shown = ", ".join(f"row {line} has {saw}" for line, saw, _ in bad[:5])
            more = f", and {len(bad) - 5:,} more rows" if len(bad) > 5 else ""
            problem = (f"{len(bad):,} rows of '{name}' do not have the header's {width} "
                       f"fields (ragged rows): {shown}{more}.")
        raise DataError(
            problem,
            "Fix those rows (a value holding the delimiter needs quotes; a missing value "
            "still needs its delimiter, e.g. 'a,,c'), or tick 'Skip malformed rows' to "
            "leave them out. Rows are counted as in a spreadsheet, the header being row 1.",
            code="ragged_rows",
        )
    if short:
        keep = np.ones(len(frame), bool)
        keep[[index for index, _, _ in short]] = False
        numbered = isinstance(frame.index, pd.RangeIndex)
        frame = frame.iloc[keep]
        if numbered:  # row names (R's write.csv) stay as they are
            frame = frame.reset_index(drop=True)
    for kind, word in (("short", "fewer"), ("long", "more")):
        lines = [line for line, _, k in bad if k == kind]
        if lines:
            shown = ", ".join(str(line) for line in lines[:5])
            more = f" and {len(lines) - 5:,} more" if len(lines) > 5 else ""
            label = "row" if len(lines) == 1 else "rows"
            notes.append(f"Skipped {len(lines):,} malformed row(s) with {word} fields than the "
                         f"header's {width} ({label} {shown}{more}, the header being row 1).")
    return frame


def _short_rows(frame: pd.DataFrame, source, encoding: str, delimiter: str,
                skipped_lines: list[int]) -> list[tuple[int, int, int]]:
    """Rows that had fewer fields than the header: ``(index, line, fields)`` each.

    A short row ends in missing values, so only rows whose last value is missing
    are candidates (none, in most files: then this costs one column check). The
    text is then read again, line by line when it has no quotes, else with the
    csv module (quoted values may hold line breaks).
    """
    width = frame.shape[1]
    if width < 2 or len(frame) == 0:
        return []
    candidates = np.flatnonzero(frame.iloc[:, -1].isna().to_numpy())
    if len(candidates) == 0:
        return []
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else (
        Path(source).read_bytes())
    text = data.decode(encoding, errors="replace")
    skipped = set(skipped_lines)
    if '"' not in text:
        lines = text.split("\n")
        starts = [i + 1 for i, line in enumerate(lines) if line.strip()]  # 1-based
        records = [number for number in starts if number not in skipped] if skipped else starts
        found = []
        for index in candidates:
            if index + 1 >= len(records):
                break
            line = records[index + 1]  # records[0] is the header
            fields = lines[line - 1].count(delimiter) + 1
            if fields < width:
                found.append((int(index), line, fields))
        return found
    wanted = set(int(i) for i in candidates)
    found, index, previous = [], -1, 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for fields in reader:
            start, previous = previous + 1, reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()) or start in skipped:
                continue
            if index >= 0 and index in wanted and len(fields) < width:
                found.append((index, start, len(fields)))
            index += 1
    except csv.Error:
        return found
    return found


def _missing_counts(frame: pd.DataFrame) -> list[int]:
    """Missing values per column (by position), without DataFrame-wide passes."""
    counts = []
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        if series.dtype == np.float64:
            counts.append(int(np.count_nonzero(np.isnan(series.to_numpy()))))
        elif series.dtype.kind in "iub":
            counts.append(0)
        elif (pd.api.types.is_string_dtype(series.dtype)
              and getattr(series.array, "_pa_array", None) is not None):  # Arrow keeps count
            counts.append(int(series.array._pa_array.null_count))
        else:
            counts.append(int(series.isna().sum()))
    return counts


def _parser_error(name: str, message: str) -> DataError:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        expected, line, saw = match.groups()
        return DataError(
            f"Row {line} of '{name}' has {saw} fields but the header has {expected} "
            "(ragged rows).",
            "Fix that row (a value holding the delimiter needs quotes), or tick "
            "'Skip malformed rows' to leave such rows out.",
            code="ragged_rows",
        )
    if "EOF inside string" in message:
        row = re.search(r"row (\d+)", message)
        where = f" starting at row {row.group(1)}" if row else ""
        return DataError(f"'{name}' has a quote that is never closed{where}.",
                         "Close the quote, or remove the stray quote character.",
                         code="unclosed_quote")
    return DataError(f"'{name}' could not be parsed as CSV ({message.strip()[:200]}).",
                     "Check that it is a comma-separated text file with one header row.",
                     code="bad_csv")


def _check_frame(frame: pd.DataFrame, name: str, missing: list[int]) -> None:
    if frame.shape[1] == 0:
        raise DataError(f"'{name}' has no columns.",
                        "Choose a CSV file with a header row and at least one data row.",
                        code="empty_file")
    if frame.shape[1] > MAX_COLUMNS:
        raise DataError(f"'{name}' has {frame.shape[1]:,} columns; at most {MAX_COLUMNS:,} "
                        "are supported.", "Keep the columns you need and upload again.",
                        code="too_many_columns")
    if len(frame) == 0:
        raise DataError(
            f"'{name}' has a header ({frame.shape[1]} column(s)) but no data rows.",
            "Add rows below the header, or choose another file.", code="header_only")
    if all(count == len(frame) for count in missing):
        raise DataError(f"'{name}' has {len(frame):,} rows but every value is empty.",
                        "Choose a file with data in it.", code="no_values")


def _clean_names(columns) -> list[str]:
    names, seen = [], set()
    for i, column in enumerate(columns):
        text = str(column).strip() or f"column_{i + 1}"
        base, n = text, 2
        while text in seen:
            text, n = f"{base}_{n}", n + 1
        seen.add(text)
        names.append(text)
    return names


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def frame_source(frame: pd.DataFrame, name: str = "table", **kwargs) -> TabularSource:
    """Wrap an in-memory DataFrame (a sample) as a TabularSource."""
    frame = frame.copy()
    frame.columns = _clean_names(frame.columns)
    return TabularSource(frame=frame, name=name, **kwargs)


# ---------------------------------------------------------------------------
# Column types.


def detect_columns(frame: pd.DataFrame, sample_rows: int = DETECT_SAMPLE,
                   missing: Mapping[str, int] | None = None) -> dict[str, ColumnInfo]:
    """Guess each column's kind: numeric, categorical, text, date or id (ignored).

    Uniqueness is judged on the first ``sample_rows`` rows, so detection stays fast
    on a million rows; missing counts are over all rows.
    """
    sample = frame.head(sample_rows)
    if missing is None or set(missing) != set(frame.columns):
        missing = dict(zip(frame.columns, _missing_counts(frame)))
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
    counts.index = [_canonical(v) for v in counts.index]
    return counts.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")


# ---------------------------------------------------------------------------
# Targets.


def _canonical(value: Any) -> str:
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


def _canonical_array(series: pd.Series) -> np.ndarray:
    """Canonical strings of a column, missing as ""; an object array."""
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
            series.dtype):
        return series.fillna("").to_numpy(dtype=object)
    return np.array([_canonical(v) if not _is_missing(v) else "" for v in series], dtype=object)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def infer_task(series: pd.Series) -> str:
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
        only = _canonical(first)
        raise DataError(
            f"The target '{name}' has a single value ({only!r}) in all {len(values):,} rows "
            "with a value, so there is nothing to learn.",
            "Choose a target column with at least two different values.",
            code="target_one_class",
        )


@dataclass
class _Target:
    task: str
    y: np.ndarray  # class indices (int32) or raw values (float64, n x k)
    keep: np.ndarray | None  # rows with a target value, or None for all
    class_names: list[str]
    target_names: list[str]
    notes: list[str]


def _encode_target(frame: pd.DataFrame, target: list[str], task: str | None) -> _Target:
    notes: list[str] = []
    if task == "reconstruction":
        return _Target("reconstruction", np.zeros(len(frame), np.int32), None, [], [], notes)
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
    return _Target(task, y, keep, class_names, target_names, notes)


def _regression_values(series: pd.Series, column: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bad.any():
        example = series[bad].iloc[0]
        raise DataError(
            f"Regression predicts numbers, but the target '{column}' holds text such as "
            f"{_canonical(example)!r:.40} ({int(bad.sum()):,} such rows).",
            "Choose binary or multiclass for labels, or a numeric target column.",
            code="target_not_numeric",
        )
    return values.to_numpy(dtype=np.float64)


def _class_indices(codes: np.ndarray, uniques, column: str, task: str
                   ) -> tuple[np.ndarray, list[str]]:
    names = [_canonical(u) for u in uniques]
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
# Splits.


def split_indices(n: int, validation: float, test: float, seed: int,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled train/validation/test row positions; stratified when labels are given.

    Raises:
        DataError: bad fractions, or too few rows for the splits asked for.
    """
    return _split(n, validation, test, labels, _shuffle(n, seed))


def _shuffle(n: int, seed: int) -> np.ndarray:
    """The shuffled row order a split with ``seed`` starts from."""
    return np.random.default_rng(seed).permutation(n)


def _split(n: int, validation: float, test: float, labels: np.ndarray | None,
           order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`split_indices` from the shuffled row order ``order``."""
    for label, value in (("validation", validation), ("test", test)):
        if not 0 <= value <= 0.5:
            raise DataError(f"The {label} share must be between 0 and 0.5; got {value!r}.",
                            f"Choose a {label} share such as 0.15.", code="bad_split")
    if n < MIN_ROWS:
        raise DataError(f"There are only {n} usable rows; at least {MIN_ROWS} are needed to "
                        "train and check a model.", "Add more rows of data.", code="too_few_rows")
    # One shuffle of all rows; each class then takes its rows in shuffled order, so
    # every split comes out shuffled with its classes mixed, without sorting rows.
    if labels is None:
        groups = [np.arange(n)]
    else:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu" or (len(labels) and labels.min() < 0):
            labels = np.unique(labels, return_inverse=True)[1].ravel()
        shuffled = labels[order]
        counts = np.bincount(shuffled)
        if np.count_nonzero(counts) <= 8:
            groups = [np.flatnonzero(shuffled == c) for c in np.flatnonzero(counts)]
        else:
            by_class = np.argsort(shuffled, kind="stable")
            groups = np.split(by_class, np.cumsum(counts)[:-1])
    # Held-out rows are taken evenly along the shuffled order (any fixed choice of
    # places picks a random set), so the training rows stay evenly mixed throughout.
    assign = np.zeros(n, np.int8)  # by position in ``order``: 0 train, 1 validation, 2 test
    for group in groups:
        n_val = int(round(len(group) * validation))
        n_test = int(round(len(group) * test))
        held = n_val + n_test
        if held >= len(group):
            continue  # a class too small to share goes to training
        if held:
            chosen = group[np.arange(held) * len(group) // held]
            assign[chosen[:n_val]] = 1
            assign[chosen[n_val:]] = 2
    train = order[assign == 0]
    held_at = np.flatnonzero(assign)  # the held-out few: picked apart without full passes
    which = assign[held_at]
    val, tst = (order[held_at[which == part]] for part in (1, 2))
    if validation > 0 and len(val) == 0:
        raise DataError(f"The {n} rows are too few for a validation split.",
                        "Add more rows, or raise the validation share.", code="too_few_rows")
    return train, val, tst


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
        x, plan_notes, expand = _features(rows, plan, (train, val, tst), max_categories,
                                          max_tokens, pool, started)
        finished = targets_job.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    notes.extend(plan_notes)
    return _tabular_prepared(source, rows, plan, encoded, finished, x, expand, order, bounds,
                             notes, settings)


def _workers() -> int:
    """Threads for per-column work: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def _numeric_start(series: pd.Series, column: str, out: np.ndarray,
                   complete: bool = False) -> tuple:
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


def _sums(values: np.ndarray, notes: list[str], out: np.ndarray | None = None,
          complete: bool = False) -> tuple:
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
            return values, 0.0, 0.0, 0.0, 0, len(values) > 0, notes
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
    return values, shift, total, squares, len(values) - n_missing, n_missing > 0, notes


def _numeric_finish(start: tuple, held: np.ndarray,
                    column: str) -> tuple[float, float, bool, list[str]]:
    """Mean and variance over the training rows: the sums over every row less the
    sums over the ``held`` out rows (a small gather, not a copy of the training rows).

    A constant column gets variance 1 (it is centred, never divided by ~0); a
    column with no training values mean 0.

    Returns:
        ``(mean, variance, has_missing, notes)``, in float32 precision.
    """
    values, shift, total, squares, count, has_missing, notes = start
    held_values = values.take(held)
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
    strings = _canonical_array(series).astype(str)
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
    chunked = _arrow_text(series)
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
    names = [_canonical(u) for u in uniques]
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
              started: _Started) -> tuple[dict, list[str], Any]:
    """The stored inputs of each split, the notes, and the ``x_map`` that expands them.

    Statistics come from the training rows only. The columns are kept once, in
    file order, as TensorFlow tensors (raw numbers, one-hot positions of the
    categories, text word counts); each split stores only its row positions, in
    shuffled order, and the returned ``x_map`` gathers a batch of rows and computes
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
            strings = _canonical_array(rows[column]).astype(str)
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
            raw[plan.names[column]] = _canonical_array(frame[column]).astype(str).reshape(-1, 1)
        for column in plan.text:
            raw[plan.names[column]] = _canonical_array(frame[column]).astype(str)
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


def target_postprocessing(mean: np.ndarray, std: np.ndarray):
    """A Keras model mapping standardised predictions back to target units."""
    size = len(mean)
    inputs = keras.Input(shape=(size,), name="standardised")
    layer = keras.layers.Normalization(mean=np.asarray(mean, np.float32).tolist(),
                                       variance=(np.asarray(std, np.float32) ** 2).tolist(),
                                       invert=True, name="to_target_units")
    return keras.Model(inputs, layer(inputs), name="postprocessing")


def standardise_targets(y: np.ndarray, n_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(standardised y, mean, std) with statistics from the first ``n_train`` rows."""
    head = y[:n_train].astype(np.float64)
    mean = head.mean(axis=0)
    var = head.var(axis=0)
    var = np.where(var > 0, var, 1.0)
    mean32 = mean.astype(np.float32)
    std32 = np.maximum(np.sqrt(var.astype(np.float32)), np.float32(EPSILON))
    return ((y.astype(np.float32) - mean32) / std32).astype(np.float32), mean32, std32


def finish_targets(encoded: _Target, order: np.ndarray, n_train: int):
    """Targets in ``order`` for training, and the postprocessing for regression.

    Returns:
        ``(y, postprocessing, info)``.
    """
    info: dict = {}
    if encoded.task == "regression":
        y, mean, std = standardise_targets(encoded.y[order], n_train)
        info = {"target_mean": mean.tolist(), "target_std": std.tolist()}
        return y, target_postprocessing(mean, std), info
    if encoded.task == "binary":
        return encoded.y[order].astype(np.float32).reshape(-1, 1), None, info
    return encoded.y[order].astype(np.int32), None, info


def _finished_targets(encoded: _Target, order: np.ndarray, n_train: int):
    """:func:`finish_targets`, or ``(None, None, {})`` for reconstruction (no targets)."""
    if encoded.task == "reconstruction":
        return None, None, {}
    return finish_targets(encoded, order, n_train)


def _tabular_prepared(source: TabularSource, rows: pd.DataFrame, plan: _Plan, encoded: _Target,
                      finished: tuple, x: dict, expand, order: np.ndarray,
                      bounds: tuple[int, int], notes: list[str],
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
        info=info, frame_encoder=encoder, x_map=expand,
    )


def _num_classes(encoded: _Target) -> int | None:
    if encoded.task in ("binary", "multiclass"):
        return len(encoded.class_names)
    return None
