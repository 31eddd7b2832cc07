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


def test_settings_typed_on_a_page_are_still_there_after_another_page(home):
    """The Train page's settings survive a visit to the Data page (Streamlit alone would
    forget them, since a run of another page does not draw them). app.py draws every
    page through state.run_keeping_settings, as this script does."""
    from builder.data.samples import load_sample
    from builder.data.tabular import prepare_tabular
    from builder.ui import data_fit
    from tests.helpers import chain

    assert "state.run_keeping_settings(navigation.run)" in (ROOT / "app.py").read_text()
    source = load_sample("moons")
    at = AppTest.from_string(
        "import streamlit as st\n"
        "from builder.ui import data_page, state, train_page\n"
        "page = train_page if st.session_state.get('page') == 'train' else data_page\n"
        "state.run_keeping_settings(page.render)\n", default_timeout=120)
    at.session_state[data_fit.PREPARED.name] = prepare_tabular(source, source.target,
                                                               task=source.task)
    at.session_state["nc_design"] = chain(
        ("Dense", {"units": 1, "activation": "sigmoid"}), input_shape=(2,))
    at.session_state["page"] = "train"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key="nc_train::epochs").set_value(37).run()
    at.toggle(key="nc_train::keep_best").set_value(False).run()
    at.session_state["page"] = "data"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "nc_train::epochs" not in [w.key for w in at.get("number_input")]
    at.session_state["page"] = "train"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="nc_train::epochs").value == 37
    assert at.toggle(key="nc_train::keep_best").value is False
