"""The Explore page: what a trained network gets right and wrong, why, and how it learned.

The page only chooses and draws; the work is in :mod:`builder.explain`.

Where the trained model comes from, in order:

1. a run in the workspace's run store that has a model: its ``model`` artifact
   (the saved ``.keras``, written by the run's worker process). A run started by
   this server process is explored with the data it was trained on
   (``jobs.manager().get(run_id).data``); any other with the data prepared on the
   Data page, when that data fits the model's input;
2. this session's model, as the Train page hands it over (:mod:`builder.ui.trained`),
   with the Data page's data (``nc_prepared``).

The run's per-epoch rows come from the run store. The learning-cycle record
(gradient norms and weight histograms per epoch) is read from the run's
``learning_cycle`` artifact, a JSON file written by
:class:`builder.learning_cycle.LearningCycleRecorder` during training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from builder import learning_cycle, run_files
from builder.explain import activations, figures, predictions, saliency
from builder.explain.metrics import MetricError
from builder.markdown import escape as md
from builder.ui import data_fit, state, trained

PREFIX = "nc_explore"
SESSION_SOURCE = "session"
EXPLORABLE = ("finished", "early_stopped", "stopped")
CELL_SAMPLES = 48
GALLERY = 24
ATTRIBUTION_ROWS = 200

# -- session state (declared once, with defaults) ------------------------------------------

SOURCE = state.Key("nc_explore_source", lambda: None,
                   "Run id (or 'session') of the model the page explores.")
NEWEST = state.Key("nc_explore_newest", lambda: None,
                   "The newest explorable run seen, so a run finished since is shown first.")
SPLIT = state.Key("nc_explore_split", lambda: "validation", "The split explored.")
CELL = state.Key("nc_explore_cell", lambda: None,
                 "(true class, predicted class) of the confusion-matrix cell opened.")
CELL_EVENT = state.Key("nc_explore_cell_event", lambda: None,
                       "The last chart selection handled, so a rerun does not redo it.")
SAMPLE = state.Key("nc_explore_sample", lambda: 0, "Index (in the split) of the sample shown.")
CACHE = state.Key("nc_explore_cache", dict,
                  "Predictions and attributions by (model, split, what), reused across reruns.")
SANITY = state.Key("nc_explore_sanity", dict, "Model-randomisation results by (model, method).")
PAGE_KEYS = (SOURCE, NEWEST, SPLIT, CELL, CELL_EVENT, SAMPLE, CACHE, SANITY)


def _key(*parts: object) -> str:
    return state.widget_key(PREFIX, *parts)


# -- where the model and data come from ---------------------------------------------------------


@dataclass
class Explorable:
    """A trained model with what the page needs to explore it."""

    key: str
    label: str
    model: Any = None
    data: Any = None
    history: list[dict] = field(default_factory=list)
    record: Any = None
    note: str = ""
    problem: str = ""

    @property
    def learning_cycle_path(self) -> Path | None:
        if self.record is None:
            return None
        path = self.record.artifacts.get("learning_cycle")
        return Path(path) if path else None

    @property
    def role(self) -> str:
        if self.record is None:
            return "model"
        return str(self.record.design.get("role") or "model")


def _manager():
    return state.job_manager()


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_model(path: str, modified: float):
    return run_files.load_model(path)


def _fits(model, data) -> bool:
    if data is None or model is None or len(model.inputs) != 1:
        return False
    expected = tuple(model.inputs[0].shape[1:])
    given = tuple(data.input_shape)
    return len(expected) == len(given) and all(
        e is None or e == g for e, g in zip(expected, given))


def _candidates() -> tuple[list[Explorable], str]:
    """Everything that can be explored, newest first, and a warning if the store failed."""
    found: list[Explorable] = []
    warning = ""
    session_data = data_fit.prepared()
    try:
        manager = _manager()
        records = manager.store.list_runs(limit=50)
    except Exception as exc:  # an unusable workspace must not break the page
        manager, records = None, []
        warning = f"The run history could not be read ({exc}); only this session's model is shown."
    for record in records:
        if record.is_live:
            # Listed, so a person sees where it is; explored once it stops or finishes.
            found.append(Explorable(
                key=record.id, label=f"{record.name} · {record.status} · "
                f"{record.epochs_done} epoch(s) so far", record=record,
                problem=f"This run is {record.status} ({record.epochs_done} epoch(s) done). "
                        "It can be explored when it finishes, or after Stop on the Train page."))
            continue
        if record.status not in EXPLORABLE:
            continue
        path = record.artifacts.get("model")
        if not (path and Path(path).is_file()):
            continue
        label = f"{record.name} · {record.status.replace('_', ' ')} · {record.epochs_done} " \
                f"epoch(s) · {time.strftime('%d %b %H:%M', time.localtime(record.created_at))}"
        found.append(Explorable(key=record.id, label=label, record=record))
    listed = {item.key for item in found}
    last = trained.last()
    if last is not None and last.run_id not in listed:
        found.append(Explorable(key=SESSION_SOURCE, label="This session's model",
                                model=last.model, data=session_data, history=list(last.history)))
    return found, warning


def _resolve(item: Explorable) -> Explorable:
    """Load the model, find the data and the epoch rows of a chosen run."""
    if item.problem:  # a run still training
        return item
    if item.record is None:
        if item.data is None:
            item.problem = ("To explore this model, prepare the data it was trained on, on "
                            "the Data page.")
        elif not _fits(item.model, item.data):
            item.problem = _mismatch(item.model, item.data)
        return item
    manager = _manager()
    job = manager.get(item.key)
    if job is not None and job.model is not None:
        item.model, item.data = job.model, job.data
    else:
        path = item.record.artifacts["model"]
        try:
            item.model = _load_model(path, Path(path).stat().st_mtime)
        except Exception as exc:  # a damaged or foreign file: say so, keep the page
            item.problem = (f"The saved model of this run could not be loaded ({exc}). Train it "
                            "again, or choose another run.")
            return item
        session_data = data_fit.prepared()
        trained_on = str(item.record.data.get("source") or "")
        if session_data is None:
            item.problem = (f"This run was trained on '{trained_on or 'its data'}'. Prepare that "
                            "data on the Data page to explore the model with it.")
        elif not _fits(item.model, session_data):
            item.problem = _mismatch(item.model, session_data)
        else:
            item.data = session_data
            if trained_on and getattr(session_data, "source", "") != trained_on:
                item.note = (f"The run was trained on '{trained_on}'; it is shown here with the "
                             f"data prepared now, '{session_data.source}'.")
    item.history = [{"epoch": e.epoch, **e.metrics} for e in manager.store.epochs(item.key)
                    if not e.partial]
    return item


def _mismatch(model, data) -> str:
    return (f"The model takes samples of shape {tuple(model.inputs[0].shape[1:])}, but the data "
            f"prepared on the Data page gives {tuple(data.input_shape)}. Prepare the data the "
            "model was trained on.")


# -- cached work -----------------------------------------------------------------------------------


def _cached(item: Explorable, what: tuple, compute):
    cache = state.get(CACHE)
    key = (item.key, id(item.model), id(item.data), *what)
    if key not in cache:
        if len(cache) > 24:
            cache.clear()
        cache[key] = compute()
    return cache[key]


def _predictions(item: Explorable, split: str) -> predictions.Predictions:
    return _cached(item, ("predictions", split),
                   lambda: predictions.predict(item.model, item.data, split))


def _single_output(data) -> str:
    return "binary" if data.task == "binary" else (
        "value" if data.task == "regression" else "auto")


# -- the tabs ------------------------------------------------------------------------------------


def _class_label(result: predictions.Predictions, index: int) -> str:
    return result.class_names[index] if index < len(result.class_names) else str(index)


def _predictions_tab(item: Explorable, split: str) -> None:
    result = _predictions(item, split)
    scores = predictions.evaluate(result)
    st.caption(f"{len(result):,} samples of the {split} split.")
    if result.is_classification:
        _classification(item, result, scores)
    elif result.task == "regression":
        _regression(result, scores)
    else:
        _reconstruction(item, result, scores)


def _classification(item, result, scores) -> None:
    columns = st.columns(4)
    columns[0].metric("Accuracy", f"{scores['accuracy']:.1%}")
    columns[1].metric("Macro F1", f"{scores['macro']['f1']:.3f}")
    if "roc_auc" in scores:
        columns[2].metric("ROC AUC", f"{scores['roc_auc']:.3f}")
        columns[3].metric("Average precision", f"{scores['average_precision']:.3f}")
    left, right = st.columns([3, 2])
    with left:
        normalize = st.toggle("Show shares of each true class", key=_key("normalize"))
        figure = figures.confusion_heatmap(scores["confusion"], result.class_names, normalize)
        event = st.plotly_chart(figure, on_select="rerun", selection_mode="points",
                                key=_key("confusion", item.key), width="stretch")
        _take_cell_click(event, len(result.class_names))
    with right:
        st.dataframe(pd.DataFrame(scores["per_class"]), hide_index=True, width="stretch",
                     column_config={m: st.column_config.NumberColumn(format="%.3f")
                                    for m in ("precision", "recall", "f1")})
        st.plotly_chart(figures.class_scores_bars(scores["per_class"]), width="stretch",
                        key=_key("class_bars"))
    _cell_samples(item, result, scores["confusion"])
    if "roc" in scores:
        share = float(np.mean(result.y_true == 1))
        left, right = st.columns(2)
        left.plotly_chart(figures.roc_figure(scores["roc"]["fpr"], scores["roc"]["tpr"],
                                             scores["roc_auc"]), width="stretch", key=_key("roc"))
        right.plotly_chart(figures.pr_figure(scores["pr"]["precision"], scores["pr"]["recall"],
                                             scores["average_precision"], share),
                           width="stretch", key=_key("pr"))
    elif "curve_note" in scores:
        st.info(scores["curve_note"])
    _sample_rows(item, result)


def _take_cell_click(event, k: int) -> None:
    selection = getattr(event, "selection", None) or {}
    points = [p for p in selection.get("points", []) if p.get("curve_number") == 1]
    if not points:
        return
    index = int(points[0].get("point_index", points[0].get("point_number", -1)))
    fingerprint = (index, k)
    if index < 0 or state.get(CELL_EVENT) == fingerprint:
        return
    state.put(CELL_EVENT, fingerprint)
    state.put(CELL, (index // k, index % k))


def _cell_samples(item: Explorable, result, confusion: np.ndarray) -> None:
    k = len(result.class_names)
    cells = sorted(((int(confusion[i, j]), i, j) for i in range(k) for j in range(k)
                    if confusion[i, j] > 0), key=lambda c: (c[1] == c[2], -c[0]))
    labels = {(i, j): f"true {_class_label(result, i)} → predicted {_class_label(result, j)} "
                      f"({n})" for n, i, j in cells}
    current = state.get(CELL)
    options = [None, *labels]

    def picked() -> None:
        state.put(CELL, st.session_state[_key("cell")])

    if current not in labels:
        current = None
    st.session_state[_key("cell")] = current
    st.selectbox("Samples in a cell (click a cell of the matrix, or pick one)", options,
                 format_func=lambda c: "none" if c is None else labels[c], key=_key("cell"),
                 on_change=picked)
    if current is None:
        return
    true_class, predicted_class = current
    from builder.explain.metrics import cell_indices

    indices = cell_indices(result.y_true, result.y_pred, true_class, predicted_class)
    st.markdown(f"**{len(indices)} sample(s): true {md(_class_label(result, true_class))}, "
                f"predicted {md(_class_label(result, predicted_class))}**")
    shown = indices[:CELL_SAMPLES]
    confidence = result.probabilities[shown, predicted_class]
    if item.data.kind == "images":
        titles = [f"#{i} p={c:.2f}" for i, c in zip(shown, confidence)]
        st.plotly_chart(figures.image_grid(result.x[shown], titles, columns=8),
                        width="stretch", key=_key("cell_gallery"))
    else:
        st.dataframe(_rows_with_inputs(item, result, shown), hide_index=True, width="stretch")
    if len(shown):
        chosen = st.selectbox("Explain one of them (Saliency and Forward pass tabs)",
                              [int(i) for i in shown], key=_key("cell_pick", current))
        if st.button("Use this sample", key=_key("use_sample")):
            state.put(SAMPLE, int(chosen))
            st.toast(f"Sample #{chosen} is selected for Saliency and Forward pass.")


def _rows_with_inputs(item: Explorable, result, indices: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"sample": indices.astype(int),
                          "true": [_class_label(result, result.y_true[i]) for i in indices],
                          "predicted": [_class_label(result, result.y_pred[i]) for i in indices],
                          "confidence": result.probabilities[indices].max(axis=1)})
    if item.data.kind == "text":
        frame["text"] = [str(t) for t in np.asarray(item.data.raw(result.split, None))[indices]]
    elif item.data.kind == "tabular" and item.data.raw_is_dict:
        raw = item.data.raw(result.split, int(indices.max()) + 1 if len(indices) else 0)
        for name, column in raw.items():
            frame[name] = np.asarray(column).reshape(len(column), -1)[indices, 0]
    return frame


def _sample_rows(item: Explorable, result) -> None:
    st.subheader("Per sample")
    order = st.radio("Order", ["most_wrong", "confidence", "index"], horizontal=True,
                     format_func={"most_wrong": "most wrong first",
                                  "confidence": "most confident first",
                                  "index": "as in the data"}.get, key=_key("order"))
    rows = predictions.sample_table(result, order=order)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=300,
                 column_config={"confidence": st.column_config.ProgressColumn(
                     min_value=0.0, max_value=1.0, format="%.2f"),
                     "p(true)": st.column_config.NumberColumn(format="%.3f")})
    if item.data.kind == "images":
        shown = [r["sample"] for r in rows[:GALLERY]]
        titles = [f"{r['true']}→{r['predicted']} {r['confidence']:.2f}" for r in rows[:GALLERY]]
        st.plotly_chart(figures.image_grid(result.x[shown], titles, columns=8,
                                           title="True → predicted (confidence)"),
                        width="stretch", key=_key("gallery"))


def _regression(result, scores) -> None:
    columns = st.columns(3)
    columns[0].metric("MAE", f"{scores['mae']:.4g}")
    columns[1].metric("RMSE", f"{scores['rmse']:.4g}")
    columns[2].metric("R²", f"{scores['r2']:.3f}")
    names = [t["target"] for t in scores["per_target"]]
    target = st.selectbox("Target", range(len(names)), format_func=lambda i: names[i],
                          key=_key("target")) if len(names) > 1 else 0
    left, right = st.columns(2)
    left.plotly_chart(figures.prediction_scatter(result.y_true[:, target],
                                                 result.y_pred[:, target], names[target]),
                      width="stretch", key=_key("scatter"))
    right.plotly_chart(figures.residuals_figure(result.y_true[:, target],
                                                result.y_pred[:, target], names[target]),
                       width="stretch", key=_key("residuals"))
    if len(names) > 1:
        st.dataframe(pd.DataFrame(scores["per_target"]), hide_index=True)
    st.subheader("Per sample, largest error first")
    st.dataframe(pd.DataFrame(predictions.sample_table(result)), hide_index=True,
                 width="stretch", height=300)


def _reconstruction(item, result, scores) -> None:
    columns = st.columns(2)
    columns[0].metric("Mean squared error", f"{scores['mse']:.4g}")
    columns[1].metric("Mean absolute error", f"{scores['mae']:.4g}")
    errors = scores["per_sample_mse"]
    if item.data.kind == "images":
        worst = st.toggle("Worst reconstructions first", key=_key("worst"))
        order = np.argsort(-errors) if worst else np.arange(len(errors))
        shown = order[:12]
        st.plotly_chart(figures.reconstruction_pairs(result.y_true[shown], result.y_pred[shown],
                                                     errors[shown], indices=shown),
                        width="stretch", key=_key("pairs"))
    else:
        st.dataframe(pd.DataFrame({"sample": np.arange(len(errors)), "mse": errors})
                     .sort_values("mse", ascending=False), hide_index=True, height=300)
    from builder.explain import codes

    st.subheader("Code space")
    try:
        space = _cached(item, ("codes", result.split),
                        lambda: codes.code_space(item.model, item.data, result.split))
    except codes.CodeError as exc:
        st.info(md(str(exc)), icon=":material/info:")
        return
    if not space.is_2d:
        st.caption(f"The bottleneck '{md(space.layer)}' gives {space.size:,} numbers per sample "
                   f"(shape {space.shape}). A map of the code space needs a bottleneck of two "
                   "units, such as the 'code' layer of the template 'Autoencoder with a 2-D "
                   "code'.")
        return
    st.caption(f"Each point is one {result.split} sample at its 2-D code (the output of "
               f"'{md(space.layer)}'). " + ("The colours are the labels the data had; training "
                                        "never saw them." if space.labels is not None else
                                        "This data has no labels to colour the points by."))
    st.plotly_chart(figures.code_space_scatter(space.codes, space.labels, space.label_names,
                                               space.layer),
                    width="stretch", key=_key("codes"))


def _generator_model(item: Explorable):
    """A GAN run's generator: in memory when trained by this process, else its .keras file."""
    job = _manager().get(item.key)
    if job is not None and getattr(job, "generator", None) is not None:
        return job.generator
    path = item.record.artifacts.get("model")
    try:
        return _load_model(path, Path(path).stat().st_mtime)
    except Exception as exc:  # a damaged or foreign file: say so, keep the page
        st.info(f"The saved generator of this run could not be loaded ({md(str(exc))}). Train it "
                "again, or choose another run.", icon=":material/info:")
        return None


