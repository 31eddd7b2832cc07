"""The Data page: bring a CSV, an image zip or a sample, look at it, prepare it for training.

Every decision lives in :mod:`builder.data`; this page only turns widgets into
calls. A failed upload shows the DataError's problem and fix and keeps what was
loaded and prepared before. The prepared dataset is kept under ``PREPARED`` for
the Train page; the open design is checked against it, with one-click fixes.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from builder import workspace
from builder.data import PreparedData
from builder.data.archive import MAX_ENTRIES, MAX_TOTAL_BYTES
from builder.data.columns import COLUMN_KINDS, TabularSource, class_balance, column_summary
from builder.data.csv_reading import ENCODING_NAMES, ENCODINGS, load_csv
from builder.data.errors import DataError
from builder.data.images import (
    AUGMENTATIONS,
    ImageSource,
    gallery,
    load_image_zip,
    prepare_images,
)
from builder.data.link import preparation_hints
from builder.data.samples import get_sample, list_samples
from builder.data.tabular import prepare_tabular, task_of_column
from builder.data.timeseries import prepare_timeseries
from builder.explain.figures import as_text
from builder.markdown import escape as md
from builder.ui import data_fit, state
from builder.ui.data_fit import PREPARED

# -- session state (declared once, with defaults) --------------------------------------

SOURCE = state.Key("nc_data_source", lambda: None,
                   "The loaded TabularSource or ImageSource the page shows.")
SOURCE_NO = state.Key("nc_data_source_no", lambda: 0,
                      "Bumped when a new source loads; widget keys carry it so they reset.")
PREPARED_FROM = state.Key("nc_data_prepared_from", lambda: 0,
                         "SOURCE_NO of the source the prepared data was made from.")
CHOICE = state.Key("nc_data_choice", lambda: "Sample",
                   "The data source tab last chosen, kept across page visits.")
UPLOAD_SEEN = state.Key("nc_data_upload_seen", lambda: None,
                        "Fingerprint of the last upload handled, so a rerun does not redo it.")
NOTICE = state.Key("nc_data_notice", lambda: None, "(level, message) shown once at the top.")
CHARTS = state.Key("nc_data_charts", dict,
                   "Chart summaries (by column) and the gallery of the loaded source.")
PAGE_KEYS = (SOURCE, SOURCE_NO, PREPARED, PREPARED_FROM, CHOICE, UPLOAD_SEEN, NOTICE, CHARTS)

PREFIX = "nc_data"
UPLOADS = "uploads"  # in the workspace: one folder per session, one per archive inside it
CHOICES = ("Sample", "CSV file", "Image zip")
TASK_WORDS = {"binary": "binary classification (two classes)",
              "multiclass": "multiclass classification",
              "regression": "regression (predict numbers)",
              "reconstruction": "reconstruction (autoencoder)"}
MAX_CHARTS = 24
MAX_GALLERY = 6


def _key(*parts: object) -> str:
    return state.widget_key(PREFIX, *parts)


def _notice(level: str, message: str) -> None:
    state.put(NOTICE, (level, message))


def _show_notice() -> None:
    notice = state.get(NOTICE)
    if notice:
        level, message = notice
        getattr(st, level)(message)
        state.put(NOTICE, None)


def _error(exc: DataError) -> None:
    st.error(f"**{md(exc.problem)}** {md(exc.fix)}", icon=":material/error:")


def _upload_limit_mb() -> int:
    return int(st.get_option("server.maxUploadSize"))


def _new_source(source) -> None:
    state.put(SOURCE, source)
    state.put(SOURCE_NO, state.get(SOURCE_NO) + 1)
    state.put(CHARTS, {})


# -- loading ------------------------------------------------------------------------------


def accept_csv(name: str, data: bytes, encoding: str = "auto",
               skip_bad_rows: bool = False) -> bool:
    """Read an uploaded CSV; on failure say why and keep the current data. True on success."""
    try:
        source = load_csv(data, name=name, encoding=encoding, skip_bad_rows=skip_bad_rows)
    except DataError as exc:
        _notice("error", f"**{md(exc.problem)}** {md(exc.fix)} The data loaded before is kept.")
        return False
    except (OSError, MemoryError, RecursionError) as exc:  # never a traceback on the page
        _notice("error", f"**'{name}' could not be read** ({exc}). The data loaded before "
                         "is kept.")
        return False
    _new_source(source)
    _notice("success", f"Loaded **{md(name)}**: {len(source.frame):,} rows, "
                       f"{source.frame.shape[1]} columns.")
    return True


def _uploads_folder() -> Path:
    """This session's own uploads folder (other sessions' folders are never touched while
    those sessions live)."""
    return workspace.ensure(workspace.resolve()) / UPLOADS / f"session-{state.get(state.SESSION)}"


def accept_zip(name: str, data: bytes) -> bool:
    """Extract and scan an uploaded image zip; on failure keep the current data."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    try:
        folder = _uploads_folder()
    except workspace.WorkspaceError as exc:
        _notice("error", f"**The upload cannot be unpacked.** {exc}")
        return False
    dest = folder / f"images-{digest}"
    shutil.rmtree(dest, ignore_errors=True)
    try:
        source = load_image_zip(data, dest, name=name)
    except DataError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        _notice("error", f"**{md(exc.problem)}** {md(exc.fix)} The data loaded before is kept.")
        return False
    except (OSError, MemoryError) as exc:  # a full disk, say: never a traceback on the page
        shutil.rmtree(dest, ignore_errors=True)
        _notice("error", f"**'{name}' could not be unpacked** ({exc}). Free some disk space "
                         "or upload a smaller archive; the data loaded before is kept.")
        return False
    _prune_uploads(folder, keep={dest, _current_image_root()})
    _new_source(source)
    skipped = len(source.report())
    _notice("success", f"Loaded **{md(name)}**: {len(source):,} images in "
                       f"{len(source.class_names)} classes"
                       + (f"; {skipped} item(s) skipped (see the report)." if skipped else "."))
    return True


