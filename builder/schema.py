"""Versioned SQLite schemas: apply the missing migrations in order, refuse newer files.

The workspace's one SQLite file holds two schemas with their own version numbers
(designs in ``PRAGMA user_version``, runs in a ``run_schema`` table), so each
store says how its version is read and written; the stepping is shared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence


def migrate(conn: sqlite3.Connection, *, version: int, latest: int,
            migrations: Mapping[int, Sequence[str]],
            set_version: Callable[[sqlite3.Connection, int], None],
            too_new: Callable[[int], Exception]) -> None:
    """Bring a schema at ``version`` up to ``latest``, one step at a time.

    Args:
        migrations: step number -> the SQL statements that reach it from the step before.
        set_version: records a step as done (inside the same transaction).
        too_new: the error to raise for a file written by a newer version.
    """
    if version > latest:
        raise too_new(version)
    for target in range(version + 1, latest + 1):
        for statement in migrations[target]:
            conn.execute(statement)
        set_version(conn, target)
