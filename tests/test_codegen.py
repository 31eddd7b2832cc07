"""builder.codegen: the generated script builds the same model as the app."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import pytest

from builder import catalog, codegen
from builder.compile import DesignError, build_model
from builder.custom_layers import PositionEmbedding
from builder.design import list_templates
from tests.helpers import chain, design

_IGNORED = {"name"}


def _source_layer(type_id: str, params: dict):
    namespace = {"layers": keras.layers, "keras": keras, "PositionEmbedding": PositionEmbedding}
    return eval(codegen.layer_source(type_id, params, "node"), namespace)  # our own code


def _config(layer) -> dict:
    config = json.loads(json.dumps(layer.get_config(), default=str))
    return {k: v for k, v in config.items() if k not in _IGNORED}


CASES = [(t.type_id, {}) for t in catalog.LAYER_TYPES if not t.is_input] + [
    ("Activation", {"activation": "leaky_relu"}),
    ("Activation", {"activation": "linear"}),
    ("LSTM", {"units": 5, "bidirectional": True, "return_sequences": True}),
    ("GRU", {"units": 3, "bidirectional": True}),
    ("RandomZoom", {"factor": 0.3}),
    ("MaxPooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}),
    ("Reshape", {"target_shape": [2, -1]}),
    ("Dense", {"units": 7, "activation": "linear", "use_bias": False}),
]


@pytest.mark.parametrize(("type_id", "params"), CASES,
                         ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_generated_layer_matches_the_catalog_build(type_id, params):
    layer_type = catalog.get(type_id)
    clean, problems = catalog.check_params(layer_type, params)
    assert not problems
    ours = layer_type.build(clean, "node")
    generated = _source_layer(type_id, params)
    assert type(generated) is type(ours)
    assert _config(generated) == _config(ours)


def test_unknown_type_and_bad_params_are_refused():
    with pytest.raises(ValueError, match="not a layer type"):
        codegen.layer_source("Nope", {}, "x")
    with pytest.raises(ValueError, match="units"):
        codegen.layer_source("Dense", {"units": -1}, "x")


def test_a_design_with_problems_raises_design_error():
    broken = design([("inp", "Input", {"shape": [4]}), ("d", "Dense", {"units": 0})],
                    [("inp", "d")])
    with pytest.raises(DesignError):
        codegen.generate_script(broken)


def _summary(model) -> dict:
    return {"layers": [[layer.name, type(layer).__name__, list(layer.output.shape)]
                       for layer in model.layers],
            "params": model.count_params()}


_PROBE = """
import json, runpy, sys
out = {}
for path in sys.argv[1:]:
    model = runpy.run_path(path)["build_model"]()
    out[path] = {"layers": [[l.name, type(l).__name__, list(l.output.shape)]
                            for l in model.layers], "params": model.count_params()}