def _current_image_root() -> Path | None:
    source = state.get(SOURCE)
    return _upload_of(source.root if isinstance(source, ImageSource) else None)


def _upload_of(path: Path | None) -> Path | None:
    """The extracted archive folder (uploads/session-*/images-*) that holds ``path``."""
    if path is None:
        return None
    for parent in [path, *path.parents]:
        if parent.name.startswith("images-") and parent.parent.parent.name == UPLOADS:
            return parent
    return None


def _in_use_by_runs() -> set[Path]:
    """Archive folders that live runs (queued or training, of any session) read images from."""
    used = set()
    manager = state.job_manager(start=False)
    for job in manager.active_jobs() if manager is not None else ():
        origin = getattr(job.data, "origin", None)
        source = origin[1] if origin else None
        root = _upload_of(source.root) if isinstance(source, ImageSource) and source.root else None
        if root is not None:
            used.add(root)
    return used


def _prune_uploads(folder: Path, keep: set) -> None:
    """Remove this session's extracted archives other than those in ``keep`` and those live
    runs read, and the folders of sessions that have ended (unless a live run reads them)."""
    try:
        keep = {p for p in keep if p is not None} | _in_use_by_runs()
    except Exception:  # the run history cannot be opened: keep everything rather than guess
        return
    for path in folder.glob("images-*"):
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)
    for other in folder.parent.glob("session-*"):
        if other != folder and not _session_lives(other.name.removeprefix("session-")) and \
                not any(root.parent == other for root in keep):
            shutil.rmtree(other, ignore_errors=True)


def _session_lives(session_id: str) -> bool:
    from streamlit import runtime

    if not runtime.exists():
        return True  # no server to ask (a test harness): assume it lives
    return runtime.get_instance().is_active_session(session_id)


def accept_sample(sample_id: str) -> bool:
    try:
        sample = get_sample(sample_id)
        source = sample.load()
    except DataError as exc:
        _notice("error", f"**{md(exc.problem)}** {md(exc.fix)}")
        return False
    _new_source(source)
    _notice("success", f"Loaded the sample **{sample.title}**.")
    return True