def _generator_tab(item: Explorable) -> None:
    """A GAN's generator: new samples from a seed, and the fixed-noise grid of every epoch."""
    from builder import gan_training
    from builder.gan import generate, tile, to_uint8

    generator = _generator_model(item)
    if generator is None:
        return
    noise = tuple(generator.input_shape[1:])
    st.caption(f"The generator turns {int(np.prod(noise))} random numbers (noise) into an image "
               "of shape " + " x ".join(str(d) for d in generator.output_shape[1:]) + ". The "
               "same seed always gives the same samples.")
    samples_tab, epochs_tab = st.tabs(["Generated samples", "Samples by epoch"])
    with samples_tab:
        left, right = st.columns(2)
        count = left.slider("Samples", 8, 64, 32, step=8, key=_key("gan_count"))
        seed = right.number_input("Noise seed", 0, 10_000, 0, key=_key("gan_seed"))
        images = _cached(item, ("generated", id(generator), count, int(seed)),
                         lambda: to_uint8(generate(generator, count, seed=int(seed))))
        _show_grid(tile(images, columns=8), "gan_grid")
    with epochs_tab:
        folder = item.record.artifacts.get("grids") or str(
            Path(item.record.run_dir) / gan_training.GRIDS_DIR)
        epochs = gan_training.grid_epochs(folder)
        if not epochs:
            st.info("This run saved no per-epoch grids.", icon=":material/info:")
            return
        epoch = epochs[-1] if len(epochs) == 1 else st.select_slider(
            "Epoch", epochs, value=epochs[-1], key=_key("gan_epoch", item.key),
            help="Epoch 0 is the untrained generator. Every grid comes from the same noise, "
                 "so the same place shows the same sample learning.")
        _show_grid(tile(gan_training.load_grid(folder, epoch)), "gan_epoch_grid")
        when = "before training" if epoch == 0 else f"after epoch {epoch}"
        st.caption(f"The samples from the run's fixed noise {when}.")


