"""The Train page: settings, Train / Stop / Continue, live curves, and the run history.

Training runs in a worker thread owned by :mod:`builder.jobs`; this page only
keeps the id of the run it shows and polls the run's progress once a second in
a fragment, so reruns, page switches and a second tab never disturb it. A fresh
session (a reopened tab) reattaches to the live run.

When the open design is a GAN's generator or discriminator, the page trains the
pair adversarially: it finds the partner design (the one opened with it from the
template, or any design of the other role the person picks), checks that the two
and the prepared images fit, and shows the d_loss and g_loss curves with the latest
grid of generated samples under them.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from builder import gan_training, jobs
from builder import train as T
from builder.design import Design, DesignFormatError
from builder.gan import tile
from builder.gan_training import GanConfig
from builder.markdown import escape as md
from builder.markdown import plotly_text
from builder.run_store import RunRecord
from builder.ui import data_fit, live_chart, opening, state, trained

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
GAN_TITLES = {"d_loss": "Discriminator loss", "g_loss": "Generator loss"}
GRID_SCALE = 3  # generated samples are small: draw each pixel as a 3 x 3 block
# Watching a run must cost it next to nothing (issue 16; bench/live_view.py): each redraw
# of the live panel costs the browser a fixed amount of work (Streamlit's own, and the
# live chart's, builder/ui/live_chart.py), so it redraws every LIVE_SECONDS, at most
# LIVE_POINTS points a line, epoch markers only up to LIVE_MARKERS epochs and the latest
# LIVE_TABLE_ROWS rows of the epoch table: a redraw at epoch 400 costs what one at epoch 4
# does.
LIVE_SECONDS = 2
LIVE_POINTS = 200
LIVE_MARKERS = 40
LIVE_TABLE_ROWS = 50


def _key(*parts: object) -> str:
    return state.widget_key(PREFIX, *parts)


def _kept(*parts: object) -> str:
    """The key of a settings widget whose value outlives a visit to another page."""
    return state.kept(_key(*parts))


# -- where things come from ---------------------------------------------------------


def _manager() -> jobs.JobManager:
    return state.job_manager()


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
    return data_fit.prepared()


def _hand_over_trained(job: jobs.Job, rows: list[dict]) -> None:
    """Give the Explore and Export pages this session's trained model."""
    model = job.generator if job.is_gan else job.model
    last = trained.last()
    if model is None or (last is not None and last.model is model):
        return
    trained.hand_over(trained.TrainedModel(
        run_id=job.run_id, design=job.design, model=model, serving_model=job.serving_model,
        history=rows, config=job.config.to_dict(),
        class_names=list(getattr(job.data, "class_names", []) or [])))


# -- settings -------------------------------------------------------------------------


SUGGESTED_BOUNDS = {"epochs": (int, 1, T.MAX_EPOCHS), "batch_size": (int, 1, T.MAX_BATCH_SIZE),
                    "learning_rate": (float, 1e-7, 10.0)}


def suggested_settings(design: Design) -> dict:
    """The settings a template suggests for its design, keeping only sound values.

    A design file is untrusted: unknown keys, wrong types and out-of-range values
    are dropped rather than passed to a widget.
    """
    raw = (design.extra or {}).get("suggested_training")
    if not isinstance(raw, dict):
        return {}
    found = {}
    for name, (kind, low, high) in SUGGESTED_BOUNDS.items():
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if kind is int and value != int(value):
            continue
        if low <= value <= high:
            found[name] = kind(value)
    if raw.get("optimizer") in T.OPTIMIZERS:
        found["optimizer"] = raw["optimizer"]
    return found


