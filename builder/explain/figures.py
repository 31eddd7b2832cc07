"""Plotly figures for the Explore page: plain ``plotly.graph_objects``, no Streamlit.

Every builder takes NumPy arrays or the plain dicts of the other explain modules
and returns a ``go.Figure``, so tests can check figures without a browser.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from builder.markdown import plotly_text

# Inferno as rgb() stops: this plotly.js draws Inferno's first stop, the hex '#000004', pink.
_INFERNO = ["#000004", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60", "#cf4446", "#ed6925",
            "#fb9b06", "#f7d13d", "#fcffa4"]
_INFERNO_RGB = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in _INFERNO], float)
SALIENCY_SCALE = [[i / (len(_INFERNO) - 1), "rgb({:.0f}, {:.0f}, {:.0f})".format(*rgb)]
                  for i, rgb in enumerate(_INFERNO_RGB)]
DIVERGING = "RdBu"
HEIGHT = 420


def _layout(fig: go.Figure, title: str = "", height: int = HEIGHT) -> go.Figure:
    fig.update_layout(title=title or None, height=height, margin=dict(l=40, r=20, t=50, b=40),
                      template="plotly_white")
    return as_text(fig)


def as_text(fig: go.Figure) -> go.Figure:
    """Make every text a figure shows from data (class names, column names, layer names,
    tokens) show as written: trace names, category values, cell texts and titles.

    Our own hover templates keep their markup; a name put into one is escaped where it is
    written.
    """
    def plain(value):
        if isinstance(value, str):
            return plotly_text(value)
        if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray)
                                                and value.dtype.kind in "OUS"):
            return [plain(item) for item in value]
        return value

    for trace in fig.data:
        for attribute in ("name", "x", "y", "text"):
            value = getattr(trace, attribute, None)
            if value is not None and (isinstance(value, str) or any(
                    isinstance(item, (str, list, tuple)) for item in np.ravel(
                        np.asarray(value, dtype=object))[:1000])):
                trace[attribute] = plain(value)
    layout = fig.layout
    if layout.title and layout.title.text:
        layout.title.text = plotly_text(layout.title.text)
    for axis in fig.select_xaxes():
        if axis.title and axis.title.text:
            axis.title.text = plotly_text(axis.title.text)
    for axis in fig.select_yaxes():
        if axis.title and axis.title.text:
            axis.title.text = plotly_text(axis.title.text)
    return fig


# -- classification ------------------------------------------------------------------------


def confusion_heatmap(matrix, class_names: list[str], normalize: bool = False) -> go.Figure:
    """The confusion matrix: rows are true classes, columns predicted classes.

    Heatmap cells cannot be selected in Streamlit, so an invisible square marker
    sits on each cell; clicking a cell selects its marker, whose ``customdata`` is
    ``[true class, predicted class]``.
    """
    counts = np.asarray(matrix)
    k = counts.shape[0]
    names = [str(n) for n in class_names] if class_names else [str(i) for i in range(k)]
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        shown = np.divide(counts, totals, out=np.zeros(counts.shape, float), where=totals > 0)
        text = [[f"{shown[i, j]:.0%}" for j in range(k)] for i in range(k)]
    else:
        shown = counts
        text = [[str(int(counts[i, j])) for j in range(k)] for i in range(k)]
    fig = go.Figure(go.Heatmap(
        z=shown, x=names, y=names, colorscale="Blues", text=text, texttemplate="%{text}",
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
        showscale=False))
    true_idx, pred_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    fig.add_trace(go.Scatter(
        x=[names[j] for j in pred_idx.ravel()], y=[names[i] for i in true_idx.ravel()],
        mode="markers", name="cells",
        marker=dict(symbol="square", size=max(8, min(60, 480 // max(k, 1))),
                    color="rgba(0,0,0,0)", line=dict(width=0)),
        customdata=np.stack([true_idx.ravel(), pred_idx.ravel(), counts.ravel()], axis=1),
        hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[2]} sample(s)"
                      "<br>click to list them<extra></extra>",
        showlegend=False))
    fig.update_xaxes(title="predicted class", type="category", side="bottom")
    fig.update_yaxes(title="true class", type="category", autorange="reversed")
    side = max(360, min(800, 60 * k + 160))
    _layout(fig, "Confusion matrix" + (" (share of each true class)" if normalize else ""), side)
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


def roc_figure(fpr, tpr, auc: float) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line=dict(dash="dash", color="grey")))
    fig.add_trace(go.Scatter(x=np.asarray(fpr), y=np.asarray(tpr), mode="lines",
                             name=f"model (AUC {auc:.3f})", line=dict(shape="hv")))
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1.02])
    return _layout(fig, "ROC curve")


def pr_figure(precision, recall, average_precision: float, positive_share: float) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[positive_share, positive_share], mode="lines",
                             name="chance", line=dict(dash="dash", color="grey")))
    fig.add_trace(go.Scatter(x=np.asarray(recall), y=np.asarray(precision), mode="lines",
                             name=f"model (AP {average_precision:.3f})", line=dict(shape="hv")))
    fig.update_xaxes(title="recall", range=[0, 1])
    fig.update_yaxes(title="precision", range=[0, 1.02])
    return _layout(fig, "Precision-recall curve")


def class_scores_bars(rows: list[dict]) -> go.Figure:
    """Precision, recall and F1 per class, side by side."""
    names = [r["class"] for r in rows]
    fig = go.Figure([go.Bar(name=metric, x=names, y=[r[metric] for r in rows])
                     for metric in ("precision", "recall", "f1")])
    fig.update_yaxes(range=[0, 1.05])
    fig.update_layout(barmode="group")
    return _layout(fig, "Per-class scores")


# -- regression -------------------------------------------------------------------------------


def prediction_scatter(y_true, y_pred, name: str = "target") -> go.Figure:
    true = np.asarray(y_true, float).ravel()
    pred = np.asarray(y_pred, float).ravel()
    low = float(min(true.min(), pred.min()))
    high = float(max(true.max(), pred.max()))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect",
                             line=dict(dash="dash", color="grey")))
    fig.add_trace(go.Scatter(x=true, y=pred, mode="markers", name="samples",
                             marker=dict(size=6, opacity=0.6),
                             customdata=np.arange(len(true)),
                             hovertemplate="sample %{customdata}<br>true %{x:.4g}"
                                           "<br>predicted %{y:.4g}<extra></extra>"))
    fig.update_xaxes(title=f"actual {name}")
    fig.update_yaxes(title=f"predicted {name}")
    return _layout(fig, "Predicted against actual")


def residuals_figure(y_true, y_pred, name: str = "target") -> go.Figure:
    true = np.asarray(y_true, float).ravel()
    residual = np.asarray(y_pred, float).ravel() - true
    fig = make_subplots(rows=1, cols=2, column_widths=[0.65, 0.35],
                        subplot_titles=("residual against predicted", "distribution"))
    fig.add_trace(go.Scatter(x=np.asarray(y_pred, float).ravel(), y=residual, mode="markers",
                             marker=dict(size=6, opacity=0.6), name="residual"), 1, 1)
    fig.add_hline(y=0, line=dict(dash="dash", color="grey"), row=1, col=1)
    fig.add_trace(go.Histogram(x=residual, nbinsx=40, name="count"), 1, 2)
    fig.update_xaxes(title=f"predicted {name}", row=1, col=1)
    fig.update_yaxes(title="predicted - actual", row=1, col=1)
    fig.update_layout(showlegend=False)
    return _layout(fig, "Residuals")


# -- images ---------------------------------------------------------------------------------


def _display_image(image) -> np.ndarray:
    """An image as uint8 RGB for go.Image (grey is repeated over three channels)."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.shape[-1] != 3:
        array = array[..., :3]
    if array.max() <= 1.0 + 1e-6 and array.min() >= -1e-6:
        array = array * 255.0
    else:
        low, high = array.min(), array.max()
        array = (array - low) / (high - low if high > low else 1.0) * 255.0
    return np.clip(array, 0, 255).astype(np.uint8)


