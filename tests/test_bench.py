"""Every benchmark README.md shows runs, on the smallest work it takes, and ends in its figure.

The figures themselves belong to full runs (see each script); here each command runs
as README.md writes it, plus the flags that make its work small where it has them.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_readme_commands import readme_commands

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "bench/data.py": ["--rows", "3000", "--repeat", "1", "--processes", "1"],
    "bench/train.py": ["--rounds", "1", "--epochs", "1", "--samples", "500"],
    "bench/train_watched.py": ["--rounds", "1", "--epochs", "1", "--samples", "500"],
    "bench/families.py": ["--quick", "--family", "mlp"],
    "bench/gan_digits.py": ["--epochs", "1", "--speed-epochs", "1", "--rounds", "2"],
    "bench/canvas_browser.py": ["--sizes", "20", "--repeats", "1"],
    "bench/live_view.py": ["--rounds", "1", "--epochs", "3"],
}
BENCHES = [c for c in readme_commands() if c.startswith(".venv/bin/python bench/")]


def test_the_readme_shows_the_benchmarks():
    assert {shlex.split(c)[1] for c in BENCHES} >= {"bench/analyze.py", "bench/data.py",
                                                    "bench/train.py", "bench/families.py"}


@pytest.mark.parametrize("command", BENCHES, ids=[shlex.split(c)[1] for c in BENCHES])
def test_the_benchmark_runs_and_prints_its_figure_last(command, tmp_path):
    words = shlex.split(command)
    script = words[1]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               NEURAL_CANVAS_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, *words[1:], *SMALL.get(script, [])], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\d", last), last
