"""Every family's SavedModel predicts, every call the same, what the app predicts.

A model of each family that exports a SavedModel (tabular MLP, CNN with augmentation
and Dropout, LSTM text classifier, Transformer, autoencoder, GAN generator) is
exported; one separate process with TensorFlow alone (no project code on its path)
loads every bundle and calls ``serve`` twice on the same raw inputs. The two answers
must be identical (augmentation, Dropout and batch statistics off) and equal the
app's own predictions (the Explore page's ``predictions.predict``) within 1e-5.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from bench import families as F
from builder import export
from builder.compile import build_model
from builder.design import TEMPLATES_DIR, load_template
from builder.explain import predictions

ROWS = 24

# Runs with `python -I`: only TensorFlow, no project folder on the path.
_SERVE_TWICE = """
import json, sys
import numpy as np
import tensorflow as tf
cases = json.load(open(sys.argv[1]))
for case in cases:
    model = tf.saved_model.load(case["folder"])
    stored = np.load(case["inputs"], allow_pickle=False)
    if case["dict"]:
        inputs = {k: tf.constant(stored[k]) for k in stored.files}
    else:
        inputs = tf.constant(stored["x"])
    first = model.serve(inputs).numpy()
    second = model.serve(inputs).numpy()
    np.save(case["answer"] + "_1.npy", first)
    np.save(case["answer"] + "_2.npy", second)
print(json.dumps({"builder_loaded": "builder" in sys.modules}))
"""

FAMILIES = [("mlp", "mlp_classifier"), ("cnn", "small_cnn"), ("lstm", "lstm_classifier"),
            ("transformer", "transformer_text"), ("autoencoder", "conv_autoencoder")]


def _model_case(name: str, slug: str, tmp_path):
    template = load_template(TEMPLATES_DIR / f"{slug}.json")
    design = template.design("model")
    data = F.prepare_for_design(template.sample, design)
    model = build_model(design)
    if name == "cnn":
        kinds = {type(layer).__name__ for layer in model.layers}
        assert {"RandomRotation", "Dropout"} <= kinds  # the case that answered at random
    app = predictions.predict(model, data, "validation", limit=ROWS).y_pred \
        if data.task == "reconstruction" else predictions.predict(
            model, data, "validation", limit=ROWS).outputs
    raw = data.raw("validation", ROWS)
    result = export.export_bundle(
        tmp_path / f"{name}.zip", design=design, model=model,
        serving_model=data.end_to_end(model), class_names=data.class_names,
        data_info=data.describe())
    inputs = tmp_path / f"{name}_inputs.npz"
    if isinstance(raw, dict):
        np.savez(inputs, **{k: np.asarray(v) for k, v in raw.items()})
    else:
        np.savez(inputs, x=np.asarray(raw))
    return result.path, inputs, isinstance(raw, dict), np.asarray(app)


def _gan_case(tmp_path):
    template = load_template(TEMPLATES_DIR / "gan_digits.json")
    generator_design = template.design("generator")
    generator = build_model(generator_design)
    noise = np.random.default_rng(0).normal(size=(ROWS, *generator.inputs[0].shape[1:]))
    noise = noise.astype("float32")
    app = generator.predict(noise, verbose=0)
    result = export.export_bundle(tmp_path / "gan.zip", design=generator_design,
                                  model=generator,
                                  discriminator_design=template.design("discriminator"))
    inputs = tmp_path / "gan_inputs.npz"
    np.savez(inputs, x=noise)
    return result.path, inputs, False, app


def test_every_familys_savedmodel_answers_the_same_twice_and_like_the_app(tmp_path):
    cases, expected = [], {}
    made = {name: _model_case(name, slug, tmp_path) for name, slug in FAMILIES}
    made["gan"] = _gan_case(tmp_path)
    for name, (bundle, inputs, is_dict, app) in made.items():
        folder = tmp_path / name
        zipfile.ZipFile(bundle).extractall(folder)
        cases.append({"folder": str(folder / "saved_model"), "inputs": str(inputs),
                      "dict": is_dict, "answer": str(tmp_path / f"{name}_answer")})
        expected[name] = app
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    done = subprocess.run([sys.executable, "-I", "-c", _SERVE_TWICE,
                           str(tmp_path / "cases.json")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"builder_loaded": False}
    for name, app in expected.items():
        first = np.load(tmp_path / f"{name}_answer_1.npy")
        second = np.load(tmp_path / f"{name}_answer_2.npy")
        np.testing.assert_array_equal(first, second, err_msg=f"{name}: two calls differ")
        np.testing.assert_allclose(first, app.reshape(first.shape), atol=1e-5,
                                   err_msg=f"{name}: the SavedModel differs from the app")


@pytest.mark.parametrize("name, slug", [("cnn", "small_cnn")])
def test_the_saved_serving_keras_predicts_without_augmenting(name, slug, tmp_path):
    """A reloaded serving .keras, called plainly, predicts: augmentation stays off."""
    import keras

    import builder.custom_layers  # noqa: F401  (our layers, for safe loading)

    template = load_template(TEMPLATES_DIR / f"{slug}.json")
    design = template.design("model")
    data = F.prepare_for_design(template.sample, design)
    model = build_model(design)
    data.end_to_end(model).save(tmp_path / "serving.keras")
    again = keras.saving.load_model(tmp_path / "serving.keras", safe_mode=True)
    raw = np.asarray(data.raw("validation", ROWS))
    first, second = np.asarray(again(raw)), np.asarray(again(raw))
    np.testing.assert_array_equal(first, second)
    app = predictions.predict(model, data, "validation", limit=ROWS).outputs
    np.testing.assert_allclose(first, app, atol=1e-5)