def _source_picker() -> None:
    # Streamlit forgets a widget's value when its page is left; the default brings back
    # the tab last chosen.
    remembered = state.get(CHOICE) if state.get(CHOICE) in CHOICES else CHOICES[0]
    choice = st.segmented_control("Data source", CHOICES, default=remembered,
                                  key=_key("choice"), label_visibility="collapsed") or remembered
    state.put(CHOICE, choice)
    limit = _upload_limit_mb()
    if choice == "Sample":
        samples = list_samples()
        titles = {s.id: f"{s.title} ({s.kind}, {s.task})" for s in samples}
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        sample_id = left.selectbox("Sample", list(titles), format_func=titles.get,
                                   key=_key("sample"))
        if right.button("Load sample", key=_key("load_sample"), type="primary",
                        width="stretch"):
            accept_sample(sample_id)
            st.rerun()
        st.caption(get_sample(sample_id).description)
    elif choice == "CSV file":
        left, right = st.columns([3, 2])
        upload = left.file_uploader("CSV file", type=["csv", "tsv", "txt"],
                                    key=_key("csv_upload"),
                                    help=f"Up to {limit} MB. The first row holds column names.")
        encoding = right.selectbox("Encoding", ENCODINGS, key=_key("encoding"),
                                   format_func=lambda e: "Detect" if e == "auto"
                                   else ENCODING_NAMES.get(e, e),
                                   help="Detected automatically; choose another if accented "
                                        "letters look wrong in the preview.")
        skip = right.checkbox("Skip malformed rows", key=_key("skip_bad"),
                              help="Leave out rows with more fields than the header instead "
                                   "of refusing the file.")
        if upload is not None:
            seen = ("csv", upload.file_id, encoding, skip)
            if state.get(UPLOAD_SEEN) != seen:
                state.put(UPLOAD_SEEN, seen)
                accept_csv(upload.name, upload.getvalue(), encoding, skip)
                st.rerun()
        st.caption(f"Uploads are limited to {limit} MB (server.maxUploadSize in "
                   ".streamlit/config.toml). Larger tables: upload a sample of the rows.")
    else:
        upload = st.file_uploader("Zip of class folders", type=["zip"], key=_key("zip_upload"),
                                  help="One folder per class, e.g. cats/ and dogs/, each "
                                       "holding that class's images (any depth below a "
                                       "common folder).")
        if upload is not None:
            seen = ("zip", upload.file_id)
            if state.get(UPLOAD_SEEN) != seen:
                state.put(UPLOAD_SEEN, seen)
                with st.spinner("Extracting and checking images..."):
                    accept_zip(upload.name, upload.getvalue())
                st.rerun()
        st.caption(f"Uploads are limited to {limit} MB (server.maxUploadSize in "
                   f".streamlit/config.toml); an archive may hold at most {MAX_ENTRIES:,} "
                   f"files and unpack to at most {MAX_TOTAL_BYTES // 2**20:,} MB. Paths that "
                   "leave the archive's folder and links are refused; hidden files, "
                   "non-images and damaged images are skipped and listed.")


# -- tables -----------------------------------------------------------------------------------


def _chart(summary: dict, title: str) -> go.Figure:
    if summary["type"] == "histogram":
        edges = summary["edges"]
        centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
        figure = go.Figure(go.Bar(x=centres, y=summary["counts"], marker_color="#4c78a8"))
    else:
        labels = list(summary["labels"]) + (["(other)"] if summary["other"] else [])
        counts = list(summary["counts"]) + ([summary["other"]] if summary["other"] else [])
        figure = go.Figure(go.Bar(x=labels, y=counts, marker_color="#f58518"))
    figure.update_layout(title=dict(text=title, font=dict(size=13)), height=210,
                         margin=dict(l=10, r=10, t=36, b=10), showlegend=False)
    return as_text(figure)


