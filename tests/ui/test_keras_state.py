"""builder/ui/keras_state.py: Streamlit's after-run cleanup leaves Keras's state alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from builder.ui import keras_state

ROOT = Path(__file__).resolve().parents[2]


def test_streamlit_still_clears_the_keras_session_unless_told_not_to(monkeypatch):
    # Streamlit's own cleanup, as shipped: it clears Keras's session. If a Streamlit
    # upgrade stops doing so, this patch can go.
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    current = script_runner._clean_problem_modules
    original = getattr(current, "replaced", current)  # patched already by an earlier test
    original()
    assert calls == [1]
    monkeypatch.setattr(script_runner, "_clean_problem_modules", original)
    keras_state.keep_keras_state_between_runs()
    calls.clear()
    script_runner._clean_problem_modules()
    assert calls == []


def test_app_runs_never_clear_the_keras_session(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    at.run()
    assert calls == []


def test_the_app_turns_off_the_full_collection_after_every_run(tmp_path):
    """Streamlit's gc.collect(2) after each run was 60 % of the server's CPU samples while
    a watched run trained (bench/live_view.py); the app's config turns it off."""
    root = Path(__file__).resolve().parents[2]
    probe = ("from streamlit import config\n"
             "config.get_config_options(force_reparse=True)\n"
             "print(config.get_option('runner.postScriptGC'))\n")
    env = dict(os.environ, HOME=str(tmp_path))  # no user-wide config.toml in the way
    shown = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    assert shown[-1] == "False", shown
