"""Reading CSV text safely: the encoding, the delimiter, and every broken kind refused.

:func:`load_csv` takes bytes or a path and gives a :class:`TabularSource`, or a
DataError naming the problem and the fix: empty and header-only files, binary
files named .csv (zip, Excel, PDF, images, ...), undecodable text, ragged rows,
unclosed quotes, too many columns. The encoding is guessed from the first bytes
(or chosen), the delimiter sniffed among ``, ; tab |``. The table is the one
``pandas.read_csv`` gives, with its default missing values.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from builder.data.columns import (
    TabularSource,
    clean_names,
    missing_counts,
)
from builder.data.errors import DataError

ENCODINGS = ("auto", "utf-8", "cp1252", "latin-1", "utf-16", "utf-8-sig", "cp1250",
             "cp1251", "cp1253", "shift_jis", "gb18030")
ENCODING_NAMES = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 (with BOM)", "cp1252": "Windows-1252 (Western)",
    "latin-1": "Latin-1 (ISO-8859-1)", "utf-16": "UTF-16", "cp1251": "Windows-1251 (Cyrillic)",
    "shift_jis": "Shift JIS (Japanese)", "cp932": "Shift JIS (Windows, Japanese)",
    "gb18030": "GB18030 (Chinese)",
    "cp1253": "Windows-1253 (Greek)", "cp1250": "Windows-1250 (Central European)",
}
DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 5_000
SNIFF_BYTES = 64 * 1024
# Bigger uploads are parsed from a temp file: pandas parses a local file of 5 MB or more in
# threads, byte range by byte range, but a file object in one (a 6 MB upload: 26 -> 21 ms).
IN_MEMORY_LIMIT = 5 * 1024 * 1024

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

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters but tab, CR, LF


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


# charset-normalizer reads at most this much of a file that is not UTF-8, from the line
# of the first byte UTF-8 cannot decode.
DETECT_BYTES = 256 * 1024
MIN_SCRIPT_LETTERS = 8
_WINDOWS_PAGES = ("cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
                  "cp1258", "cp874")
# Unicode blocks (as charset-normalizer names them) of scripts that are not Latin.
_OTHER_SCRIPTS = ("Cyrillic", "Greek", "CJK", "Hiragana", "Katakana", "Halfwidth", "Hangul",
                  "Arabic", "Hebrew", "Thai", "Devanagari", "Armenian", "Georgian")


def _fallback_encoding(data: bytes) -> tuple[str, str]:
    """The encoding of text that is not UTF-8, and a note saying it was guessed.

    charset-normalizer judges the script (Cyrillic, Greek, Japanese, Chinese, ...); text
    in Latin letters, an answer that cannot decode the whole file, or none, is read as
    Windows-1252, and failing that as Latin-1, which decodes any bytes.
    """
    from charset_normalizer import from_bytes

    try:
        data.decode("utf-8")
        bad = 0
    except UnicodeDecodeError as exc:
        bad = exc.start
    # The stretch from the line of the first byte UTF-8 cannot decode: plain ASCII lines
    # before it would only make the text look more Latin than it is.
    start = data.rfind(b"\n", 0, bad) + 1
    matches = from_bytes(data[start:start + DETECT_BYTES])
    best = matches.best()
    # Text in Latin letters is Windows-1252 far more often than the Central European or
    # other Latin code pages charset-normalizer may rank first ("Anaïs" would read as
    # "Anaďs"); its answer decides for other scripts, when it has read enough of their
    # letters to judge (one "é" can look like a letter of Farsi).
    other_script = best is not None and any(
        script in alphabet for alphabet in best.alphabets for script in _OTHER_SCRIPTS
    ) and sum(not c.isascii() for c in str(best)) >= MIN_SCRIPT_LETTERS
    candidates = [best.encoding] if other_script else []
    if other_script:
        # Among near-equal readings, the Windows code page of the script: what spreadsheets
        # save "CSV" in (a Russian header alone ranked Mac Cyrillic first, "я" read as "€").
        near = [m.encoding for m in matches if m.chaos <= best.chaos + 0.01]
        candidates = [e for e in near if e in _WINDOWS_PAGES][:1] + candidates
    for encoding in (*candidates, "cp1252", "latin-1"):
        try:
            data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        break
    encoding = {"windows-1252": "cp1252", "iso-8859-1": "latin-1", "latin_1": "latin-1",
                "ascii": "cp1252"}.get(encoding, encoding)
    return encoding, (
        f"The file is not UTF-8 text; it was read as "
        f"{ENCODING_NAMES.get(encoding, encoding)}. If letters look wrong in the preview, "
        "choose the file's encoding under 'Encoding'."
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
    missing = missing_counts(frame)
    _check_frame(frame, name, missing)
    frame.columns = clean_names(frame.columns)
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


def _read(source, size: int, encoding: str, delimiter: str, on_bad_lines: str) -> pd.DataFrame:
    """The table as ``pandas.read_csv`` reads it, with its default missing values."""
    # pandas reads UTF-8 by default; naming it explicitly makes the C parser slower.
    kwargs = dict(sep=delimiter, encoding=None if encoding == "utf-8" else encoding,
                  on_bad_lines=on_bad_lines)
    if isinstance(source, (bytes, bytearray, memoryview)) and size > IN_MEMORY_LIMIT:
        with _temporary_copy(bytes(source)) as path:
            return pd.read_csv(path, **kwargs)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return pd.read_csv(io.BytesIO(bytes(source)), **kwargs)
    return pd.read_csv(source, **kwargs)


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


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
