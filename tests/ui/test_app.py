"""The app shell: navigation and the sidebar's device badge."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from builder.devices import Devices, find_devices

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


def test_the_app_opens_on_the_build_page_with_the_device_in_the_sidebar(home):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    badge = [m.value for m in at.sidebar.info] + [m.value for m in at.sidebar.success]
    assert any("CPU" in text or "GPU" in text for text in badge), badge
    assert any("parameters" in m.value for m in at.markdown)


def test_find_devices_reports_the_cpu_and_any_gpus():
    devices = find_devices()
    assert devices.cpu
    assert devices.summary().startswith(("CPU only", "1 GPU", "2 GPUs", "CPU ("))


def test_device_summaries_read_well():
    assert Devices(gpus=("GPU 0: A100",)).summary() == "1 GPU: GPU 0: A100"
    assert Devices(gpus=("a", "b")).summary() == "2 GPUs: a; b"
    assert Devices(cpu="Xeon").summary() == "CPU only: Xeon"
    assert "TensorFlow could not" in Devices(error="TensorFlow could not list devices: x").summary()