def _show_grid(picture: np.ndarray, key: str) -> None:
    scale = max(1, 480 // max(picture.shape[:2]))
    picture = np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)
    with st.container(key=_key(key)):
        st.image(picture[..., 0] if picture.shape[-1] == 1 else picture)


def _sample_picker(tab: str, split: str, result) -> int:
    count = len(result)
    current = min(int(state.get(SAMPLE)), count - 1)
    # Keyed by the value, so a sample chosen elsewhere (a confusion cell) shows here.
    value = st.number_input(f"Sample (0 to {count - 1} of the {split} split)", 0, count - 1,
                            current, key=_key("sample", tab, current))
    if int(value) != current:
        state.put(SAMPLE, int(value))
    index = int(value)
    if result.is_classification:
        st.caption(f"True: **{md(_class_label(result, result.y_true[index]))}** · predicted: "
                   f"**{md(_class_label(result, result.y_pred[index]))}** "
                   f"({result.probabilities[index].max():.1%})")
    elif result.task == "regression":
        names = result.target_names or [f"target {i + 1}"
                                         for i in range(result.y_true.shape[1])]
        st.caption(" · ".join(
            f"{name}: true {float(true):.4g}, predicted {float(guess):.4g}"
            for name, true, guess in zip(names, result.y_true[index], result.y_pred[index])))
    return index


