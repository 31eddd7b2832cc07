"""Versioned SQLite schemas: steps run in order from the file's version; newer files refused."""

import sqlite3

import pytest

from builder import schema

STEPS = {1: ["CREATE TABLE a (x)"], 2: ["CREATE TABLE b (y)", "INSERT INTO b VALUES (2)"]}


def _versions(conn):
    done = []

    def set_version(c, v):
        done.append(v)
        c.execute(f"PRAGMA user_version = {v}")

    schema.migrate(conn, version=conn.execute("PRAGMA user_version").fetchone()[0], latest=2,
                   migrations=STEPS, set_version=set_version,
                   too_new=lambda v: RuntimeError(f"too new: {v}"))
    return done


def test_missing_steps_run_in_order_and_only_once():
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("CREATE TABLE a (x)")
    assert _versions(conn) == [2]
    assert conn.execute("SELECT y FROM b").fetchall() == [(2,)]
    assert _versions(conn) == []


def test_a_file_from_a_newer_version_is_refused():
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA user_version = 3")
    with pytest.raises(RuntimeError, match="too new: 3"):
        _versions(conn)
