"""Figures: the data each Plotly figure carries is the data it was given."""

import numpy as np
import plotly.graph_objects as go

from builder.explain import figures
from builder.explain.activations import LayerActivation


def test_confusion_heatmap_cells_are_clickable_markers_naming_their_cell():
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    fig = figures.confusion_heatmap(matrix, ["cat", "dog", "fox"])
    heat, cells = fig.data
    assert isinstance(heat, go.Heatmap) and isinstance(cells, go.Scatter)
    np.testing.assert_array_equal(np.asarray(heat.z), matrix)
    # Marker i sits on (predicted x, true y) and carries [true, predicted, count].
    for x, y, (true, predicted, count) in zip(cells.x, cells.y, cells.customdata):
        assert (y, x) == (["cat", "dog", "fox"][true], ["cat", "dog", "fox"][predicted])
        assert matrix[true, predicted] == count
    assert len(cells.x) == 9
    normalised = figures.confusion_heatmap(matrix, ["cat", "dog", "fox"], normalize=True)
    np.testing.assert_allclose(np.asarray(normalised.data[0].z).sum(axis=1), 1.0)


def test_threshold_and_regression_figures_plot_what_they_are_given():
    roc = figures.roc_figure([0, 0.5, 1], [0, 0.8, 1], 0.7)
    assert list(roc.data[1].x) == [0, 0.5, 1] and "0.700" in roc.data[1].name
    pr = figures.pr_figure([1.0, 0.5], [0.0, 1.0], 0.6, positive_share=0.3)
    assert list(pr.data[0].y) == [0.3, 0.3]
    scatter = figures.prediction_scatter([1, 2, 3], [1.5, 2, 2.5])
    assert list(scatter.data[1].y) == [1.5, 2, 2.5]
    residuals = figures.residuals_figure([1, 2, 3], [1.5, 2, 2.5])
    assert list(residuals.data[0].y) == [0.5, 0, -0.5]


def test_saliency_overlay_blends_the_map_where_it_matters():
    image = np.zeros((6, 5, 1))
    image[:, :2] = 1.0
    heat = np.zeros((6, 5))
    heat[0, 4] = 1.0
    fig = figures.saliency_overlay(image, heat, "Grad-CAM")
    picture, alone = fig.data
    blended = np.asarray(picture.z)
    assert blended.shape == (6, 5, 3)
    # No importance: the image itself (white on the left, black on the right).
    assert blended[1, 0].tolist() == [255, 255, 255] and blended[1, 4].tolist() == [0, 0, 0]
    # Full importance: mostly the map's top colour (Inferno's pale yellow).
    assert blended[0, 4].tolist() == [202, 204, 131]
    np.testing.assert_allclose(np.asarray(alone.z), heat)
    # Every stop of the colour scale is an rgb() colour, which plotly.js reads correctly.
    assert all(colour.startswith("rgb(") for _, colour in alone.colorscale)


def test_feature_maps_are_tiled_one_per_channel():
    maps = np.random.default_rng(0).random((4, 4, 10))
    fig = figures.activation_figure(LayerActivation("conv", "Conv2D", "feature_maps", maps))
    mosaic = np.asarray(fig.data[0].z, dtype=float)
    assert mosaic.shape == (2 * 5 - 1, 8 * 5 - 1)  # 8 tiles across, 2 rows, 1-pixel gaps
    np.testing.assert_allclose(np.nanmax(mosaic), 1.0)
    vector = figures.activation_figure(LayerActivation("dense", "Dense", "vector", np.ones(7)))
    assert len(vector.data[0].y) == 7


def test_attribution_bars_put_the_largest_magnitude_on_top():
    fig = figures.attribution_bars(["a", "b", "c"], [0.1, -0.9, 0.4])
    assert list(fig.data[0].y) == ["a", "c", "b"]  # plotly draws the last bar on top
    tokens = figures.sequence_attributions([0.2, -0.5], ["hello", "world"])
    assert list(tokens.data[0].text[0]) == ["hello", "world"]


def test_gradient_lines_skip_missing_points_and_use_a_log_axis():
    record = {"epochs": [0, 1], "layers": [
        {"name": "dense", "weights": {"kernel": [0.5, None]}, "total": [0.6, 0.0]}]}
    fig = figures.gradient_norm_lines(record)
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[0].y) == [0.6, None]
    assert list(figures.gradient_norm_lines(record, "kernel").data[0].y) == [0.5, None]


def test_image_grid_and_reconstructions_lay_out_pairs():
    images = [np.full((4, 4, 1), i / 10) for i in range(8)]
    grid = figures.image_grid(images, [f"#{i}" for i in range(8)], columns=4)
    assert len(grid.data) == 8
    pairs = figures.reconstruction_pairs(images, images, errors=np.zeros(8), columns=4)
    titles = [a.text for a in pairs.layout.annotations]
    assert titles[:4] == ["original #0", "original #1", "original #2", "original #3"]
    assert titles[4].startswith("rebuilt")
