"""A design against the data: Input shape, output units and activation, one-click fixes."""

from __future__ import annotations

import pytest

from builder.compile import build_model
from builder.data.images import prepare_images
from builder.data.link import apply_fix, check_link, fix_all
from builder.data.samples import load_sample
from builder.data.tabular import prepare_tabular
from builder.data.timeseries import prepare_timeseries
from tests.helpers import chain, design


@pytest.fixture(scope="module")
def iris():
    source = load_sample("iris")
    return prepare_tabular(source, source.target)


@pytest.fixture(scope="module")
def cancer():
    source = load_sample("breast_cancer")
    return prepare_tabular(source, source.target)


@pytest.fixture(scope="module")
def diabetes():
    source = load_sample("diabetes")
    return prepare_tabular(source, source.target)


@pytest.fixture(scope="module")
def topics():
    source = load_sample("topics")
    return prepare_tabular(source, source.target)


def codes(issues):
    return sorted(i.code for i in issues)


def test_a_fitting_design_has_no_issues(iris):
    fitting = chain(("Dense", {"units": 8}), ("Dense", {"units": 3, "activation": "softmax"}),
                    input_shape=(4,))
    assert check_link(fitting, iris) == []


def test_input_shape_follows_the_data(iris):
    wrong = chain(("Dense", {"units": 3, "activation": "softmax"}), input_shape=(30,))
    issues = check_link(wrong, iris)
    assert codes(issues) == ["input_shape"]
    assert "(30,)" in issues[0].message and "(4,)" in issues[0].message
    assert issues[0].fix_label == "Set the input shape to (4,)"
    fixed = apply_fix(wrong, iris, issues[0])
    assert fixed.node("inp").params["shape"] == [4]
    assert wrong.node("inp").params["shape"] == [30], "the fix returns a copy"
    assert check_link(fixed, iris) == []


@pytest.mark.parametrize("units, activation, expected", [
    (10, "softmax", ["output_units"]),
    (3, "relu", ["output_activation"]),
    (1, "sigmoid", ["output_activation", "output_units"]),
])
def test_multiclass_outputs(iris, units, activation, expected):
    wrong = chain(("Dense", {"units": units, "activation": activation}), input_shape=(4,))
    issues = check_link(wrong, iris)
    assert codes(issues) == expected
    assert all(i.fixable for i in issues)
    fixed = fix_all(wrong, iris)
    assert check_link(fixed, iris) == []
    assert fixed.node("n1").params["units"] == 3
    assert fixed.node("n1").params["activation"] == "softmax"


def test_binary_takes_one_sigmoid_unit_or_two_softmax_units(cancer):
    for units, activation in ((1, "sigmoid"), (2, "softmax")):
        right = chain(("Dense", {"units": units, "activation": activation}), input_shape=(30,))
        assert check_link(right, cancer) == []
    wrong = chain(("Dense", {"units": 3, "activation": "softmax"}), input_shape=(30,))
    issues = check_link(wrong, cancer)
    assert codes(issues) == ["output_activation", "output_units"]
    activation = next(i for i in issues if i.code == "output_activation")
    assert "binary cross-entropy" in activation.message and "sigmoid" in activation.message
    fixed = fix_all(wrong, cancer)
    assert fixed.node("n1").params == {"units": 1, "activation": "sigmoid"}


def test_regression_needs_a_linear_output(diabetes):
    wrong = chain(("Dense", {"units": 1, "activation": "relu"}), input_shape=(10,))
    issues = check_link(wrong, diabetes)
    assert codes(issues) == ["output_activation"]
    assert "linear" in issues[0].fix_label


def test_an_activation_node_after_the_dense(iris):
    two_step = chain(("Dense", {"units": 5, "activation": "linear"}),
                     ("Activation", {"activation": "sigmoid"}), input_shape=(4,))
    issues = check_link(two_step, iris)
    assert {(i.code, i.node_id) for i in issues} == {("output_units", "n1"),
                                                   ("output_activation", "n2")}
    fixed = fix_all(two_step, iris)
    assert fixed.node("n1").params["units"] == 3
    assert fixed.node("n2").params["activation"] == "softmax"


def test_a_non_dense_output_gets_a_dense_appended():
    digits = prepare_images(load_sample("digits"))
    conv = chain(("Conv2D", {"filters": 4, "padding": "same"}), input_shape=(8, 8, 1))
    issues = check_link(conv, digits)
    assert codes(issues) == ["output_layer"]
    assert "not a flat vector" in issues[0].message
    fixed = fix_all(conv, digits)
    assert [n.type for n in fixed.nodes] == ["Input", "Conv2D", "Flatten", "Dense"]
    assert check_link(fixed, digits) == []
    model = build_model(fixed)
    assert model.output.shape == (None, 10)


def test_dense_on_a_sequence_is_explained():
    series = prepare_timeseries(load_sample("energy"), "demand", window=12)
    per_step = chain(("LSTM", {"units": 8, "return_sequences": True}),
                     ("Dense", {"units": 1, "activation": "linear"}), input_shape=(12, 2))
    issues = check_link(per_step, series)
    assert codes(issues) == ["output_shape"]
    assert not issues[0].fixable and "return sequences" in issues[0].message


def test_text_needs_int_tokens_and_big_enough_embeddings(topics):
    vocab = topics.info["vocabulary_size"]
    length = topics.info["sequence_length"]
    text = chain(("Embedding", {"input_dim": 10, "output_dim": 8}),
                 ("PositionEmbedding", {"max_length": 2}), "GlobalAveragePooling1D",
                 ("Dense", {"units": 4, "activation": "softmax"}), input_shape=(length,))
    issues = check_link(text, topics)
    assert codes(issues) == ["embedding_vocab", "input_dtype", "position_length"]
    fixed = fix_all(text, topics)
    assert check_link(fixed, topics) == []
    assert fixed.node("n1").params["input_dim"] == vocab
    assert fixed.node("n2").params["max_length"] == length
    assert fixed.node("inp").params["dtype"] == "int32"


def test_reconstruction_checks_the_output_shape():
    digits = prepare_images(load_sample("digits"), task="reconstruction")
    short = chain("Flatten", ("Dense", {"units": 10, "activation": "sigmoid"}),
                  input_shape=(8, 8, 1))
    assert codes(check_link(short, digits)) == ["output_shape"]
    auto = chain(("Conv2D", {"filters": 1, "padding": "same", "activation": "relu"}),
                 input_shape=(8, 8, 1))
    issues = check_link(auto, digits)
    assert codes(issues) == ["output_activation"]
    assert check_link(fix_all(auto, digits), digits) == []


def test_designs_with_several_inputs_or_outputs(iris):
    two_in = design([("a", "Input", {"shape": [4]}), ("b", "Input", {"shape": [4]}),
                     ("m", "Concatenate"), ("o", "Dense", {"units": 3,
                                                           "activation": "softmax"})],
                    [("a", "m"), ("b", "m"), ("m", "o")])
    issues = check_link(two_in, iris)
    assert codes(issues) == ["input_count"] and not issues[0].fixable
    two_out = design([("a", "Input", {"shape": [4]}), ("o1", "Dense"), ("o2", "Dense")],
                     [("a", "o1"), ("a", "o2")])
    assert codes(check_link(two_out, iris)) == ["output_count"]
    assert fix_all(two_out, iris).to_dict() == two_out.to_dict()