def _column_table(source: TabularSource) -> dict[str, str]:
    """The detected types, editable; returns column -> chosen kind."""
    info = source.columns
    table = pd.DataFrame({
        "column": list(info),
        "type": [c.kind for c in info.values()],
        "missing": [c.missing for c in info.values()],
        "distinct (first rows)": [c.unique for c in info.values()],
        "why": [c.reason for c in info.values()],
    })
    edited = st.data_editor(
        table, hide_index=True, key=_key("types", state.get(SOURCE_NO)), width="stretch",
        disabled=["column", "missing", "distinct (first rows)", "why"],
        column_config={"type": st.column_config.SelectboxColumn(
            "type", options=list(COLUMN_KINDS), required=True,
            help="numeric: numbers, standardised; categorical: labels, one-hot; text: words; "
                 "date: dates like 2024-01-31 (12:00), turned into day count, month, day, "
                 "weekday and hour inside the model; id: ignored.")},
    )
    return dict(zip(edited["column"], edited["type"]))


def _charts(source: TabularSource, kinds: dict[str, str]) -> None:
    cache = state.get(CHARTS)
    columns = list(source.frame.columns)[:MAX_CHARTS]
    grid = st.columns(3)
    for i, column in enumerate(columns):
        kind = kinds.get(column, "categorical")
        if kind == "id":  # one row per value: a chart would be a flat line
            with grid[i % 3]:
                st.markdown(f"**{md(column)} (id)**")
                st.caption(f"{source.frame[column].nunique():,} distinct values: an identifier, "
                           "left out of the features unless you choose it.")
            continue
        if (column, kind) not in cache:
            cache[(column, kind)] = column_summary(source.frame, column, kind)
        with grid[i % 3]:
            st.plotly_chart(_chart(cache[(column, kind)], f"{column} ({kind})"),
                            key=_key("chart", state.get(SOURCE_NO), column),
                            config={"displayModeBar": False})
    if source.frame.shape[1] > MAX_CHARTS:
        st.caption(f"Charts for the first {MAX_CHARTS} of {source.frame.shape[1]} columns.")


def _design_hints() -> dict:
    """What the open design's Input already settles (image size, text length, window)."""
    design = state.get(state.DESIGN)
    if design is None or design.role in ("generator", "discriminator"):
        return {}
    try:
        return preparation_hints(design)
    except Exception:  # a design the analyser cannot read is the Build page's to report
        return {}


def _split_widgets(prefix: str) -> tuple[float, float, int]:
    left, middle, right = st.columns(3)
    validation = left.slider("Validation %", 0, 40, 15, key=_key(prefix, "val")) / 100
    test = middle.slider("Test %", 0, 40, 15, key=_key(prefix, "test")) / 100
    seed = int(right.number_input("Split seed", 0, 2**31 - 1, 0, key=_key(prefix, "seed")))
    return validation, test, seed


def _task_label(task: str, inferred: str | None) -> str:
    if task == "auto":
        return f"Infer ({TASK_WORDS[inferred]})" if inferred else "Infer from the target"
    return TASK_WORDS[task]


def _tabular_view(source: TabularSource) -> None:
    frame = source.frame
    st.subheader(md(source.name))
    for note in source.notes:
        st.info(md(note), icon=":material/info:")
    st.caption(f"{len(frame):,} rows x {frame.shape[1]} columns; encoding "
               f"{ENCODING_NAMES.get(source.encoding, source.encoding)}. First 100 rows:")
    st.dataframe(frame.head(100), key=_key("preview", state.get(SOURCE_NO)), height=260)
    st.markdown("**Columns** (change a type if the guess is wrong)")
    kinds = _column_table(source)
    with st.expander("Column charts", expanded=frame.shape[1] <= 12):
        _charts(source, kinds)
    modes = ["Predict a column", "Forecast a time series"]
    mode = st.radio("What to do", modes, horizontal=True,
                    index=1 if source.mode == "timeseries" else 0,
                    key=_key("mode", state.get(SOURCE_NO)))
    if mode == modes[0]:
        _predict_form(source, kinds)
    else:
        _forecast_form(source, kinds)


