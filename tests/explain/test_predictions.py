"""Predictions on real prepared data: labels, units, scores, per-sample rows, "try it"."""

import io

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn import metrics as sk

from builder.data.images import prepare_images
from builder.data.samples import load_sample
from builder.data.tabular import prepare_tabular
from builder.explain import predictions, saliency
from builder.explain.predictions import ExploreError


def table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                          "colour": rng.choice(["red", "green", "blue"], n)})
    frame["label"] = np.where(frame.a > 0, "yes", "no")
    frame["amount"] = 100 + 20 * frame.a - 5 * frame.b
    return frame


def mlp(inputs: int, units: int, activation: str, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    x = keras.Input((inputs,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    return keras.Model(x, keras.layers.Dense(units, activation=activation, name="out")(hidden))


@pytest.fixture(scope="module")
def binary_run():
    prepared = prepare_tabular(table().drop(columns="amount"), "label", task="binary")
    model = mlp(prepared.input_shape[0], 1, "sigmoid")
    model.compile("adam", "binary_crossentropy")
    x, y = prepared.arrays("train")
    model.fit(x, y, epochs=100, batch_size=32, verbose=0)
    return prepared, model


def test_binary_predictions_carry_labels_probabilities_and_curves(binary_run):
    prepared, model = binary_run
    result = predictions.predict(model, prepared, "validation")
    _, y = prepared.arrays("validation")
    assert result.y_true.tolist() == y[:, 0].astype(int).tolist()
    assert result.probabilities.shape == (len(y), 2)
    np.testing.assert_allclose(result.probabilities[:, 1], model.predict(
        prepared.arrays("validation")[0], verbose=0)[:, 0], rtol=1e-5)
    assert result.class_names == prepared.class_names
    scores = predictions.evaluate(result)
    assert scores["accuracy"] == pytest.approx(sk.accuracy_score(result.y_true, result.y_pred))
    assert scores["roc_auc"] == pytest.approx(sk.roc_auc_score(result.y_true,
                                                               result.probabilities[:, 1]))
    assert scores["accuracy"] > 0.85  # the label is the sign of one column
    assert scores["confusion"].sum() == len(result)


def test_per_sample_rows_put_mistakes_first(binary_run):
    prepared, model = binary_run
    result = predictions.predict(model, prepared, "validation")
    rows = predictions.sample_table(result)
    assert len(rows) == len(result)
    wrong = [r for r in rows if not r["correct"]]
    assert rows[:len(wrong)] == wrong
    assert [r["p(true)"] for r in wrong] == sorted(r["p(true)"] for r in wrong)
    assert set(rows[0]) == {"sample", "true", "predicted", "confidence", "p(true)", "correct",
                            "top predictions"}


def test_try_it_predicts_a_typed_row_like_the_validation_pipeline(binary_run):
    prepared, model = binary_run
    frame = pd.DataFrame({"a": [2.5, -2.5], "b": [0.0, 0.0], "colour": ["red", "purple"]})
    answer = predictions.predict_raw(model, prepared, prepared.raw_inputs_from_frame(frame))
    names = [prepared.class_names[i] for i in answer["predicted"]]
    assert names == ["yes", "no"]
    assert answer["probabilities"].shape == (2, 2)


def test_tabular_attributions_credit_the_raw_column_that_decides(binary_run):
    prepared, model = binary_run
    rows = prepared.raw("validation", 40)
    baseline = saliency.raw_baseline(prepared.raw("train"))
    result = saliency.tabular_attributions(model, prepared.preprocessing, rows, baseline,
                                           steps=64)
    assert result.names == ["a", "b", "colour"]
    assert result.values.shape == (40, 3)
    importance = result.mean_absolute()
    assert importance.argmax() == 0, importance
    # Completeness, through the preprocessing: attributions add up to the score change.
    z = predictions.model_inputs(prepared, rows)
    base_rows = {k: np.repeat(np.asarray(v)[None], 40, axis=0) for k, v in baseline.items()}
    z_base = predictions.model_inputs(prepared, base_rows)
    scores = saliency.class_scores(model, z)
    base_scores = saliency.class_scores(model, z_base)
    picked = np.arange(40), result.targets
    np.testing.assert_allclose(result.values.sum(axis=1),
                               scores[picked] - base_scores[picked], atol=2e-2)
    # A category equal to the baseline's gets nothing.
    same = np.flatnonzero(rows["colour"][:, 0] == baseline["colour"][0])
    assert len(same) and np.all(result.values[same, 2] == 0)


def test_regression_is_scored_in_the_target_units():
    prepared = prepare_tabular(table().drop(columns="label"), "amount", task="regression")
    model = mlp(prepared.input_shape[0], 1, "linear")
    model.compile("adam", "mse")
    x, y = prepared.arrays("train")
    model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    result = predictions.predict(model, prepared, "validation")
    frame_amounts = prepared.to_target_units(prepared.arrays("validation")[1])
    np.testing.assert_allclose(result.y_true, frame_amounts, rtol=1e-5)
    assert 60 < result.y_true.mean() < 140  # dollars, not standardised units
    scores = predictions.evaluate(result)
    assert scores["mae"] == pytest.approx(sk.mean_absolute_error(result.y_true, result.y_pred))
    assert scores["r2"] == pytest.approx(sk.r2_score(result.y_true, result.y_pred))
    assert scores["per_target"][0]["target"] == "amount"
    rows = predictions.sample_table(result)
    assert rows[0]["absolute error"] == max(r["absolute error"] for r in rows)


@pytest.fixture(scope="module")
def digits():
    return prepare_images(load_sample("digits"), size=(8, 8), channels=1)


def test_image_predictions_and_an_uploaded_picture(digits):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    train_x, train_y = digits.arrays("train")
    model.fit(train_x, train_y, epochs=15, verbose=0)
    result = predictions.predict(model, digits, "validation", limit=100)
    assert result.x.shape == (100, 8, 8, 1)
    assert 0.0 <= result.x.min() and result.x.max() <= 1.0
    assert predictions.evaluate(result)["accuracy"] > 0.8
    # An uploaded image of a validation digit, larger and in colour, is read back.
    raw = digits.raw("validation", 1)[0]
    picture = Image.fromarray(np.repeat(raw, 3, axis=2)).resize((32, 32), Image.NEAREST)
    data = io.BytesIO()
    picture.save(data, format="PNG")
    pixels = predictions.image_pixels(data.getvalue(), channels=1)
    assert pixels.shape == (32, 32, 1)
    answer = predictions.predict_raw(model, digits, pixels[None])
    assert answer["inputs"].shape == (1, 8, 8, 1)
    assert answer["predicted"][0] == result.y_pred[0]


def test_reconstruction_predictions_compare_images(digits):
    from builder.data.images import prepare_images as prepare

    auto = prepare(load_sample("digits"), size=(8, 8), channels=1, task="reconstruction")
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid")(inputs))
    result = predictions.predict(model, auto, "validation", limit=10)
    scores = predictions.evaluate(result)
    assert scores["per_sample_mse"].shape == (10,)
    expected = np.mean((result.y_true - result.y_pred) ** 2)
    assert scores["mse"] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ExploreError, match="originals beside reconstructions"):
        predictions.sample_table(result)


def test_text_tokens_are_read_back_from_the_vocabulary():
    prepared = prepare_tabular(load_sample("topics").frame, "topic", task="multiclass")
    words = predictions.vocabulary(prepared)
    assert words[:2] == ["", "[UNK]"]
    x, _ = prepared.arrays("validation", 1)
    tokens = predictions.tokens_of(prepared, x[0])
    assert len(tokens) == prepared.input_shape[0]
    text = prepared.raw("validation", 1)[0]
    assert [t for t in tokens if t][:3] == [w.lower() for w in text.split()][:3]


def test_unusable_requests_are_sentences(binary_run, digits):
    prepared, model = binary_run
    with pytest.raises(ExploreError, match="no 'holdout' split"):
        predictions.predict(model, prepared, "holdout")
    with pytest.raises(ExploreError, match="trained on"):
        predictions.predict(model, digits, "validation")
    with pytest.raises(ExploreError, match="not an image"):
        predictions.image_pixels(b"not a picture", channels=1)
