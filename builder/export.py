"""The export bundle: one zip with everything needed to use a trained model anywhere.

Inside the zip (all at its root):

- ``saved_model/``: a TensorFlow SavedModel (Keras's ExportArchive). Its ``serve``
  signature takes the raw inputs, because the data's preprocessing is part of the
  exported model; classification exports add a ``class_names`` signature.
- ``model.keras``: the trained design model (loads with safe mode on).
- ``design.json``, ``history.csv``, ``config.json`` (training settings, data, classes).
- ``model.py``: a plain Keras script that builds and trains the same architecture.
- ``README.md``: the input signature, what the output means, and how to predict.
- ``class_names.txt`` for classification; ``model.tflite`` and ``model.onnx`` when
  they convert (the README says why when they do not).
- ``example_input.json`` (or ``examples/*.png`` for images): a few raw validation
  inputs, which the README's snippet feeds to the SavedModel.

A GAN run exports its generator: the SavedModel's ``serve`` maps noise to images,
``model.keras`` is the generator, and ``discriminator.keras`` with
``discriminator_design.json`` keep the other half of the pair (no ``model.py``:
the adversarial training loop is not written as a script).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from builder import codegen
from builder.design import Design
from builder.markdown import escape as md
from builder.vocabulary import BINARY, MULTICLASS, RECONSTRUCTION

OPTIONAL_FORMATS = ("tflite", "onnx")


class ExportError(ValueError):
    """The bundle cannot be made; the message says why and what to do."""


@dataclass
class ExportResult:
    """What :func:`export_bundle` wrote."""

    path: Path
    files: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # formats that did not convert, and why


# -- the bundle ----------------------------------------------------------------------


def export_bundle(
    destination: str | os.PathLike,
    *,
    design: Design,
    model,
    serving_model=None,
    history: list[dict] | dict | None = None,
    config: dict | None = None,
    class_names: list[str] | None = None,
    data_info: dict | None = None,
    formats: tuple[str, ...] = (),
    discriminator=None,
    discriminator_design: Design | None = None,
    examples=None,
) -> ExportResult:
    """Write the export zip of a trained model.

    Args:
        destination: the zip file to write (its folder must exist).
        design: the design the model was built from.
        model: the trained design model (saved as ``model.keras``).
        serving_model: the end-to-end model taking raw inputs
            (``builder.data.join_model``); the SavedModel exports it. Defaults to
            ``model`` when the data needs no preprocessing.
        history: per-epoch rows (``[{"epoch": 1, "loss": ...}]``) or Keras's
            ``History.history`` (``{"loss": [...]}``).
        config: the training settings (``TrainConfig.to_dict()``).
        class_names: class labels in output order, for classification.
        data_info: facts about the data, kept in ``config.json`` (kind, source...).
        formats: optional extra formats: ``"tflite"``, ``"onnx"``.
        discriminator / discriminator_design: a GAN's discriminator (then ``model``
            and ``design`` are its generator, and the SavedModel maps noise to images).
        examples: a few raw inputs in the form ``serving_model`` takes (a dict of
            column arrays, or one array), written into the bundle for the README's
            snippet (:func:`load_examples` reads a run's stored ones).

    Returns:
        The zip's path, its file list and a message per format that did not convert.

    Raises:
        ExportError: an unknown format, or the SavedModel could not be written.
    """
    unknown = [f for f in formats if f not in OPTIONAL_FORMATS]
    if unknown:
        raise ExportError(f"Unknown export format {unknown[0]!r}; choose from "
                          f"{', '.join(OPTIONAL_FORMATS)}.")
    serving_model = inference_model(serving_model if serving_model is not None else model)
    class_names = [str(c) for c in class_names] if class_names else []
    destination = Path(destination)
    messages: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nc_export_") as tmp:
        folder = Path(tmp) / "bundle"
        folder.mkdir()
        signature = write_saved_model(serving_model, folder / "saved_model", class_names)
        model.save(folder / "model.keras")
        (folder / "design.json").write_text(design.to_json(), encoding="utf-8")
        gan = (discriminator is not None or discriminator_design is not None
               or design.role == "generator")
        if discriminator is not None:
            discriminator.save(folder / "discriminator.keras")
        if discriminator_design is not None:
            (folder / "discriminator_design.json").write_text(discriminator_design.to_json(),
                                                              encoding="utf-8")
        (folder / "history.csv").write_text(history_csv(history), encoding="utf-8")
        settings = {"training": config or {}, "data": data_info or {},
                    "class_names": class_names}
        (folder / "config.json").write_text(json.dumps(settings, indent=2, default=str),
                                            encoding="utf-8")
        if class_names:
            (folder / "class_names.txt").write_text("\n".join(class_names) + "\n",
                                                    encoding="utf-8")
        script = ""
        if not gan:
            try:
                script = codegen.generate_script(design, config=config,
                                                 class_names=class_names,
                                                 data_info=data_info)
            except ValueError as exc:
                messages.append(f"No model.py: the design could not be turned into code "
                                f"({exc}).")
        if script:
            (folder / "model.py").write_text(script, encoding="utf-8")
        extra = {}
        if "tflite" in formats:
            extra["tflite"] = write_tflite(folder / "saved_model", folder / "model.tflite",
                                           serving_model)
        if "onnx" in formats:
            extra["onnx"] = write_onnx(serving_model, folder / "model.onnx")
        messages.extend(m for m in extra.values() if m)
        if gan:
            readme = gan_readme_text(design, signature, extra, discriminator is not None,
                                     discriminator_design is not None)
        else:
            example = write_examples(examples, folder, signature) if examples is not None \
                else None
            readme = readme_text(design, signature, class_names, codegen.output_tasks(design),
                                 extra, data_info or {}, example)
        (folder / "README.md").write_text(readme, encoding="utf-8")
        files = _zip_folder(folder, destination)
    return ExportResult(path=destination, files=files, messages=messages)


def export_bundle_bytes(**kwargs) -> tuple[bytes, ExportResult]:
    """:func:`export_bundle` into memory (for a download button); same arguments."""
    with tempfile.TemporaryDirectory(prefix="nc_zip_") as tmp:
        path = Path(tmp) / "export.zip"
        result = export_bundle(path, **kwargs)
        return path.read_bytes(), result


def _zip_folder(folder: Path, destination: Path) -> list[str]:
    names = []
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, name)
                names.append(name)
    return names


# -- parts ---------------------------------------------------------------------------


def input_signature(model) -> list[dict]:
    """``[{"name", "shape", "dtype"}]`` of a model's inputs, batch dimension included."""
    return [{"name": _tensor_name(tensor), "shape": list(tensor.shape),
             "dtype": str(tensor.dtype)} for tensor in model.inputs]


def inference_model(model):
    """``model`` wrapped so that calling it always predicts (``training=False``).

    Keras layers decide train-or-predict from the call's ``training`` argument, and
    left unset the random augmentation layers default to training: an exported
    endpoint that calls the model plainly rotates, zooms and drops out on every call.
    The wrapper fixes ``training=False`` inside its graph, so the SavedModel, the
    TFLite and ONNX conversions and a saved ``.keras`` all predict the same way
    every time. The weights are shared with ``model``.
    """
    import keras

    def fresh(tensor, name):
        return keras.Input(shape=tuple(tensor.shape[1:]), dtype=tensor.dtype, name=name)

    structure = model.input
    if isinstance(structure, dict):
        inputs = {key: fresh(tensor, key) for key, tensor in structure.items()}
    elif isinstance(structure, (list, tuple)):
        inputs = [fresh(tensor, _tensor_name(tensor)) for tensor in structure]
    else:
        inputs = fresh(structure, _tensor_name(structure))
    return keras.Model(inputs, model(inputs, training=False), name=model.name)


def _tensor_name(tensor) -> str:
    from builder.keras_internals import layer_name_of

    return layer_name_of(tensor, "input")


def _tensor_specs(model):
    """The ``tf.TensorSpec`` structure of a functional model's inputs (batch left open)."""
    import keras
    import tensorflow as tf

    def spec(tensor, name):
        return tf.TensorSpec(shape=tuple(tensor.shape), dtype=tensor.dtype, name=name)

    structure = model.input
    if isinstance(structure, dict):
        return {key: spec(tensor, key) for key, tensor in structure.items()}
    return keras.tree.map_structure(lambda t: spec(t, _tensor_name(t)), structure)


def write_saved_model(model, path: Path, class_names: list[str]) -> dict:
    """Export the serving model as a SavedModel; returns its input signature facts.

    The ``serve`` endpoint predicts (``training=False``): augmentation, Dropout and
    batch statistics are off, so two calls on one input answer the same.

    Raises:
        ExportError: Keras could not export the model.
    """
    import keras
    import tensorflow as tf

    try:
        archive = keras.export.ExportArchive()
        signature = _tensor_specs(model)
        archive.track(model)

        def predict(inputs):
            return model(inputs, training=False)

        archive.add_endpoint("serve", tf.function(predict, input_signature=[signature],
                                                  autograph=False))
        if class_names:
            names = list(class_names)

            @tf.function(input_signature=[])
            def class_names_fn():
                return tf.constant(names)

            archive.add_endpoint("class_names", class_names_fn)
        archive.write_out(str(path), verbose=False)
    except Exception as exc:
        raise ExportError(f"The SavedModel could not be written: {str(exc).splitlines()[0]}. "
                          "Check that the model builds and predicts on the Explore page.") \
            from exc
    return {"inputs": input_signature(model), "dict_inputs": isinstance(signature, dict),
            "outputs": [list(t.shape) for t in model.outputs]}


def _blocking_layer(model, error: str) -> str:
    """The name (and class) of the first layer the converter's error mentions."""
    found = []

    def walk(layer, prefix=""):
        for sub in getattr(layer, "layers", []):
            found.append((sub.name, type(sub).__name__))
            walk(sub)

    walk(model)
    for name, cls in sorted(found, key=lambda pair: -len(pair[0])):
        if f"/{name}/" in error or f"{name}_" in error or f"'{name}'" in error:
            return f"layer '{name}' ({cls})"
    strings = [f"'{n}' ({c})" for n, c in found if c in ("StringLookup", "TextVectorization")]
    if strings and ("string" in error.lower() or "Flex" in error or "TF Select" in error):
        return "layer " + strings[0] + ", which works on text,"
    return ""


def write_tflite(saved_model: Path, path: Path, model) -> str:
    """Convert the SavedModel to TFLite (LiteRT); an empty string, or why it did not convert.

    Built-in TFLite ops are tried first; when a layer needs TensorFlow ops outside them,
    the model is converted with "select TF ops" and the message says it needs the Flex
    delegate at run time.
    """
    import tensorflow as tf

    def convert(select_ops: bool) -> bytes:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        if select_ops:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                                   tf.lite.OpsSet.SELECT_TF_OPS]
        return converter.convert()

    try:
        path.write_bytes(convert(False))
        return ""
    except Exception as exc:  # the converter raises many types; all mean "did not convert"
        first = str(exc)
    where = _blocking_layer(model, first) or "a layer of the model"
    try:
        path.write_bytes(convert(True))
    except Exception as exc:
        return (f"TFLite: not converted, because {where} uses operations TFLite does not "
                f"support ({_first_line(str(exc))}). Use the SavedModel instead.")
    return (f"TFLite: model.tflite needs the TensorFlow Lite Flex delegate (select TF ops), "
            f"because {where} uses operations outside TFLite's built-in set.")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and "error" in line.lower():
            return line[:200]
    return (text.strip().splitlines() or ["unknown error"])[0][:200]


