"""Safe extraction of an uploaded zip archive.

An uploaded archive is untrusted. Before anything is written, the whole archive is
refused when an entry would land outside the target folder (an absolute path, a
drive letter, a ``..`` component), is a symbolic link, is password-protected, when
there are too many entries, or when the declared sizes add up past the limit.
While writing, the bytes actually inflated are counted too, since the sizes an
archive declares can lie; crossing the limit aborts and removes what was written.

Hidden and system files (``.DS_Store``, ``__MACOSX/``, ``Thumbs.db``...) are not
extracted; they are listed in the report, as are entries damaged in the archive.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from builder.data.errors import DataError

MAX_ENTRIES = 20_000
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # 1 GiB inflated
CHUNK = 1024 * 1024

SYSTEM_NAMES = frozenset({
    "__macosx", "thumbs.db", "desktop.ini", "$recycle.bin", "system volume information",
    "ehthumbs.db", "icon\r",
})
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class Skipped:
    """An archive entry or file that was left out, and why."""

    name: str
    reason: str


@dataclass
class ExtractReport:
    """What :func:`safe_extract` wrote.

    Attributes:
        root: the folder everything was extracted into.
        files: the extracted files, relative to ``root``, in archive order.
        folders: every folder named in the archive (explicitly or by a file in it).
        skipped: entries left out, with the reason.
        total_bytes: bytes written.
    """

    root: Path
    files: list[PurePosixPath] = field(default_factory=list)
    folders: set[PurePosixPath] = field(default_factory=set)
    skipped: list[Skipped] = field(default_factory=list)
    total_bytes: int = 0


def is_hidden_or_system(parts: tuple[str, ...]) -> bool:
    """True when any path component is hidden (starts with a dot) or a known system name."""
    return any(p.startswith(".") or p.lower() in SYSTEM_NAMES for p in parts)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MB"


def _other_format(head: bytes) -> str | None:
    """Name the archive or file format behind ``head`` when it is not a zip."""
    if head.startswith(b"\x1f\x8b"):
        return "a gzip (.gz / .tar.gz) file"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive"
    if head.startswith(b"Rar!"):
        return "a RAR archive"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "a 7-Zip archive"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff"):
        return "a single image"
    return None


def open_zip(source: bytes | str | os.PathLike | BinaryIO,
             name: str = "the file") -> zipfile.ZipFile:
    """Open ``source`` as a zip archive.

    Raises:
        DataError: the file is empty or is not a zip archive.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise DataError(f"'{name}' is empty (0 bytes).",
                            "Choose a .zip file that holds one folder of images per class.",
                            code="empty_file")
        handle: BinaryIO = io.BytesIO(data)
    elif isinstance(source, (str, os.PathLike)):
        if os.path.getsize(source) == 0:
            raise DataError(f"'{name}' is empty (0 bytes).",
                            "Choose a .zip file that holds one folder of images per class.",
                            code="empty_file")
        handle = open(source, "rb")  # noqa: SIM115 - owned by the ZipFile below
    else:
        handle = source
    head = handle.read(512)
    handle.seek(0)
    try:
        return zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        kind = _other_format(head)
        what = (f"is {kind}, not a zip archive" if kind
                else "is not a zip archive (or it is damaged)")
        raise DataError(
            f"'{name}' {what}.",
            "Put one folder per class in a folder and compress it as .zip (on Windows: "
            "right-click > Send to > Compressed folder; on macOS: right-click > Compress).",
            code="not_zip",
        ) from exc


