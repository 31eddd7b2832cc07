"""The Export page through Streamlit's AppTest."""

from __future__ import annotations

import io
import zipfile

import keras
from streamlit.testing.v1 import AppTest

from builder.compile import build_model
from builder.ui import export_page, state
from builder.ui.trained import TrainedModel
from tests.helpers import chain

SCRIPT = "from builder.ui.export_page import render\nrender()\n"


def test_export_of_the_session_model_offers_a_zip(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    design = chain(("Dense", {"units": 3}), ("Dense", {"units": 2, "activation": "softmax"}),
                   input_shape=(4,))
    design.name = "tiny"
    at = AppTest.from_string(SCRIPT, default_timeout=120)
    at.session_state[state.TRAINED.name] = TrainedModel(
        run_id="session-run", design=design, model=build_model(design),
        history=[{"epoch": 1, "loss": 0.7}], class_names=["no", "yes"])
    at.run()
    assert not at.exception
    assert at.selectbox(key=export_page.CHOICE).value == export_page.SESSION_CHOICE
    at.button(key=export_page.BUILD).click().run()
    assert not at.exception
    bundle = at.session_state[export_page.ZIP.name]
    assert bundle["name"] == "tiny_export.zip"
    names = zipfile.ZipFile(io.BytesIO(bundle["data"])).namelist()
    assert {"saved_model/saved_model.pb", "model.keras", "model.py", "README.md",
            "class_names.txt"} <= set(names)


def test_without_a_trained_model_the_page_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    at = AppTest.from_string(SCRIPT, default_timeout=60).run()
    assert not at.exception
    assert any("Nothing to export yet" in i.value for i in at.info)


def test_upload_handler_gives_a_design_or_a_sentence(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="out")],
                             name="seq")
    model.save(tmp_path / "seq.keras")
    design, notes, error = export_page.handle_upload((tmp_path / "seq.keras").read_bytes(),
                                                     "seq.keras")
    assert error == "" and notes == [] and [n.type for n in design.nodes] == ["Input", "Dense"]
    design, notes, error = export_page.handle_upload(b"not a model", "x.keras")
    assert design is None and "not a zip archive" in error


IMPORT_SCRIPT = """
import streamlit as st
from builder.ui import build_page, export_page
upload = st.session_state.pop("test_keras", None)
if upload is not None:
    export_page._import(*upload)
build_page.render()
"""


def test_an_imported_model_becomes_a_saved_design_open_on_the_build_page(tmp_path, monkeypatch):
    from builder.ui import state

    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="hidden"),
                              keras.layers.Dense(2, name="out")], name="![x](javascript:alert)")
    model.save(tmp_path / "seq.keras")
    at = AppTest.from_string(IMPORT_SCRIPT, default_timeout=120)
    at.run()
    at.session_state["test_keras"] = ((tmp_path / "seq.keras").read_bytes(), "seq.keras", "f1")
    at.run()
    assert not at.exception, at.exception
    design = at.session_state[state.DESIGN.name]
    assert [n.type for n in design.nodes] == ["Input", "Dense", "Dense"]
    stored = state.store().get_design(at.session_state[state.DESIGN_ID.name])
    assert stored is not None and stored.name == design.name == "![x](javascript:alert)"
    assert at.session_state[export_page.IMPORTED.name][1:3] == (design.name, 3)


def test_a_gan_run_exports_its_generator_with_the_discriminator(tmp_path, monkeypatch):
    from builder import jobs, workspace
    from builder.gan_training import GanConfig
    from tests.test_jobs import CPU, _gan_pair, _halves

    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    manager = jobs.JobManager(jobs.RunStore(workspace.store_path(
        workspace.ensure(tmp_path / "ws"))), device_plan=CPU)
    generator, discriminator = _gan_pair()
    job = manager.submit_gan(generator, discriminator, _halves(),
                             GanConfig(epochs=1, batch_size=16, samples=4))
    assert job.wait(120) and job.status == "finished"
    at = AppTest.from_string(SCRIPT, default_timeout=120).run()
    assert not at.exception
    assert job.run_id in at.selectbox(key=export_page.CHOICE).value
    at.button(key=export_page.BUILD).click().run()
    assert not at.exception, at.exception
    bundle = at.session_state[export_page.ZIP.name]
    names = set(zipfile.ZipFile(io.BytesIO(bundle["data"])).namelist())
    assert {"saved_model/saved_model.pb", "model.keras", "discriminator.keras",
            "discriminator_design.json", "README.md"} <= names
    assert "model.py" not in names


def test_a_session_generator_exports_without_a_training_script(tmp_path, monkeypatch):
    from tests.test_jobs import _gan_pair

    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    generator, _ = _gan_pair()
    at = AppTest.from_string(SCRIPT, default_timeout=120)
    at.session_state[state.TRAINED.name] = TrainedModel(
        run_id="session-run", design=generator, model=build_model(generator))
    at.run()
    at.button(key=export_page.BUILD).click().run()
    assert not at.exception, at.exception
    archive = zipfile.ZipFile(io.BytesIO(at.session_state[export_page.ZIP.name]["data"]))
    assert "model.py" not in archive.namelist()
    assert "noise = tf.random.normal([16, 8])" in archive.read("README.md").decode()


def test_a_built_zip_is_offered_only_with_the_model_it_was_built_from(tmp_path, monkeypatch):
    """Choosing another model hides the zip; the button names the model it holds."""
    from types import SimpleNamespace

    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    other = SimpleNamespace(name="regressor", status="finished", id="run-2",
                            artifacts={"model": "x"})
    monkeypatch.setattr(export_page, "_runs_with_models", lambda: [other])
    design = chain(("Dense", {"units": 2, "activation": "softmax"}), input_shape=(4,))
    design.name = "tiny"
    at = AppTest.from_string(SCRIPT, default_timeout=120)
    at.session_state[state.TRAINED.name] = TrainedModel(
        run_id="session-run", design=design, model=build_model(design))
    at.run()
    at.button(key=export_page.BUILD).click().run()
    assert not at.exception
    buttons = at.get("download_button")
    assert len(buttons) == 1 and "Download the zip of tiny" in buttons[0].proto.label
    at.selectbox(key=export_page.CHOICE).set_value("regressor · finished · run-2").run()
    assert not at.exception
    assert at.get("download_button") == []
    at.selectbox(key=export_page.CHOICE).set_value(export_page.SESSION_CHOICE).run()
    assert len(at.get("download_button")) == 1