def _apply_suggested(design: Design) -> None:
    """Start the settings from the design's suggestion, once per design opened."""
    suggested = suggested_settings(design)
    marker = f"{design.name}|{sorted(suggested.items())}"
    previous = st.session_state.get(_key("suggested_for"))
    if not suggested or previous == marker:
        return
    st.session_state[_key("suggested_for")] = marker
    for name, value in suggested.items():
        if previous is None and _key(name) in st.session_state:
            continue  # the first visit: a value typed before this run got here wins
        st.session_state[_kept(name)] = value
    if "batch_size" in suggested:
        st.session_state[_key("gd")] = "mini-batch"
    words = {"epochs": "{} epochs", "optimizer": "optimizer {}", "learning_rate":
             "learning rate {:g}", "batch_size": "batch size {}"}
    st.session_state[_key("suggested_note")] = (
        "Settings start from the design's suggestion: "
        + ", ".join(words[name].format(value) for name, value in suggested.items()) + ".")


def _settings(data, plan) -> T.TrainConfig:
    """Draw the settings widgets and return the config they describe."""
    task = data.task
    n_train = data.size("train")
    if st.session_state.get(_key("suggested_note")):
        st.caption(st.session_state[_key("suggested_note")])
    objective, optimizer_column, descent = st.columns(3, gap="medium")
    with objective:
        st.markdown("**Objective**")
        losses = T.LOSSES_FOR_TASK[task]
        loss = st.selectbox("Loss", losses, format_func=T.LOSSES.get, key=_kept("loss", task),
                            help="What training makes small. The first choice is the usual one "
                                 f"for {T.TASK_WORDS[task]}.")
        metrics = st.multiselect(
            "Metrics", T.METRICS_FOR_TASK[task], default=list(T.DEFAULT_METRICS[task]),
            format_func=T.METRICS.get, key=_kept("metrics", task),
            help="Scores shown beside the loss; they do not change what is learned.")
        epochs = st.number_input("Epochs", 1, T.MAX_EPOCHS, 10, key=_kept("epochs"),
                                 help="Passes over the whole training set.")

        early = st.toggle("Early stopping", key=_kept("early"),
                          help="Stop when the validation loss has not improved for a while, "
                               "and keep the best weights.")
        patience = st.number_input("Patience (epochs without improvement)", 1, 1000, 5,
                                   key=_kept("patience"), disabled=not early)
        keep_best = st.toggle("Keep the best epoch's weights", value=True,
                              key=_kept("keep_best"),
                              help="End with the weights of the epoch with the lowest "
                                   "validation loss, not the last epoch's; the result says "
                                   "which epoch was kept. Explore and Export use it.")
        seed = st.number_input("Seed", 0, 2**31 - 1, 42, key=_kept("seed"),
                               help="The same seed and settings train the same way again.")
    with optimizer_column:
        st.markdown("**Optimizer**")
        optimizer = st.selectbox("Optimizer", tuple(T.OPTIMIZERS), format_func=T.OPTIMIZERS.get,
                                 index=1, key=_kept("optimizer"))
        learning_rate = st.number_input(
            "Learning rate", min_value=1e-7, max_value=10.0, value=0.001, step=0.0005,
            format="%.5f", key=_kept("learning_rate"),
            help="Size of each step. Typical: 0.001 for Adam, AdamW and RMSprop; 0.01 for SGD.")
        momentum = 0.9
        weight_decay = 0.004
        if optimizer == "sgd":
            momentum = st.slider("Momentum", 0.0, 0.99, 0.9, 0.01, key=_kept("momentum"),
                                 help="0 is plain gradient descent; 0.9 keeps most of the "
                                      "previous step's direction.")
        if optimizer == "adamw":
            weight_decay = st.number_input("Weight decay", 0.0, 1.0, 0.004, 0.001,
                                           format="%.4f", key=_kept("weight_decay"))
        schedule = st.selectbox("Learning-rate schedule", tuple(T.SCHEDULES),
                                format_func=T.SCHEDULES.get, key=_kept("schedule"))
        decay_rate, decay_epochs = 0.5, 10
        if schedule in ("exponential", "step"):
            left, right = st.columns(2)
            decay_rate = left.number_input("Factor", 0.01, 1.0, 0.5, 0.05,
                                           key=_kept("decay_rate"),
                                           help="The learning rate is multiplied by this...")
            decay_epochs = right.number_input("every N epochs", 1, T.MAX_EPOCHS, 10,
                                              key=_kept("decay_epochs"))
        clip = st.toggle("Gradient clipping", key=_kept("clip"),
                         help="Cap the size of each step's gradient; it tames exploding losses.")
        clip_norm = None
        if clip:
            clip_norm = st.number_input("Largest gradient norm", 0.01, 1000.0, 1.0, 0.1,
                                        key=_kept("clip_norm"))
    with descent:
        st.markdown("**Gradient descent**")
        variant = st.radio(
            "Samples per step", tuple(T.GD_VARIANTS), key=_kept("gd"),
            format_func=lambda v: {"mini-batch": "Mini-batch", "batch": "Batch (all samples)",
                                   "stochastic": "Stochastic (one sample)"}[v],
            help="Batch: one exact step per epoch. Stochastic: one noisy step per sample. "
                 "Mini-batch: the usual middle way.")
        batch_size = 32
        if variant == "mini-batch":
            batch_size = st.number_input("Batch size", 1, T.MAX_BATCH_SIZE, 32,
                                         key=_kept("batch_size"))
        per_step = {"batch": max(1, n_train), "stochastic": 1}.get(variant, int(batch_size))
        steps = math.ceil(n_train / per_step) if n_train else 0
        st.caption(f"{per_step:,} sample(s) per step, {steps:,} step(s) per epoch over "
                   f"{n_train:,} training samples.")
        st.markdown("**Device**")
        st.caption(plan.label)
        mixed = st.toggle("Mixed precision (float16)", key=_kept("mixed"),
                          disabled=not plan.has_gpu,
                          help="Faster on recent GPUs; the output stays float32."
                          if plan.has_gpu else "Needs a GPU; none was found.")
        xla = st.toggle("XLA compilation", key=_kept("xla"), disabled=not plan.has_gpu,
                        help="Compiles the training step; often faster on a GPU."
                        if plan.has_gpu else "Needs a GPU; none was found.")
    return T.TrainConfig(
        loss=loss, optimizer=optimizer, learning_rate=float(learning_rate),
        momentum=float(momentum), weight_decay=float(weight_decay), schedule=schedule,
        decay_rate=float(decay_rate), decay_epochs=int(decay_epochs), gd_variant=variant,
        batch_size=int(batch_size), epochs=int(epochs), patience=int(patience) if early else 0,
        metrics=tuple(metrics), seed=int(seed), clip_norm=clip_norm,
        mixed_precision=bool(mixed and plan.has_gpu), xla=bool(xla and plan.has_gpu),
        keep_best=bool(keep_best),
    )


