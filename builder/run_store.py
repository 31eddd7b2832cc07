"""Training runs and their per-epoch metrics, in the workspace's SQLite file.

The tables live in the same file as the designs (``workspace.store_path``), under the one
schema of :mod:`builder.database`.

A run is owned by the process that trains it. Each process has a random token;
a run whose owner is gone (its process died, or the server restarted and got the
same process id back) is marked ``interrupted`` by :meth:`RunStore.recover`, and
can be resumed from its last checkpoint.

Every method opens its own short connection, so one RunStore can be shared by
the page threads and the training threads.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from builder import database, workspace
from builder.database import StoreError  # noqa: F401  (re-exported: the one error type)

# Statuses. "queued" and "running" are live; the rest are final (a final run can
# still be continued or resumed, which makes it live again).
LIVE_STATUSES = ("queued", "running")
FINAL_STATUSES = ("finished", "early_stopped", "stopped", "diverged", "failed", "cancelled",
                  "interrupted")

# A run owned by another live process that has not written for this long is
# taken to be dead (its process hung or lives on a machine we cannot ask).
STALE_SECONDS = 120.0

PROCESS_TOKEN = uuid.uuid4().hex
_HOST = socket.gethostname()

@dataclass(frozen=True)
class RunRecord:
    """One training run as stored."""

    id: str
    name: str
    status: str
    message: str
    design: dict
    data: dict
    config: dict
    device: str
    epochs_done: int
    final: dict
    artifacts: dict
    run_dir: str
    owner_token: str
    owner_pid: int
    owner_host: str
    created_at: float
    updated_at: float
    heartbeat_at: float

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def checkpoint(self) -> Path | None:
        """The last checkpoint file, when one was written and still exists."""
        path = self.artifacts.get("checkpoint")
        return Path(path) if path and Path(path).is_file() else None


@dataclass(frozen=True)
class EpochRecord:
    """The metrics of one epoch of a run."""

    epoch: int  # 1-based, as people count
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0
    partial: bool = False


_COLUMNS = ("id, name, status, message, design_json, data_json, config_json, device, "
            "epochs_done, final_json, artifacts_json, run_dir, owner_token, owner_pid, "
            "owner_host, created_at, updated_at, heartbeat_at")


def _record(row) -> RunRecord:
    (run_id, name, status, message, design_json, data_json, config_json, device, epochs_done,
     final_json, artifacts_json, run_dir, token, pid, host, created, updated, beat) = row
    return RunRecord(run_id, name, status, message, _loads(design_json), _loads(data_json),
                     _loads(config_json), device, epochs_done, _loads(final_json),
                     _loads(artifacts_json), run_dir, token, pid, host, created, updated, beat)


def _loads(text: str) -> dict:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _dumps(value) -> str:
    return json.dumps(value, default=_jsonable, allow_nan=True)


def _jsonable(value):
    """NumPy scalars and paths in metrics and artifacts, as JSON."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def default_path() -> Path:
    """The SQLite file of the current workspace (created if needed)."""
    return workspace.store_path(workspace.ensure(workspace.resolve()))


def runs_folder(store_path: Path) -> Path:
    """Where run folders (checkpoints, models, histories) go, next to the SQLite file."""
    return Path(store_path).parent / "runs"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


