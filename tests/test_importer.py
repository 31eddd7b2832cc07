"""builder.importer: Keras models back onto the canvas, refusing what would run code."""

from __future__ import annotations

import io
import zipfile

import keras
import pytest

from builder import importer
from builder.compile import build_model
from builder.design import list_templates
from builder.validate import analyze


def _keras_bytes(model, tmp_path) -> bytes:
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    return path.read_bytes()


def _layer_kinds(model) -> list:
    return [(layer.name, type(layer).__name__, tuple(layer.output.shape))
            for layer in model.layers]


@pytest.mark.parametrize("slug", sorted({t.slug for t in list_templates()}))
def test_every_template_survives_model_to_design(slug):
    template = {t.slug: t for t in list_templates()}[slug]
    for original in template.designs:
        model = build_model(original)
        result = importer.design_from_model(model)
        assert result.notes == []
        rebuilt = build_model(result.design)
        assert _layer_kinds(rebuilt) == _layer_kinds(model)
        assert rebuilt.count_params() == model.count_params()


def test_keras_file_round_trip_keeps_params_and_lays_nodes_out(tmp_path):
    original = {t.slug: t for t in list_templates()}["transformer_text"].design()
    model = build_model(original)
    design = importer.import_keras_bytes(_keras_bytes(model, tmp_path))
    assert design.extra["import_notes"] == []
    assert {n.id: (n.type, n.params) for n in design.nodes} == {
        n.id: (n.type, n.params) for n in original.nodes}
    assert build_model(design).count_params() == model.count_params()
    positions = [n.position for n in design.nodes]
    assert len(set(positions)) == len(positions)
    # data flows downwards: every edge goes to a lower row
    y = {n.id: n.position[1] for n in design.nodes}
    assert all(y[e.target] > y[e.source] for e in design.edges)


def _applications_style_model():
    """A small ResNet-like model written the way keras.applications writes them."""
    image = keras.Input((32, 32, 3), name="input_image")
    x = keras.layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="conv1_pad")(image)
    x = keras.layers.Conv2D(8, (3, 3), strides=(2, 2), name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(axis=3, epsilon=1.001e-5, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    shortcut = x
    x = keras.layers.Conv2D(8, 3, padding="same", dilation_rate=2, name="block_conv")(x)
    x = keras.layers.ReLU(name="block_relu")(x)
    x = keras.layers.Add(name="block_add")([shortcut, x])
    x = keras.layers.MaxPooling2D((2, 2), name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(0.1, name="drop")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(image, outputs, name="mini_resnet")


def test_a_functional_model_not_made_by_the_app_imports(tmp_path):
    model = _applications_style_model()
    result = importer.read_keras_bytes(_keras_bytes(model, tmp_path), "mini.keras")
    design = result.design
    assert analyze(design).ok
    types = {n.id: n.type for n in design.nodes}
    assert types["input_image"] == "Input"
    assert types["block_relu"] == "Activation"
    assert types["block_add"] == "Add"
    assert design.node("conv1_pad").params == {"padding": 1}
    assert design.node("conv1_conv").params["strides"] == 2
    assert design.inputs_of("block_add") == ["conv1_relu", "block_relu"]
    # the dilation rate and the BatchNormalization epsilon are not on the canvas: reported
    notes = " ".join(result.notes)
    assert "block_conv" in notes and "dilation_rate" in notes
    rebuilt = build_model(design)
    assert rebuilt.output.shape == model.output.shape
    assert rebuilt.count_params() == model.count_params()


def test_sequential_model_imports_as_a_chain():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="hidden"),
                              keras.layers.Dense(1, activation="sigmoid", name="out")])
    design = importer.design_from_model(model).design
    assert [n.type for n in design.nodes] == ["Input", "Dense", "Dense"]
    assert design.inputs_of("out") == ["hidden"]
    assert build_model(design).count_params() == model.count_params()