def write_onnx(model, path: Path) -> str:
    """Export to ONNX through Keras when tf2onnx is installed; else say why not."""
    if importlib.util.find_spec("tf2onnx") is None:
        return ("ONNX: not included, because the tf2onnx package is not installed here "
                "(pip install tf2onnx, then export again).")
    try:
        model.export(str(path), format="onnx", verbose=False)
    except Exception as exc:
        where = _blocking_layer(model, str(exc)) or "a layer of the model"
        return f"ONNX: not converted, because {where} could not be converted " \
               f"({_first_line(str(exc))})."
    return ""


EXAMPLES_FILE = "example_inputs.npz"
EXAMPLE_ROWS = 5


def save_examples(raw, path: str | os.PathLike) -> None:
    """Keep a few raw inputs (a dict of arrays, or one array) as an .npz (no pickles)."""
    import numpy as np

    def plain(values):
        array = np.asarray(values)
        return array.astype(str) if array.dtype.kind == "O" else array

    if isinstance(raw, dict):
        np.savez(path, **{f"column:{k}": plain(v) for k, v in raw.items()})
    else:
        np.savez(path, array=plain(raw))


def load_examples(path: str | os.PathLike):
    """What :func:`save_examples` kept: a dict of arrays, or one array."""
    import numpy as np

    with np.load(path, allow_pickle=False) as stored:
        if "array" in stored.files:
            return stored["array"]
        return {name.split(":", 1)[1]: stored[name] for name in stored.files}