# -- a GAN: the partner design and its settings -----------------------------------------


def _partners(design: Design) -> list[tuple[int, Design]]:
    """Saved designs of the partner role, the one opened with ``design`` first."""
    wanted = gan_training.partner_role(design.role)
    pair = design.extra.get(gan_training.PAIR_KEY)
    found: list[tuple[int, Design]] = []
    try:
        store = state.store()
        summaries = store.list_designs()[:300]
        for summary in summaries:
            record = store.get_design(summary.id)
            try:
                other = Design.from_json(record.json) if record is not None else None
            except DesignFormatError:
                continue
            if other is not None and other.role == wanted:
                other.name = record.name
                found.append((record.id, other))
    except Exception:  # an unreadable store: the Build page reports it
        return []
    found.sort(key=lambda item: item[1].extra.get(gan_training.PAIR_KEY) != pair or not pair)
    return found


def _pair_words(generator: Design, discriminator: Design) -> str:
    """'GAN **T**: its generator against its discriminator' for a template's pair (named
    'T (generator)' and 'T (discriminator)'), else both names."""
    base = (generator.name or "").removesuffix(" (generator)")
    if base and base == (discriminator.name or "").removesuffix(" (discriminator)"):
        return f"GAN **{md(base)}**: its generator against its discriminator"
    return (f"GAN: generator **{md(generator.name or 'generator')}** against discriminator "
            f"**{md(discriminator.name or 'discriminator')}**")


