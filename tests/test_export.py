"""builder.export: the bundle, checked by a plain TensorFlow process that knows no project code."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from builder import export
from builder.compile import build_model
from tests.helpers import chain

# Runs with `python -I`: no project folder on the path, only TensorFlow.
_SERVE = """
import json, sys
import numpy as np
import tensorflow as tf
folder, request, answer = sys.argv[1:]
raw = json.load(open(request))
model = tf.saved_model.load(folder)
if "columns" in raw:
    inputs = {k: tf.constant(v["value"], dtype=v["dtype"]) for k, v in raw["columns"].items()}
else:
    inputs = tf.constant(raw["value"], dtype=raw["dtype"])
out = model.serve(inputs)
names = [n.decode() for n in model.class_names().numpy()] if hasattr(model, "class_names") else []
np.save(answer, out.numpy())
print(json.dumps({"class_names": names, "has_builder": "builder" in sys.modules}))
"""


def _serve_elsewhere(tmp_path, bundle: zipfile.ZipFile, request) -> tuple[np.ndarray, dict]:
    folder = tmp_path / "unzipped"
    bundle.extractall(folder)
    (tmp_path / "request.json").write_text(json.dumps(request))
    done = subprocess.run(
        [sys.executable, "-I", "-c", _SERVE, str(folder / "saved_model"),
         str(tmp_path / "request.json"), str(tmp_path / "answer.npy")],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.load(tmp_path / "answer.npy"), json.loads(done.stdout.strip().splitlines()[-1])


def _tabular():
    """A design on 3 features, and raw CSV columns -> preprocessing -> design."""
    design = chain(("Dense", {"units": 6}), ("Dense", {"units": 3, "activation": "softmax"}),
                   input_shape=(3,))
    design.name = "rows"
    model = build_model(design)
    raw = {"age": keras.Input((1,), name="age"),
           "height": keras.Input((1,), name="height"),
           "colour": keras.Input((1,), dtype="string", name="colour")}
    lookup = keras.layers.StringLookup(vocabulary=["red", "blue"], num_oov_indices=1)
    columns = [keras.layers.Normalization(mean=40.0, variance=100.0)(raw["age"]),
               keras.layers.Rescaling(0.01)(raw["height"]),
               keras.layers.Rescaling(1.0)(lookup(raw["colour"]))]
    preprocessing = keras.Model(raw, keras.layers.Concatenate()(columns))
    serving = keras.Model(raw, model(preprocessing(raw)))
    request = {"age": {"value": [[31.0], [58.5], [44.0]], "dtype": "float32"},
               "height": {"value": [[170.0], [155.5], [190.0]], "dtype": "float32"},
               "colour": {"value": [["red"], ["blue"], ["green"]], "dtype": "string"}}
    return design, model, serving, request


def test_tabular_savedmodel_predicts_from_raw_columns_like_the_app(tmp_path):
    design, model, serving, request = _tabular()
    history = [{"epoch": 1, "loss": 1.2, "accuracy": 0.4}, {"epoch": 2, "loss": 0.9}]
    result = export.export_bundle(
        tmp_path / "rows.zip", design=design, model=model, serving_model=serving,
        history=history, config={"epochs": 2, "batch_size": 8},
        class_names=["low", "mid", "high"], data_info={"kind": "tabular"})
    bundle = zipfile.ZipFile(result.path)
    names = set(bundle.namelist())
    assert {"saved_model/saved_model.pb", "model.keras", "design.json", "history.csv",
            "config.json", "model.py", "README.md", "class_names.txt"} <= names
    expected = np.asarray(serving({k: tf.constant(v["value"], dtype=v["dtype"])
                                   for k, v in request.items()}, training=False))
    got, facts = _serve_elsewhere(tmp_path, bundle, {"columns": request})
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert facts == {"class_names": ["low", "mid", "high"], "has_builder": False}

    rows = list(csv.DictReader(io.StringIO(bundle.read("history.csv").decode())))
    assert [r["loss"] for r in rows] == ["1.2", "0.9"] and rows[1]["accuracy"] == ""
    assert json.loads(bundle.read("config.json"))["training"]["batch_size"] == 8
    assert json.loads(bundle.read("design.json"))["name"] == "rows"
    readme = bundle.read("README.md").decode()
    assert "| colour | (batch, 1) | string |" in readme
    assert 'tf.saved_model.load("saved_model")' in readme and "low, mid, high" in readme
    assert "tf2onnx" in readme  # ONNX is explained, not silently missing
    (tmp_path / "m.keras").write_bytes(bundle.read("model.keras"))
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert reloaded.count_params() == model.count_params()


def test_image_savedmodel_takes_raw_pixels_and_converts_to_tflite(tmp_path):
    design = chain(("Conv2D", {"filters": 4, "kernel_size": 3}), "Flatten",
                   ("Dense", {"units": 2, "activation": "softmax"}), input_shape=(8, 8, 1))
    model = build_model(design)
    pixels = keras.Input((8, 8, 1), dtype="uint8", name="pixels")
    scaled = keras.layers.Rescaling(1 / 255)(keras.ops.cast(pixels, "float32"))
    serving = keras.Model(pixels, model(scaled))
    result = export.export_bundle(tmp_path / "img.zip", design=design, model=model,
                                  serving_model=serving, class_names=["cat", "dog"],
                                  formats=("tflite",))
    bundle = zipfile.ZipFile(result.path)
    assert "model.tflite" in bundle.namelist()
    raw = np.random.default_rng(0).integers(0, 256, size=(4, 8, 8, 1)).astype("uint8")
    got, facts = _serve_elsewhere(tmp_path, bundle,
                                  {"value": raw.tolist(), "dtype": "uint8"})
    np.testing.assert_allclose(got, serving.predict(raw, verbose=0), atol=1e-5)
    assert facts["class_names"] == ["cat", "dog"]
    assert "| pixels | (batch, 8, 8, 1) | uint8 |" in bundle.read("README.md").decode()


def test_unknown_format_is_refused(tmp_path):
    design = chain(("Dense", {"units": 1}), input_shape=(2,))
    with pytest.raises(export.ExportError, match="Unknown export format 'pdf'"):
        export.export_bundle(tmp_path / "x.zip", design=design, model=build_model(design),
                             formats=("pdf",))


def test_a_conversion_error_names_the_layer_that_blocks_it():
    design = chain(("Conv2D", {"filters": 2}), input_shape=(6, 6, 1))
    model = build_model(design)
    message = "error: 'tf.Foo' op is neither a custom op nor a flex op at model_1/n1/Conv2D"
    assert export._blocking_layer(model, message) == "layer 'n1' (Conv2D)"


def test_history_csv_from_keras_history_dict():
    text = export.history_csv({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    assert text.splitlines() == ["epoch,loss,val_loss", "1,1.0,1.1", "2,0.5,0.7"]


def test_run_export_explains_a_missing_run(tmp_path):
    text, code = export.run_export("no-such-run", tmp_path / "x.zip",
                                   store_path=tmp_path / "store.sqlite")
    assert code == 2 and "There is no run 'no-such-run'" in text


def test_a_gan_run_exports_a_generator_savedmodel_that_maps_noise_to_images(tmp_path):
    from builder.gan_training import GanConfig
    from builder.jobs import JobManager
    from builder.run_store import RunStore
    from tests.test_jobs import CPU, _gan_pair, _halves

    store_path = tmp_path / "store.sqlite"
    manager = JobManager(RunStore(store_path), device_plan=CPU)
    generator, discriminator = _gan_pair()
    job = manager.submit_gan(generator, discriminator, _halves(),
                             GanConfig(epochs=1, batch_size=16, samples=4))
    assert job.wait(120) and job.status == "finished"

    text, code = export.run_export(job.run_id, tmp_path / "gan.zip", store_path=store_path)
    assert code == 0, text
    bundle = zipfile.ZipFile(tmp_path / "gan.zip")
    names = set(bundle.namelist())
    assert {"model.keras", "discriminator.keras", "design.json", "discriminator_design.json",
            "history.csv", "README.md", "saved_model/saved_model.pb"} <= names
    assert "model.py" not in names
    assert json.loads(bundle.read("design.json"))["role"] == "generator"
    assert "gan_discriminator" not in json.loads(bundle.read("design.json"))
    assert json.loads(bundle.read("discriminator_design.json"))["role"] == "discriminator"
    assert "d_loss" in bundle.read("history.csv").decode()
    readme = bundle.read("README.md").decode()
    assert "noise = tf.random.normal([16, 8])" in readme and "values from 0 to 1" in readme

    bundle.extractall(tmp_path / "unzipped")
    served = tf.saved_model.load(str(tmp_path / "unzipped" / "saved_model"))
    noise = tf.random.normal([5, 8], seed=1)
    images = served.serve(noise).numpy()
    assert images.shape == (5, 8, 8, 1)
    assert 0.0 <= images.min() and images.max() <= 1.0  # sigmoid: the images' 0..1 scale
    np.testing.assert_allclose(images, job.generator(noise, training=False).numpy(),
                               atol=1e-5)


def test_run_export_lists_the_runs_there_are(tmp_path):
    from builder.run_store import RunStore

    store = RunStore(tmp_path / "store.sqlite")
    run = store.create_run(name="something", design={}, data={}, config={})
    text, code = export.run_export("nope", tmp_path / "x.zip", store_path=store.path)
    assert code == 2 and "There is no run 'nope'" in text and run.id in text
