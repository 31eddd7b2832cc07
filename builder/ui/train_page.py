"""The Train page: settings, Train / Stop / Continue, live curves, and the run history.

Training runs in a worker thread owned by :mod:`builder.jobs`; this page only
keeps the id of the run it shows and polls the run's progress once a second in
a fragment, so reruns, page switches and a second tab never disturb it. A fresh
session (a reopened tab) reattaches to the live run.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from builder import jobs, workspace
from builder import train as T
from builder.design import Design, DesignFormatError
from builder.run_store import RunRecord
from builder.ui import data_page, export_page, state

RUN = state.Key("nc_train_run", lambda: None, "Id of the run the Train page shows.")
NOTICE = state.Key("nc_train_notice", lambda: None, "(level, message) shown once above the run.")
PAGE_KEYS = (RUN, NOTICE)

PREFIX = "nc_train"
STATUS_WORDS = {
    "queued": "Waiting for the device",
    "starting": "Starting",
    "running": "Training",
    "stopping": "Stopping",
    "saving": "Saving the model",
    "finished": "Finished",
    "early_stopped": "Stopped early",
    "stopped": "Stopped",
    "diverged": "Diverged",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "interrupted": "Interrupted",
}
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")
TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#ff7f0e"


def _key(*parts: object) -> str:
    return state.widget_key(PREFIX, *parts)


# -- where things come from ---------------------------------------------------------


def _manager() -> jobs.JobManager:
    folder = workspace.ensure(state.workspace_folder())
    return jobs.manager(workspace.store_path(folder))


def _design() -> Design | None:
    """The design open on the Build page, or the one open last (after a restart)."""
    design = state.get(state.DESIGN)
    if design is not None:
        return design
    try:
        store = state.store()
        last = store.get_setting("last_design_id")
        record = store.get_design(int(last)) if last and last.isdigit() else None
    except Exception:  # the store is unreadable: the Build page reports that
        return None
    if record is None:
        return None
    try:
        design = Design.from_json(record.json)
    except DesignFormatError:
        return None
    design.name = record.name
    return design


def _data():
    """The data prepared on the Data page, or None."""
    return state.get(data_page.PREPARED)


def _hand_to_export(job: jobs.Job, rows: list[dict]) -> None:
    """Give the Export page this session's trained model (the keys it reads)."""
    if job.model is None or st.session_state.get(export_page.MODEL) is job.model:
        return
    st.session_state[export_page.MODEL] = job.model
    st.session_state[export_page.SERVING_MODEL] = job.serving_model
    st.session_state[export_page.DESIGN] = job.design
    st.session_state[export_page.HISTORY] = rows
    st.session_state[export_page.CONFIG] = job.config.to_dict()
    st.session_state[export_page.CLASS_NAMES] = list(getattr(job.data, "class_names", []) or [])


# -- settings -------------------------------------------------------------------------