class RunStore:
    """Runs and per-epoch metrics.

    Args:
        path: the SQLite file (default: the workspace's store file).

    Raises:
        StoreError: the file cannot be opened, is damaged, or has a newer schema.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        path = Path(path) if path else default_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = database.open_file(path)

    @property
    def runs_dir(self) -> Path:
        return runs_folder(self.path)

    def _connect(self):
        return database.connect(self.path)

    # -- writing ------------------------------------------------------------------

    def create_run(self, *, name: str, design: dict, data: dict, config: dict,
                   device: str = "", status: str = "queued",
                   run_dir: str | os.PathLike | None = None) -> RunRecord:
        """Record a new run owned by this process; its folder is made too.

        Args:
            run_dir: where its checkpoints and files go (default: a new folder
                under the workspace's ``runs/``).
        """
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        run_dir = Path(run_dir).resolve() if run_dir else self.runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        clean_name = " ".join(str(name).split())[:120] or "run"
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO runs ({_COLUMNS}) VALUES "
                "(?, ?, ?, '', ?, ?, ?, ?, 0, '{}', '{}', ?, ?, ?, ?, ?, ?, ?)",
                (run_id, clean_name, status, _dumps(design), _dumps(data), _dumps(config),
                 device, str(run_dir), PROCESS_TOKEN, os.getpid(), _HOST, now, now, now),
            )
        return self.get(run_id)

    def claim(self, run_id: str) -> None:
        """Make this process the owner of a run (when it continues or resumes one)."""
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "UPDATE runs SET owner_token = ?, owner_pid = ?, owner_host = ?, "
                "heartbeat_at = ?, updated_at = ? WHERE id = ?",
                (PROCESS_TOKEN, os.getpid(), _HOST, now, now, run_id),
            )

    def set_status(self, run_id: str, status: str, message: str = "") -> None:
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, message = ?, updated_at = ?, heartbeat_at = ? "
                "WHERE id = ?", (status, message, now, now, run_id))

    def update_config(self, run_id: str, config: dict) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE runs SET config_json = ?, updated_at = ? WHERE id = ?",
                         (_dumps(config), time.time(), run_id))

    def heartbeat(self, run_id: str) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (time.time(), run_id))

    def record_epoch(self, run_id: str, epoch: int, metrics: dict, seconds: float,
                     partial: bool = False, artifacts: dict | None = None) -> None:
        """Store one epoch's metrics (1-based epoch; a later write replaces it)."""
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO run_epochs (run_id, epoch, metrics_json, seconds, partial) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(run_id, epoch) DO UPDATE SET "
                "metrics_json = excluded.metrics_json, seconds = excluded.seconds, "
                "partial = excluded.partial",
                (run_id, int(epoch), _dumps(metrics), float(seconds), int(partial)),
            )
            done = conn.execute(
                "SELECT COUNT(*) FROM run_epochs WHERE run_id = ? AND partial = 0", (run_id,)
            ).fetchone()[0]
            conn.execute("UPDATE runs SET epochs_done = ?, updated_at = ?, heartbeat_at = ? "
                         "WHERE id = ?", (done, now, now, run_id))
            if artifacts:
                self._merge_artifacts(conn, run_id, artifacts)

    def drop_epochs_after(self, run_id: str, epoch: int) -> None:
        """Forget epochs after ``epoch`` (a resume restarts from its checkpoint's epoch)."""
        with self._connect() as conn:
            conn.execute("DELETE FROM run_epochs WHERE run_id = ? AND epoch > ?",
                         (run_id, int(epoch)))
            done = conn.execute(
                "SELECT COUNT(*) FROM run_epochs WHERE run_id = ? AND partial = 0", (run_id,)
            ).fetchone()[0]
            conn.execute("UPDATE runs SET epochs_done = ? WHERE id = ?", (done, run_id))

    def add_artifacts(self, run_id: str, artifacts: dict) -> None:
        with self._connect() as conn:
            self._merge_artifacts(conn, run_id, artifacts)

    @staticmethod
    def _merge_artifacts(conn, run_id: str, artifacts: dict) -> None:
        row = conn.execute("SELECT artifacts_json FROM runs WHERE id = ?", (run_id,)).fetchone()
        merged = _loads(row[0]) if row else {}
        merged.update({k: str(v) for k, v in artifacts.items()})
        conn.execute("UPDATE runs SET artifacts_json = ? WHERE id = ?", (_dumps(merged), run_id))

    def finish(self, run_id: str, status: str, message: str = "", final: dict | None = None,
               artifacts: dict | None = None) -> None:
        """Record how a run ended, its final scores and its files."""
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, message = ?, final_json = ?, updated_at = ?, "
                "heartbeat_at = ? WHERE id = ?",
                (status, message, _dumps(final or {}), now, now, run_id),
            )
            if artifacts:
                self._merge_artifacts(conn, run_id, artifacts)

    def rename(self, run_id: str, name: str) -> None:
        clean_name = " ".join(str(name).split())[:120]
        if not clean_name:
            raise ValueError("A run name cannot be empty. Type a name.")
        with self._connect() as conn:
            conn.execute("UPDATE runs SET name = ? WHERE id = ?", (clean_name, run_id))

    def delete(self, run_id: str) -> bool:
        """Delete a run's record (its folder stays on disk; the caller removes it)."""
        with self._connect() as conn:
            conn.execute("DELETE FROM run_epochs WHERE run_id = ?", (run_id,))
            cursor = conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            return cursor.rowcount == 1

    # -- reading ------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord | None:
        with self._connect() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _record(row) if row else None

    def list_runs(self, limit: int = 200) -> list[RunRecord]:
        """The most recent runs first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM runs ORDER BY created_at DESC, id DESC LIMIT ?",
                (int(limit),),
            ).fetchall()
        return [_record(r) for r in rows]

    def epochs(self, run_id: str) -> list[EpochRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT epoch, metrics_json, seconds, partial FROM run_epochs "
                "WHERE run_id = ? ORDER BY epoch", (run_id,),
            ).fetchall()
        return [EpochRecord(e, _loads(m), s, bool(p)) for e, m, s, p in rows]

    # -- recovery -------------------------------------------------------------------

    def recover(self, now: float | None = None) -> list[str]:
        """Mark runs whose owning process is gone as interrupted; return their ids.

        A live run (queued or running) is orphaned when its owner is not this
        process and: it ran on this machine and that process no longer exists, or
        it has this process's id (the server restarted and got the same id back),
        or it has not reported for :data:`STALE_SECONDS`.
        """
        now = time.time() if now is None else now
        orphaned = []
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, status, owner_token, owner_pid, owner_host, heartbeat_at FROM runs "
                f"WHERE status IN ({','.join('?' * len(LIVE_STATUSES))})", LIVE_STATUSES,
            ).fetchall()
            for run_id, status, token, pid, host, beat in rows:
                if token == PROCESS_TOKEN:
                    continue
                same_host = host == _HOST
                dead = (same_host and (pid == os.getpid() or not _pid_alive(pid))) or (
                    now - beat > STALE_SECONDS)
                if not dead:
                    continue
                was = "waiting in the queue" if status == "queued" else "training"
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', message = ?, updated_at = ? "
                    "WHERE id = ?",
                    (f"The run was {was} when the server stopped. Resume it to continue from "
                     "its last checkpoint.", now, run_id),
                )
                orphaned.append(run_id)
        return orphaned