def write_examples(examples, folder: Path, signature: dict) -> dict:
    """Write the example inputs into the bundle; returns how the README reads them.

    Images (one uint8 input of rank 4) become PNG files in ``examples/``; anything
    else becomes ``example_input.json``: input name -> ``{"dtype", "values"}``.
    """
    import numpy as np
    from PIL import Image

    specs = signature["inputs"]
    if not isinstance(examples, dict) and len(specs) == 1 and len(specs[0]["shape"]) == 4 \
            and specs[0]["dtype"] == "uint8":
        pictures = np.asarray(examples, dtype=np.uint8)[:EXAMPLE_ROWS]
        (folder / "examples").mkdir()
        names = []
        for i, picture in enumerate(pictures):
            name = f"examples/example_{i}.png"
            Image.fromarray(picture[:, :, 0] if picture.shape[-1] == 1 else picture).save(
                folder / name)
            names.append(name)
        return {"kind": "images", "files": names, "channels": int(pictures.shape[-1])}
    columns = examples if isinstance(examples, dict) else {specs[0]["name"]: examples}
    dtypes = {spec["name"]: spec["dtype"] for spec in specs}
    payload = {}
    for name, values in columns.items():
        array = np.asarray(values)[:EXAMPLE_ROWS]
        if array.dtype.kind in "OUS":
            array = array.astype(str)
        payload[str(name)] = {"dtype": dtypes.get(name, str(array.dtype)),
                              "values": array.tolist()}
    (folder / "example_input.json").write_text(json.dumps(payload, indent=1),
                                               encoding="utf-8")
    return {"kind": "json", "dict": bool(signature["dict_inputs"]), "rows": len(array)}