def _settings(data, plan) -> T.TrainConfig:
    """Draw the settings widgets and return the config they describe."""
    task = data.task
    n_train = T.split_size(data, "train")
    objective, optimizer_column, descent = st.columns(3, gap="medium")
    with objective:
        st.markdown("**Objective**")
        losses = T.LOSSES_FOR_TASK[task]
        loss = st.selectbox("Loss", losses, format_func=T.LOSSES.get, key=_key("loss", task),
                            help="What training makes small. The first choice is the usual one "
                                 f"for {T.TASK_WORDS[task]}.")
        metrics = st.multiselect(
            "Metrics", T.METRICS_FOR_TASK[task], default=list(T.DEFAULT_METRICS[task]),
            format_func=T.METRICS.get, key=_key("metrics", task),
            help="Scores shown beside the loss; they do not change what is learned.")
        epochs = st.number_input("Epochs", 1, T.MAX_EPOCHS, 10, key=_key("epochs"),
                                 help="Passes over the whole training set.")
        early = st.toggle("Early stopping", key=_key("early"),
                          help="Stop when the validation loss has not improved for a while, "
                               "and keep the best weights.")
        patience = st.number_input("Patience (epochs without improvement)", 1, 1000, 5,
                                   key=_key("patience"), disabled=not early)
        seed = st.number_input("Seed", 0, 2**31 - 1, 42, key=_key("seed"),
                               help="The same seed and settings train the same way again.")
    with optimizer_column:
        st.markdown("**Optimizer**")
        optimizer = st.selectbox("Optimizer", tuple(T.OPTIMIZERS), format_func=T.OPTIMIZERS.get,
                                 index=1, key=_key("optimizer"))
        learning_rate = st.number_input(
            "Learning rate", min_value=1e-7, max_value=10.0, value=0.001, step=0.0005,
            format="%.5f", key=_key("learning_rate"),
            help="Size of each step. Typical: 0.001 for Adam, AdamW and RMSprop; 0.01 for SGD.")
        momentum = 0.9
        weight_decay = 0.004
        if optimizer == "sgd":
            momentum = st.slider("Momentum", 0.0, 0.99, 0.9, 0.01, key=_key("momentum"),
                                 help="0 is plain gradient descent; 0.9 keeps most of the "
                                      "previous step's direction.")
        if optimizer == "adamw":
            weight_decay = st.number_input("Weight decay", 0.0, 1.0, 0.004, 0.001,
                                           format="%.4f", key=_key("weight_decay"))
        schedule = st.selectbox("Learning-rate schedule", tuple(T.SCHEDULES),
                                format_func=T.SCHEDULES.get, key=_key("schedule"))
        decay_rate, decay_epochs = 0.5, 10
        if schedule in ("exponential", "step"):
            left, right = st.columns(2)
            decay_rate = left.number_input("Factor", 0.01, 1.0, 0.5, 0.05,
                                           key=_key("decay_rate"),
                                           help="The learning rate is multiplied by this...")
            decay_epochs = right.number_input("every N epochs", 1, T.MAX_EPOCHS, 10,
                                              key=_key("decay_epochs"))
        clip = st.toggle("Gradient clipping", key=_key("clip"),
                         help="Cap the size of each step's gradient; it tames exploding losses.")
        clip_norm = None
        if clip:
            clip_norm = st.number_input("Largest gradient norm", 0.01, 1000.0, 1.0, 0.1,
                                        key=_key("clip_norm"))
    with descent:
        st.markdown("**Gradient descent**")
        variant = st.radio(
            "Samples per step", tuple(T.GD_VARIANTS), key=_key("gd"),
            format_func=lambda v: {"mini-batch": "Mini-batch", "batch": "Batch (all samples)",
                                   "stochastic": "Stochastic (one sample)"}[v],
            help="Batch: one exact step per epoch. Stochastic: one noisy step per sample. "
                 "Mini-batch: the usual middle way.")
        batch_size = 32
        if variant == "mini-batch":
            batch_size = st.number_input("Batch size", 1, T.MAX_BATCH_SIZE, 32,
                                         key=_key("batch_size"))
        per_step = {"batch": max(1, n_train), "stochastic": 1}.get(variant, int(batch_size))
        steps = math.ceil(n_train / per_step) if n_train else 0
        st.caption(f"{per_step:,} sample(s) per step, {steps:,} step(s) per epoch over "
                   f"{n_train:,} training samples.")
        st.markdown("**Device**")
        st.caption(plan.label)
        mixed = st.toggle("Mixed precision (float16)", key=_key("mixed"),
                          disabled=not plan.has_gpu,
                          help="Faster on recent GPUs; the output stays float32."
                          if plan.has_gpu else "Needs a GPU; none was found.")
        xla = st.toggle("XLA compilation", key=_key("xla"), disabled=not plan.has_gpu,
                        help="Compiles the training step; often faster on a GPU."
                        if plan.has_gpu else "Needs a GPU; none was found.")
    return T.TrainConfig(
        loss=loss, optimizer=optimizer, learning_rate=float(learning_rate),
        momentum=float(momentum), weight_decay=float(weight_decay), schedule=schedule,
        decay_rate=float(decay_rate), decay_epochs=int(decay_epochs), gd_variant=variant,
        batch_size=int(batch_size), epochs=int(epochs), patience=int(patience) if early else 0,
        metrics=tuple(metrics), seed=int(seed), clip_norm=clip_norm,
        mixed_precision=bool(mixed and plan.has_gpu), xla=bool(xla and plan.has_gpu),
    )


