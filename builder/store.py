"""Saved designs and small settings, in the workspace's SQLite file.

``designs`` holds one design JSON per row with a version number that every save counts up,
so a save from a stale copy is refused; ``settings`` holds small key/value pairs, such as
the design that was open last. The schema and its migrations are in
:mod:`builder.database`, shared with the runs.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass

from builder import database
from builder.database import StoreError

__all__ = ["DesignConflict", "DesignNameError", "DesignRecord", "DesignSummary",
           "MAX_NAME_LENGTH", "Store", "StoreError", "clean_name"]

MAX_NAME_LENGTH = 120


class DesignNameError(ValueError):
    """A design name that cannot be used."""


class DesignConflict(RuntimeError):
    """A save based on an older version of a design than the stored one.

    Attributes:
        version: the stored version; updated_at: when it was saved.
    """

    def __init__(self, design_id: int, version: int, updated_at: float):
        super().__init__(f"Design {design_id} was saved elsewhere (now version {version}).")
        self.design_id, self.version, self.updated_at = design_id, version, updated_at


@dataclass(frozen=True)
class DesignRecord:
    """One saved design."""

    id: int
    name: str
    json: str
    created_at: float
    updated_at: float
    version: int = 1


@dataclass(frozen=True)
class DesignSummary:
    """A saved design without its JSON, for lists."""

    id: int
    name: str
    created_at: float
    updated_at: float


def clean_name(name: object) -> str:
    """A design name trimmed and checked.

    Raises:
        DesignNameError: the name is not text, empty, or too long.
    """
    if not isinstance(name, str):
        raise DesignNameError(f"A design name must be text; got {type(name).__name__}.")
    # Control characters (NUL, escapes, line breaks) are not part of a name anyone typed.
    text = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    if not text:
        raise DesignNameError("A design name cannot be empty. Type a name.")
    if len(text) > MAX_NAME_LENGTH:
        raise DesignNameError(
            f"A design name may be at most {MAX_NAME_LENGTH} characters; this one has "
            f"{len(text)}. Shorten it."
        )
    return text


class Store:
    """Designs and settings in one SQLite file.

    Args:
        path: the SQLite file; its folder must exist.

    Raises:
        StoreError: the file is not a Neural Canvas store this version can read.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = database.open_file(path)

    def _connect(self):
        return database.connect(self.path)

    @property
    def schema_version(self) -> int:
        return database.schema_version(self.path)

    # -- designs ------------------------------------------------------------------

    def create_design(self, name: str, design_json: str) -> DesignRecord:
        """Save a new design; a taken name gets a number, e.g. ``"MLP (2)"``."""
        now = time.time()
        with self._connect() as conn:
            unique = self._unique_name(conn, clean_name(name))
            cursor = conn.execute(
                "INSERT INTO designs (name, json, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (unique, design_json, now, now),
            )
            return DesignRecord(cursor.lastrowid, unique, design_json, now, now, 1)

    def save_design(self, design_id: int, design_json: str,
                    expected_version: int | None = None) -> int | None:
        """Replace a design's JSON; its new version, or None when there is no such design.

        Args:
            expected_version: the version the writer's copy was based on; when the stored
                one differs, nothing is written.

        Raises:
            DesignConflict: ``expected_version`` is not the stored version.
        """
        with self._connect() as conn:
            # One statement checks and writes, so two writers cannot both pass the check.
            cursor = conn.execute(
                "UPDATE designs SET json = ?, updated_at = ?, version = version + 1 "
                "WHERE id = ? AND (? IS NULL OR version = ?)",
                (design_json, time.time(), design_id, expected_version, expected_version))
            row = conn.execute("SELECT version, updated_at FROM designs WHERE id = ?",
                               (design_id,)).fetchone()
        if row is None:
            return None
        if cursor.rowcount != 1:
            raise DesignConflict(design_id, row[0], row[1])
        return row[0]

    def get_design(self, design_id: int) -> DesignRecord | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, name, json, created_at, updated_at, version FROM designs "
                "WHERE id = ?",
                (design_id,),
            ).fetchone()
        return DesignRecord(*row) if row else None

    def list_designs(self) -> list[DesignSummary]:
        """Every saved design, most recently changed first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, name, created_at, updated_at FROM designs "
                "ORDER BY updated_at DESC, id DESC"
            ).fetchall()
        return [DesignSummary(*row) for row in rows]

    def rename_design(self, design_id: int, name: str) -> str:
        """Rename a design and return the name it got (numbered if taken).

        Raises:
            DesignNameError: the name is empty or too long.
            KeyError: there is no such design.
        """
        with self._connect() as conn:
            unique = self._unique_name(conn, clean_name(name), exclude=design_id)
            cursor = conn.execute(
                "UPDATE designs SET name = ?, updated_at = ? WHERE id = ?",
                (unique, time.time(), design_id),
            )
            if cursor.rowcount != 1:
                raise KeyError(design_id)
        return unique

    def duplicate_design(self, design_id: int) -> DesignRecord:
        """Copy a design under the name ``"<name> copy"``.

        Raises:
            KeyError: there is no such design.
        """
        record = self.get_design(design_id)
        if record is None:
            raise KeyError(design_id)
        base = record.name[: MAX_NAME_LENGTH - 10]
        return self.create_design(f"{base} copy", record.json)

    def delete_design(self, design_id: int) -> bool:
        """Delete a design; False when there was none."""
        with self._connect() as conn:
            cursor = conn.execute("DELETE FROM designs WHERE id = ?", (design_id,))
            return cursor.rowcount == 1

    @staticmethod
    def _unique_name(conn: sqlite3.Connection, name: str, exclude: int | None = None) -> str:
        taken = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM designs WHERE id IS NOT ?", (exclude,)
            ).fetchall()
        }
        if name not in taken:
            return name
        number = 2
        while f"{name} ({number})" in taken:
            number += 1
        return f"{name} ({number})"

    # -- settings -------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
