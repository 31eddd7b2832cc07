"""A layer type is declared once, in the catalog, and everything reads it (issue 17).

The test declares one layer type that the catalog does not have (Keras's GaussianNoise,
with one parameter) in one place, the way catalog.py declares its own, and finds it in
the palette, the inspector, the analysis, the compiled model, the generated script and
the importer, with no other edit.
"""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import pytest
from streamlit.testing.v1 import AppTest

from builder import catalog, codegen, importer
from builder.compile import build_model
from builder.ui import canvas_bridge, state
from builder.validate import analyze
from tests.helpers import chain
from tests.test_codegen import _PROBE, _summary
from tests.ui.test_build_page import SCRIPT, add, ok, send

NEW = "GaussianNoise"


@pytest.fixture
def noise_layer(monkeypatch):
    declared = catalog.LayerType(
        NEW, "Core", "Gaussian noise", "While training, adds random noise to every value.",
        (catalog._float("stddev", 0.1, "Spread of the noise.", 0.0, 1.0),),
        key_params=("stddev",), keras_class="GaussianNoise",
        build=catalog._simple("GaussianNoise"), keeps_values=True,  # noise is off when predicting
    )
    assert catalog.get(NEW) is None  # the catalog does not have it on its own
    monkeypatch.setattr(catalog, "LAYER_TYPES", (*catalog.LAYER_TYPES, declared))
    monkeypatch.setitem(catalog._BY_ID, NEW, declared)
    return declared


def _design():
    return chain((NEW, {"stddev": 0.3}), ("Dense", {"units": 2, "activation": "softmax"}),
                 input_shape=(8,))


def test_the_palette_and_quick_add_offer_it(noise_layer):
    core = next(group for group in canvas_bridge.palette() if group["category"] == "Core")
    assert {"id": NEW, "title": "Gaussian noise",
            "help": noise_layer.help} in core["types"]
    assert catalog.find_type("gaussiannoise") is noise_layer


def test_the_analysis_and_the_compiled_model_have_it(noise_layer):
    design = _design()
    noise_id = next(n.id for n in design.nodes if n.type == NEW)
    report = analyze(design)
    assert report.ok, report.problems
    node = report.nodes[noise_id]
    assert (tuple(node.output_shape), node.param_count) == ((None, 8), 0)
    layer = build_model(design).get_layer(noise_id)
    assert isinstance(layer, keras.layers.GaussianNoise) and layer.stddev == 0.3


def test_the_generated_script_builds_the_same_model(noise_layer, tmp_path):
    design = _design()
    path = tmp_path / "model.py"
    path.write_text(codegen.generate_script(design, class_names=["a", "b"]), encoding="utf-8")
    assert "layers.GaussianNoise(stddev=0.3," in path.read_text(encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", "-c", _PROBE, str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])[str(path)] == _summary(
        build_model(design))


def test_the_task_of_an_output_is_read_through_it(noise_layer):
    """A softmax, then noise (off when predicting): the output still learns classes."""
    design = chain(("Dense", {"units": 3, "activation": "softmax"}), (NEW, {}),
                   input_shape=(8,))
    (output,) = codegen.output_tasks(design)["outputs"]
    assert (output["task"], output["classes"]) == ("multiclass", 3)


def test_the_importer_reads_it_back(noise_layer, tmp_path):
    path = tmp_path / "noisy.keras"
    build_model(_design()).save(path)
    imported = importer.import_keras_bytes(path.read_bytes(), "noisy.keras")
    (node,) = [n for n in imported.nodes if n.type == NEW]
    assert node.params == {"stddev": 0.3}


def test_the_inspector_edits_its_parameter(noise_layer, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    at = ok(AppTest.from_string(SCRIPT, default_timeout=60).run())
    at = add(at, "Input")
    at = add(at, NEW)
    noise_id = next(n.id for n in at.session_state[state.DESIGN.name].nodes if n.type == NEW)
    at = send(at, {"op": "select", "id": noise_id})
    revision = at.session_state[state.REVISION.name]
    box = at.number_input(key=state.widget_key(state.INSPECTOR, revision, noise_id, "stddev"))
    assert box.value == 0.1 and (box.min, box.max) == (0.0, 1.0)
    box.set_value(0.5).run()
    assert ok(at).session_state[state.DESIGN.name].node(noise_id).params["stddev"] == 0.5