# -- the run shown ---------------------------------------------------------------------


def _attached(manager: jobs.JobManager) -> tuple[jobs.Job | None, RunRecord | None]:
    """The job (live in this process) or stored run this session shows."""
    run_id = state.get(RUN)
    job = manager.get(run_id) if run_id else None
    if run_id is None or (job is None and manager.store.get(run_id) is None):
        # A fresh session (a reopened tab, a second tab): reattach to what is live.
        live = manager.active_jobs()
        candidates = live or manager.jobs()
        if candidates:
            job = candidates[0]
            state.put(RUN, job.run_id)
            return job, None
        state.put(RUN, None)
        return None, None
    if job is not None:
        return job, None
    return None, manager.store.get(run_id)


def _status_text(snapshot: T.ProgressSnapshot) -> str:
    words = STATUS_WORDS.get(snapshot.status, snapshot.status)
    if snapshot.status == "queued":
        ahead = snapshot.queue_position
        if ahead:
            device = snapshot.device or "the device"
            jobs_ahead = f"{ahead} job{'s' if ahead != 1 else ''} ahead"
            return f"{words}: place {ahead} in the queue for {device} ({jobs_ahead})."
        return f"{words}..."
    return words


def _progress_text(snapshot: T.ProgressSnapshot) -> str:
    current = snapshot.epoch + (1 if snapshot.status == "running" else 0)
    parts = [f"Epoch {min(current, max(1, snapshot.total_epochs))}/{snapshot.total_epochs}"]
    if snapshot.status == "running":
        parts.append(f"batch {snapshot.step:,}/{snapshot.steps_per_epoch:,}")
    if snapshot.samples_per_second:
        parts.append(f"{snapshot.samples_per_second:,.0f} samples/s")
    if snapshot.eta_seconds is not None:
        parts.append(f"{_duration(snapshot.eta_seconds)} left")
    parts.append(f"{_duration(snapshot.elapsed_seconds)} elapsed")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _curves(batch_x, batch_series: dict, rows: list[dict], metrics: list[str]) -> go.Figure:
    """Loss and metric panels: per-batch smoothed lines, per-epoch points.

    Values go to Plotly as NumPy arrays: it validates lists element by element
    (about ten times slower), and this runs every second beside the training.
    """
    batch_x = np.asarray(batch_x, dtype=float)
    names = ["loss", *[m for m in metrics if m != "loss"]][:3]
    figure = make_subplots(rows=1, cols=len(names),
                           subplot_titles=[T.METRICS.get(n, n.capitalize()) for n in names])
    for column, name in enumerate(names, start=1):
        first = column == 1
        series = batch_series.get(name)
        if series:
            figure.add_trace(go.Scatter(
                x=batch_x, y=np.asarray(series, dtype=float), mode="lines",
                name="training (per batch, smoothed)",
                line={"color": TRAIN_COLOR, "width": 1}, opacity=0.45, legendgroup="batch",
                showlegend=first, hoverinfo="skip"), row=1, col=column)
        full = [r for r in rows if name in r and not r.get("partial")]
        if full:
            figure.add_trace(go.Scatter(
                x=np.array([r["epoch"] for r in full]), y=np.array([r[name] for r in full]),
                mode="lines+markers",
                name="training (epoch)", line={"color": TRAIN_COLOR}, legendgroup="train",
                showlegend=first), row=1, col=column)
        validation = [r for r in rows if f"val_{name}" in r]
        if validation:
            figure.add_trace(go.Scatter(
                x=np.array([r["epoch"] for r in validation]),
                y=np.array([r[f"val_{name}"] for r in validation]),
                mode="lines+markers", name="validation (epoch)", line={"color": VAL_COLOR},
                legendgroup="val", showlegend=first), row=1, col=column)
        figure.update_xaxes(title_text="epoch", rangemode="tozero", row=1, col=column)
    figure.update_layout(height=330, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                         legend={"orientation": "h", "y": -0.25}, uirevision="live")
    return figure