def _target_choice(result) -> int | None:
    if not result.is_classification:
        return None
    options = [None, *range(len(result.class_names))]
    choice = st.selectbox("Explain the class", options, key=_key("target_class"),
                          format_func=lambda c: "the predicted class" if c is None
                          else _class_label(result, c))
    return choice


def _saliency_tab(item: Explorable, split: str) -> None:
    result = _predictions(item, split)
    if result.task == "reconstruction":
        st.info("Saliency explains a score per class or a predicted value; an autoencoder's "
                "output is a whole image. Use the Forward pass tab to see what its layers keep.")
        return
    index = _sample_picker("saliency", split, result)
    target = _target_choice(result)
    sample = result.x[index:index + 1]
    kind = item.data.kind
    single = _single_output(item.data)
    if kind == "images":
        _image_saliency(item, sample, target, single)
    elif kind == "tabular":
        _tabular_saliency(item, split, index, target, single)
    else:
        _sequence_saliency(item, result, sample, target, single)


def _image_saliency(item: Explorable, sample: np.ndarray, target, single: str) -> None:
    conv = saliency.conv_layer_names(item.model)
    methods = [m for m in saliency.METHODS if m != "grad_cam" or conv]
    chosen = st.multiselect("Methods", methods, default=methods, key=_key("methods"),
                            format_func=saliency.METHOD_TITLES.get)
    options: dict[str, dict] = {m: {"single_output": single} for m in chosen}
    columns = st.columns(3)
    if "grad_cam" in chosen:
        options["grad_cam"]["layer"] = columns[0].selectbox(
            "Grad-CAM layer", conv, index=len(conv) - 1, key=_key("cam_layer"),
            help="The last convolution sees the largest parts; earlier ones finer detail.")
    if "smoothgrad" in chosen:
        options["smoothgrad"]["samples"] = columns[1].slider(
            "SmoothGrad noisy copies", 5, 100, 25, key=_key("sg_samples"))
    if "integrated_gradients" in chosen:
        options["integrated_gradients"]["steps"] = columns[2].slider(
            "Integrated Gradients steps", 8, 128, 32, key=_key("ig_steps"))
    for method in chosen:
        attribution = saliency.explain(item.model, sample, method, target, **options[method])
        heat = saliency.image_heatmap(attribution)[0]
        title = f"{saliency.METHOD_TITLES[method]}" + (
            f" on {attribution.layer}" if attribution.layer else "")
        st.plotly_chart(figures.saliency_overlay(sample[0], heat, title), width="stretch",
                        key=_key("saliency", method))
    _sanity_check(item, sample, target, chosen, options)


