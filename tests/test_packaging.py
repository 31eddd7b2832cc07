"""The wheel carries the canvas: its manifest and built files, found by Streamlit's own scan.

Builds the wheel as `pip wheel .` does (setup.py builds the canvas's JavaScript into it),
installs it into a scratch folder, and asks Streamlit's component scanner, in a fresh
Python that sees only that folder's copy, where the canvas's asset folder is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCAN = """
from streamlit.components.v2.manifest_scanner import scan_component_manifests
for manifest, root in scan_component_manifests():
    if manifest.name == "neural-canvas":
        print(root)
"""


def test_the_wheel_carries_the_built_canvas_and_streamlit_finds_it(tmp_path):
    wheels = tmp_path / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                           "--no-build-isolation", str(ROOT), "-w", str(wheels)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = wheels.glob("neural_canvas-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for part in ("canvas_frontend/pyproject.toml", "canvas_frontend/build/index.js",
                 "canvas_frontend/build/index.css", "icon.png"):
        assert f"builder/ui/{part}" in names
    assert not any("node_modules" in n or "/src/" in n for n in names)
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                           "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    env = dict(os.environ, PYTHONPATH=str(target))
    found = subprocess.run([sys.executable, "-c", SCAN], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120)
    roots = found.stdout.split()
    assert str(target / "builder" / "ui" / "canvas_frontend") in roots, found.stderr[-2000:]