def _final_text(final: dict) -> str:
    shown = [(k, v) for k, v in final.items()
             if k.startswith(("val_", "test_")) and isinstance(v, (int, float))]
    if not shown:
        shown = [(k, v) for k, v in final.items() if k != "learning_rate"
                 and isinstance(v, (int, float))]
    return " · ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in sorted(shown))


def _show_outcome(status: str, message: str, final: dict) -> None:
    final_text = _final_text(final)
    if status == "finished":
        st.success("Finished. " + final_text, icon=":material/check_circle:")
    elif status == "early_stopped":
        st.success(f"{message} {final_text}", icon=":material/check_circle:")
    elif status == "stopped":
        st.info(f"{message} {final_text}".strip(), icon=":material/pause_circle:")
    elif status in ("diverged", "failed"):
        st.error(message, icon=":material/error:")
    elif status == "interrupted":
        st.warning(message, icon=":material/warning:")
    elif status == "cancelled":
        st.info(message or "Cancelled.", icon=":material/cancel:")


def _epoch_table(rows: list[dict]) -> None:
    if not rows:
        return
    with st.expander(f"Per-epoch numbers ({len(rows)} epochs)"):
        st.dataframe(rows, hide_index=True, key=_key("epoch_table", len(rows)))


# -- actions ------------------------------------------------------------------------------


def _start(manager: jobs.JobManager, design: Design, data, config: T.TrainConfig) -> None:
    problems = T.preflight(design, data, config, device_plan=manager.plan)
    if problems:
        state.put(NOTICE, ("error", " ".join(problems)))
        return
    try:
        job = manager.submit(design, data, config, name=design.name or "Untitled design")
    except ValueError as exc:
        state.put(NOTICE, ("error", str(exc)))
        return
    state.put(RUN, job.run_id)
    state.put(NOTICE, None)


def _continue(manager: jobs.JobManager, run_id: str, extra: int, data) -> None:
    try:
        job = manager.continue_run(run_id, int(extra), data=data)
    except ValueError as exc:
        state.put(NOTICE, ("error", str(exc)))
        return
    state.put(RUN, job.run_id)
    state.put(NOTICE, None)


def _notice() -> None:
    notice = state.get(NOTICE)
    if notice:
        level, message = notice
        getattr(st, level)(message)


# -- the panels ------------------------------------------------------------------------------


@st.fragment(run_every=1)
def _live_panel(design: Design | None, data, config: T.TrainConfig | None) -> None:
    """Redrawn every second while a run is live."""
    manager = _manager()
    job, _ = _attached(manager)
    if job is None or not job.active:
        st.rerun()  # the run ended: redraw the whole page with Continue and the outcome
    snapshot = job.progress.snapshot()
    st.markdown(f"**{job.name}** · run `{job.run_id}` · {_status_text(snapshot)}")
    st.progress(snapshot.fraction, text=_progress_text(snapshot))
    stop, queue, note = st.columns([1, 2, 5], vertical_alignment="center")
    # on_click runs before the rerun, so this very redraw already says "Stopping".
    stop.button("Stop", key=_key("stop"), type="primary", icon=":material/stop:",
                on_click=job.stop, disabled=snapshot.status in ("stopping", "saving"),
                help="Stops after the current batch and keeps what was learned.")
    ready = design is not None and data is not None and config is not None
    if queue.button("Queue another run", key=_key("queue"), icon=":material/queue:",
                    disabled=not ready, help="Train the open design with the settings above "
                    "once this device is free."):
        _start(manager, design, data, config)
        st.rerun()
    if snapshot.message:
        note.caption(snapshot.message)
    metrics = list(job.config.metrics)
    st.plotly_chart(_curves(snapshot.batch_x, snapshot.batch_series, snapshot.epochs, metrics),
                    key=_key("live_chart"), config={"displayModeBar": False})
    _epoch_table(snapshot.epochs)


