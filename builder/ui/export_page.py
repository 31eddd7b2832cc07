"""The Export page: download a trained model as one zip, and bring a .keras model back.

Where the trained model comes from, in order:

1. a finished run in the workspace's run store whose artifacts include ``model``
   (the trained ``.keras``) and, when the data had preprocessing, ``serving_model``
   (the end-to-end ``.keras`` taking raw inputs);
2. the model this session trained last (:mod:`builder.ui.trained`), unless its run is
   already offered in 1.

The session keys it keeps (:data:`ZIP`, :data:`IMPORTED`) are declared below with their
defaults, and its widget keys are made from :data:`PREFIX`.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from builder import export, importer
from builder.design import Design
from builder.markdown import escape as md
from builder.ui import state, trained

ZIP = state.Key("nc_export_zip", lambda: None, "The last export bundle: its bytes, file "
                "name, files, messages and the choice it was built from (it is offered only "
                "while that model is chosen), or None.")
IMPORTED = state.Key("nc_import_design", lambda: None, "The upload last imported: (file id, "
                     "name of the design it became, layer count, notes), so that a rerun does "
                     "not import it twice; or None.")
SESSION_CHOICE = "This session's model"

PREFIX = "nc_export"
CHOICE = state.widget_key(PREFIX, "choice")
FORMATS = state.widget_key(PREFIX, "formats")
BUILD = state.widget_key(PREFIX, "build")
DOWNLOAD = state.widget_key(PREFIX, "download")
UPLOAD = state.widget_key(PREFIX, "upload")


def _runs_with_models() -> list:
    try:
        from builder.run_store import RunStore

        runs = RunStore().list_runs()
    except Exception as exc:  # an unreadable store must not break the page
        st.warning(f"The run history could not be read: {md(str(exc))}")
        return []
    return [r for r in runs if r.artifacts.get("model")
            and Path(r.artifacts["model"]).is_file()]


def _file_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"
    return f"{cleaned[:60]}_export.zip"


def handle_upload(data: bytes, name: str) -> tuple[Design | None, list[str], str]:
    """Import an uploaded .keras file: ``(design, notes, error sentence)``."""
    try:
        design = importer.import_keras_bytes(data, name)
    except importer.ImportRefused as exc:
        return None, [], str(exc)
    return design, list(design.extra.get("import_notes", [])), ""


def _export_section() -> None:
    st.subheader("Download a trained model")
    runs = _runs_with_models()
    choices = {f"{r.name} · {r.status} · {r.id}": r for r in runs}
    stored = {r.id for r in runs}
    last = trained.last()
    if last is not None and last.run_id not in stored:
        choices = {SESSION_CHOICE: None, **choices}
    if not choices:
        st.info("Nothing to export yet: train a model on the Train page first.")
        return
    choice = st.selectbox("Trained model", list(choices), key=CHOICE)
    formats = st.multiselect(
        "Extra formats", ["tflite", "onnx"], default=[], key=FORMATS,
        help="TFLite (LiteRT) for phones and microcontrollers; ONNX needs the tf2onnx package.")
    if st.button("Build the export bundle", type="primary", key=BUILD):
        with st.spinner("Writing the SavedModel, the code and the README..."):
            try:
                data, result, label = _build(choices[choice], tuple(formats))
            except (export.ExportError, ValueError, OSError) as exc:
                st.error(f"The bundle could not be made: {md(str(exc))}")
                return
        state.put(ZIP, {"data": data, "name": _file_name(label), "choice": choice,
                        "label": label, "files": result.files, "messages": result.messages})
    bundle = state.get(ZIP)
    # A bundle belongs to the model it was built from: another choice shows none.
    if bundle and bundle.get("choice") == choice:
        for message in bundle["messages"]:
            st.warning(md(message))
        st.download_button(f"Download the zip of {md(bundle['label'])}", bundle["data"],
                           file_name=bundle["name"], mime="application/zip",
                           key=DOWNLOAD)
        with st.expander(f"{len(bundle['files'])} files in the zip"):
            st.code("\n".join(bundle["files"]), language=None)


def _build(run, formats: tuple[str, ...]):
    if run is None:
        last = trained.last()
        data, result = export.export_bundle_bytes(
            design=last.design, model=last.model, serving_model=last.serving_model,
            history=last.history, config=last.config, class_names=last.class_names,
            formats=formats)
        return data, result, last.design.name or "model"
    with tempfile.TemporaryDirectory(prefix="nc_run_export_") as tmp:
        path = Path(tmp) / "bundle.zip"
        text, code = export.run_export(run.id, path, formats=formats)
        if code != 0:
            raise export.ExportError(text)
        with zipfile.ZipFile(path) as archive:
            files = archive.namelist()
        messages = text.splitlines()[1:]
        return path.read_bytes(), export.ExportResult(path, files, messages), run.name


def _import_section() -> None:
    st.subheader("Bring a Keras model onto the canvas")
    st.caption("Upload a .keras file saved by Keras 3. It is loaded with safe mode on, so no "
               "code in it runs; Lambda layers and layers outside the palette are refused. "
               "The model becomes a new design, open on the Build page.")
    upload = st.file_uploader("A .keras file", type=["keras"], key=UPLOAD)
    if upload is None:
        return
    done = state.get(IMPORTED)
    if not (isinstance(done, tuple) and done[0] == upload.file_id):
        done = _import(upload.getvalue(), upload.name, upload.file_id)
        if done is None:
            return
    _, name, layers, notes = done
    st.success(f"Imported {layers} layers from **{md(upload.name)}** as the design "
               f"**{md(name)}**, now open on the Build page.")
    for note in notes:
        st.warning(md(note))


def _import(data: bytes, file_name: str, file_id: str) -> tuple | None:
    """Import a .keras upload once: save it as a new design and open it in this session."""
    from builder.store import DesignNameError, StoreError
    from builder.ui import opening
    from builder.workspace import WorkspaceError

    design, notes, error = handle_upload(data, file_name)
    if error:
        st.error(md(error))
        return None
    name = " ".join((design.name or Path(file_name).stem or "Imported model").split())[:100]
    try:
        opening.create_and_open(state.store(), design, name or "Imported model")
    except (WorkspaceError, StoreError, DesignNameError) as exc:
        st.error(f"The imported design could not be saved: {md(str(exc))}")
        return None
    done = (file_id, state.get(state.DESIGN).name, len(design.nodes), notes)
    state.put(IMPORTED, done)
    return done


def render() -> None:
    st.header("Export and import")
    _export_section()
    st.divider()
    _import_section()


if __name__ == "__main__":
    render()
