"""Reading CSV files, good and broken: every broken kind names the problem and the fix."""

from __future__ import annotations

import codecs
import io

import numpy as np
import pandas as pd
import pytest

from builder.data.csv_reading import (
    IN_MEMORY_LIMIT,
    SNIFF_BYTES,
    load_csv,
)
from builder.data.errors import DataError


def _error(data: bytes, **kwargs) -> DataError:
    with pytest.raises(DataError) as caught:
        load_csv(data, name="upload.csv", **kwargs)
    error = caught.value
    assert error.problem and error.fix, "both sentences must be there"
    assert error.problem != error.fix
    assert "upload.csv" in error.problem or error.code in ("bad_encoding",)
    return error


def test_reads_a_plain_csv_with_types():
    source = load_csv(b"age,colour,price\n31,red,1.5\n45,blue,2.25\n", name="shop.csv")
    assert source.frame.shape == (2, 3)
    assert list(source.frame.columns) == ["age", "colour", "price"]
    assert source.encoding == "utf-8" and source.delimiter == ","
    assert source.frame["price"].tolist() == [1.5, 2.25]
    assert source.notes == []


def test_reads_from_a_path(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n3,4\n")
    source = load_csv(path)
    assert source.name == "data.csv" and source.frame["b"].tolist() == [2, 4]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_detects_the_delimiter(delimiter):
    text = f"a{delimiter}b{delimiter}c\n1{delimiter}2,5{delimiter}x\n"
    source = load_csv(text.encode())
    assert source.delimiter == delimiter
    assert list(source.frame.columns) == ["a", "b", "c"]


@pytest.mark.parametrize("data", [b"", b"   \n\n  \n"])
def test_empty_file(data):
    error = _error(data)
    assert error.code == "empty_file"
    assert "empty" in error.problem


def test_blank_lines_only_after_first_byte_check():
    error = _error(b"\n\n\n\n,\n")
    assert error.code in ("empty_file", "no_values", "header_only")


def test_header_only():
    error = _error(b"name,age,city\n")
    assert error.code == "header_only"
    assert "3 column" in error.problem and "no data rows" in error.problem


def test_ragged_rows_name_the_row_and_offer_skipping():
    data = b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n"
    error = _error(data)
    assert error.code == "ragged_rows"
    assert "Row 3" in error.problem and "4 fields" in error.problem
    assert "Skip malformed rows" in error.fix
    source = load_csv(data, skip_bad_rows=True)
    assert len(source.frame) == 2
    assert any("Skipped 1 malformed row" in note for note in source.notes)


def test_unclosed_quote():
    error = _error(b'a,b\n"x,1\n2,3\n')
    assert error.code == "unclosed_quote"


def test_windows_1252_is_detected_and_said():
    data = "name,city\nJosé,Zürich\nAnaïs,Besançon\n".encode("cp1252")
    source = load_csv(data)
    assert source.encoding == "cp1252"
    assert source.frame["name"].tolist() == ["José", "Anaïs"]
    assert any("not UTF-8" in note and "Encoding" in note for note in source.notes)


def test_bad_bytes_after_the_sniffed_head_fall_back():
    head = "id,word\n" + "".join(f"{i},plain\n" for i in range(SNIFF_BYTES // 8))
    data = head.encode() + "99,café\n".encode("cp1252")
    source = load_csv(data)
    assert source.encoding == "cp1252"
    assert source.frame["word"].iloc[-1] == "café"


@pytest.mark.parametrize("text, encoding, read_as", [
    ("имя,город\nАнна,Москва\nБорис,Киев\nВера,Минск\n", "cp1251", "cp1251"),
    ("名前,都市\n田中,東京\n鈴木,大阪\n佐藤,京都\n", "shift_jis", "cp932"),
    ("nom,ville\nÉlodie,Orléans\nAnaïs,Besançon\n", "latin-1", "cp1252"),
])
def test_other_scripts_are_read_in_their_own_encoding(text, encoding, read_as):
    """charset-normalizer names the script; Latin letters stay Windows-1252."""
    source = load_csv(text.encode(encoding))
    assert source.encoding == read_as
    first, second = text.splitlines()[1].split(",")
    assert source.frame.iloc[0].tolist() == [first, second]
    assert any("not UTF-8" in note for note in source.notes)


def test_a_cyrillic_header_over_rows_of_numbers_is_windows_1251_not_mac_cyrillic():
    """Found by uploading scikit-learn's linnerud table with Russian column names, saved
    the way a Russian Excel saves CSV: charset-normalizer ranked Mac Cyrillic first."""
    from sklearn.datasets import load_linnerud

    bunch = load_linnerud(as_frame=True)
    frame = pd.concat([bunch.data, bunch.target], axis=1)
    frame.columns = ["подтягивания", "приседания", "прыжки", "вес", "талия", "пульс"]
    source = load_csv(pd.concat([frame] * 5).to_csv(index=False).encode("cp1251"))
    assert source.encoding == "cp1251"
    assert list(source.frame.columns) == list(frame.columns)


def test_cyrillic_bytes_after_a_long_plain_head_are_read_as_cyrillic():
    head = "id,word\n" + "".join(f"{i},plain\n" for i in range(SNIFF_BYTES // 8))
    tail = "".join(f"{i},Москва Киев Минск\n" for i in range(50))
    source = load_csv(head.encode() + tail.encode("cp1251"))
    assert source.encoding == "cp1251"
    assert source.frame["word"].iloc[-1] == "Москва Киев Минск"


def test_a_chosen_wrong_encoding_asks_for_another():
    data = "name\nJosé\n".encode("cp1252")
    error = _error(data, encoding="utf-8")
    assert error.code == "bad_encoding"
    assert "Encoding" in error.fix


def test_unknown_encoding_name():
    assert _error(b"a\n1\n", encoding="klingon").code == "bad_encoding"


@pytest.mark.parametrize("bom", ["utf-16", "utf-8-sig"])
def test_byte_order_marks(bom):
    data = "a,b\nx,é\n".encode(bom)
    source = load_csv(data)
    assert list(source.frame.columns) == ["a", "b"]
    assert source.frame["b"].tolist() == ["é"]


def test_utf16_without_bom():
    data = "a,b\n1,2\n".encode("utf-16-le")
    assert not data.startswith(codecs.BOM_UTF16_LE)
    assert load_csv(data).frame["b"].tolist() == [2]


def test_binary_junk_named_csv():
    junk = np.random.default_rng(0).integers(0, 256, size=5000, dtype=np.uint8).tobytes()
    error = _error(junk)
    assert error.code == "binary_file"
    assert "CSV" in error.fix


def test_control_characters_without_nul_are_binary():
    junk = bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17] * 300)
    assert _error(junk).code == "binary_file"


@pytest.mark.parametrize("magic, word", [
    (b"PK\x03\x04rest-of-an-xlsx", "Excel"),
    (b"%PDF-1.7 ...", "PDF"),
    (b"\x89PNG\r\n\x1a\n....", "PNG"),
    (b"\x1f\x8b\x08\x00....", "gzip"),
])
def test_known_binary_formats_are_named(magic, word):
    error = _error(magic + b"\x00" * 20)
    assert error.code == "binary_file"
    assert word in error.problem


def test_duplicate_and_blank_header_names_are_made_unique():
    source = load_csv(b"a,a, \n1,2,3\n")
    assert len(set(source.frame.columns)) == 3


def test_a_numeric_header_is_noted():
    source = load_csv(b"1,2\n3,4\n")
    assert any("looks like numbers" in note for note in source.notes)


def test_all_values_empty():
    assert _error(b"a,b\n,\n,\n").code == "no_values"


def test_large_upload_parses_through_a_temp_file():
    rows = "".join(f"{i},{i * 0.5},label{i % 3}\n" for i in range(400_000))
    data = ("n,half,label\n" + rows).encode()
    assert len(data) > 8 * 1024 * 1024
    source = load_csv(data)
    assert source.frame.shape == (400_000, 3)
    assert source.frame["half"].iloc[-1] == pytest.approx(399_999 * 0.5)


# -- missing values: pandas' own spellings -------------------------------------------

NUMBER_LIKE = ("-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN")


@pytest.mark.parametrize("spelling", NUMBER_LIKE)
def test_number_like_missing_values_read_as_pandas_reads_them(spelling):
    data = (f"x,label,code\n1.5,a,7\n{spelling},{spelling},1\n-2,b,{spelling}\n"
            "3,x-nanny,2\n").encode()
    frame = load_csv(data).frame
    expected = pd.read_csv(io.BytesIO(data))
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["x"].dtype == np.float64 and frame["x"].isna().tolist() == [
        False, True, False, False]
    assert frame["label"].isna().sum() == 1 and frame["code"].isna().sum() == 1


def test_every_missing_spelling_and_look_alikes_match_pandas():
    parsers = pytest.importorskip("pandas._libs.parsers")
    words = [*sorted(w for w in parsers.STR_NA_VALUES if w), "nanny", "-n", "#1", "-", "N/",
             "1.#"]
    rows = "".join(f"{i},{word},{-i - 0.5}\n" for i, word in enumerate(words))
    data = ("i,word,value\n" + rows + "99,,\n").encode()
    pd.testing.assert_frame_equal(load_csv(data).frame, pd.read_csv(io.BytesIO(data)))


def test_a_large_upload_with_number_like_missing_values_reads_them_as_missing():
    rows = "".join(f"{i},{i * 0.5}\n" for i in range(400_000))
    data = ("n,half\n" + rows + "400000,-nan\n").encode()
    assert len(data) > IN_MEMORY_LIMIT
    frame = load_csv(data).frame
    assert frame["half"].dtype == np.float64 and frame["half"].isna().sum() == 1