def _idle_panel(manager: jobs.JobManager, job: jobs.Job | None, record: RunRecord | None,
                design: Design | None, data, config: T.TrainConfig | None) -> None:
    """Train, and the last run's outcome with Continue."""
    ready = design is not None and data is not None and config is not None
    problems = config.problems(data.task, T.split_size(data, "train"), manager.plan) if (
        ready) else []
    for problem in problems:
        st.error(problem)
    if st.button("Train", key=_key("train"), type="primary", icon=":material/play_arrow:",
                 disabled=not ready or bool(problems),
                 help="Train the open design on the prepared data with these settings."):
        _start(manager, design, data, config)
        st.rerun()
    _notice()
    if job is None and record is None:
        return
    st.divider()
    if job is not None:
        snapshot = job.progress.snapshot()
        name, run_id, status, message = job.name, job.run_id, snapshot.status, snapshot.message
        rows, final, metrics = snapshot.epochs, snapshot.final, list(job.config.metrics)
        batch_x, batch_series = snapshot.batch_x, snapshot.batch_series
        can_continue = job.model is not None or T.read_checkpoint_info(job.run_dir) is not None
        if status in ("finished", "early_stopped", "stopped"):
            _hand_to_export(job, rows)
    else:
        name, run_id, status, message = record.name, record.id, record.status, record.message
        rows = [{"epoch": e.epoch, **e.metrics} for e in manager.store.epochs(record.id)
                if not e.partial]
        final, metrics = record.final, list(record.config.get("metrics") or [])
        batch_x, batch_series = [], {}
        can_continue = record.checkpoint is not None or T.read_checkpoint_info(
            record.run_dir) is not None
    done = sum(1 for r in rows if not r.get("partial"))
    st.markdown(f"**{name}** · run `{run_id}` · {STATUS_WORDS.get(status, status)} after "
                f"{done} epoch(s)")
    _show_outcome(status, message, final)
    if can_continue and status not in ("cancelled",):
        left, right, _ = st.columns([2, 2, 4], vertical_alignment="bottom")
        extra = left.number_input("More epochs", 1, T.MAX_EPOCHS, 5, key=_key("extra"))
        label = "Resume" if status == "interrupted" else "Continue"
        if right.button(label, key=_key("continue"), icon=":material/fast_forward:",
                        help="Train more epochs from where this run is."):
            _continue(manager, run_id, int(extra), data)
            st.rerun()
    if rows or batch_x:
        st.plotly_chart(_curves(batch_x, batch_series, rows, metrics), key=_key("last_chart"),
                        config={"displayModeBar": False})
    _epoch_table(rows)


# -- history ----------------------------------------------------------------------------------


def _run_label(record: RunRecord) -> str:
    when = datetime.fromtimestamp(record.created_at).strftime("%d %b %H:%M")
    return (f"{record.name} · {when} · {STATUS_WORDS.get(record.status, record.status).lower()}"
            f" · {record.epochs_done} ep · {record.id[-6:]}")