def _partner(design: Design) -> Design | None:
    """Pick the design the open one trains against; None (and why) when there is none."""
    wanted = gan_training.partner_role(design.role)
    partners = _partners(design)
    if not partners:
        st.error(f"The open design is a GAN {design.role}, and there is no {wanted} design to "
                 f"train it against. Open the GAN template (Build page, Templates): it makes "
                 f"both designs. Or open a design whose role is {wanted}.",
                 icon=":material/error:")
        return None
    by_id = dict(partners)
    chosen = st.selectbox(
        f"Trains against ({wanted})", list(by_id), format_func=lambda i: by_id[i].name,
        key=_key("partner", design.role),
        help=f"A GAN trains two designs against each other. The {wanted} opened with this "
             "design from the template comes first; any saved design of that role can be "
             "chosen.")
    return by_id[chosen]


def _gan_settings() -> GanConfig:
    """Draw the GAN settings and return them."""
    left, middle, right = st.columns(3, gap="medium")
    with left:
        st.markdown("**Contest**")
        epochs = st.number_input("Epochs", 1, T.MAX_EPOCHS, 50, key=_kept("gan_epochs"),
                                 help="Passes over all the images (every split is a real "
                                      "sample for a GAN).")
        batch_size = st.number_input("Batch size", 1, T.MAX_BATCH_SIZE, 64,
                                     key=_kept("gan_batch"),
                                     help="Real images per step; as many generated ones join "
                                          "them.")
        seed = st.number_input("Seed", 0, 2**31 - 1, 42, key=_kept("gan_seed"))
    with middle:
        st.markdown("**Optimizer** (Adam, for both networks)")
        learning_rate = st.number_input("Learning rate", min_value=1e-6, max_value=1.0,
                                        value=0.0002, step=0.0001, format="%.5f",
                                        key=_kept("gan_lr"),
                                        help="0.0002 is DCGAN's choice.")
        beta_1 = st.slider("beta_1", 0.0, 0.99, 0.5, 0.05, key=_kept("gan_beta"),
                           help="Adam's momentum; 0.5 keeps the contest steadier than 0.9.")
    with right:
        st.markdown("**Labels and samples**")
        smoothing = st.slider("Label smoothing", 0.0, 0.5, 0.1, 0.05, key=_kept("gan_smooth"),
                              help="Softens the discriminator's targets so it does not grow "
                                   "overconfident.")
        samples = st.slider("Samples in the grid", 4, 100, 36, key=_kept("gan_samples"),
                            help="Drawn after every epoch from the same fixed noise.")
    return GanConfig(epochs=int(epochs), batch_size=int(batch_size),
                     learning_rate=float(learning_rate), beta_1=float(beta_1),
                     label_smoothing=float(smoothing), seed=int(seed), samples=int(samples))


# -- the run shown ---------------------------------------------------------------------


def _attached(manager: jobs.JobManager) -> tuple[jobs.Job | None, RunRecord | None]:
    """The job (live in this process) or stored run this session shows: its own only.

    A run another session started is never attached here (it could be stopped or
    continued from a page that did not start it); it shows in the run history.
    """
    own = state.get(state.SESSION)
    run_id = state.get(RUN)
    job = manager.get(run_id) if run_id else None
    if job is not None and job.owner != own:
        job, run_id = None, None  # continued by another session since: no longer ours
    if run_id is None or (job is None and manager.store.get(run_id) is None):
        # A rerun that lost its run (a deleted record): the newest run of this session.
        mine = manager.jobs_of(own)
        state.put(RUN, mine[0].run_id if mine else None)
        return (mine[0], None) if mine else (None, None)
    if job is not None:
        return job, None
    return None, manager.store.get(run_id)