def _sanity_check(item: Explorable, sample, target, chosen: list[str], options: dict) -> None:
    with st.expander("Sanity check: does the map depend on what the model learned?"):
        st.caption("The same architecture with random weights should give a different map "
                   "(Adebayo et al., 2018). A rank correlation near 1 means the map shows the "
                   "image, not the model.")
        if st.button("Randomise the weights and compare", key=_key("sanity")):
            results = state.get(SANITY)
            for method in chosen:
                check = saliency.model_randomization_check(item.model, sample, method, target,
                                                           **options[method])
                results[(item.key, method)] = check["mean"]
        results = state.get(SANITY)
        for method in chosen:
            if (item.key, method) in results:
                value = results[(item.key, method)]
                verdict = "passes" if value < 0.5 else "looks like the input more than the model"
                st.write(f"{saliency.METHOD_TITLES[method]}: rank correlation {value:.2f} "
                         f"({verdict}).")


def _tabular_saliency(item: Explorable, split: str, index: int, target, single: str) -> None:
    data = item.data
    if not data.raw_is_dict:
        st.info("Feature attributions need the table's raw columns.")
        return
    baseline = _cached(item, ("baseline",), lambda: saliency.raw_baseline(data.raw("train")))
    raw = data.raw(split, index + 1)
    row = {k: np.asarray(v)[index:index + 1] for k, v in raw.items()}
    names = _feature_labels(data)
    one = saliency.tabular_attributions(item.model, data.preprocessing, row, baseline, target,
                                        single_output=single)
    st.caption("Integrated Gradients from a typical row (the median of each number, the "
               "commonest category) to this row, through the preprocessing: each bar is how "
               "much that column moved the score, and the bars add up to the whole change.")
    st.plotly_chart(figures.attribution_bars([names.get(n, n) for n in one.names],
                                             one.values[0], "This row"),
                    width="stretch", key=_key("row_bars"))
    if st.toggle(f"Mean |attribution| over up to {ATTRIBUTION_ROWS} rows of the {split} split",
                 key=_key("global")):
        def compute():
            rows = data.raw(split, ATTRIBUTION_ROWS)
            return saliency.tabular_attributions(item.model, data.preprocessing, rows, baseline,
                                                 target, single_output=single)

        many = _cached(item, ("global_attr", split, target), compute)
        st.plotly_chart(figures.attribution_bars([names.get(n, n) for n in many.names],
                                                 many.mean_absolute(), "Over the split",
                                                 signed=False),
                        width="stretch", key=_key("global_bars"))


