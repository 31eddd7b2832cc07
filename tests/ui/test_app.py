"""The app shell: navigation, the sidebar's device badge, honest placeholder pages."""

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


@pytest.mark.parametrize("page, title", [("data_page", "Data"), ("train_page", "Train"),
                                         ("explore_page", "Explore"),
                                         ("export_page", "Export")])
def test_a_page_not_built_yet_says_so_plainly(page, title):
    at = AppTest.from_string(f"from builder.ui import placeholders\nplaceholders.{page}()").run()
    assert not at.exception
    assert at.header[0].value == title
    assert "not built yet" in at.info[0].value


def test_a_page_module_is_used_when_it_exists_and_the_placeholder_otherwise():
    from builder.ui import build_page, placeholders

    marker = placeholders.train_page
    assert placeholders.page_or_placeholder("no_such_page", marker) is marker
    assert placeholders.page_or_placeholder("build_page", marker) is build_page.render


def test_find_devices_reports_the_cpu_and_any_gpus():
    devices = find_devices()
    assert devices.cpu
    assert devices.summary().startswith(("CPU only", "1 GPU", "2 GPUs", "CPU ("))


def test_device_summaries_read_well():
    assert Devices(gpus=("GPU 0: A100",)).summary() == "1 GPU: GPU 0: A100"
    assert Devices(gpus=("a", "b")).summary() == "2 GPUs: a; b"
    assert Devices(cpu="Xeon").summary() == "CPU only: Xeon"
    assert "TensorFlow could not" in Devices(error="TensorFlow could not list devices: x").summary()