print(json.dumps(out))
"""


def test_generated_scripts_build_the_same_models_in_a_plain_keras_process(tmp_path):
    templates = {t.slug: t for t in list_templates()}
    designs = [templates["small_cnn"].design(), templates["transformer_text"].design(),
               templates["resnet_cnn"].design(), templates["lstm_classifier"].design(),
               # node ids that are Python keywords or names the script uses
               design([("lambda", "Input", {"shape": [6]}),
                       ("model", "Dense", {"units": 4, "activation": "leaky_relu"}),
                       ("input", "Dense", {"units": 3}),
                       ("keras", "Concatenate", {})],
                      [("lambda", "model"), ("lambda", "input"), ("model", "keras", 0),
                       ("input", "keras", 1)])]
    paths = []
    for i, d in enumerate(designs):
        path = tmp_path / f"model_{i}.py"
        path.write_text(codegen.generate_script(d, class_names=["a", "b"]), encoding="utf-8")
        paths.append(str(path))
    done = subprocess.run([sys.executable, "-I", "-c", _PROBE, *paths], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    for d, path in zip(designs, paths):
        assert got[path] == _summary(build_model(d)), path


def test_generated_script_trains_and_saves_on_its_own(tmp_path):
    d = chain(("Dense", {"units": 4}), ("Dense", {"units": 3, "activation": "softmax"}),
              input_shape=(5,))
    d.name = "tiny"
    script = tmp_path / "model.py"
    script.write_text(codegen.generate_script(d, config={"epochs": 1, "batch_size": 64}),
                      encoding="utf-8")
    csv = tmp_path / "rows.csv"
    csv.write_text("a,b,c,d,e,label\n" + "".join(
        f"{i},{i % 3},{i * 2},{i % 5},{i % 7},{'xyz'[i % 3]}\n" for i in range(40)))
    done = subprocess.run(
        [sys.executable, "-I", str(script), "--csv", str(csv), "--target", "label",
         "--output", str(tmp_path / "out.keras")],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "classes: ['x', 'y', 'z']" in done.stdout
    assert (tmp_path / "out.keras").is_file()


def test_output_tasks_reads_the_output_activation():
    templates = {t.slug: t for t in list_templates()}
    tasks = {slug: [o["task"] for o in codegen.output_tasks(templates[slug].design())["outputs"]]
             for slug in ("mlp_classifier", "mlp_regressor", "conv_autoencoder",
                          "dense_autoencoder_2d")}
    assert tasks == {"mlp_classifier": ["multiclass"], "mlp_regressor": ["regression"],
                     "conv_autoencoder": ["reconstruction"],
                     "dense_autoencoder_2d": ["reconstruction"]}


HOSTILE = [
    'x""";__import__("os").system("touch SENTINEL");"""',
    "x''';__import__('os').system('touch SENTINEL');'''",
    "a\\\nb\"\"\"\n__import__('os').system('touch SENTINEL')\n#",
    "\\",
    "line\rbreak\x00nul\u2028sep\u202eright-to-left",
    "{{ }} %s ![T](http://127.0.0.1:9/t.png) <script>alert(1)</script>",
    "z" * 10_000,
]


def test_hostile_names_and_labels_stay_text_in_the_script(tmp_path):
    """A design name or class label never becomes code: the script parses, runs, and the
    sentinel file never appears; the labels come back equal from the script's literal."""
    import ast

    d = chain(("Dense", {"units": 4}), ("Dense", {"units": len(HOSTILE), "activation":
                                                   "softmax"}), input_shape=(5,))
    scripts = []
    for i, name in enumerate(HOSTILE):
        d.name = name
        text = codegen.generate_script(d, config={"epochs": 1, "batch_size": 64,
                                                  "optimizer": name},
                                       class_names=HOSTILE)
        tree = ast.parse(text)  # a SyntaxError here would mean the text broke out
        assigned = {node.targets[0].id: node.value for node in tree.body
                    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
        assert ast.literal_eval(assigned["CLASS_NAMES"]) == HOSTILE
        assert ast.literal_eval(assigned["CONFIG"])["optimizer"] == name
        calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
        assert not any(isinstance(f, ast.Name) and f.id in ("eval", "exec", "__import__")
                       for f in calls)
        path = tmp_path / f"model_{i}.py"
        path.write_text(text, encoding="utf-8")
        scripts.append(path)
    # Importing each script runs its top level: nothing but definitions and literals.
    probe = ("import importlib.util, sys\n"
             "for path in sys.argv[1:]:\n"
             "    spec = importlib.util.spec_from_file_location('m', path)\n"
             "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n")
    done = subprocess.run([sys.executable, "-I", "-c", probe, *map(str, scripts)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "SENTINEL").exists()


# -- the script's image loader reads pixels as the app does ------------------------------


def _image_folder(root):
    """JPEG (with an EXIF turn), PNG with transparency, grey and palette images, two
    classes, sizes that need resizing."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(3)
    made = []
    for label in ("cat", "dog"):
        folder = root / label
        folder.mkdir(parents=True)
        for i, (fmt, mode) in enumerate([("JPEG", "RGB"), ("JPEG", "L"), ("PNG", "RGBA"),
                                         ("PNG", "P"), ("PNG", "RGB")]):
            small = rng.integers(0, 256, (5, 7, 3)).astype("uint8")
            image = Image.fromarray(small).resize((int(rng.integers(20, 90)),
                                                   int(rng.integers(20, 90))))
            image = image.convert(mode) if mode != "RGBA" else image.convert("RGBA")
            path = folder / f"{i}.{'jpg' if fmt == 'JPEG' else 'png'}"
            if fmt == "JPEG" and mode == "RGB":
                exif = Image.Exif()
                exif[0x0112] = 6  # "turn 90 degrees to be upright"
                image.save(path, fmt, quality=80, exif=exif)
            else:
                image.save(path, fmt)
            made.append(path)
        (folder / "notes.txt").write_text("not an image")
    return made


@pytest.mark.parametrize("channels", [1, 3])
def test_the_scripts_image_loader_gives_the_apps_pixels(tmp_path, channels):
    import argparse
    import importlib.util

    import numpy as np

    from builder.data.images import decode_file

    made = _image_folder(tmp_path / "pets")
    source = codegen.generate_script(chain(("Flatten", {}), ("Dense", {"units": 2,
                                           "activation": "softmax"}),
                                          input_shape=(24, 16, channels)))
    path = tmp_path / "model.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("image_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    x, y = script.load_data(argparse.Namespace(images=str(tmp_path / "pets")),
                            script.build_model())
    app = np.stack([decode_file(p, (24, 16), channels) for p in made]) / 255.0
    assert x.shape == (len(made), 24, 16, channels)
    np.testing.assert_array_equal(x, app.astype("float32"))
    assert y.tolist() == [0] * 5 + [1] * 5
