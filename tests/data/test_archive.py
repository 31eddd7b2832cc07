"""Safe extraction: every guard refuses with a clear message and leaves nothing behind."""

from __future__ import annotations

import io
import zipfile

import pytest

from builder.data.archive import safe_extract
from builder.data.errors import DataError
from tests.data.builders import zip_bytes


def _refused(data: bytes, dest, **kwargs) -> DataError:
    with pytest.raises(DataError) as caught:
        safe_extract(data, dest, name="up.zip", **kwargs)
    assert caught.value.problem and caught.value.fix
    assert not dest.exists(), "a refused archive must leave nothing behind"
    return caught.value


def test_extracts_files_and_reports_folders(uploads):
    data = zip_bytes({"pets/cats/a.txt": b"meow", "pets/dogs/": None, "pets/dogs/b.txt": b"w"})
    report = safe_extract(data, uploads)
    assert sorted(str(p) for p in report.files) == ["pets/cats/a.txt", "pets/dogs/b.txt"]
    assert (uploads / "pets" / "cats" / "a.txt").read_bytes() == b"meow"
    assert {"pets", "pets/cats", "pets/dogs"} <= {str(f) for f in report.folders}
    assert report.total_bytes == 5 and report.skipped == []


@pytest.mark.parametrize("name", [
    "../evil.txt", "cats/../../evil.txt", "..\\evil.txt", "cats\\..\\..\\evil.txt",
])
def test_entries_that_climb_out_are_refused(uploads, name):
    data = zip_bytes({"cats/ok.txt": b"fine", name: b"gotcha"})
    error = _refused(data, uploads)
    assert error.code == "unsafe_path" and "'..'" in error.problem
    assert not (uploads.parent / "evil.txt").exists()


@pytest.mark.parametrize("name", ["/etc/evil.txt", "C:/evil.txt", "\\\\server\\share\\x"])
def test_absolute_paths_are_refused(uploads, name):
    error = _refused(zip_bytes({name: b"gotcha"}), uploads)
    assert error.code == "unsafe_path" and "absolute" in error.problem


def test_links_are_refused(uploads):
    data = zip_bytes({"cats/a.txt": b"x", "cats/link": ("link", "/etc/passwd")})
    error = _refused(data, uploads)
    assert error.code == "link_entry" and "symbolic link" in error.problem


def test_too_many_entries(uploads):
    data = zip_bytes({f"c/{i}.txt": b"x" for i in range(30)})
    error = _refused(data, uploads, max_entries=20)
    assert error.code == "too_many_entries" and "30" in error.problem


def test_archives_that_inflate_past_the_limit(uploads):
    data = zip_bytes({"c/zeros.bin": b"\0" * 3_000_000})
    assert len(data) < 20_000  # a tiny archive, a big inflation
    error = _refused(data, uploads, max_total_bytes=1_000_000)
    assert error.code == "too_large" and "limit" in error.problem


def test_refusal_removes_only_what_it_wrote(tmp_path):
    dest = tmp_path / "existing"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    data = zip_bytes({"a/first.txt": b"1", "a/../../evil": b"2"})
    with pytest.raises(DataError):
        safe_extract(data, dest)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_password_protected_archives(uploads):
    data = bytearray(zip_bytes({"c/a.txt": b"secret"}))
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x01  # the general-purpose "encrypted" flag
    error = _refused(bytes(data), uploads)
    assert error.code == "encrypted"


def test_hidden_and_system_entries_are_skipped_and_listed(uploads):
    data = zip_bytes({"c/a.txt": b"x", "__MACOSX/c/._a.txt": b"junk", "c/.DS_Store": b"junk",
                      ".git/config": b"junk", "c/Thumbs.db": b"junk"})
    report = safe_extract(data, uploads)
    assert [str(p) for p in report.files] == ["c/a.txt"]
    assert {s.reason for s in report.skipped} == {"hidden or system file"}
    assert len(report.skipped) == 4
    assert not (uploads / "__MACOSX").exists()


def test_damaged_entries_are_skipped(uploads):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("c/good.txt", b"good data")
        archive.writestr("c/bad.txt", b"bad data here")
    data = bytearray(out.getvalue())
    data[data.find(b"bad data here")] ^= 0xFF  # breaks the CRC
    report = safe_extract(bytes(data), uploads)
    assert [str(p) for p in report.files] == ["c/good.txt"]
    assert report.skipped[0].name == "c/bad.txt"
    assert "damaged" in report.skipped[0].reason
    assert not (uploads / "c" / "bad.txt").exists()


@pytest.mark.parametrize("data, word", [
    (b"just some text, named .zip", "not a zip"),
    (b"\x1f\x8b\x08\x00" + b"\0" * 40, "gzip"),
    (b"Rar!\x1a\x07\x00" + b"\0" * 40, "RAR"),
])
def test_non_zip_files_named_zip(uploads, data, word):
    error = _refused(data, uploads)
    assert error.code == "not_zip" and word in error.problem
    assert "zip" in error.fix


def test_empty_upload(uploads):
    assert _refused(b"", uploads).code == "empty_file"


def test_accepts_a_path(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes({"c/a.txt": b"x"}))
    report = safe_extract(path, tmp_path / "out")
    assert (tmp_path / "out" / "c" / "a.txt").exists() and len(report.files) == 1
