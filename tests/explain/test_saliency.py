"""Saliency: shapes, exact values on models with known gradients, batching, sanity checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from builder.explain import saliency
from builder.explain.saliency import SaliencyError
from tests.explain.conftest import tiny_cnn


def left_share(maps: np.ndarray) -> np.ndarray:
    """Share of each map's absolute mass in the left half of the image."""
    maps = np.abs(maps)
    width = maps.shape[2]
    return maps[:, :, : width // 2].sum(axis=(1, 2)) / maps.sum(axis=(1, 2))


def as_maps(attribution):
    if attribution.method == "grad_cam":
        return attribution.values
    return np.abs(attribution.values).sum(axis=-1)


# -- the sanity tests -------------------------------------------------------------------------


@pytest.mark.parametrize("method", saliency.METHODS)
def test_saliency_mass_falls_on_the_half_that_decides_the_label(left_half_model, method):
    model, x, y = left_half_model
    attribution = saliency.explain(model, x, method)
    share = left_share(as_maps(attribution))
    # Where the evidence is a square on the left, most of the mass must be there.
    assert share[y == 1].mean() > 0.6, share[y == 1].mean()
    assert share.mean() > 0.55, share.mean()


@pytest.mark.parametrize("method, ceiling", [
    ("vanilla", 0.5), ("smoothgrad", 0.5), ("grad_cam", 0.6),
    # Integrated Gradients multiplies by the input, so some likeness to the image stays.
    ("integrated_gradients", 0.8),
])
def test_randomising_the_weights_changes_the_map(left_half_model, method, ceiling):
    model, x, _ = left_half_model
    check = saliency.model_randomization_check(model, x[:16], method, seed=3)
    assert check["mean"] < ceiling, check
    # The same model gives the same map: the check can tell the two apart.
    same = saliency.explain(model, x[:4], method)
    again = saliency.explain(model, x[:4], method)
    maps_a = saliency.image_heatmap(same)
    maps_b = saliency.image_heatmap(again)
    assert saliency.rank_correlation(maps_a[0], maps_b[0]) == pytest.approx(1.0)


def test_the_randomised_copy_keeps_the_architecture_and_not_the_weights(left_half_model):
    model, x, _ = left_half_model
    copy = saliency.randomized_copy(model, seed=1)
    assert [layer.name for layer in copy.layers] == [layer.name for layer in model.layers]
    kernel, fresh = model.get_layer("conv_1").kernel, copy.get_layer("conv_1").kernel
    assert kernel.shape == fresh.shape
    assert not np.allclose(np.asarray(kernel), np.asarray(fresh))
    again = saliency.randomized_copy(model, seed=1)
    np.testing.assert_array_equal(np.asarray(fresh), np.asarray(again.get_layer("conv_1").kernel))


# -- exact values on models whose gradients are known ---------------------------------------------


def linear_model(weights: np.ndarray, activation="softmax") -> keras.Model:
    inputs = keras.Input((weights.shape[0],))
    layer = keras.layers.Dense(weights.shape[1], activation=activation, name="out")
    outputs = layer(inputs)
    model = keras.Model(inputs, outputs)
    layer.set_weights([weights.astype("float32"), np.zeros(weights.shape[1], "float32")])
    return model


def test_gradients_are_of_the_class_logit_not_the_saturated_probability():
    weights = np.array([[1.0, -2.0], [3.0, 0.5], [0.0, 4.0]])
    model = linear_model(weights)
    x = np.array([[10.0, 10.0, 10.0], [0.1, 0.2, 0.3]], "float32")
    attribution = saliency.vanilla_gradients(model, x, target=1)
    np.testing.assert_allclose(attribution.values, np.tile(weights[:, 1], (2, 1)), rtol=1e-6)
    assert attribution.targets.tolist() == [1, 1]


def test_the_predicted_class_is_explained_by_default():
    weights = np.array([[1.0, -1.0], [-1.0, 1.0]])
    model = linear_model(weights)
    x = np.array([[2.0, 0.0], [0.0, 2.0]], "float32")
    attribution = saliency.vanilla_gradients(model, x)
    assert attribution.targets.tolist() == [0, 1]
    np.testing.assert_allclose(attribution.values, [weights[:, 0], weights[:, 1]])


def test_a_sigmoid_unit_has_two_classes_with_opposite_gradients():
    model = linear_model(np.array([[2.0], [-1.0]]), activation="sigmoid")
    x = np.array([[1.0, 1.0]], "float32")
    positive = saliency.vanilla_gradients(model, x, target=1).values
    negative = saliency.vanilla_gradients(model, x, target=0).values
    np.testing.assert_allclose(positive, [[2.0, -1.0]])
    np.testing.assert_allclose(negative, [[-2.0, 1.0]])


def test_integrated_gradients_of_a_linear_model_is_input_times_weight():
    weights = np.array([[1.5, 0.0], [-2.0, 1.0], [0.5, 3.0]])
    model = linear_model(weights)
    x = np.array([[1.0, 2.0, -1.0]], "float32")
    baseline = np.array([0.5, 0.0, 0.0], "float32")
    attribution = saliency.integrated_gradients(model, x, target=0, baseline=baseline, steps=4)
    np.testing.assert_allclose(attribution.values, [(x[0] - baseline) * weights[:, 0]],
                               rtol=1e-6)


def test_integrated_gradients_is_complete_on_a_nonlinear_model(left_half_model):
    model, x, _ = left_half_model
    attribution = saliency.integrated_gradients(model, x[:3], steps=64)
    scores = saliency.class_scores(model, x[:3])[np.arange(3), attribution.targets]
    gap = saliency.completeness_gap(model, x[:3], attribution)
    assert np.all(gap < 0.05 * np.abs(scores) + 1e-3), (gap, scores)


def test_smoothgrad_without_noise_is_vanilla_and_noise_is_repeatable(left_half_model):
    model, x, _ = left_half_model
    plain = saliency.vanilla_gradients(model, x[:2]).values
    quiet = saliency.smoothgrad(model, x[:2], samples=5, noise=0.0).values
    np.testing.assert_allclose(quiet, plain, rtol=1e-4, atol=1e-6)
    first = saliency.smoothgrad(model, x[:2], samples=5, seed=7).values
    second = saliency.smoothgrad(model, x[:2], samples=5, seed=7).values
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, plain)