def history_csv(history: list[dict] | dict | None) -> str:
    """Per-epoch rows as CSV text, with an ``epoch`` column first."""
    rows: list[dict] = []
    if isinstance(history, dict):
        length = max((len(v) for v in history.values()), default=0)
        rows = [{"epoch": i + 1, **{k: v[i] for k, v in history.items() if i < len(v)}}
                for i in range(length)]
    elif history:
        rows = [dict(r) for r in history]
    columns: list[str] = ["epoch"]
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for i, row in enumerate(rows, start=1):
        writer.writerow({"epoch": i, **row})
    return out.getvalue()


def _example(signature: dict, data_info: dict | None = None) -> str:
    """A literal input of the right shapes (zeros), for bundles without example inputs."""
    trained = list((data_info or {}).get("input_shape") or [])

    def tensor(spec: dict) -> str:
        sizes = spec["shape"][1:]
        free = [d is None for d in sizes]
        if any(free) and len(trained) == len(sizes):
            sizes = [t if f else d for d, t, f in zip(sizes, trained, free)]
        shape = [1] + [1 if d is None else d for d in sizes]
        if "string" in spec["dtype"]:
            return f'tf.fill({shape}, "")'
        return f"tf.zeros({shape}, tf.{spec['dtype']})"

    inputs = signature["inputs"]
    if signature["dict_inputs"]:
        return "{" + ", ".join(f'"{s["name"]}": {tensor(s)}' for s in inputs) + "}"
    return tensor(inputs[0]) if len(inputs) == 1 else \
        "[" + ", ".join(tensor(s) for s in inputs) + "]"


