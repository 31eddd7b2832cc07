"""The one SQLite schema: every file an earlier version wrote is brought up to date with its
designs and runs kept; newer and damaged files are refused with a sentence."""

import sqlite3

import pytest

from builder import database
from builder.database import StoreError
from builder.run_store import RunStore
from builder.store import Store

# The run tables as run_store.py created them before version 3, under their own version
# table: written out here because the code that wrote them is gone.
OLD_RUN_TABLES = (
    """CREATE TABLE runs (
           id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
           message TEXT NOT NULL DEFAULT '', design_json TEXT NOT NULL,
           data_json TEXT NOT NULL, config_json TEXT NOT NULL,
           device TEXT NOT NULL DEFAULT '', epochs_done INTEGER NOT NULL DEFAULT 0,
           final_json TEXT NOT NULL DEFAULT '{}', artifacts_json TEXT NOT NULL DEFAULT '{}',
           run_dir TEXT NOT NULL DEFAULT '', owner_token TEXT NOT NULL DEFAULT '',
           owner_pid INTEGER NOT NULL DEFAULT 0, owner_host TEXT NOT NULL DEFAULT '',
           created_at REAL NOT NULL, updated_at REAL NOT NULL, heartbeat_at REAL NOT NULL)""",
    "CREATE INDEX runs_created ON runs (created_at DESC)",
    """CREATE TABLE run_epochs (
           run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
           epoch INTEGER NOT NULL, metrics_json TEXT NOT NULL, seconds REAL NOT NULL,
           partial INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, epoch))""",
    "CREATE TABLE run_schema (version INTEGER NOT NULL)",
    "INSERT INTO run_schema (version) VALUES (1)",
    "INSERT INTO runs (id, name, status, design_json, data_json, config_json, created_at, "
    "updated_at, heartbeat_at) VALUES ('old-run', 'old', 'finished', '{}', '{}', "
    "'{\"epochs\": 2}', 1, 1, 1)",
    "INSERT INTO run_epochs VALUES ('old-run', 1, '{\"loss\": 0.5}', 0.1, 0)",
)


def _old_file(path, design_version: int, with_runs: bool):
    """A store file as an earlier Neural Canvas left it."""
    with sqlite3.connect(path) as conn:
        for version in range(1, design_version + 1):
            for statement in database.MIGRATIONS[version]:
                conn.execute(statement)
        if design_version:
            conn.execute("INSERT INTO designs (name, json, created_at, updated_at) "
                         "VALUES ('old design', '{\"nodes\": []}', 1, 1)")
        if with_runs:
            for statement in OLD_RUN_TABLES:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {design_version}")


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.mark.parametrize("design_version", range(database.SCHEMA_VERSION))
@pytest.mark.parametrize("with_runs", [False, True])
@pytest.mark.parametrize("opened_first", [Store, RunStore])
def test_every_earlier_file_reaches_the_current_schema_with_its_contents(
        tmp_path, design_version, with_runs, opened_first):
    path = tmp_path / "nc.sqlite"
    _old_file(path, design_version, with_runs)
    opened_first(path)
    designs, runs = Store(path), RunStore(path)

    assert database.schema_version(path) == database.SCHEMA_VERSION
    assert "run_schema" not in _tables(path)
    if design_version:
        (old,) = designs.list_designs()
        assert designs.get_design(old.id).version == 1
        assert designs.save_design(old.id, '{"a": 1}', expected_version=1) == 2
    if with_runs:
        assert runs.get("old-run").config == {"epochs": 2}
        assert [e.metrics for e in runs.epochs("old-run")] == [{"loss": 0.5}]
    # Both stores go on working in the migrated file.
    designs.create_design("new", "{}")
    new_run = runs.create_run(name="new", design={}, data={}, config={}, run_dir=tmp_path / "r")
    runs.record_epoch(new_run.id, 1, {"loss": 1.0}, 0.2)
    assert runs.get(new_run.id).epochs_done == 1


def test_opening_a_current_file_again_changes_nothing(tmp_path):
    path = tmp_path / "nc.sqlite"
    Store(path).create_design("kept", "{}")
    RunStore(path)
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    Store(path)
    RunStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before


@pytest.mark.parametrize("opened_by", [Store, RunStore])
def test_a_file_from_a_newer_version_is_refused_by_both_stores(tmp_path, opened_by):
    path = tmp_path / "nc.sqlite"
    Store(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {database.SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer Neural Canvas"):
        opened_by(path)
    assert database.schema_version(path) == database.SCHEMA_VERSION + 1  # left as it was


@pytest.mark.parametrize("opened_by", [Store, RunStore])
def test_a_file_that_is_not_a_database_is_refused_with_a_fix(tmp_path, opened_by):
    path = tmp_path / "nc.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="move it away"):
        opened_by(path)


def test_other_tables_in_the_same_file_are_left_alone(tmp_path):
    path = tmp_path / "nc.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    Store(path).create_design("x", "{}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT text FROM notes").fetchall() == [("mine",)]
    assert {"notes", "designs", "settings", "runs", "run_epochs"} <= _tables(path)


def test_a_failed_statement_rolls_back_the_whole_transaction(tmp_path):
    path = database.open_file(tmp_path / "nc.sqlite")
    with pytest.raises(StoreError, match="could not be read or written"):
        with database.connect(path) as conn:
            conn.execute("INSERT INTO settings VALUES ('a', '1')")
            conn.execute("INSERT INTO no_such_table VALUES (1)")
    with database.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM settings").fetchone() == (0,)


OPENER = """
import sys
from builder.run_store import RunStore
from builder.store import Store
(Store if sys.argv[2] == "designs" else RunStore)(sys.argv[1])
"""


def test_processes_opening_a_new_file_at_once_all_get_the_one_schema(tmp_path):
    import subprocess
    import sys

    for attempt in range(3):
        path = tmp_path / f"nc{attempt}.sqlite"
        openers = [subprocess.Popen([sys.executable, "-c", OPENER, str(path), kind],
                                    stderr=subprocess.PIPE, text=True)
                   for kind in ("designs", "runs", "designs", "runs")]
        errors = [p.communicate(timeout=60)[1] for p in openers]
        assert [p.returncode for p in openers] == [0, 0, 0, 0], errors
        assert database.schema_version(path) == database.SCHEMA_VERSION
        assert {"designs", "settings", "runs", "run_epochs"} <= _tables(path)
