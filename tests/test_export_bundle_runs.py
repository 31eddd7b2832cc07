"""The bundle's README snippet and its model.py run, and answer what the app answers.

A tabular run (the MLP classifier on breast cancer) and an image run (the small CNN on
a folder of 8x8 digit PNGs, trained at the template's 32x32) go through the app's
job path and ``export.run_export``. In the unzipped bundle:

- the README's Python block runs as it is, in a process with TensorFlow alone, and
  its ``predictions`` equal the app's predictions on the same example inputs;
- ``model.py``'s ``build_model`` and ``load_data`` prepare the data as the app did:
  with the app's trained weights, its predictions on the CSV (the folder) equal the
  app's on the same rows (images).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from bench import families as F
from builder import export, strategy
from builder.data import predict_raw
from builder.data.images import prepare_images, scan_folder
from builder.data.samples import load_sample
from builder.design import TEMPLATES_DIR, load_template
from builder.explain import predictions
from builder.jobs import JobManager
from builder.run_store import RunStore
from builder.train import TrainConfig

CPU = strategy.DevicePlan("cpu", ("/device:CPU:0",), "CPU", "CPU", False)


def _train_and_export(design, data, tmp_path):
    store = RunStore(tmp_path / "store.sqlite")
    job = JobManager(store, device_plan=CPU).submit(
        design, data, TrainConfig(epochs=2, batch_size=32, seed=0))
    assert job.wait(240)
    record = store.get(job.run_id)
    assert record.status == "finished", record.message
    assert "examples" in record.artifacts
    text, code = export.run_export(job.run_id, tmp_path / "bundle.zip",
                                   store_path=tmp_path / "store.sqlite")
    assert code == 0, text
    folder = tmp_path / "bundle"
    zipfile.ZipFile(tmp_path / "bundle.zip").extractall(folder)
    import keras

    model = keras.saving.load_model(record.artifacts["model"], compile=False)
    return folder, model


def _readme_predictions(folder) -> np.ndarray:
    readme = (folder / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", readme, flags=re.S).group(1)
    code += '\nimport numpy\nnumpy.save("readme_predictions.npy", predictions.numpy())\n'
    done = subprocess.run([sys.executable, "-I", "-c", code], cwd=folder,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(folder / "readme_predictions.npy")


def _script(folder):
    spec = importlib.util.spec_from_file_location("exported_model_script", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tabular_bundle_predicts_like_the_app(tmp_path):
    template = load_template(TEMPLATES_DIR / "mlp_classifier.json")
    design = template.design("model")
    data = F.prepare_for_design("breast_cancer", design)
    folder, model = _train_and_export(design, data, tmp_path)
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "example_input.json" in readme and "tf.zeros" not in readme

    app = predictions.predict(model, data, "validation", limit=export.EXAMPLE_ROWS).outputs
    np.testing.assert_allclose(_readme_predictions(folder), app, atol=1e-5)

    source = load_sample("breast_cancer")
    csv = tmp_path / "cancer.csv"
    source.frame.to_csv(csv, index=False)
    script = _script(folder)
    rebuilt = script.build_model()
    rebuilt.set_weights(model.get_weights())
    x, y = script.load_data(argparse.Namespace(csv=str(csv), target="diagnosis", images=None),
                            rebuilt)
    ours = rebuilt.predict(x, verbose=0)
    app_rows = predict_raw(data.end_to_end(model), data.raw_inputs_from_frame(source.frame))
    np.testing.assert_allclose(ours, app_rows, atol=1e-5)
    assert sorted(set(y.tolist())) == [0, 1]


@pytest.fixture
def digit_folder(tmp_path):
    """The first 120 digits as 8x8 grey PNGs in one folder per class."""
    source = load_sample("digits")
    root = tmp_path / "digits"
    for i, (pixels, label) in enumerate(zip(source.pixels[:120], source.labels[:120])):
        folder = root / source.class_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[:, :, 0]).save(folder / f"{i}.png")
    return root


def test_an_image_bundle_predicts_like_the_app(tmp_path, digit_folder):
    template = load_template(TEMPLATES_DIR / "small_cnn.json")
    design = template.design("model")
    data = prepare_images(scan_folder(digit_folder), size=(32, 32), channels=1)
    folder, model = _train_and_export(design, data, tmp_path)
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "| image | (batch, any, any, 1) | uint8 |" in readme
    assert "examples/*.png" in readme and (folder / "examples" / "example_0.png").is_file()

    app = predictions.predict(model, data, "validation", limit=export.EXAMPLE_ROWS).outputs
    np.testing.assert_allclose(_readme_predictions(folder), app, atol=1e-5)

    script = _script(folder)
    rebuilt = script.build_model()
    rebuilt.set_weights(model.get_weights())
    x, _ = script.load_data(argparse.Namespace(csv=None, target=None,
                                               images=str(digit_folder)), rebuilt)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0  # scaled as the app scales
    # The script's images are the app's model inputs, in another order: each one has an
    # exact twin among the app's (the script decodes and resizes as the app does).
    app_inputs = np.concatenate([data.arrays(split)[0] for split in data.splits])
    assert len(x) == len(app_inputs)
    for image in x[:20]:
        nearest = float(np.min(np.abs(app_inputs - image).reshape(len(app_inputs), -1)
                               .max(axis=1)))
        assert nearest <= 1e-6  # float32 rounding of the scaling only
