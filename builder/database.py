"""The workspace's one SQLite file: one schema, one version, one way to connect.

Designs, settings, runs and per-epoch metrics live in the same file. Its schema version is
SQLite's ``PRAGMA user_version``; each version is one entry of :data:`MIGRATIONS`, and a file
from any earlier version is brought up to date step by step when it is opened. A file
written by a newer Neural Canvas is refused with a sentence, never changed.

Before version 3 the run tables kept their own version in a ``run_schema`` table, set up by
whichever store opened the file; step 3 creates the run tables when they are missing and
drops ``run_schema``, so every file that either scheme wrote reaches the same schema.

Every caller opens its own short connection with :func:`connect`, so one store object can
be shared by the threads of the Streamlit server and by a training worker's threads.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

SCHEMA_VERSION = 3

MIGRATIONS: dict[int, tuple[str, ...]] = {
    # version reached -> the statements that take the previous version there
    1: (
        """CREATE TABLE designs (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               name TEXT NOT NULL,
               json TEXT NOT NULL,
               created_at REAL NOT NULL,
               updated_at REAL NOT NULL
           )""",
        "CREATE INDEX designs_updated ON designs (updated_at DESC)",
        """CREATE TABLE settings (
               key TEXT PRIMARY KEY,
               value TEXT NOT NULL
           )""",
    ),
    # 2: every save of a design counts up its version, so a stale writer (another tab that
    # opened the design earlier) is told instead of overwriting newer work.
    2: ("ALTER TABLE designs ADD COLUMN version INTEGER NOT NULL DEFAULT 1",),
    # 3: the runs join the one versioned schema. "IF NOT EXISTS": a file that a run store
    # opened before version 3 has these tables already, under run_schema's version 1.
    3: (
        """CREATE TABLE IF NOT EXISTS runs (
               id TEXT PRIMARY KEY,
               name TEXT NOT NULL,
               status TEXT NOT NULL,
               message TEXT NOT NULL DEFAULT '',
               design_json TEXT NOT NULL,
               data_json TEXT NOT NULL,
               config_json TEXT NOT NULL,
               device TEXT NOT NULL DEFAULT '',
               epochs_done INTEGER NOT NULL DEFAULT 0,
               final_json TEXT NOT NULL DEFAULT '{}',
               artifacts_json TEXT NOT NULL DEFAULT '{}',
               run_dir TEXT NOT NULL DEFAULT '',
               owner_token TEXT NOT NULL DEFAULT '',
               owner_pid INTEGER NOT NULL DEFAULT 0,
               owner_host TEXT NOT NULL DEFAULT '',
               created_at REAL NOT NULL,
               updated_at REAL NOT NULL,
               heartbeat_at REAL NOT NULL
           )""",
        "CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at DESC)",
        """CREATE TABLE IF NOT EXISTS run_epochs (
               run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
               epoch INTEGER NOT NULL,
               metrics_json TEXT NOT NULL,
               seconds REAL NOT NULL,
               partial INTEGER NOT NULL DEFAULT 0,
               PRIMARY KEY (run_id, epoch)
           )""",
        "DROP TABLE IF EXISTS run_schema",
    ),
}

class StoreError(RuntimeError):
    """The store file cannot be used (damaged, newer, or not a database)."""


@contextmanager
def connect(path: str | os.PathLike) -> Iterator[sqlite3.Connection]:
    """One short connection and one transaction: committed on success, rolled back on error.

    Raises:
        StoreError: the file cannot be opened, read or written; the sentence says the fix.
    """
    try:
        conn = sqlite3.connect(path, timeout=15)
    except sqlite3.Error as exc:
        raise StoreError(f"The store {str(path)!r} cannot be opened: {exc}.") from exc
    with closing(conn):
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            with conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"The store {str(path)!r} could not be read or written ({exc}). "
                "If the file is damaged, move it away and restart: a new one is created."
            ) from exc


def open_file(path: str | os.PathLike) -> Path:
    """Create or update the store file at ``path`` to :data:`SCHEMA_VERSION`; its path.

    Raises:
        StoreError: the file is damaged, not a database, or from a newer version.
    """
    path = Path(path)
    with connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    with connect(path) as conn:
        # One writer migrates at a time, and its steps land together or not at all: the
        # server and a training worker (or two command lines) may open a new file at once.
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The store {str(path)!r} was written by a newer Neural Canvas (schema "
                f"{version}; this one knows up to {SCHEMA_VERSION}). Update Neural Canvas, "
                "or point NEURAL_CANVAS_HOME at another folder.")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(target)}")
    return path


def schema_version(path: str | os.PathLike) -> int:
    """The schema version written in the file."""
    with connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]
