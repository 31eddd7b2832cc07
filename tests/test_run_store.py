"""The run record: runs, per-epoch metrics, final scores, artifacts, interrupted runs."""

import sqlite3
import subprocess
import sys
import time

import pytest

from builder import run_store
from builder.run_store import RunStore


def _store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "neural_canvas.sqlite")


def _new_run(store: RunStore, **overrides):
    values = dict(name="mlp", design={"nodes": [], "edges": []}, data={"task": "binary"},
                  config={"epochs": 3}, device="CPU")
    values.update(overrides)
    return store.create_run(**values)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _own_by(store: RunStore, run_id: str, token: str, pid: int, heartbeat: float) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET owner_token = ?, owner_pid = ?, heartbeat_at = ? "
                     "WHERE id = ?", (token, pid, heartbeat, run_id))


def test_a_run_records_its_snapshot_epochs_scores_and_artifacts(tmp_path):
    store = _store(tmp_path)
    record = _new_run(store, status="running")
    assert record.status == "running" and record.is_live
    assert record.design == {"nodes": [], "edges": []}
    assert record.config == {"epochs": 3} and record.data == {"task": "binary"}
    assert (tmp_path / "runs" / record.id).is_dir()

    store.record_epoch(record.id, 1, {"loss": 0.9, "val_loss": 1.0}, 0.5)
    store.record_epoch(record.id, 2, {"loss": 0.7}, 0.4, partial=True)
    assert store.get(record.id).epochs_done == 1
    # A later write of the same epoch replaces the partial one.
    store.record_epoch(record.id, 2, {"loss": 0.6, "val_loss": 0.8}, 0.5)
    epochs = store.epochs(record.id)
    assert [(e.epoch, e.partial) for e in epochs] == [(1, False), (2, False)]
    assert epochs[1].metrics == {"loss": 0.6, "val_loss": 0.8}

    checkpoint = tmp_path / "checkpoint.npz"
    checkpoint.write_bytes(b"x")
    store.add_artifacts(record.id, {"checkpoint": checkpoint})
    store.finish(record.id, "finished", "", {"test_accuracy": 0.9}, {"model": "m.keras"})
    done = store.get(record.id)
    assert done.status == "finished" and not done.is_live
    assert done.final == {"test_accuracy": 0.9}
    assert done.artifacts == {"checkpoint": str(checkpoint), "model": "m.keras"}
    assert done.checkpoint == checkpoint
    assert [r.id for r in store.list_runs()] == [record.id]


def test_drop_epochs_after_recounts_the_epochs(tmp_path):
    store = _store(tmp_path)
    record = _new_run(store)
    for epoch in (1, 2, 3):
        store.record_epoch(record.id, epoch, {"loss": 1.0 / epoch}, 0.1)
    store.drop_epochs_after(record.id, 1)
    assert [e.epoch for e in store.epochs(record.id)] == [1]
    assert store.get(record.id).epochs_done == 1


def test_recover_marks_runs_of_a_dead_process_interrupted(tmp_path):
    store = _store(tmp_path)
    ours = _new_run(store, status="running")
    dead = _new_run(store, status="running")
    queued = _new_run(store, status="queued")
    _own_by(store, dead.id, "gone", _dead_pid(), time.time())
    _own_by(store, queued.id, "gone", _dead_pid(), time.time())

    assert sorted(store.recover()) == sorted([dead.id, queued.id])
    assert store.get(ours.id).status == "running"
    interrupted = store.get(dead.id)
    assert interrupted.status == "interrupted"
    assert "Resume" in interrupted.message
    assert "queue" in store.get(queued.id).message
    assert store.recover() == []


def test_recover_after_a_restart_that_got_the_same_process_id(tmp_path):
    # Containers often give the restarted server the same pid: the token tells them apart.
    store = _store(tmp_path)
    record = _new_run(store, status="running")
    _own_by(store, record.id, "previous-server", run_store.os.getpid(), time.time())
    assert store.recover() == [record.id]


def test_recover_leaves_another_live_process_alone_until_it_goes_quiet(tmp_path):
    store = _store(tmp_path)
    record = _new_run(store, status="running")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _own_by(store, record.id, "cli-run", process.pid, time.time())
        assert store.recover() == []
        assert store.get(record.id).status == "running"
        later = time.time() + run_store.STALE_SECONDS + 1
        assert store.recover(now=later) == [record.id]
    finally:
        process.kill()
        process.wait()


def test_rename_and_delete(tmp_path):
    store = _store(tmp_path)
    record = _new_run(store)
    store.record_epoch(record.id, 1, {"loss": 1.0}, 0.1)
    store.rename(record.id, "  wider   MLP ")
    assert store.get(record.id).name == "wider MLP"
    with pytest.raises(ValueError, match="cannot be empty"):
        store.rename(record.id, "   ")
    assert store.delete(record.id)
    assert store.get(record.id) is None and store.epochs(record.id) == []
    assert not store.delete(record.id)
