"""The code space of an autoencoder: its bottleneck, its codes, the labels kept aside."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from builder.compile import build_model
from builder.data.images import prepare_images
from builder.data.samples import load_sample
from builder.design import TEMPLATES_DIR, load_template
from builder.explain import codes, figures


@pytest.fixture(scope="module")
def digits_reconstruction():
    return prepare_images(load_sample("digits"), size=(8, 8), channels=1, task="reconstruction")


def _template_model(slug: str, shape):
    design = load_template(TEMPLATES_DIR / f"{slug}.json").design()
    for node in design.nodes:
        if node.type == "Input":
            node.params = dict(node.params, shape=list(shape))
    return build_model(design)


def test_reconstruction_data_keeps_the_labels_aside_and_trains_without_them(
        digits_reconstruction):
    data = digits_reconstruction
    source = load_sample("digits")
    assert data.info["label_names"] == [str(d) for d in range(10)]
    labels = np.concatenate([data.splits[s].labels for s in ("train", "validation", "test")])
    assert sorted(np.bincount(labels).tolist()) == sorted(np.bincount(source.labels).tolist())
    # The stored images of a split are the source images of its labels.
    first = data.splits["validation"]
    match = np.flatnonzero((source.pixels == first.x[0]).all(axis=(1, 2, 3)))
    assert first.labels[0] in source.labels[match]
    # What training gets is (image, image): no labels anywhere.
    x, y = next(iter(data.batches("train", 16)))
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert np.asarray(x).shape == (16, 8, 8, 1)
    # Classification data keeps no second copy.
    classify = prepare_images(source, size=(8, 8), channels=1)
    assert classify.splits["train"].labels is None and "label_names" not in classify.info


def test_the_bottleneck_is_the_layer_named_code_or_else_the_narrowest():
    dense = _template_model("dense_autoencoder_2d", (8, 8, 1))
    assert codes.find_bottleneck(dense) == "code"
    conv = _template_model("conv_autoencoder", (32, 32, 1))
    # 32x32 -> 16x16x16 -> 8x8x8 (512 numbers) -> back up: encode_2 is the narrowest.
    assert codes.find_bottleneck(conv) == "encode_2"
    inputs = keras.Input((6,), name="x")
    middle = keras.layers.Dense(3, name="squeeze")(inputs)
    wider = keras.layers.Dense(3, name="same_width_later")(middle)
    out = keras.layers.Dense(6, name="out")(wider)
    assert codes.find_bottleneck(keras.Model(inputs, out)) == "squeeze"
    bare = keras.Input((4,), name="x")
    with pytest.raises(codes.CodeError, match="no layer between"):
        codes.find_bottleneck(keras.Model(bare, keras.layers.Dense(4, name="out")(bare)))


def test_code_space_gives_each_sample_its_code_and_its_unused_label(digits_reconstruction):
    data = digits_reconstruction
    model = _template_model("dense_autoencoder_2d", (8, 8, 1))
    space = codes.code_space(model, data, "validation", limit=50)
    assert space.layer == "code" and space.is_2d and space.shape == (2,)
    assert space.codes.shape == (50, 2)
    np.testing.assert_array_equal(space.labels, data.splits["validation"].labels[:50])
    assert space.label_names[3] == "3"
    # The codes are the 'code' layer's outputs for those very images.
    x, _ = data.arrays("validation", 50)
    encoder = keras.Model(model.inputs, model.get_layer("code").output)
    np.testing.assert_allclose(space.codes, encoder.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    conv_space = codes.code_space(_template_model("conv_autoencoder", (8, 8, 1)), data,
                                  "validation", limit=10)
    assert not conv_space.is_2d and conv_space.codes.shape == (10, 2 * 2 * 8)


def test_code_space_refuses_data_that_is_not_for_reconstruction():
    classify = prepare_images(load_sample("digits"), size=(8, 8), channels=1)
    model = _template_model("dense_autoencoder_2d", (8, 8, 1))
    with pytest.raises(codes.CodeError, match="Reconstruct"):
        codes.code_space(model, classify)
    with pytest.raises(codes.CodeError, match="no layer named"):
        codes.encode(model, np.zeros((2, 8, 8, 1), "float32"), layer="nope")


def test_code_space_scatter_draws_one_trace_per_label_at_the_codes():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 2))
    labels = np.repeat([0, 2, 1], 10)
    fig = figures.code_space_scatter(points, labels, ["zero", "one", "two"], layer="code")
    assert [trace.name for trace in fig.data] == ["zero", "one", "two"]
    two = fig.data[2]
    np.testing.assert_allclose(np.c_[two.x, two.y], points[labels == 2])
    np.testing.assert_array_equal(two.customdata, np.flatnonzero(labels == 2))
    assert fig.layout.xaxis.title.text == "code 1"
    assert "labels training did not use" in fig.layout.title.text
    plain = figures.code_space_scatter(points)
    assert len(plain.data) == 1 and len(plain.data[0].x) == 30
    many = figures.code_space_scatter(points, np.arange(30), max_legend=5)
    assert len(many.data) == 6 and len(many.data[-1].x) == 25
    with pytest.raises(ValueError, match="two numbers per sample"):
        figures.code_space_scatter(rng.normal(size=(5, 3)))
    with pytest.raises(ValueError, match="one label per code"):
        figures.code_space_scatter(points, labels[:5])


def test_reconstruction_pairs_name_the_samples_shown():
    images = np.zeros((4, 3, 3, 1))
    fig = figures.reconstruction_pairs(images, images, indices=[7, 2, 9, 4], columns=4)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:4] == ["original #7", "original #2", "original #9", "original #4"]