def _entry_path(info: zipfile.ZipInfo) -> PurePosixPath:
    """The entry's relative path, or a DataError when it would leave the target folder."""
    raw = info.filename
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise DataError(f"The archive entry {raw!r:.80} has a NUL character in its name.",
                        "Re-create the archive with ordinary file names.", code="unsafe_path")
    if name.startswith("/") or _DRIVE.match(name):
        raise DataError(
            f"The archive entry {raw!r:.80} has an absolute path, so it would be written "
            "outside the upload folder; the archive was refused.",
            "Re-create the archive from the folder itself, so entries have relative paths.",
            code="unsafe_path",
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DataError(
            f"The archive entry {raw!r:.80} uses '..' to point outside the upload folder; "
            "the archive was refused.",
            "Re-create the archive from the folder itself, without '..' in any path.",
            code="unsafe_path",
        )
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def safe_extract(
    source: bytes | str | os.PathLike | BinaryIO,
    dest: str | os.PathLike,
    *,
    name: str = "the archive",
    max_entries: int = MAX_ENTRIES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> ExtractReport:
    """Extract a zip archive into ``dest`` with every guard on.

    Args:
        source: the archive as bytes, a path or a binary file object.
        dest: the folder to extract into; created when missing. On refusal,
            everything this call wrote is removed again.
        name: the file name to use in messages.
        max_entries: refuse archives with more entries than this.
        max_total_bytes: refuse archives that inflate past this many bytes.

    Returns:
        An :class:`ExtractReport`.

    Raises:
        DataError: the file is not a zip, or the archive is unsafe or too large.
    """
    archive = open_zip(source, name)
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise DataError(
                f"'{name}' has {len(infos):,} entries; at most {max_entries:,} are accepted.",
                "Upload fewer images (a sample of each class is enough to start).",
                code="too_many_entries",
            )
        plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        report = ExtractReport(root=Path(dest))
        declared = 0
        seen: set[PurePosixPath] = set()
        for info in infos:
            path = _entry_path(info)
            if _is_link(info):
                raise DataError(
                    f"The archive entry {info.filename!r:.80} is a symbolic link; links can "
                    "point anywhere on this computer, so the archive was refused.",
                    "Re-create the archive with the files themselves instead of links "
                    "(zip without the --symlinks option).",
                    code="link_entry",
                )
            if info.flag_bits & 0x1:
                raise DataError(
                    f"'{name}' is password-protected (entry {info.filename!r:.80}).",
                    "Re-create the archive without a password.", code="encrypted",
                )
            if path == PurePosixPath("."):
                continue
            if is_hidden_or_system(path.parts):
                report.skipped.append(Skipped(str(path), "hidden or system file"))
                continue
            if info.is_dir():
                report.folders.add(path)
                continue
            if path in seen:
                report.skipped.append(Skipped(str(path), "appears twice in the archive"))
                continue
            seen.add(path)
            declared += info.file_size
            plan.append((info, path))
        if declared > max_total_bytes:
            raise DataError(
                f"'{name}' would inflate to {_mb(declared)}, more than the "
                f"{_mb(max_total_bytes)} limit; the archive was refused.",
                "Upload fewer or smaller images (resize them first), or split the data.",
                code="too_large",
            )
        root = Path(dest)
        created_root = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        resolved_root = root.resolve()
        written: list[Path] = []
        try:
            for info, path in plan:
                report.folders.update(path.parents)
                target = resolved_root.joinpath(*path.parts)
                # Belt and braces: _entry_path already refused '..' and absolute paths.
                if not target.resolve().is_relative_to(resolved_root):
                    raise DataError(
                        f"The archive entry {info.filename!r:.80} would land outside the "
                        "upload folder; the archive was refused.",
                        "Re-create the archive from the folder itself.", code="unsafe_path",
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                size = _copy_entry(archive, info, target, report, max_total_bytes, name)
                if size is None:
                    continue
                written.append(target)
                report.files.append(path)
        except BaseException:
            if created_root:
                shutil.rmtree(root, ignore_errors=True)
            else:
                for path in written:
                    path.unlink(missing_ok=True)
            raise
        report.folders.discard(PurePosixPath("."))
        return report


def _copy_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                report: ExtractReport, max_total_bytes: int, name: str) -> int | None:
    """Inflate one entry, counting the real bytes; None when the entry is damaged."""
    size = 0
    try:
        with archive.open(info) as src, open(target, "wb") as out:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                report.total_bytes += len(chunk)
                if report.total_bytes > max_total_bytes or size > info.file_size:
                    raise DataError(
                        f"'{name}' inflates past the {_mb(max_total_bytes)} limit (entry "
                        f"{info.filename!r:.80} holds more than it declares); the archive "
                        "was refused.",
                        "Upload fewer or smaller images, compressed normally.",
                        code="too_large",
                    )
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        target.unlink(missing_ok=True)
        report.total_bytes -= size
        reason = "damaged in the archive"
        if isinstance(exc, NotImplementedError):
            reason = "compressed with a method this app cannot read"
        report.skipped.append(Skipped(str(PurePosixPath(info.filename)), reason))
        return None
    return size