def _predict_form(source: TabularSource, kinds: dict[str, str]) -> None:
    frame = source.frame
    columns = list(frame.columns)
    no = state.get(SOURCE_NO)
    default_target = [c for c in source.target if c in columns] or [columns[-1]]
    targets = st.multiselect("Target column(s): what to predict", columns,
                             default=default_target, key=_key("target", no))
    candidates = [c for c in columns if c not in targets]
    features = st.multiselect("Feature columns: what the model sees", candidates,
                              default=[c for c in candidates if kinds.get(c) != "id"],
                              key=_key("features", no, tuple(targets)))
    inferred = None
    if len(targets) == 1:
        try:
            inferred = task_of_column(frame[targets[0]])
        except DataError as exc:
            _error(exc)
    elif len(targets) > 1:
        inferred = "regression"
    options = ["auto", "binary", "multiclass", "regression", "reconstruction"]
    task = st.selectbox("Task", options, key=_key("task", no, tuple(targets)),
                        index=options.index(source.task) if source.task in options else 0,
                        format_func=lambda t: _task_label(t, inferred))
    effective = inferred if task == "auto" else task
    if len(targets) == 1 and effective in ("binary", "multiclass"):
        balance = class_balance(frame, targets[0]).head(30)
        st.markdown(f"**Class balance** of '{md(targets[0])}'")
        figure = go.Figure(go.Bar(x=[str(v) for v in balance.index], y=balance.to_numpy(),
                                  marker_color="#54a24b"))
        figure.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10))
        st.plotly_chart(as_text(figure), key=_key("balance", no, targets[0]),
                        config={"displayModeBar": False})
    text_features = [c for c in features if kinds.get(c) == "text"]
    max_tokens, length = 20_000, None
    if text_features:
        hints = _design_hints()
        left, right = st.columns(2)
        max_tokens = int(left.number_input(
            "Vocabulary size (words kept)", 100, 200_000,
            min(max(int(hints.get("max_tokens", 20_000)), 100), 200_000), step=1000,
            key=_key("tokens", no), help="The open design's Embedding sets the default."))
        chosen = int(right.number_input(
            "Tokens per text (0 = choose for me)", 0, 4096,
            min(int(hints.get("sequence_length", 0)), 4096), key=_key("seqlen", no),
            help="The open design's Input sets the default."))
        length = chosen or None
        if len(features) == 1:
            st.caption("One text column: the model gets token-id sequences for Embedding, "
                       "LSTM or Transformer designs.")
    validation, test, seed = _split_widgets(f"table{no}")
    if st.button("Prepare dataset", type="primary", key=_key("prepare", no)):
        with st.spinner("Preparing..."):
            _prepare(lambda: prepare_tabular(
                source, targets or None, features=features, kinds=kinds,
                task=None if task == "auto" else task, validation=validation, test=test,
                seed=seed, max_tokens=max_tokens, sequence_length=length))


def _forecast_form(source: TabularSource, kinds: dict[str, str]) -> None:
    frame = source.frame
    no = state.get(SOURCE_NO)
    numeric = [c for c in frame.columns if kinds.get(c) == "numeric"]
    default_target = [c for c in source.target if c in numeric] or numeric[-1:]
    targets = st.multiselect("Column(s) to forecast", numeric, default=default_target,
                             key=_key("ts_target", no))
    features = st.multiselect("Columns the window shows", numeric,
                              default=[c for c in numeric if c in targets or
                                       c not in ("hour", "time", "step")],
                              key=_key("ts_features", no))
    time_options = ["(rows are in time order)"] + list(frame.columns)
    time_column = st.selectbox("Time column to sort by", time_options, key=_key("ts_time", no))
    left, middle, right = st.columns(3)
    window = int(left.number_input("Window (steps in)", 1, 10_000,
                                   min(int(_design_hints().get("window", 24)), 10_000),
                                   key=_key("window", no),
                                   help="The open design's Input sets the default."))
    horizon = int(middle.number_input("Horizon (steps ahead)", 1, 1000, 1,
                                      key=_key("horizon", no)))
    stride = int(right.number_input("Stride (steps between windows)", 1, 10_000, 1,
                                    key=_key("stride", no)))
    st.caption("The split is by time: the last steps are the test period, the ones before "
               "them validation.")
    validation, test, _ = _split_widgets(f"series{no}")
    if st.button("Prepare dataset", type="primary", key=_key("ts_prepare", no)):
        with st.spinner("Cutting windows..."):
            _prepare(lambda: prepare_timeseries(
                source, targets, features=features or None, window=window, horizon=horizon,
                stride=stride, validation=validation, test=test,
                time_column=None if time_column == time_options[0] else time_column))