def _others_note(manager: jobs.JobManager) -> None:
    """Say that other sessions are training on this machine (their runs are not shown)."""
    own = state.get(state.SESSION)
    others = [job for job in manager.active_jobs() if job.owner != own]
    if others:
        st.caption(f"{len(others)} run(s) started elsewhere (another tab or person) are "
                   "training or waiting on this machine; a run started here waits its turn. "
                   "Their curves show in Run history.")


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


def _curve_names(config) -> list[str]:
    """The panels of a run's curves: the loss and its metrics, or a GAN's two losses."""
    if isinstance(config, GanConfig) or (isinstance(config, dict)
                                         and config.get("kind") == gan_training.KIND):
        return ["d_loss", "g_loss"]
    metrics = list(config.metrics if hasattr(config, "metrics") else
                   (config or {}).get("metrics") or [])
    return ["loss", *[m for m in metrics if m != "loss"]][:3]


def _thinned(x, y, cap: int | None):
    """At most ``cap`` evenly spread points of a line, its first and last always among them."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if cap is None or len(x) <= cap:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, cap).round().astype(int))
    return x[keep], y[keep]


def _panels(batch_x, batch_series: dict, rows: list[dict], names: list[str],
            standardised: bool = False, cap: int | None = None) -> list[dict]:
    """The curves as data, one panel per score: per-batch smoothed lines, per-epoch points.

    Each panel is ``{"title", "lines": [{"name", "color", "x", "y", "width", "opacity",
    "markers"}]}``; both the live chart and the finished run's Plotly chart draw it.
    ``standardised``: a regression on standardised targets, whose panels say their units.
    ``cap``: at most this many points a line (the live chart's redraw stays the same cost
    however long the run), with epoch markers only while there are few.
    """
    markers = cap is None or len(rows) <= LIVE_MARKERS
    batch_x = np.asarray(batch_x, dtype=float)
    panels = []
    for name in names:
        title = (GAN_TITLES.get(name) or T.METRICS.get(name, name.capitalize())) + (
            T.score_words(name, standardised)[len(name):])
        lines = []
        series = batch_series.get(name)
        if series:
            x, y = _thinned(batch_x, series, cap)
            lines.append({"name": "training (per batch, smoothed)", "color": TRAIN_COLOR,
                          "x": x, "y": y, "width": 1, "opacity": 0.45, "markers": False})
        full = [r for r in rows if name in r and not r.get("partial")]
        if full:
            x, y = _thinned([r["epoch"] for r in full], [r[name] for r in full], cap)
            lines.append({"name": "training (epoch)", "color": TRAIN_COLOR, "x": x, "y": y,
                          "width": 2, "opacity": 1.0, "markers": markers})
        validation = [r for r in rows if f"val_{name}" in r]
        if validation:
            x, y = _thinned([r["epoch"] for r in validation],
                            [r[f"val_{name}"] for r in validation], cap)
            lines.append({"name": "validation (epoch)", "color": VAL_COLOR, "x": x, "y": y,
                          "width": 2, "opacity": 1.0, "markers": markers})
        panels.append({"title": title, "lines": lines})
    return panels


def _curves(batch_x, batch_series: dict, rows: list[dict], names: list[str],
            standardised: bool = False, cap: int | None = None) -> go.Figure:
    """The finished run's chart: :func:`_panels` as a Plotly figure (hover, zoom).

    Values go to Plotly as NumPy arrays: it validates lists element by element (about ten
    times slower).
    """
    panels = _panels(batch_x, batch_series, rows, names, standardised, cap)
    figure = make_subplots(rows=1, cols=len(panels),
                           subplot_titles=[panel["title"] for panel in panels])
    shown = set()
    for column, panel in enumerate(panels, start=1):
        for line in panel["lines"]:
            batch = not line["markers"] and line["width"] == 1
            figure.add_trace(go.Scatter(
                x=line["x"], y=line["y"], mode="lines+markers" if line["markers"] else "lines",
                name=line["name"], line={"color": line["color"], "width": line["width"]},
                opacity=line["opacity"], legendgroup=line["name"],
                showlegend=line["name"] not in shown, hoverinfo="skip" if batch else None),
                row=1, col=column)
            shown.add(line["name"])
        figure.update_xaxes(title_text="epoch", rangemode="tozero", row=1, col=column)
    figure.update_layout(height=330, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                         legend={"orientation": "h", "y": -0.25}, uirevision="live")
    return figure


def _final_text(final: dict, standardised: bool = False) -> str:
    shown = [(k, v) for k, v in final.items()
             if k.startswith(("val_", "test_")) and isinstance(v, (int, float))]
    if not shown:
        shown = [(k, v) for k, v in final.items() if k != "learning_rate"
                 and isinstance(v, (int, float))]
    return " · ".join(f"{T.score_words(k, standardised)} {v:.4f}" for k, v in sorted(shown))


def _show_outcome(status: str, message: str, final: dict, standardised: bool = False) -> None:
    final_text = _final_text(final, standardised)
    message = md(message or "")  # it can quote a design's names or an error's words
    if status == "finished":
        st.success(" ".join(part for part in ("Finished.", message, final_text) if part),
                   icon=":material/check_circle:")
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


def _grid(samples, epoch: int, key: str) -> None:
    """The generated samples (uint8) as one picture, pixels drawn as blocks."""
    if samples is None or not len(samples):
        return
    picture = tile(np.asarray(samples))
    picture = np.repeat(np.repeat(picture, GRID_SCALE, axis=0), GRID_SCALE, axis=1)
    when = "before training" if epoch == 0 else f"after epoch {epoch}"
    with st.container(key=_key(key)):
        st.image(picture[..., 0] if picture.shape[-1] == 1 else picture,
                 caption=f"Generated from the same fixed noise {when}.")


def _record_grid(record: RunRecord):
    """The last grid saved by a stored GAN run: (samples, epoch), or (None, -1)."""
    folder = record.artifacts.get("grids") or (f"{record.run_dir}/{gan_training.GRIDS_DIR}"
                                               if record.run_dir else "")
    epochs = gan_training.grid_epochs(folder)
    if not epochs:
        return None, -1
    try:
        return gan_training.load_grid(folder, epochs[-1]), epochs[-1]
    except (OSError, ValueError):
        return None, -1


def _epoch_table(rows: list[dict], last: int | None = None) -> None:
    """The per-epoch numbers in an expander; ``last``: only the latest rows (the live
    panel, whose redraw must not grow with the run), with a word that all come after."""
    if not rows:
        return
    full = sum(1 for r in rows if not r.get("partial"))
    stopped = " and the one stopped part-way" if full < len(rows) else ""
    shown = rows if last is None or len(rows) <= last else rows[-last:]
    latest = (f"; the latest {len(shown)} while it trains, all of them when it ends"
              if len(shown) < len(rows) else "")
    with st.expander(f"Per-epoch numbers ({full} full epoch(s){stopped}{latest})"):
        st.dataframe(shown, hide_index=True, key=_key("epoch_table", len(rows)))


# -- actions ------------------------------------------------------------------------------


def _start(manager: jobs.JobManager, design: Design, data, config,
           partner: Design | None = None) -> None:
    if isinstance(config, GanConfig):
        generator, discriminator = gan_training.order_pair(design, partner)
        problems = gan_training.pair_problems(generator, discriminator, data, config)
    else:
        problems = T.preflight(design, data, config, device_plan=manager.plan)
    if problems:
        state.put(NOTICE, ("error", " ".join(problems)))
        return
    try:
        if isinstance(config, GanConfig):
            job = manager.submit_gan(generator, discriminator, data, config,
                                     name=generator.name or "GAN", owner=state.get(state.SESSION))
        else:
            job = manager.submit(design, data, config, name=design.name or "Untitled design",
                                 owner=state.get(state.SESSION))
    except ValueError as exc:
        state.put(NOTICE, ("error", str(exc)))
        return
    state.put(RUN, job.run_id)
    state.put(NOTICE, None)


def _continue(manager: jobs.JobManager, run_id: str, extra: int, data) -> None:
    try:
        job = manager.continue_run(run_id, int(extra), data=data,
                                   owner=state.get(state.SESSION))
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


@st.fragment(run_every=LIVE_SECONDS)
def _live_panel(design: Design | None, data, config, partner: Design | None = None) -> None:
    """The live run: status, progress, Stop, curves and epoch table, redrawn every
    LIVE_SECONDS (a click on Stop redraws it at once)."""
    manager = _manager()
    job, _ = _attached(manager)
    if job is None or not job.active:
        st.rerun()  # the run ended: redraw the whole page with Continue and the outcome
    snapshot = job.progress.snapshot()
    st.markdown(f"**{md(job.name)}** · run `{job.run_id}` · {_status_text(snapshot)}")
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
        _start(manager, design, data, config, partner)
        st.rerun()
    if snapshot.message:
        note.caption(snapshot.message)
    live_chart.show(_panels(snapshot.batch_x, snapshot.batch_series, snapshot.epochs,
                            _curve_names(job.config), T.standardised_regression(job.data),
                            cap=LIVE_POINTS), key=_key("live_chart"))
    if job.is_gan:
        _grid(getattr(snapshot, "grid", None), getattr(snapshot, "grid_epoch", -1), "live_grid")
    _epoch_table(snapshot.epochs, last=LIVE_TABLE_ROWS)


def _idle_panel(manager: jobs.JobManager, job: jobs.Job | None, record: RunRecord | None,
                design: Design | None, data, config, partner: Design | None = None,
                problems: list[str] | None = None) -> None:
    """Train, and the last run's outcome with Continue."""
    ready = design is not None and data is not None and config is not None
    if problems is None:
        problems = config.problems(data.task, data.size("train"), manager.plan) if (
            ready) else []
    for problem in problems:
        st.error(md(problem))
    if st.button("Train", key=_key("train"), type="primary", icon=":material/play_arrow:",
                 disabled=not ready or bool(problems),
                 help="Train the open design on the prepared data with these settings."):
        _start(manager, design, data, config, partner)
        st.rerun()
    _notice()
    if job is None and record is None:
        return
    st.divider()
    if job is not None:
        snapshot = job.progress.snapshot()
        name, run_id, status, message = job.name, job.run_id, snapshot.status, snapshot.message
        rows, final, names = snapshot.epochs, snapshot.final, _curve_names(job.config)
        batch_x, batch_series = snapshot.batch_x, snapshot.batch_series
        grid, grid_epoch = getattr(snapshot, "grid", None), getattr(snapshot, "grid_epoch", -1)
        can_continue = T.read_checkpoint_info(job.run_dir) is not None
        standardised = T.standardised_regression(job.data)
        if status in ("finished", "early_stopped", "stopped"):
            _hand_over_trained(job, rows)
    else:
        name, run_id, status, message = record.name, record.id, record.status, record.message
        rows = [{"epoch": e.epoch, **e.metrics} for e in manager.store.epochs(record.id)
                if not e.partial]
        final, names = record.final, _curve_names(record.config)
        batch_x, batch_series = [], {}
        grid, grid_epoch = _record_grid(record) if gan_training.is_gan_record(record) else (
            None, -1)
        can_continue = record.checkpoint is not None or T.read_checkpoint_info(
            record.run_dir) is not None
        standardised = T.standardised_regression(record.data)
    done = sum(1 for r in rows if not r.get("partial"))
    st.markdown(f"**{md(name)}** · run `{run_id}` · {STATUS_WORDS.get(status, status)} after "
                f"{done} epoch(s)")
    _show_outcome(status, message, final, standardised)
    if can_continue and status not in ("cancelled",):
        left, right, _ = st.columns([2, 2, 4], vertical_alignment="bottom")
        extra = left.number_input("More epochs", 1, T.MAX_EPOCHS, 5, key=_key("extra"))
        label = "Resume" if status == "interrupted" else "Continue"
        if right.button(label, key=_key("continue"), icon=":material/fast_forward:",
                        help="Train more epochs from where this run is."):
            _continue(manager, run_id, int(extra), data)
            st.rerun()
    if rows or batch_x:
        st.plotly_chart(_curves(batch_x, batch_series, rows, names, standardised),
                        key=_key("last_chart"),
                        config={"displayModeBar": False})
    _grid(grid, grid_epoch, "last_grid")
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
        preferred = next((n for n in ("val_loss", "loss", "g_loss") if n in names), names[0])
        metric = st.selectbox("Curve", names, index=names.index(preferred), key=_key("curve"))
        figure = go.Figure()
        for index, run_id in enumerate(chosen):
            points = [(e.epoch, e.metrics[metric]) for e in epochs[run_id]
                      if metric in e.metrics and not e.partial]
            if points:
                figure.add_trace(go.Scatter(
                    x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                    name=plotly_text(_run_label(by_id[run_id])),
                    line={"color": COLORS[index % len(COLORS)]}))
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
        left.warning(f"**{md(record.name)}** (run `{record.id}`) was interrupted by a server stop "
                     f"after {record.epochs_done} epoch(s). Resume it from its last checkpoint.",
                     icon=":material/warning:")
        if right.button("Resume", key=_key("resume", record.id), disabled=data is None,
                        help="Needs the run's data prepared on the Data page."
                        if data is None else "Train on from the last checkpoint."):
            _resume(manager, record, data)
            st.rerun()


