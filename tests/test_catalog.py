"""Every catalog entry builds on a tiny input, agrees with the analysis, round-trips."""

import keras
import numpy as np
import pytest

from builder import catalog
from builder.compile import build_model
from builder.validate import analyze
from tests.helpers import design

TINY_INPUTS = {
    2: ((8,), "float32"),
    3: ((6, 4), "float32"),
    4: ((8, 8, 3), "float32"),
}


def _tiny_design(layer_type: catalog.LayerType):
    low = layer_type.input_rank[0] if layer_type.input_rank else 2
    shape, dtype = TINY_INPUTS[low]
    params = catalog.default_params(layer_type.type_id)
    if layer_type.type_id == "Embedding":
        shape, dtype = (6,), "int32"
    if layer_type.type_id == "Reshape":
        params["target_shape"] = [4, 2]
    if layer_type.type_id == "PositionEmbedding":
        params["max_length"] = 10
    if layer_type.type_id == "Concatenate":
        params["axis"] = -1
    nodes = [("inp", "Input", {"shape": list(shape), "dtype": dtype}),
             ("layer", layer_type.type_id, params)]
    edges = [("inp", "layer")]
    if layer_type.min_inputs >= 2:
        nodes.append(("inp2", "Input", {"shape": list(shape), "dtype": dtype}))
        edges.append(("inp2", "layer"))
    return design(nodes, edges)


NON_INPUT = [t for t in catalog.all_types() if not t.is_input]


@pytest.mark.parametrize("layer_type", NON_INPUT, ids=lambda t: t.type_id)
def test_every_layer_builds_and_matches_analysis(layer_type):
    tiny = _tiny_design(layer_type)
    report = analyze(tiny)
    assert report.ok, [p.message for p in report.problems]
    model = build_model(tiny)
    layer = model.get_layer("layer")
    assert tuple(layer.output.shape) == report.nodes["layer"].output_shape
    assert layer.count_params() == report.nodes["layer"].param_count
    # It runs on real numbers and gives the analysed shape.
    batch = []
    for model_input in model.inputs:
        shape = (2,) + tuple(model_input.shape[1:])
        if model_input.dtype == "int32":
            batch.append(np.ones(shape, dtype="int32"))
        else:
            batch.append(np.random.default_rng(0).random(shape).astype("float32"))
    out = model.predict(batch if len(batch) > 1 else batch[0], verbose=0)
    assert out.shape[1:] == report.nodes["layer"].output_shape[1:]


@pytest.mark.parametrize("layer_type", NON_INPUT, ids=lambda t: t.type_id)
def test_every_layer_config_round_trips(layer_type):
    layer = layer_type.build(catalog.default_params(layer_type.type_id) | (
        {"target_shape": [4, 2]} if layer_type.type_id == "Reshape" else {}), "layer")
    config = keras.layers.serialize(layer)
    again = keras.layers.deserialize(config)
    assert type(again) is type(layer)
    assert again.get_config() == layer.get_config()


def test_declarations_are_complete():
    ids = [t.type_id for t in catalog.LAYER_TYPES]
    assert len(ids) == len(set(ids)), "type ids must be unique"
    for layer_type in catalog.LAYER_TYPES:
        assert layer_type.category in catalog.CATEGORY_ORDER
        assert layer_type.help.endswith(".") and len(layer_type.help) > 20
        for key in layer_type.key_params:
            assert layer_type.param(key) is not None, (layer_type.type_id, key)
        for param in layer_type.params:
            clean, problems = catalog.check_params(layer_type, {param.name: param.default})
            assert not problems, (layer_type.type_id, problems)
        if not layer_type.is_input:
            assert layer_type.build is not None and layer_type.keras_class


def test_required_layer_types_are_present():
    required = """Input Dense Activation Dropout BatchNormalization LayerNormalization Flatten
    Reshape Rescaling Conv1D Conv2D Conv2DTranspose SeparableConv2D MaxPooling1D MaxPooling2D
    AveragePooling1D AveragePooling2D GlobalAveragePooling1D GlobalAveragePooling2D
    GlobalMaxPooling1D GlobalMaxPooling2D UpSampling2D ZeroPadding2D Embedding SimpleRNN LSTM
    GRU MultiHeadAttention PositionEmbedding Add Subtract Multiply Average Concatenate
    RandomFlip RandomRotation RandomZoom RandomTranslation RandomContrast""".split()
    assert not [t for t in required if catalog.get(t) is None]
    assert catalog.get("Lambda") is None


def test_activation_choices_cover_the_classics():
    activation = catalog.get("Activation").param("activation")
    for name in ["relu", "sigmoid", "tanh", "softmax", "gelu", "leaky_relu", "elu", "swish",
                 "linear"]:
        assert name in activation.choices


@pytest.mark.parametrize(
    ("type_id", "params", "fragment"),
    [
        ("Dense", {"units": -1}, "Dense 'units' must be at least 1; got -1."),
        ("Dense", {"units": 10**10}, "must be at most 65536"),
        ("Dense", {"units": "32"}, "must be a whole number; got '32'"),
        ("Dense", {"units": 32.5}, "must be a whole number"),
        ("Dense", {"activation": "exec"}, "must be one of relu"),
        ("Dense", {"use_bias": "yes"}, "must be true or false"),
        ("Dropout", {"rate": 1.5}, "must be at most 0.95"),
        ("Dropout", {"rate": float("nan")}, "must be a number"),
        ("Input", {"shape": [0, 3]}, "sizes must be positive"),
        ("Input", {"shape": "28x28"}, "must be a list of 1 to 4 whole numbers"),
        ("Reshape", {"target_shape": [-1, -1]}, "at most one -1"),
        ("Dense", {"kernel": 3}, "has no parameter 'kernel'"),
    ],
)
def test_bad_params_are_reported_with_a_sentence(type_id, params, fragment):
    _, problems = catalog.check_params(catalog.get(type_id), params)
    assert any(fragment in message for _, message in problems), problems


def test_whole_number_floats_are_accepted_as_ints():
    clean, problems = catalog.check_params(catalog.get("Dense"), {"units": 32.0})
    assert not problems and clean["units"] == 32 and isinstance(clean["units"], int)


def test_find_type_ignores_case_and_spacing():
    assert catalog.find_type("conv2d").type_id == "Conv2D"
    assert catalog.find_type("Batch normalization").type_id == "BatchNormalization"
    assert catalog.find_type("max_pooling_2d").type_id == "MaxPooling2D"
    assert catalog.find_type("nothing") is None