# -- images -----------------------------------------------------------------------------------


def _gallery(source: ImageSource) -> dict[str, list]:
    cache = state.get(CHARTS)  # emptied whenever a new source loads
    if "gallery" not in cache:
        cache["gallery"] = gallery(source, per_class=MAX_GALLERY)
    return cache["gallery"]


def _image_view(source: ImageSource) -> None:
    no = state.get(SOURCE_NO)
    st.subheader(md(source.name))
    counts = source.counts()
    st.caption(f"{len(source):,} images in {len(counts)} classes.")
    figure = go.Figure(go.Bar(x=list(counts), y=list(counts.values()), marker_color="#4c78a8"))
    figure.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(as_text(figure), key=_key("counts", no), config={"displayModeBar": False})
    pictures = _gallery(source)
    shown = list(pictures.items())[:20]
    for name, images in shown:
        st.markdown(f"**{md(name)}** ({counts.get(name, 0)} images)")
        if images:
            st.image(images, width=72)
    if len(pictures) > len(shown):
        st.caption(f"Showing {len(shown)} of {len(pictures)} classes.")
    report = source.report()
    if report:
        with st.expander(f"Skipped: {len(report)} item(s)"):
            st.dataframe(pd.DataFrame(report), hide_index=True, key=_key("skipped", no))
    hints = _design_hints()
    height, width = (min(max(int(d), 4), 512) for d in hints.get("size",
                                                                 source.default_size()))
    left, middle, right = st.columns(3)
    from_design = "The open design's Input sets the default."
    height = int(left.number_input("Height", 4, 512, height, key=_key("height", no),
                                   help=from_design))
    width = int(middle.number_input("Width", 4, 512, width, key=_key("width", no),
                                    help=from_design))
    channel_words = {1: "Grey (1 channel)", 3: "RGB (3 channels)"}
    channels = right.radio("Channels", [1, 3], format_func=channel_words.get, horizontal=True,
                           index=0 if hints.get("channels", source.default_channels()) == 1
                           else 1, key=_key("channels", no))
    task = st.radio("Task", ["classify", "reconstruction"], horizontal=True,
                    index=1 if hints.get("task") == "reconstruction" else 0,
                    format_func=lambda t: "Classify the images" if t == "classify"
                    else "Reconstruct them (autoencoder)", key=_key("img_task", no))
    st.markdown("**Augmentation** (training batches only)")
    a, b, c, d = st.columns(4)
    flip = a.selectbox("Flip", ["none", "horizontal", "vertical", "horizontal_and_vertical"],
                       key=_key("flip", no))
    augment = {"flip": None if flip == "none" else flip}
    for column, name in zip((b, c, d), [n for n in AUGMENTATIONS if n in
                                        ("rotation", "zoom", "contrast")]):
        augment[name] = column.slider(name.capitalize(), 0.0, 0.5, 0.0, 0.05,
                                      key=_key(name, no))
    validation, test, seed = _split_widgets(f"images{no}")
    if st.button("Prepare dataset", type="primary", key=_key("img_prepare", no)):
        with st.spinner("Decoding images..."):
            _prepare(lambda: prepare_images(
                source, size=(height, width), channels=channels,
                task="reconstruction" if task == "reconstruction" else None,
                validation=validation, test=test, seed=seed,
                augment={k: v for k, v in augment.items() if v}))


# -- prepared data and the design -------------------------------------------------------------