def _feature_labels(data) -> dict[str, str]:
    """Raw input name -> the column's name as the person knows it."""
    return {raw: column for column, raw in (data.info.get("input_names") or {}).items()}


def _sequence_saliency(item: Explorable, result, sample, target, single: str) -> None:
    steps = st.slider("Integrated Gradients steps", 8, 128, 32, key=_key("seq_steps"))
    attribution = saliency.integrated_gradients(item.model, sample, target, steps=steps,
                                                single_output=single)
    if item.data.kind == "text":
        words = predictions.tokens_of(item.data, sample[0])
        values = saliency.per_position(attribution)[0]
        used = [i for i, w in enumerate(words) if w]
        st.caption("Blue words pushed towards the class, red ones away (Integrated Gradients "
                   "in the embedding space, summed per word).")
        st.plotly_chart(figures.sequence_attributions(values[used], [words[i] for i in used],
                                                      "Per word"),
                        width="stretch", key=_key("tokens"))
    else:
        st.plotly_chart(figures.series_attributions(sample[0], attribution.values[0],
                                                    list(item.data.feature_names)
                                                    or [str(i) for i in
                                                        range(sample.shape[-1])],
                                                    "Per time step"),
                        width="stretch", key=_key("series"))


def _forward_tab(item: Explorable, split: str) -> None:
    result = _predictions(item, split)
    index = _sample_picker("forward", split, result)
    names = activations.layer_names(item.model)
    chosen = st.multiselect("Layers", names, default=names[:12], key=_key("layers"))
    if not chosen:
        st.info("Pick at least one layer.")
        return
    found = activations.layer_activations(item.model, result.x[index], chosen)
    if item.data.kind == "images":
        st.plotly_chart(figures.image_grid(result.x[index:index + 1], ["input"], columns=1,
                                           tile=160), key=_key("forward_input"))
    for activation in found:
        summary = activation.summary()
        st.plotly_chart(figures.activation_figure(activation), width="stretch",
                        key=_key("activation", activation.name))
        st.caption(f"mean {summary['mean']:.3g} · std {summary['std']:.3g} · "
                   f"{summary['zero_fraction']:.0%} exactly zero")