def test_grad_cam_matches_a_hand_written_computation(left_half_model):
    model, x, y = left_half_model
    sample = x[np.flatnonzero(y == 1)[:1]]
    probe = keras.Model(model.inputs[0], [model.get_layer("conv_1").output,
                                          model.get_layer("classes").input])
    with tf.GradientTape() as tape:
        maps, features = probe(sample)
        logits = features @ model.get_layer("classes").kernel + model.get_layer("classes").bias
        score = logits[0, 1]
    grads = tape.gradient(score, maps)
    expected = tf.nn.relu(tf.reduce_sum(tf.reduce_mean(grads, axis=(1, 2), keepdims=True) * maps,
                                        axis=-1))[0].numpy()
    assert expected.max() > 0
    expected = expected / expected.max()
    cam = saliency.grad_cam(model, sample, target=1, layer="conv_1")
    assert cam.layer == "conv_1"
    # conv_1 keeps the input size, so no resizing happens and the maps must agree.
    np.testing.assert_allclose(cam.values[0], expected, atol=1e-5)


# -- shapes and options ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", saliency.METHODS)
def test_each_method_gives_one_map_per_sample_in_the_input_shape(method):
    model = tiny_cnn((12, 10, 3), classes=3)
    x = np.random.default_rng(0).random((5, 12, 10, 3), dtype=np.float32)
    attribution = saliency.explain(model, x, method, target=2)
    expected = (5, 12, 10) if method == "grad_cam" else (5, 12, 10, 3)
    assert attribution.values.shape == expected
    assert attribution.targets.tolist() == [2] * 5
    heat = saliency.image_heatmap(attribution)
    assert heat.shape == (5, 12, 10)
    assert heat.min() >= 0 and heat.max() <= 1
    one = saliency.explain(model, x[0], method, target=2)
    assert one.values.shape == (1,) + expected[1:]


def test_grad_cam_picks_the_last_convolution_and_takes_any_other():
    model = tiny_cnn((16, 16, 1))
    assert saliency.conv_layer_names(model) == ["conv_1", "conv_2"]
    x = np.random.default_rng(1).random((2, 16, 16, 1), dtype=np.float32)
    assert saliency.grad_cam(model, x).layer == "conv_2"
    assert saliency.grad_cam(model, x, layer="conv_1").values.shape == (2, 16, 16)
    with pytest.raises(SaliencyError, match="choose one of conv_1, conv_2"):
        saliency.grad_cam(model, x, layer="pool_1")


def token_model():
    keras.utils.set_random_seed(0)
    tokens = keras.Input((12,), dtype="int32", name="tokens")
    embedded = keras.layers.Embedding(40, 6, name="embedding")(tokens)
    hidden = keras.layers.LSTM(5, name="lstm")(embedded)
    outputs = keras.layers.Dense(3, activation="softmax", name="classes")(hidden)
    return keras.Model(tokens, outputs)


@pytest.mark.parametrize("method", ["vanilla", "smoothgrad", "integrated_gradients"])
def test_token_models_are_explained_per_token(method):
    model = token_model()
    ids = np.random.default_rng(0).integers(0, 40, (4, 12))
    attribution = saliency.explain(model, ids, method)
    assert attribution.space == "embedding"
    assert attribution.values.shape == (4, 12, 6)
    assert saliency.per_position(attribution).shape == (4, 12)