def _prepare(make) -> None:
    try:
        prepared = make()
    except DataError as exc:
        _error(exc)
        return
    except (OSError, MemoryError) as exc:
        st.error(f"**Preparing the data failed** ({md(str(exc))}). The dataset prepared before "
                 "is kept; try fewer rows, a smaller image size or fewer categories.")
        return
    state.put(PREPARED, prepared)
    state.put(PREPARED_FROM, state.get(SOURCE_NO))
    try:  # training is likely next: its worker process starts loading TensorFlow now
        state.job_manager()
    except workspace.WorkspaceError:
        pass  # the Train page says what is wrong with the folder
    st.rerun()


def _summary(prepared: PreparedData) -> None:
    if state.get(PREPARED_FROM) != state.get(SOURCE_NO):
        st.subheader("Prepared earlier, from another source")
        st.info(f"Training still uses **{md(prepared.source)}**, prepared before the data above "
                "was loaded. Press Prepare dataset above to train on the new data instead.",
                icon=":material/info:")
    else:
        st.subheader("Prepared for training")
    sizes = prepared.sizes
    cols = st.columns(4)
    cols[0].metric("Task", prepared.task)
    cols[1].metric("Model input", "x".join(str(d) for d in prepared.input_shape),
                   help=f"dtype {prepared.input_dtype}")
    cols[2].metric("Train / validation / test",
                   f"{sizes['train']:,} / {sizes['validation']:,} / {sizes['test']:,}")
    cols[3].metric("Classes" if prepared.num_classes else "Targets",
                   prepared.num_classes or len(prepared.target_names))
    st.success(f"**{md(prepared.source)}** ({prepared.kind}) is ready for training: open the Train "
               "page. The exported model will take raw values, since the preprocessing travels "
               "inside it.", icon=":material/check_circle:")
    for note in prepared.notes:
        st.caption(f"- {md(note)}")


def _link(prepared: PreparedData) -> None:
    st.subheader("The open design and this data")
    design = state.get(state.DESIGN)
    if design is None:
        st.info("Open or build a design on the Build page to check it against this data.",
                icon=":material/info:")
        return
    spec = prepared.expected_output()
    if not design.nodes:
        st.info(f"The open design **{md(design.name or 'Untitled design')}** is empty. On the "
                f"Build page, start it with an Input of shape {tuple(prepared.input_shape)} "
                f"({prepared.input_dtype}) and end it with a Dense layer of {spec.units} unit(s) "
                f"and '{spec.activation}'.", icon=":material/info:")
        return
    if design.role in ("generator", "discriminator"):  # a GAN: only the image shape counts
        from builder.gan_training import data_fit as gan_data_fit

        fits, text = gan_data_fit(design, prepared)
        (st.success if fits else st.warning)(text)
        return
    issues = data_fit.issues(design, prepared)
    if issues is None:
        st.warning("The design could not be checked against the data: the Build page shows "
                   "its problems.")
        return
    st.caption(f"Design **{md(design.name or 'Untitled design')}**: the data needs an Input of "
               f"shape {tuple(prepared.input_shape)} ({prepared.input_dtype}) and an output of "
               f"{spec.units} unit(s) with '{spec.activation}'"
               + (" (or 2 units with 'softmax')" if prepared.task == "binary" else "")
               + f" (loss: {spec.loss}).")
    if not issues:
        st.success("The design fits this data.", icon=":material/check_circle:")
        return
    data_fit.show(issues, prepared, PREFIX)


# -- the page -----------------------------------------------------------------------------------


def render() -> None:
    """The Data page."""
    st.header("Data")
    for key in PAGE_KEYS:
        state.get(key)
    _source_picker()
    _show_notice()
    source = state.get(SOURCE)
    try:
        if isinstance(source, TabularSource):
            _tabular_view(source)
        elif isinstance(source, ImageSource):
            _image_view(source)
        else:
            st.info("Pick a sample and load it, or upload a CSV file or a zip of image "
                    "folders.", icon=":material/upload_file:")
    except DataError as exc:
        _error(exc)
    prepared = state.get(PREPARED)
    if prepared is not None:
        st.divider()
        _summary(prepared)
        _link(prepared)


__all__ = ["PREPARED", "SOURCE", "accept_csv", "accept_sample", "accept_zip", "render"]