def _resume(manager: jobs.JobManager, record: RunRecord, data) -> None:
    try:
        job = manager.resume_run(record.id, data, owner=state.get(state.SESSION))
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
        opening.store_problem(exc, _key("set_aside"))
        return
    design = _design()
    data = _data()
    train_tab, history_tab = st.tabs(["Train", "Run history"])
    with train_tab:
        _interrupted(manager, data)
        config, partner, problems = None, None, None
        unpaired = False
        if design is not None and design.role in gan_training.ROLES:
            partner = _partner(design)
            unpaired = partner is None
        if design is None:
            st.info("Open or build a design on the Build page first.", icon=":material/info:")
        elif unpaired:
            design = None  # nothing to train until there is a partner; the error says why
        elif data is None:
            st.info("Prepare data on the Data page first (a sample is one click).",
                    icon=":material/info:")
        elif partner is not None:
            generator, discriminator = gan_training.order_pair(design, partner)
            images = gan_training.GanImages(data).size("train")
            pair = _pair_words(generator, discriminator)
            st.caption(f"{pair} on **{md(getattr(data, 'source', '') or 'the prepared data')}** "
                       f"({images:,} real images from all splits; labels are not used).")
            config = _gan_settings()
            problems = gan_training.pair_problems(generator, discriminator, data, config)
        else:
            sizes = " / ".join(f"{data.size(s):,} {s}"
                               for s in ("train", "validation", "test")
                               if data.size(s))
            st.caption(f"Design **{md(design.name or 'Untitled design')}** on "
                       f"**{md(getattr(data, 'source', '') or 'the prepared data')}** "
                       f"({T.TASK_WORDS[data.task]}; {sizes}).")
            _apply_suggested(design)
            misfits = data_fit.issues(design, data)
            if misfits:
                st.markdown("**The design does not fit this data yet**")
                data_fit.show(misfits, data, PREFIX)
            config = _settings(data, manager.plan)
            if misfits:
                problems = [f"Fix the {len(misfits)} mismatch(es) between the design and the "
                            "data above first."]
        _others_note(manager)
        job, record = _attached(manager)
        if job is not None and job.active:
            _notice()
            _live_panel(design, data, config, partner)
        else:
            _idle_panel(manager, job, record, design, data, config, partner, problems)
    with history_tab:
        _history(manager)