def test_integrated_gradients_per_token_add_up_to_the_score_change():
    model = token_model()
    ids = np.random.default_rng(2).integers(0, 40, (2, 12))
    attribution = saliency.integrated_gradients(model, ids, steps=64)
    gap = saliency.completeness_gap(model, ids, attribution)
    assert np.all(gap < 1e-2), gap


def test_time_series_get_one_attribution_per_step_and_feature():
    keras.utils.set_random_seed(0)
    window = keras.Input((20, 3))
    hidden = keras.layers.GRU(4, name="gru")(window)
    value = keras.layers.Dense(1, name="next_value")(hidden)
    model = keras.Model(window, value)
    x = np.random.default_rng(0).normal(size=(3, 20, 3)).astype("float32")
    attribution = saliency.integrated_gradients(model, x, single_output="value")
    assert attribution.values.shape == (3, 20, 3)
    assert attribution.targets.tolist() == [0, 0, 0]
    assert saliency.per_position(attribution).shape == (3, 20)
    gap = saliency.completeness_gap(model, x, attribution, single_output="value")
    assert np.all(gap < 1e-2), gap


# -- batching: noisy copies and path points go through the model in batches --------------------


def count_rows(explainer, name):
    calls = []
    original = getattr(explainer, name)

    def counted(*args):
        calls.append(len(args[2] if name == "path_grads" else args[1]))
        return original(*args)

    setattr(explainer, name, counted)
    return calls, lambda: setattr(explainer, name, original)


def test_smoothgrad_sends_its_noisy_copies_as_batches():
    model = tiny_cnn((8, 8, 1), seed=4)
    x = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    calls, restore = count_rows(saliency.explainer(model), "noisy_grads")
    try:
        saliency.smoothgrad(model, x[:1], samples=25, batch_size=64)
        assert calls == [25]  # all 25 copies in one call
        calls.clear()
        saliency.smoothgrad(model, x, samples=25, batch_size=64)
        assert calls == [50, 25]  # two images' copies, then the third's
        calls.clear()
        saliency.smoothgrad(model, x[:1], samples=25, batch_size=10)
        assert calls == [10, 10, 5]
    finally:
        restore()


def test_integrated_gradients_sends_its_path_as_batches():
    model = tiny_cnn((8, 8, 1), seed=5)
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    calls, restore = count_rows(saliency.explainer(model), "path_grads")
    try:
        saliency.integrated_gradients(model, x, steps=32, batch_size=128)
        assert calls == [66]  # both images' 33 path points in one call
    finally:
        restore()
    chunked = saliency.integrated_gradients(model, x, steps=32, batch_size=7).values
    whole = saliency.integrated_gradients(model, x, steps=32, batch_size=128).values
    np.testing.assert_allclose(chunked, whole, rtol=1e-4, atol=1e-6)


# -- bad requests are sentences ---------------------------------------------------------


def test_bad_requests_say_what_to_do():
    model = tiny_cnn((8, 8, 1))
    x = np.zeros((1, 8, 8, 1), "float32")
    with pytest.raises(SaliencyError, match=r"takes samples of shape \(8, 8, 1\)"):
        saliency.vanilla_gradients(model, np.zeros((1, 9, 8, 1)))
    with pytest.raises(SaliencyError, match="2 classes"):
        saliency.vanilla_gradients(model, x, target=5)
    with pytest.raises(SaliencyError, match="NaN"):
        saliency.vanilla_gradients(model, np.full((1, 8, 8, 1), np.nan))
    with pytest.raises(SaliencyError, match="'samples' must be a whole number"):
        saliency.smoothgrad(model, x, samples=0)
    with pytest.raises(SaliencyError, match="'noise' must be a fraction"):
        saliency.smoothgrad(model, x, noise=3)
    with pytest.raises(SaliencyError, match="Unknown saliency method"):
        saliency.explain(model, x, "guided_backprop")
    with pytest.raises(SaliencyError, match="baseline must have one sample's shape"):
        saliency.integrated_gradients(model, x, baseline=np.zeros(3))
    dense = linear_model(np.ones((4, 2)))
    with pytest.raises(SaliencyError, match="needs images"):
        saliency.grad_cam(dense, np.zeros((1, 4)))
    inputs = keras.Input((4,))
    two = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(3)(inputs)])
    with pytest.raises(SaliencyError, match="one output; this one has 2"):
        saliency.vanilla_gradients(two, np.zeros((1, 4)))
    autoencoder_in = keras.Input((8, 8, 1))
    autoencoder = keras.Model(autoencoder_in, keras.layers.Conv2D(1, 3, padding="same")(
        autoencoder_in))
    with pytest.raises(SaliencyError, match="autoencoder"):
        saliency.vanilla_gradients(autoencoder, x)
    tokens = keras.Input((5,), dtype="int32")
    no_embedding = keras.Model(tokens, keras.layers.Dense(2)(keras.layers.Rescaling(1.0)(tokens)))
    with pytest.raises(SaliencyError, match="Embedding"):
        saliency.vanilla_gradients(no_embedding, np.zeros((1, 5), "int32"))