def test_the_catalogs_variants_and_wrappers_are_read_back_with_what_changed():
    """LeakyReLU, ReLU and Bidirectional are what the catalog entries declare them to be."""
    inputs = keras.Input((5, 3))
    x = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True, name="in"),
                                   merge_mode="sum", name="both_ways")(inputs)
    x = keras.layers.LeakyReLU(negative_slope=0.3, name="leaky")(x)
    x = keras.layers.LSTM(2, name="plain")(x)
    x = keras.layers.ReLU(name="relu")(x)
    result = importer.design_from_model(keras.Model(inputs, x))
    nodes = {n.id: (n.type, n.params) for n in result.design.nodes}
    assert nodes["both_ways"][0] == "GRU" and nodes["both_ways"][1]["bidirectional"] is True
    assert nodes["plain"][1]["bidirectional"] is False
    assert nodes["leaky"] == ("Activation", {"activation": "leaky_relu"})
    assert nodes["relu"] == ("Activation", {"activation": "relu"})
    notes = " ".join(result.notes)
    assert "'both_ways': merge mode 'sum' became 'concat'" in notes
    assert "'leaky': LeakyReLU settings {'negative_slope': 0.3}" in notes
    assert "'relu'" not in notes
    model = build_model(result.design)
    assert type(model.get_layer("both_ways")).__name__ == "Bidirectional"
    assert model.get_layer("both_ways").forward_layer.name.endswith("both_ways_cell")
    assert model.get_layer("leaky").negative_slope == 0.2


def test_a_wrapper_around_a_layer_it_does_not_wrap_is_named(tmp_path):
    inputs = keras.Input((5, 3))
    x = keras.layers.Bidirectional(keras.layers.ConvLSTM1D(2, 2), name="odd")(
        keras.layers.Reshape((5, 3, 1))(inputs))
    with pytest.raises(importer.ImportRefused, match=r"Bidirectional\(ConvLSTM1D\) \('odd'\)"):
        importer.import_keras_bytes(_keras_bytes(keras.Model(inputs, x), tmp_path))


def test_a_lambda_layer_is_refused_by_name(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2),
                              keras.layers.Lambda(lambda t: t * 2, name="times_two")])
    with pytest.raises(importer.ImportRefused, match="never runs.*'times_two'"):
        importer.import_keras_bytes(_keras_bytes(model, tmp_path))


@keras.saving.register_keras_serializable(package="someone_else")
class Doubler(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2


def test_layers_outside_the_catalog_are_named(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(inputs)
    x = Doubler(name="double")(x)
    model = keras.Model(inputs, x, name="custom")
    data = _keras_bytes(model, tmp_path)
    with pytest.raises(importer.ImportRefused) as caught:
        importer.import_keras_bytes(data)
    assert "DepthwiseConv2D ('dw')" in str(caught.value)
    assert "Doubler ('double')" in str(caught.value)


def test_a_subclassed_model_is_refused():
    class Tiny(keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(importer.ImportRefused, match="subclassed"):
        importer.design_from_model(Tiny())


def test_a_shared_layer_is_refused():
    dense = keras.layers.Dense(3, name="shared")
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    model = keras.Model([a, b], keras.layers.Add()([dense(a), dense(b)]))
    with pytest.raises(importer.ImportRefused, match="'shared' is called 2 times"):
        importer.design_from_model(model)


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty"),
    (b"plain text, not a zip", "not a zip archive"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 20, "legacy HDF5"),
])
def test_files_that_are_not_keras_models_get_a_sentence(data, words):
    with pytest.raises(importer.ImportRefused, match=words):
        importer.import_keras_bytes(data)


def test_a_zip_without_a_model_config_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(importer.ImportRefused, match="no config.json"):
        importer.import_keras_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", '{"class_name": "Lambda", "config": {}}')
    with pytest.raises(importer.ImportRefused, match="not a functional or Sequential"):
        importer.import_keras_bytes(buffer.getvalue())