def _history(manager: jobs.JobManager) -> None:
    runs = manager.store.list_runs(200)
    if not runs:
        st.info("No runs yet. Train a design and its curves appear here for comparison.")
        return
    by_id = {r.id: r for r in runs}
    default = [r.id for r in runs if r.epochs_done][:3]
    # Keyed by the newest run and the run count, so a new run (or a deleted one) starts a
    # fresh comparison of the latest runs instead of keeping a stale default.
    chosen = st.multiselect("Runs to compare", list(by_id), default=default,
                            format_func=lambda i: _run_label(by_id[i]),
                            key=_key("compare", runs[0].id, len(runs), runs[0].epochs_done))
    epochs = {run_id: manager.store.epochs(run_id) for run_id in chosen}
    names = sorted({k for rows in epochs.values() for e in rows for k in e.metrics
                    if k != "learning_rate"})
    if chosen and names:
        preferred = "val_loss" if "val_loss" in names else "loss"
        metric = st.selectbox("Curve", names, index=names.index(preferred), key=_key("curve"))
        figure = go.Figure()
        for index, run_id in enumerate(chosen):
            points = [(e.epoch, e.metrics[metric]) for e in epochs[run_id]
                      if metric in e.metrics and not e.partial]
            if points:
                figure.add_trace(go.Scatter(
                    x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                    name=_run_label(by_id[run_id]), line={"color": COLORS[index % len(COLORS)]}))
        figure.update_layout(height=360, xaxis_title="epoch", yaxis_title=metric,
                             margin={"l": 40, "r": 10, "t": 20, "b": 40},
                             legend={"orientation": "h", "y": -0.2})
        st.plotly_chart(figure, key=_key("history_chart"), config={"displayModeBar": False})
    table = []
    for record in runs:
        row = {"run": record.id, "name": record.name,
               "status": STATUS_WORDS.get(record.status, record.status),
               "epochs": record.epochs_done, "device": record.device,
               "data": str(record.data.get("source") or record.data.get("name") or ""),
               "started": datetime.fromtimestamp(record.created_at).strftime("%Y-%m-%d %H:%M")}
        for key in ("val_loss", "val_accuracy", "test_loss", "test_accuracy", "val_mae",
                    "test_mae"):
            if isinstance(record.final.get(key), (int, float)):
                row[key] = round(float(record.final[key]), 4)
        table.append(row)
    st.dataframe(table, hide_index=True, key=_key("history_table"))


def _interrupted(manager: jobs.JobManager, data) -> None:
    """Offer to resume runs that a server stop cut short."""
    cut = [r for r in manager.store.list_runs(50) if r.status == "interrupted"
           and manager.get(r.id) is None and r.checkpoint is not None][:3]
    for record in cut:
        left, right = st.columns([6, 1], vertical_alignment="center")
        left.warning(f"**{record.name}** (run `{record.id}`) was interrupted by a server stop "
                     f"after {record.epochs_done} epoch(s). Resume it from its last checkpoint.",
                     icon=":material/warning:")
        if right.button("Resume", key=_key("resume", record.id), disabled=data is None,
                        help="Needs the run's data prepared on the Data page."
                        if data is None else "Train on from the last checkpoint."):
            _resume(manager, record, data)
            st.rerun()


def _resume(manager: jobs.JobManager, record: RunRecord, data) -> None:
    try:
        job = manager.resume_run(record.id, data)
    except ValueError as exc:
        state.put(NOTICE, ("error", str(exc)))
        return
    state.put(RUN, job.run_id)
    state.put(NOTICE, None)


# -- the page ------------------------------------------------------------------------------------


def render() -> None:
    """The Train page."""
    st.header("Train")
    try:
        manager = _manager()
    except Exception as exc:  # workspace or store unusable: say so instead of a traceback
        st.error(f"The run history cannot be opened: {exc}")
        return
    design = _design()
    data = _data()
    train_tab, history_tab = st.tabs(["Train", "Run history"])
    with train_tab:
        _interrupted(manager, data)
        config = None
        if design is None:
            st.info("Open or build a design on the Build page first.", icon=":material/info:")
        elif data is None:
            st.info("Prepare data on the Data page first (a sample is one click).",
                    icon=":material/info:")
        else:
            sizes = " / ".join(f"{T.split_size(data, s):,} {s}"
                               for s in ("train", "validation", "test")
                               if T.split_size(data, s))
            st.caption(f"Design **{design.name or 'Untitled design'}** on "
                       f"**{getattr(data, 'source', '') or 'the prepared data'}** "
                       f"({T.TASK_WORDS[data.task]}; {sizes}).")
            config = _settings(data, manager.plan)
        job, record = _attached(manager)
        if job is not None and job.active:
            _notice()
            _live_panel(design, data, config)
        else:
            _idle_panel(manager, job, record, design, data, config)
    with history_tab:
        _history(manager)