def _snippet(signature: dict, example: dict | None, data_info: dict) -> list[str]:
    """The README's Python lines that predict; they leave the answer in ``predictions``."""
    lines = ["import tensorflow as tf", "", 'model = tf.saved_model.load("saved_model")']
    if example is None:
        lines.append(f"predictions = model.serve({_example(signature, data_info)})")
    elif example["kind"] == "images":
        lines = ["import glob", "", *lines,
                 'paths = sorted(glob.glob("examples/*.png"))',
                 "images = [tf.io.decode_png(tf.io.read_file(path), "
                 f"channels={example['channels']}) for path in paths]",
                  "# Each image goes in as it is (any size; the model resizes it).",
                  "predictions = tf.concat([model.serve(image[tf.newaxis]) for image in images],"
                  " axis=0)"]
    else:
        lines += ["import json", "",
                  'example = json.load(open("example_input.json"))',
                  "inputs = {name: tf.constant(column[\"values\"], dtype=column[\"dtype\"])",
                  "          for name, column in example.items()}"]
        if not example["dict"]:
            lines.append("inputs = next(iter(inputs.values()))")
        lines.append("predictions = model.serve(inputs)")
    lines.append("print(predictions.numpy())")
    return lines


def _shape_words(shape: list) -> str:
    """``(batch, any, any, 1)``: the batch first, then each size (any when free)."""
    words = ["batch"] + ["any" if d is None else str(d) for d in shape[1:]]
    return "(" + ", ".join(words) + ")"


def readme_text(design: Design, signature: dict, class_names: list[str], task: dict,
                extra: dict, data_info: dict, example: dict | None = None) -> str:
    """The bundle's README: inputs, outputs, a snippet that predicts, the files."""
    name = md(design.name or "model")
    where = ("the example inputs in this folder (rows of the validation data)"
             if example is not None else "inputs of the right shape")
    lines = [f"# {name}: exported from Neural Canvas", "",
             "## Predict with the SavedModel (needs only TensorFlow)", "",
             f"Run this in the unzipped folder; it predicts {where}.", "", "```python",
             *_snippet(signature, example, data_info),
             "```", "", "## Input signature", "",
             "The SavedModel takes raw inputs: the preprocessing the app applied to the data "
             "is inside the model.", "", "| input | shape | dtype |", "|---|---|---|"]
    for spec in signature["inputs"]:
        lines.append(f"| {md(spec['name'])} | {_shape_words(spec['shape'])} | {spec['dtype']} |")
    if any(None in spec["shape"][1:] for spec in signature["inputs"]):
        lines += ["", "A size given as *any* may be anything: images of any height and width "
                  "are resized inside the model."]
    if signature["dict_inputs"]:
        lines += ["", "Pass a dict with one entry per column, each of shape (rows, 1)."]
    lines += ["", "## Output", ""]
    outputs = task.get("outputs", [])
    for out, shape in zip(outputs, signature["outputs"]):
        lines.append(f"- shape {_shape_words(shape)}: {_meaning(out, class_names, data_info)}")
    if class_names:
        lines += ["", "Class names, in output order: " + ", ".join(md(c) for c in class_names)
                  + ". "
                  "They are in class_names.txt and in the SavedModel: "
                  "`model.class_names()`."]
    lines += ["", "## Files", "",
              "- `saved_model/`: TensorFlow SavedModel (signature `serve`).",
              "- `model.keras`: the trained network as drawn (without preprocessing); "
              "`keras.saving.load_model(\"model.keras\")`.",
              "- `model.py`: plain Keras code that builds this architecture and trains it "
              "(`python model.py --help`).",
              "- `design.json`: the design; open it in Neural Canvas.",
              "- `history.csv`: loss and metrics per epoch.",
              "- `config.json`: the training settings and the data description."]
    if example is not None:
        lines.append("- `examples/`: example images from the validation data."
                     if example["kind"] == "images" else
                     "- `example_input.json`: example rows of the validation data, raw.")
    for fmt, file_name in (("tflite", "model.tflite"), ("onnx", "model.onnx")):
        if fmt in extra:
            message = extra[fmt]
            if not message:
                lines.append(f"- `{file_name}`: the model converted to {fmt.upper()}.")
            elif "needs the TensorFlow Lite Flex delegate" in message:
                lines.append(f"- `{file_name}`: {message}")
    missing = [m for m in extra.values() if m and "Flex delegate" not in m]
    if "onnx" not in extra:
        missing.append("ONNX: not requested. It needs the tf2onnx package; with it installed, "
                       "choose ONNX when exporting.")
    if missing:
        lines += ["", "## Formats not included", ""] + [f"- {m}" for m in missing]
    return "\n".join(lines) + "\n"


