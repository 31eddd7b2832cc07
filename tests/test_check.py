"""The check command's table, exit codes and refusals."""

import json
import os
import subprocess
import sys
from pathlib import Path

from builder.check import run_check
from tests.helpers import chain

ROOT = Path(__file__).resolve().parent.parent


def test_valid_design_prints_the_table_and_exits_zero(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(chain(("Dense", {"units": 3})).to_json())
    text, code = run_check(path)
    assert code == 0
    assert "n1" in text and "(None, 3)" in text and "27" in text
    assert "27 parameters · 0 problems" in text


def test_invalid_design_lists_problems_and_exits_one(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(chain(("Dense", {"units": -1}), "Dense").to_json())
    text, code = run_check(path)
    assert code == 1
    assert "[n1] bad_param: Dense 'units' must be at least 1; got -1." in text
    assert "(after a problem above)" in text


def test_not_a_design_exits_two_with_a_sentence(tmp_path):
    missing, code = run_check(tmp_path / "nope.json")
    assert code == 2 and "There is no file" in missing
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\x00\x01binary")
    text, code = run_check(junk)
    assert code == 2 and text.startswith("error: ")


def test_cli_check_runs_as_a_module(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": 1, "nodes": [{"id": "x", "type": "Lambda"}],
                                "edges": []}))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "builder", "check", str(path)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "unknown_type" in done.stdout and "Traceback" not in done.stderr
    template = ROOT / "templates" / "small_cnn.json"
    design_only = tmp_path / "cnn.json"
    design_only.write_text(json.dumps(json.loads(template.read_text())["designs"][0]))
    done = subprocess.run([sys.executable, "-m", "builder", "check", str(design_only)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and "(None, 32, 32, 16)" in done.stdout