def _learning_tab(item: Explorable) -> None:
    if item.history:
        metrics = sorted({k for row in item.history for k in row
                          if k not in ("epoch", "learning_rate") and not k.startswith("val_")})
        if metrics:
            metric = st.selectbox("Training curve", metrics, key=_key("curve"))
            st.plotly_chart(figures.history_lines(item.history, metric), width="stretch",
                            key=_key("history"))
    path = item.learning_cycle_path
    if path is None:
        st.info("This run has no learning-cycle record (gradient norms and weight histograms "
                "per epoch); runs record it when training includes the learning-cycle recorder.")
        return
    try:
        record = learning_cycle.load(path)
    except learning_cycle.LearningCycleError as exc:
        st.warning(md(str(exc)))
        return
    grads, weights = record["gradient_norms"], record["weight_histograms"]
    for part in (grads, weights):
        if part.get("error"):
            st.warning(md(part["error"]))
    st.markdown("**Backpropagation**: the size of each layer's gradient, epoch by epoch. Lines "
                "that sink towards zero for the first layers mean vanishing gradients; lines "
                "that climb mean exploding ones.")
    st.plotly_chart(figures.gradient_norm_lines(grads), width="stretch", key=_key("grad_lines"))
    layers = [layer["name"] for layer in weights.get("layers", [])]
    if not layers:
        return
    st.markdown("**Weights and biases**: how each layer's values spread out as it learns.")
    left, right = st.columns(2)
    layer = left.selectbox("Layer", layers, key=_key("hist_layer"))
    entry = next(item for item in weights["layers"] if item["name"] == layer)
    weight = right.selectbox("Weight", list(entry["weights"]), key=_key("hist_weight"))
    st.plotly_chart(figures.weight_histogram_figure(weights, layer, weight), width="stretch",
                    key=_key("hist"))
    st.plotly_chart(figures.weight_summary_lines(weights, "kernel"), width="stretch",
                    key=_key("spread"))