def _inferno(heat: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> RGB colours of the Inferno map."""
    stops = np.linspace(0.0, 1.0, len(_INFERNO_RGB))
    flat = np.clip(heat, 0.0, 1.0).ravel()
    rgb = np.stack([np.interp(flat, stops, _INFERNO_RGB[:, c]) for c in range(3)], axis=-1)
    return rgb.reshape(*heat.shape, 3)


def blend(image, heatmap, strength: float = 0.8) -> np.ndarray:
    """The image with the heatmap's colours laid over it, more opaque where it matters more.

    Unimportant pixels show the image itself, so the map reads as "where on the image".
    """
    picture = _display_image(image).astype(float)
    heat = np.clip(np.asarray(heatmap, dtype=float), 0.0, 1.0)
    alpha = (strength * heat)[..., None]
    return np.clip(np.rint((1 - alpha) * picture + alpha * _inferno(heat)), 0, 255).astype(np.uint8)


def saliency_overlay(image, heatmap, title: str = "", strength: float = 0.8) -> go.Figure:
    """The image with a saliency heatmap (values in [0, 1]) blended over it, and the map alone."""
    heat = np.asarray(heatmap, dtype=float)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("overlay", "saliency"),
                        horizontal_spacing=0.04)
    fig.add_trace(go.Image(z=blend(image, heat, strength), hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Heatmap(z=heat, colorscale=SALIENCY_SCALE, zmin=0, zmax=1,
                             colorbar=dict(title="importance", len=0.8),
                             hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"), 1, 2)
    for col in (1, 2):
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=1, col=col)
        fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False,
                         autorange="reversed", scaleanchor=f"x{col}", row=1, col=col)
    return _layout(fig, title, 380)


def image_grid(images, titles: list[str] | None = None, columns: int = 8,
               title: str = "", tile: int = 110) -> go.Figure:
    """A gallery of images with a caption over each (true and predicted labels)."""
    pictures = [_display_image(i) for i in images]
    if not pictures:
        return _layout(go.Figure(), title or "No images")
    columns = max(1, min(columns, len(pictures)))
    rows = math.ceil(len(pictures) / columns)
    captions = list(titles or [""] * len(pictures))
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=captions,
                        horizontal_spacing=0.01, vertical_spacing=min(0.08, 0.3 / rows))
    for i, picture in enumerate(pictures):
        fig.add_trace(go.Image(z=picture, hoverinfo="skip"), i // columns + 1, i % columns + 1)
    fig.update_xaxes(showticklabels=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, showgrid=False)
    fig.update_annotations(font_size=11)
    return _layout(fig, title, max(200, rows * tile + 60))


def reconstruction_pairs(originals, reconstructions, errors=None, columns: int = 6,
                         indices=None) -> go.Figure:
    """Rows of originals, each above a row of their reconstructions.

    Args:
        originals, reconstructions: images in the same order.
        errors: each pair's error, shown under the reconstruction.
        columns: pairs per row.
        indices: each pair's sample number in its split (default 0, 1, 2...).
    """
    originals = list(originals)
    reconstructions = list(reconstructions)
    numbers = list(range(len(originals))) if indices is None else [int(i) for i in indices]
    columns = max(1, min(columns, len(originals)))
    count = len(originals) if len(originals) <= columns else len(originals) // columns * columns
    images, titles = [], []
    for start in range(0, count, columns):
        chunk = range(start, start + columns)
        images += [originals[i] for i in chunk]
        titles += [f"original #{numbers[i]}" for i in chunk]
        images += [reconstructions[i] for i in chunk]
        titles += ["rebuilt" + (f" (mse {errors[i]:.3g})" if errors is not None else "")
                   for i in chunk]
    return image_grid(images, titles, columns=columns, title="Originals and reconstructions")


# Plotly's "Plotly" qualitative palette, then "D3" for an eleventh class and on.
_CLASS_COLOURS = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3",
                  "#ff6692", "#b6e880", "#ff97ff", "#fecb52", "#1f77b4", "#ff7f0e", "#2ca02c",
                  "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def code_space_scatter(codes, labels=None, label_names=None, layer: str = "code",
                       max_legend: int = 20) -> go.Figure:
    """An autoencoder's 2-D codes as points, coloured by the labels training did not use.

    Args:
        codes: ``(n, 2)`` codes.
        labels: ``(n,)`` class ids, or None (one colour).
        label_names: one name per class id.
        layer: the bottleneck layer's name, for the axis titles.
        max_legend: classes drawn as their own legend entries; the rest share one.

    Raises:
        ValueError: the codes are not two numbers per sample, or the labels do not
            match them.
    """
    codes = np.asarray(codes, dtype=float)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"A code-space map needs two numbers per sample; got codes of shape "
                         f"{codes.shape}. Give the autoencoder a bottleneck of 2 units.")
    fig = go.Figure()
    if labels is None:
        fig.add_trace(go.Scatter(x=codes[:, 0], y=codes[:, 1], mode="markers",
                                 marker=dict(size=6, opacity=0.75, color=_CLASS_COLOURS[0]),
                                 name="samples", customdata=np.arange(len(codes)),
                                 hovertemplate="sample %{customdata}<extra></extra>"))
    else:
        labels = np.asarray(labels).astype(np.int64).ravel()
        if len(labels) != len(codes):
            raise ValueError(f"There are {len(codes)} codes but {len(labels)} labels; give one "
                             "label per code.")
        names = [str(n) for n in (label_names or [])]
        classes = sorted(set(labels.tolist()))
        for rank, label in enumerate(classes):
            if rank >= max_legend:
                break
            members = np.flatnonzero(labels == label)
            name = names[label] if 0 <= label < len(names) else str(label)
            fig.add_trace(go.Scatter(
                x=codes[members, 0], y=codes[members, 1], mode="markers", name=name,
                marker=dict(size=6, opacity=0.75,
                            color=_CLASS_COLOURS[rank % len(_CLASS_COLOURS)]),
                customdata=members,
                hovertemplate=f"{plotly_text(name)}: sample %{{customdata}}<extra></extra>"))
        rest = np.flatnonzero(np.isin(labels, classes[max_legend:]))
        if len(rest):
            fig.add_trace(go.Scatter(x=codes[rest, 0], y=codes[rest, 1], mode="markers",
                                     name=f"{len(classes) - max_legend} more classes",
                                     marker=dict(size=5, opacity=0.5, color="#999999"),
                                     customdata=rest,
                                     hovertemplate="sample %{customdata}<extra></extra>"))
    fig.update_xaxes(title=f"{layer} 1")
    fig.update_yaxes(title=f"{layer} 2")
    title = "Code space" + (" coloured by the labels training did not use"
                            if labels is not None else "")
    fig.update_layout(legend=dict(title="label" if labels is not None else None,
                                  itemsizing="constant"))
    return _layout(fig, title, 520)


# -- attributions for tables and sequences -------------------------------------------------------


def attribution_bars(names: list[str], values, title: str = "",
                     signed: bool = True, axis_title: str = "") -> go.Figure:
    """Per-feature attributions (or any values) as horizontal bars, largest at the top.

    ``axis_title`` names what the bars measure; by default an attribution, signed or
    its mean magnitude.
    """
    values = np.asarray(values, dtype=float)
    order = np.argsort(np.abs(values))
    colors = ["#d6604d" if v < 0 else "#4393c3" for v in values[order]] if signed else None
    fig = go.Figure(go.Bar(x=values[order], y=[names[i] for i in order], orientation="h",
                           marker_color=colors))
    fig.update_xaxes(title=axis_title or ("attribution (towards the class)" if signed
                                          else "mean |attribution|"), zeroline=True)
    return _layout(fig, title, max(260, 22 * len(names) + 100))


def sequence_attributions(values, labels: list[str] | None = None, title: str = "") -> go.Figure:
    """One row of colour per token or time step: red pushes away, blue towards the class."""
    values = np.asarray(values, dtype=float).ravel()
    labels = labels or [str(i) for i in range(len(values))]
    bound = float(np.abs(values).max()) or 1.0
    fig = go.Figure(go.Heatmap(
        z=[values], x=list(range(len(values))), y=[""], colorscale=DIVERGING, zmin=-bound,
        zmax=bound, text=[labels], texttemplate="%{text}",
        hovertemplate="%{text}<br>attribution %{z:.3g}<extra></extra>"))
    fig.update_xaxes(title="position", showticklabels=len(values) <= 60)
    return _layout(fig, title, 220)


def series_attributions(window, values, feature_names: list[str], title: str = "") -> go.Figure:
    """A time-series window (lines) above its per-step, per-feature attributions (heatmap)."""
    window = np.asarray(window, dtype=float)
    values = np.asarray(values, dtype=float)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.55, 0.45],
                        vertical_spacing=0.06)
    for j, name in enumerate(feature_names):
        fig.add_trace(go.Scatter(y=window[:, j], mode="lines", name=name), 1, 1)
    bound = float(np.abs(values).max()) or 1.0
    fig.add_trace(go.Heatmap(z=values.T, y=feature_names, colorscale=DIVERGING, zmin=-bound,
                             zmax=bound, colorbar=dict(title="attribution", len=0.45, y=0.2)),
                  2, 1)
    fig.update_xaxes(title="time step", row=2, col=1)
    return _layout(fig, title, 460)


# -- activations ----------------------------------------------------------------------------------


def _mosaic(maps: np.ndarray, columns: int) -> np.ndarray:
    """(h, w, c) feature maps tiled into one array, NaN gaps between tiles."""
    h, w, c = maps.shape
    rows = math.ceil(c / columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for k in range(c):
        r, q = divmod(k, columns)
        tile = maps[:, :, k]
        span = tile.max() - tile.min()
        out[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = (
            (tile - tile.min()) / span if span > 0 else np.zeros_like(tile))
    return out


def feature_map_grid(values, title: str = "", max_maps: int = 64) -> go.Figure:
    """A convolution's feature maps, one tile per channel (each scaled to its own range)."""
    maps = np.asarray(values, dtype=float)[:, :, :max_maps]
    columns = min(8, maps.shape[2])
    fig = go.Figure(go.Heatmap(z=_mosaic(maps, columns), colorscale="Viridis", showscale=False,
                               hoverinfo="skip"))
    fig.update_xaxes(showticklabels=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, autorange="reversed",
                     scaleanchor="x")
    rows = math.ceil(maps.shape[2] / columns)
    return _layout(fig, title, max(220, min(900, rows * 110 + 60)))


def activation_bars(values, title: str = "", max_units: int = 256) -> go.Figure:
    values = np.asarray(values, dtype=float).ravel()[:max_units]
    fig = go.Figure(go.Bar(x=np.arange(len(values)), y=values))
    fig.update_xaxes(title="unit")
    fig.update_yaxes(title="activation")
    return _layout(fig, title, 260)


def activation_heatmap(values, title: str = "") -> go.Figure:
    """A sequence layer's output: time steps down, features across."""
    fig = go.Figure(go.Heatmap(z=np.asarray(values, dtype=float), colorscale="Viridis"))
    fig.update_xaxes(title="feature")
    fig.update_yaxes(title="step", autorange="reversed")
    return _layout(fig, title, 300)


def activation_figure(activation) -> go.Figure:
    """The right picture for a :class:`~builder.explain.activations.LayerActivation`."""
    title = f"{activation.name} ({activation.layer_type}) {tuple(activation.shape)}"
    if activation.kind == "feature_maps":
        return feature_map_grid(activation.values, title)
    if activation.kind == "sequence":
        return activation_heatmap(activation.values, title)
    return activation_bars(np.asarray(activation.values).ravel(), title)


# -- the learning cycle -------------------------------------------------------------------------


def gradient_norm_lines(record: dict, weight: str = "total") -> go.Figure:
    """Per-layer gradient norms over epochs, on a log scale.

    Args:
        record: :meth:`GradientNormRecorder.record` output.
        weight: ``"total"`` (each layer's whole gradient) or a weight name such
            as ``"kernel"``.
    """
    epochs = record.get("epochs", [])
    fig = go.Figure()
    for layer in record.get("layers", []):
        series = layer["total"] if weight == "total" else layer["weights"].get(weight)
        if series is None:
            continue
        values = [v if v is not None and v > 0 else None for v in series]
        fig.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers", name=layer["name"]))
    fig.update_xaxes(title="epoch (0 = before training)", dtick=max(1, len(epochs) // 10))
    fig.update_yaxes(title="gradient norm (log scale)", type="log")
    return _layout(fig, "Gradient norm per layer" + ("" if weight == "total" else f" ({weight})"))


def weight_histogram_figure(record: dict, layer: str, weight: str,
                            max_lines: int = 8) -> go.Figure:
    """One weight's histograms over epochs: one line per epoch, darker is later."""
    epochs = record.get("epochs", [])
    entry = next((item for item in record.get("layers", []) if item["name"] == layer), None)
    fig = go.Figure()
    if entry is None or weight not in entry["weights"]:
        return _layout(fig, f"No histograms recorded for {layer}/{weight}")
    series = entry["weights"][weight]
    picks = np.unique(np.linspace(0, len(epochs) - 1, min(max_lines, len(epochs))).astype(int))
    for rank, index in enumerate(picks):
        histogram = series[index]
        if not histogram or not histogram.get("counts"):
            continue
        edges = np.asarray(histogram["edges"])
        centres = (edges[:-1] + edges[1:]) / 2
        shade = 0.25 + 0.75 * (rank / max(1, len(picks) - 1))
        fig.add_trace(go.Scatter(
            x=centres, y=histogram["counts"], mode="lines", line=dict(shape="hvh"),
            name=f"epoch {epochs[index]}",
            line_color=f"rgba(31, 119, 180, {shade:.2f})"))
    fig.update_xaxes(title="value")
    fig.update_yaxes(title="count")
    return _layout(fig, f"{layer} / {weight}: distribution per epoch")


def weight_summary_lines(record: dict, weight: str = "kernel") -> go.Figure:
    """Each layer's weight spread (standard deviation) over epochs."""
    epochs = record.get("epochs", [])
    fig = go.Figure()
    for layer in record.get("layers", []):
        series = layer["weights"].get(weight)
        if not series:
            continue
        fig.add_trace(go.Scatter(x=epochs, y=[h.get("std") if h else None for h in series],
                                 mode="lines+markers", name=layer["name"]))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title=f"{weight} standard deviation")
    return _layout(fig, f"Spread of each layer's {weight} over training")


def history_lines(rows: list[dict], metric: str) -> go.Figure:
    """A metric and its validation twin over epochs, from the run's epoch rows."""
    fig = go.Figure()
    epochs = [r.get("epoch") for r in rows]
    for name in (metric, f"val_{metric}"):
        values = [r.get(name) for r in rows]
        if any(v is not None for v in values):
            fig.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers",
                                     name="validation" if name.startswith("val_") else "train"))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title=metric)
    return _layout(fig, metric, 300)