def gan_readme_text(design: Design, signature: dict, extra: dict, with_discriminator: bool,
                    with_discriminator_design: bool) -> str:
    """The README of a GAN's bundle: the SavedModel maps noise to images."""
    noise = signature["inputs"][0]
    size = list(noise["shape"][1:])
    image = signature["outputs"][0][1:]
    shape = "(" + ", ".join(str(d) for d in size) + ")"
    lines = [f"# {md(design.name or 'generator')}: a GAN generator exported from Neural Canvas",
             "",
             "## Generate images with the SavedModel (needs only TensorFlow)", "",
             "```python", "import tensorflow as tf",
             'generator = tf.saved_model.load("saved_model")',
             f"noise = tf.random.normal([16, {', '.join(str(d) for d in size)}])",
             "images = generator.serve(noise)  # 16 images",
             "```", "", "## Input", "",
             f"Noise: {shape} numbers per image, drawn from a standard normal distribution "
             f"(mean 0, standard deviation 1), {noise['dtype']}. The same noise always gives "
             "the same image.", "", "## Output", "",
             f"Images of shape {tuple(image)} with values from 0 to 1, scaled as the training "
             "images were; multiply by 255 for 8-bit pixels.", "", "## Files", "",
             "- `saved_model/`: TensorFlow SavedModel of the generator (signature `serve`: "
             "noise to images).",
             "- `model.keras`: the trained generator; "
             "`keras.saving.load_model('model.keras')`.",
             "- `design.json`: the generator's design; open it in Neural Canvas."]
    if with_discriminator:
        lines.append("- `discriminator.keras`: the trained discriminator (an image to the "
                     "probability that it is real).")
    if with_discriminator_design:
        lines.append("- `discriminator_design.json`: the discriminator's design.")
    lines += ["- `history.csv`: the discriminator's and the generator's loss per epoch "
              "(d_loss, g_loss).",
              "- `config.json`: the GAN's training settings and the data description."]
    for fmt, file_name in (("tflite", "model.tflite"), ("onnx", "model.onnx")):
        if fmt in extra and not extra[fmt]:
            lines.append(f"- `{file_name}`: the generator converted to {fmt.upper()}.")
    missing = [m for m in extra.values() if m]
    missing.append("model.py: not included. A GAN trains two networks against each other in "
                   "a loop of its own; the designs open in Neural Canvas to train again.")
    lines += ["", "## Not included", ""] + [f"- {m}" for m in missing]
    return "\n".join(lines) + "\n"