def _try_tab(item: Explorable) -> None:
    data = item.data
    try:
        raw = _try_input(item)
    except (predictions.ExploreError, ValueError) as exc:
        st.error(md(str(exc)))
        return
    if raw is None:
        return
    answer = predictions.predict_raw(item.model, data, raw)
    if "probabilities" in answer:
        probabilities = answer["probabilities"][0]
        names = [str(c) for c in data.class_names] or [str(i) for i in range(len(probabilities))]
        best = int(np.argmax(probabilities))
        st.success(f"Predicted **{md(names[best])}** ({probabilities[best]:.1%}).")
        order = np.argsort(-probabilities)[:10]
        st.plotly_chart(figures.attribution_bars([names[i] for i in order],
                                                 probabilities[order], "Class probabilities",
                                                 signed=False, axis_title="probability"),
                        width="stretch", key=_key("try_probs"))
        if data.kind == "images" and saliency.conv_layer_names(item.model):
            cam = saliency.grad_cam(item.model, answer["inputs"], single_output=_single_output(
                data))
            st.plotly_chart(figures.saliency_overlay(answer["inputs"][0], cam.values[0],
                                                     "Grad-CAM for the predicted class"),
                            width="stretch", key=_key("try_cam"))
    elif "values" in answer:
        names = data.target_names or [f"target {i + 1}" for i in range(answer["values"].shape[1])]
        st.success(" · ".join(f"{md(n)}: **{v:.4g}**"
                              for n, v in zip(names, answer["values"][0])))
    else:
        st.plotly_chart(figures.reconstruction_pairs(answer["inputs"], answer["outputs"]),
                        width="stretch", key=_key("try_pairs"))


def _try_input(item: Explorable):
    data = item.data
    if data.kind == "images":
        upload = st.file_uploader("An image", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                                  key=_key("try_image"))
        if upload is None:
            st.caption("Upload a picture; it is resized and scaled as the training images were.")
            return None
        channels = int(data.input_shape[-1])
        return predictions.image_pixels(upload.getvalue(), channels)[None]
    if data.kind == "text":
        text = st.text_area("Some text", key=_key("try_text"))
        return np.array([text]) if text.strip() else None
    if data.kind == "tabular" and data.frame_encoder is not None:
        labels = _feature_labels(data)
        first = data.raw("validation" if len(data.splits["validation"]) else "train", 1)
        row = {labels.get(k, k): np.asarray(v).reshape(len(v), -1)[0, 0]
               for k, v in first.items()}
        st.caption("Edit the row (it starts as the first validation row) to see the prediction.")
        frame = st.data_editor(pd.DataFrame([row]), num_rows="fixed", key=_key("try_row"),
                               hide_index=True)
        return data.raw_inputs_from_frame(frame)
    st.info("For time series, pick a window in the Saliency tab: a window is many numbers, "
            "more than a form can hold.")
    return None


# -- the page --------------------------------------------------------------------------------------


def render() -> None:
    """The Explore page."""
    st.header("Explore")
    found, warning = _candidates()
    if warning:
        st.warning(md(warning))
    if not found:
        st.info("Nothing to explore yet: train a model on the Train page first.",
                icon=":material/info:")
        return
    by_key = {item.key: item for item in found}
    current = state.get(SOURCE)
    if current not in by_key or state.get(NEWEST) != found[0].key:
        # A run that finished since the last visit is what a person comes to see.
        current = found[0].key
        st.session_state[_key("source")] = current
    state.put(NEWEST, found[0].key)
    choice = st.selectbox("Trained model", list(by_key), index=list(by_key).index(current),
                          format_func=lambda k: by_key[k].label, key=_key("source"))
    state.put(SOURCE, choice)
    if by_key[choice].role == "generator":  # a GAN run: noise in, images out; no data needed
        _generator_tab(by_key[choice])
        return
    item = _resolve(by_key[choice])
    if item.problem:
        st.info(item.problem, icon=":material/info:")
        if item.model is not None and item.history:
            _learning_tab(item)
        return
    if item.note:
        st.caption(item.note)
    splits = [s for s in ("validation", "test", "train") if len(item.data.splits.get(s, []))]
    split = st.radio("Split", splits, horizontal=True, key=_key("split"),
                     index=splits.index(state.get(SPLIT)) if state.get(SPLIT) in splits else 0)
    if split != state.get(SPLIT):
        state.put(SPLIT, split)
        state.put(CELL, None)
        state.put(SAMPLE, 0)
    tabs = st.tabs(["Predictions", "Saliency", "Forward pass", "Weights and gradients",
                    "Try it"])
    sections = [lambda: _predictions_tab(item, split), lambda: _saliency_tab(item, split),
                lambda: _forward_tab(item, split), lambda: _learning_tab(item),
                lambda: _try_tab(item)]
    for tab, section in zip(tabs, sections):
        with tab:
            try:
                section()
            except (predictions.ExploreError, saliency.SaliencyError, MetricError,
                    activations.ActivationError, learning_cycle.LearningCycleError) as exc:
                st.error(md(str(exc)))


if __name__ == "__main__":
    render()
