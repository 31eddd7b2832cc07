"""The store under faults: a process killed with SIGKILL in the middle of saving a design
leaves the old or the new design, whole; a damaged file is refused with a sentence."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from builder.store import Store, StoreError

SAVER = """
import json, sys
from builder.store import Store
store = Store(sys.argv[1])
design_id = int(sys.argv[2])
big = "x" * 400_000
n = 0
while True:
    n += 1
    store.save_design(design_id, json.dumps({"n": n, "pad": big, "end": n}))
    if n == 3:
        print("saving", flush=True)
"""


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.5])
def test_a_save_killed_midway_leaves_one_whole_design(tmp_path, delay):
    path = tmp_path / "nc.sqlite"
    record = Store(path).create_design("net", json.dumps({"n": 0, "pad": "", "end": 0}))
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(record.id)],
                             stdout=subprocess.PIPE, text=True)
    assert saver.stdout.readline().strip() == "saving"
    time.sleep(delay)
    saver.send_signal(signal.SIGKILL)
    saver.wait(30)
    reopened = Store(path)
    stored = json.loads(reopened.get_design(record.id).json)
    assert stored["n"] == stored["end"] >= 3 and len(stored["pad"]) == 400_000


@pytest.mark.parametrize("damage", [b"", b"\0" * 4096, b"SQLite format 3\0" + b"\xff" * 500])
def test_a_truncated_or_zeroed_store_is_refused_with_the_fix(tmp_path, damage):
    path = tmp_path / "nc.sqlite"
    Store(path).create_design("net", "{}")
    path.write_bytes(damage)
    try:
        store = Store(path)
    except StoreError as exc:
        assert "move it away" in str(exc) or "cannot be opened" in str(exc)
        return
    assert store.list_designs() == []  # an empty file is a new, empty store: also fine
