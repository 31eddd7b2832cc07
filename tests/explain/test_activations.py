"""Activations: one forward pass shows every layer, with the right picture for each."""

import keras
import numpy as np
import pytest

from builder.compile import build_model
from builder.design import TEMPLATES_DIR, load_template
from builder.explain import activations, figures
from builder.explain.activations import ActivationError
from tests.explain.conftest import tiny_cnn


def test_activations_equal_the_layers_own_outputs():
    model = tiny_cnn((8, 8, 1), classes=3)
    sample = np.random.default_rng(0).random((8, 8, 1), dtype=np.float32)
    found = activations.layer_activations(model, sample)
    assert [a.name for a in found] == ["conv_1", "pool_1", "conv_2", "pool_2", "flatten",
                                       "classes"]
    kinds = {a.name: a.kind for a in found}
    assert kinds["conv_1"] == "feature_maps" and kinds["classes"] == "vector"
    by_hand = keras.Model(model.inputs[0], model.get_layer("conv_2").output)(sample[None])
    conv_2 = next(a for a in found if a.name == "conv_2")
    np.testing.assert_allclose(conv_2.values, np.asarray(by_hand)[0], rtol=1e-5)
    np.testing.assert_allclose(found[-1].values.sum(), 1.0, rtol=1e-5)  # softmax
    assert conv_2.summary()["zero_fraction"] == pytest.approx(np.mean(conv_2.values == 0))


def test_dropout_and_augmentation_stand_still():
    inputs = keras.Input((6,))
    dropped = keras.layers.Dropout(0.9, name="drop")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(dropped))
    sample = np.ones(6, "float32")
    first = activations.layer_activations(model, sample, ["drop"])[0].values
    np.testing.assert_array_equal(first, sample)


def test_sequence_layers_are_heatmaps_and_choices_keep_their_order():
    design = load_template(TEMPLATES_DIR / "lstm_classifier.json").design()
    model = build_model(design)
    length = model.inputs[0].shape[1]
    ids = np.arange(length) % 50
    found = activations.layer_activations(model, ids, ["lstm", "embedding"])
    assert [a.name for a in found] == ["lstm", "embedding"]
    embedding = found[1]
    assert embedding.kind == "sequence" and embedding.shape[0] == length
    for activation in found:
        figure = figures.activation_figure(activation)
        assert figure.data, activation.name


def test_bad_requests_name_the_layers_and_shapes():
    model = tiny_cnn((8, 8, 1))
    sample = np.zeros((8, 8, 1), "float32")
    with pytest.raises(ActivationError, match="No layer called 'nope'.*conv_1"):
        activations.layer_activations(model, sample, ["nope"])
    with pytest.raises(ActivationError, match=r"one sample of shape \(8, 8, 1\)"):
        activations.layer_activations(model, np.zeros((2, 8, 8, 1)))
    with pytest.raises(ActivationError, match="at least one layer"):
        activations.layer_activations(model, sample, [])