def _meaning(out: dict, class_names: list[str], data_info: dict) -> str:
    task = out.get("task")
    if task == MULTICLASS:
        return (f"probabilities of the {out.get('classes')} classes (they sum to 1); the "
                "largest is the prediction.")
    if task == BINARY:
        positive = md(class_names[1]) if len(class_names) > 1 else "the positive class"
        return f"the probability of {positive}."
    if task == RECONSTRUCTION:
        return "the reconstructed input."
    targets = data_info.get("target_names") or []
    what = ", ".join(md(t) for t in targets) if targets else "the target"
    return f"the predicted value of {what}, in the target's own units."


# -- command line ------------------------------------------------------------------------


def run_export(run_id: str, output: str | os.PathLike, *, formats: tuple[str, ...] = (),
               store_path: str | os.PathLike | None = None) -> tuple[str, int]:
    """Export a stored run's bundle (for ``python -m builder export RUN --output X.zip``).

    The run must have a saved model: its artifacts need ``model`` (the trained
    ``.keras``), and ``serving_model`` (the end-to-end ``.keras``) when its data had
    preprocessing.

    Returns:
        ``(text, exit_code)``: 0 written, 2 bad input (no such run, no model).
    """
    from builder import workspace
    from builder.database import StoreError
    from builder.run_store import RunStore

    if store_path is None:  # never create a workspace just to find that it has no runs
        folder = workspace.resolve()
        store_path = workspace.store_path(folder)
        if not store_path.is_file():
            where = ("does not exist" if not folder.exists() else "is a file, not a folder"
                     if not folder.is_dir() else
                     f"has no run history ({workspace.STORE_FILENAME})")
            return (f"The workspace {str(folder)!r} {where}. Give --workspace the folder the "
                    f"run was trained in, or set {workspace.ENV_VAR} to it."), 2
    try:
        store = RunStore(store_path)
        record = store.get(run_id)
    except StoreError as exc:
        return str(exc), 2
    if record is None:
        known = [r.id for r in store.list_runs(5)]
        listed = (" The latest runs are: " + ", ".join(known) + ".") if known else (
            " This workspace has no runs yet.")
        return (f"There is no run {run_id!r} in {store.path}.{listed} Copy a run id from the "
                "Train page's run history (or pass --workspace for another workspace)."), 2
    model_path = record.artifacts.get("model")
    if not model_path or not Path(model_path).is_file():
        return (f"Run {run_id!r} has no saved model (its status is {record.status!r}). Train "
                "it to the end, then export."), 2
    try:
        import keras

        import builder.custom_layers  # noqa: F401  (our layers, for safe loading)
        from builder.gan_training import designs_of

        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
        history = [dict(e.metrics, epoch=e.epoch) for e in store.epochs(run_id)
                   if not e.partial]
        pair = designs_of(record.design)
        if pair is not None:
            judge_path = record.artifacts.get("discriminator")
            judge = (keras.saving.load_model(judge_path, compile=False, safe_mode=True)
                     if judge_path and Path(judge_path).is_file() else None)
            result = export_bundle(output, design=pair[0], model=model, history=history,
                                   config=record.config, data_info=record.data,
                                   formats=tuple(formats), discriminator=judge,
                                   discriminator_design=pair[1])
        else:
            serving_path = record.artifacts.get("serving_model")
            serving = (keras.saving.load_model(serving_path, compile=False, safe_mode=True)
                       if serving_path and Path(serving_path).is_file() else None)
            examples_path = record.artifacts.get("examples")
            examples = (load_examples(examples_path)
                        if examples_path and Path(examples_path).is_file() else None)
            design = Design.from_dict(record.design)
            result = export_bundle(output, design=design, model=model, serving_model=serving,
                                   history=history, config=record.config,
                                   class_names=record.data.get("class_names"),
                                   data_info=record.data, formats=tuple(formats),
                                   examples=examples)
    except (ExportError, ValueError, OSError) as exc:
        return f"Export failed: {exc}", 2
    lines = [f"Wrote {result.path} ({len(result.files)} files)."] + result.messages
    return "\n".join(lines), 0

