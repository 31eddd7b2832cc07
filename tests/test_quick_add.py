"""Quick-add text: a layer typed as words."""

import pytest

from builder import catalog
from builder.quick_add import QuickAddError, describe, parse


@pytest.mark.parametrize("text, type_id, params", [
    ("Conv2D 32 3 relu", "Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}),
    ("Dense 10 softmax", "Dense", {"units": 10, "activation": "softmax"}),
    ("dense 10", "Dense", {"units": 10}),
    ("Input 28 28 1", "Input", {"shape": [28, 28, 1]}),
    ("Input 28x28x1 int32", "Input", {"shape": [28, 28, 1], "dtype": "int32"}),
    ("Input (28, 28, 1)", "Input", {"shape": [28, 28, 1]}),
    ("Dropout 0.3", "Dropout", {"rate": 0.3}),
    ("LSTM 64 return_sequences", "LSTM", {"units": 64, "return_sequences": True}),
    ("Batch normalization 0.9", "BatchNormalization", {"momentum": 0.9}),
    ("Reshape 7 7 -1", "Reshape", {"target_shape": [7, 7, -1]}),
    ("MaxPooling2D 2 none same", "MaxPooling2D",
     {"pool_size": 2, "strides": None, "padding": "same"}),
    ("Conv2D 32 3 strides=2", "Conv2D", {"filters": 32, "kernel_size": 3, "strides": 2}),
    ("Dense 10 no_use_bias", "Dense", {"units": 10, "use_bias": False}),
    ("Dense 10 use_bias=false", "Dense", {"units": 10, "use_bias": False}),
    ("Flatten", "Flatten", {}),
])
def test_texts_become_layers(text, type_id, params):
    parsed = parse(text)
    assert parsed.layer_type.type_id == type_id
    assert parsed.params == params


@pytest.mark.parametrize("text, words", [
    ("", "Type a layer"),
    ("   ", "Type a layer"),
    (None, "Type a layer"),
    ("Foo 3", "'Foo' is not a layer type"),
    ("Dns 3", "Did you mean Dense"),
    ("Dense banana", "'banana' is not a value Dense understands"),
    ("Dense 10 20", "'20' is one too many"),
    ("Dense -1", "Dense 'units' must be at least 1; got -1."),
    ("Dense units=abc", "'units' must be a number"),
    ("Dense color=red", "Dense has no parameter 'color'"),
    ("Dropout 2", "must be at most 0.95"),
    ("Input 0", "sizes must be positive"),
    ("Dense nan", "not a value Dense understands"),
    ("Dense " + "1" * 300, "at most 200 characters"),
])
def test_bad_texts_say_what_is_wrong(text, words):
    with pytest.raises(QuickAddError) as err:
        parse(text)
    assert words in str(err.value)


@pytest.mark.parametrize("layer_type", catalog.all_types(), ids=lambda t: t.type_id)
def test_every_node_face_text_parses_back_to_its_key_params(layer_type):
    params = catalog.default_params(layer_type.type_id)
    text = describe(layer_type, params)
    parsed = parse(text)
    assert parsed.layer_type.type_id == layer_type.type_id
    for name in layer_type.key_params:
        expected, got = params[name], parsed.params.get(name, params[name])
        if isinstance(expected, float):
            assert got == pytest.approx(expected, rel=1e-5)
        else:
            assert got == expected


def test_describe_names_values_that_cannot_go_by_position():
    conv = catalog.get("Conv2DTranspose")
    assert describe(conv, {"filters": 8, "kernel_size": 5, "strides": 1}) == (
        "Conv2DTranspose 8 5 1")
    lstm = catalog.get("LSTM")
    assert describe(lstm, {"units": 16, "return_sequences": True, "bidirectional": True}) == (
        "LSTM 16 return_sequences bidirectional")


def test_describe_survives_garbage_params():
    dense = catalog.get("Dense")
    assert describe(dense, {"units": "<b>x</b>"}).startswith("Dense <b>x</b>")
    assert describe(dense, None) == "Dense 32 relu"
