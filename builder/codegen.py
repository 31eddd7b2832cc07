"""Design -> a readable Python script that builds and trains the same model with plain Keras.

The script is driven by the catalog: every layer is written as
``layers.<keras_class>(<its params>, name="<node id>")``, so a new catalog entry
needs no change here. What the catalog's ``build`` makes is what each entry's
``keras_call`` says (renamed arguments, a value that is another class, a wrapper), and
the script is written from the same ``keras_call``; a test compares the config of every
catalog layer with the layer the generated code makes.

Layers Neural Canvas defines itself (``builder.custom_layers``) have their class
definition copied into the script, so it runs with Keras alone.
"""

from __future__ import annotations

import inspect
import keyword
import pprint
import textwrap

from builder import catalog, graph
from builder.compile import DesignError
from builder.design import Design
from builder.validate import analyze
from builder.vocabulary import (
    BINARY,
    CLASSIFICATION_TASKS,
    MULTICLASS,
    RECONSTRUCTION,
    REGRESSION,
)

LINE_LIMIT = 88

# Names the script itself uses; a node id equal to one of them gets a suffix.
_RESERVED = frozenset({
    "argparse", "np", "keras", "layers", "model", "inputs", "outputs", "build_model",
    "load_data", "synthetic_data", "main", "args", "parser", "x", "y", "CLASS_NAMES",
    "CONFIG", "VOCAB_SIZE", "print", "list", "dict", "input", "type", "id", "len", "range",
    "min", "max", "sum", "str", "int", "float", "object", "super", "open", "format",
})


def _literal(value) -> str:
    """Python source for a parameter value (lists become tuples, text by ``repr``).

    Text from a design or data reaches the script only through ``repr``: a literal
    that evaluates to the same string, whatever quotes or newlines it holds.
    """
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(_literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    return repr(value)


def _call(callee: str, kwargs: list[tuple[str, str]], indent: str = "    ",
          room: int = LINE_LIMIT) -> str:
    """``callee(k=v, ...)`` on one line, or one argument per line when longer than ``room``."""
    inline = f"{callee}(" + ", ".join(f"{k}={v}" for k, v in kwargs) + ")"
    if len(indent) + len(inline) <= room:
        return inline
    inner = "".join(f"{indent}    {k}={v},\n" for k, v in kwargs)
    return f"{callee}(\n{inner}{indent})"


def _kwargs(arguments: dict) -> list[tuple[str, str]]:
    return [(k, _literal(v)) for k, v in arguments.items()]


def _layer_class(keras_class: str) -> str:
    """``layers.Dense`` for Keras's own classes; the bare name for our custom layers."""
    import keras

    if hasattr(keras.layers, keras_class):
        return f"layers.{keras_class}"
    return keras_class


def layer_source(type_id: str, params: dict, name: str, room: int = LINE_LIMIT) -> str:
    """The Python expression that makes one (non-Input) layer of the catalog.

    Args:
        type_id: a catalog type id.
        params: the node's params (checked and completed with defaults here).
        name: the Keras layer name (the node id).
        room: the line width left for the expression before it is split over lines.

    Raises:
        ValueError: unknown type id or parameters the catalog rejects.
    """
    layer_type = catalog.get(type_id)
    if layer_type is None or layer_type.is_input:
        raise ValueError(f"{type_id!r} is not a layer type of the catalog; use one of the "
                         "palette's layer types.")
    clean, problems = catalog.check_params(layer_type, params)
    if problems:
        raise ValueError(problems[0][1])
    call = layer_type.keras_call(clean)
    if call.wrapper is None:
        return _call(_layer_class(call.keras_class), _kwargs(call.kwargs)
                     + [("name", _literal(name))], room=room)
    inner = _call(_layer_class(call.keras_class), _kwargs(call.kwargs)
                  + [("name", _literal(f"{name}{call.wrapper.inner_suffix}"))],
                  indent="        ")
    fixed = "".join(f"        {k}={v},\n" for k, v in _kwargs(call.wrapper.fixed))
    return (f"{_layer_class(call.wrapper.keras_class)}(\n        {inner},\n{fixed}"
            f"        name={_literal(name)},\n    )")


def _custom_class_sources(design: Design) -> list[str]:
    import keras

    from builder import custom_layers

    sources = []
    seen = set()
    for node in design.nodes:
        layer_type = catalog.get(node.type)
        cls_name = layer_type.keras_class if layer_type else ""
        if not cls_name or cls_name in seen or hasattr(keras.layers, cls_name):
            continue
        seen.add(cls_name)
        cls = getattr(custom_layers, cls_name, None)
        if cls is None:
            raise ValueError(f"The layer class {cls_name!r} is neither in Keras nor in "
                             "builder/custom_layers.py, so no script can define it.")
        sources.append(textwrap.dedent(inspect.getsource(cls)))
    return sources


def _variables(node_ids: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    taken: set[str] = set()
    for node_id in node_ids:
        var = node_id
        while keyword.iskeyword(var) or var in _RESERVED or var in taken:
            var += "_"
        names[node_id] = var
        taken.add(var)
    return names


# -- the task: which loss, which targets ---------------------------------------------


def _final_activation(design: Design, node_id: str) -> str:
    """The activation at a node, looking back through layers that keep their input's
    values (the catalog's ``keeps_values``); "" where no activation decides it."""
    seen = set()
    while node_id and node_id not in seen:
        seen.add(node_id)
        node = design.node(node_id)
        layer_type = catalog.get(node.type) if node is not None else None
        if layer_type is None:
            return ""
        activation = layer_type.param("activation")
        if activation is not None:
            params = node.params if isinstance(node.params, dict) else {}
            return str(params.get("activation", activation.default))
        if not layer_type.keeps_values:
            return ""
        sources = design.inputs_of(node_id)
        node_id = sources[0] if len(sources) == 1 else ""
    return ""


def output_tasks(design: Design, report=None) -> dict:
    """What each output learns, read from its activation, for choosing a loss: one entry
    per output node (a softmax is "multiclass" whatever its number of units).

    Returns:
        ``{"outputs": [{"id", "shape", "task", "loss", "classes"}], "inputs": [{"id",
        "shape", "dtype"}]}`` where ``task`` is one of builder.vocabulary.TASKS.
    """
    report = report or analyze(design)
    position = {n.id: i for i, n in enumerate(design.nodes)}
    inputs = []
    for node_id in sorted(report.input_ids, key=position.get):
        params, _ = catalog.check_params(catalog.get("Input"), design.node(node_id).params)
        inputs.append({"id": node_id, "shape": list(params["shape"]), "dtype": params["dtype"]})
    outputs = []
    input_shapes = [tuple(i["shape"]) for i in inputs]
    for node_id in sorted(report.output_ids, key=position.get):
        shape = list(report.nodes[node_id].output_shape[1:])
        activation = _final_activation(design, node_id)
        if tuple(shape) in input_shapes and len(inputs) == 1 and shape != [1]:
            entry = {"task": RECONSTRUCTION, "loss": "mse", "classes": 0}
        elif activation == "softmax":
            entry = {"task": MULTICLASS, "loss": "sparse_categorical_crossentropy",
                     "classes": shape[-1]}
        elif activation == "sigmoid" and shape[-1:] == [1]:
            entry = {"task": BINARY, "loss": "binary_crossentropy", "classes": 2}
        else:
            entry = {"task": REGRESSION, "loss": "mse", "classes": 0}
        outputs.append({"id": node_id, "shape": shape, **entry})
    return {"inputs": inputs, "outputs": outputs}


# -- the script ---------------------------------------------------------------------


def _standardised_columns(data_info: dict | None) -> tuple[list[str], list, list]:
    """The app's numeric columns in input order, with their training means and deviations.

    Only for a table whose every input is a plain numeric column (then the script can
    prepare rows exactly as the app did); empty lists otherwise.
    """
    info = (data_info or {}).get("info") or {}
    layout = info.get("layout") or []
    means, variances = info.get("numeric_means"), info.get("numeric_variances")
    if (not layout or any(part.get("kind") != "numeric" or part.get("width") != 1
                          for part in layout)
            or not isinstance(means, list) or not isinstance(variances, list)
            or len(means) != len(layout) or len(variances) != len(layout)):
        return [], [], []
    import math

    # keras.layers.Normalization divides by max(sqrt(variance), epsilon).
    deviations = [max(math.sqrt(max(float(v), 0.0)), 1e-7) for v in variances]
    return [str(part["column"]) for part in layout], [float(m) for m in means], deviations


def generate_script(design: Design, *, config: dict | None = None,
                    class_names: list[str] | None = None,
                    data_info: dict | None = None) -> str:
    """A standalone Keras script that builds (and can train) the model of ``design``.

    Args:
        design: a design that analyses without problems.
        config: the training settings to write in (``epochs``, ``batch_size``,
            ``learning_rate``, ``optimizer``, ``loss``); missing ones get defaults.
        class_names: names of the classes, written into the script for reference.
        data_info: the run's data description (``PreparedData.describe``); for a table
            of numeric columns the script then standardises rows with the app's own
            statistics, in the app's column order.

    Raises:
        DesignError: the design has problems (they are on ``.report``).
    """
    report = analyze(design)
    if not report.ok:
        raise DesignError(report)
    config = dict(config or {})
    task = output_tasks(design, report)
    order = [n.id for n in design.nodes]
    ordered, _ = graph.topological_order(order, [(e.source, e.target) for e in design.edges])
    var = _variables(ordered)

    body = []
    for node_id in ordered:
        node = design.node(node_id)
        layer_type = catalog.get(node.type)
        params, _ = catalog.check_params(layer_type, node.params)
        if layer_type.is_input:
            body.append(f"    {var[node_id]} = " + _call("keras.Input", [
                ("shape", _literal(params["shape"])), ("dtype", _literal(params["dtype"])),
                ("name", _literal(node_id))]))
            continue
        sources = [var[s] for s in design.inputs_of(node_id)]
        if layer_type.call_style == "list":
            call_args = "[" + ", ".join(sources) + "]"
        elif layer_type.call_style == "attention":
            call_args = f"{sources[0]}, {sources[1] if len(sources) > 1 else sources[0]}"
            if len(sources) > 2:
                call_args += f", key={sources[2]}"
        else:
            call_args = sources[0]
        title = f"    # {layer_type.title}"
        if layer_type.call_style == "attention" and len(sources) == 1:
            title += " (self-attention: query and value are the same)"
        body.append(title)
        prefix, suffix = f"    {var[node_id]} = ", f"({call_args})"
        room = LINE_LIMIT - len(prefix) - len(suffix) + 4
        body.append(prefix + layer_source(node.type, params, node_id, room) + suffix)

    in_vars = [var[i["id"]] for i in task["inputs"]]
    out_vars = [var[o["id"]] for o in task["outputs"]]
    in_expr = in_vars[0] if len(in_vars) == 1 else "[" + ", ".join(in_vars) + "]"
    out_expr = out_vars[0] if len(out_vars) == 1 else "[" + ", ".join(out_vars) + "]"
    from builder.compile import model_name

    body.append(f"    return keras.Model(inputs={in_expr}, outputs={out_expr}, "
                f"name={_literal(model_name(design))})")

    losses = [config.get("loss") or o["loss"] for o in task["outputs"]]
    settings = {
        "epochs": int(config.get("epochs") or 10),
        "batch_size": int(config.get("batch_size") or 32),
        "learning_rate": float(config.get("learning_rate") or 0.001),
        "optimizer": str(config.get("optimizer") or "adam"),
        "loss": losses[0] if len(losses) == 1 else losses,
        "metrics": ["accuracy"] if any(o["task"] in CLASSIFICATION_TASKS
                                       for o in task["outputs"]) else [],
    }
    vocab = min((int(n.params.get("input_dim", 1000)) for n in design.nodes
                 if n.type == "Embedding" and isinstance(n.params, dict)), default=2)
    kind = _data_kind(task)
    imports = "import argparse\n\nimport keras\nimport numpy as np\nfrom keras import layers"
    if kind == "images":
        imports = ("import argparse\nfrom pathlib import Path\n\nimport keras\nimport numpy as np"
                   "\nfrom keras import layers\nfrom PIL import Image, ImageOps")
    parts = [_header(kind) + f"\n\n# Design: {design.name or 'model'!r}\n" + imports]
    parts.extend(_custom_class_sources(design))
    if kind == "images":
        from builder.data import images

        parts.append(inspect.getsource(images._to_mode))
    features, means, deviations = _standardised_columns(data_info) if kind == "csv" else (
        [], [], [])
    parts.append(
        "CONFIG = {\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in settings.items()) + "}\n"
        f"CLASS_NAMES = {_wrapped([str(c) for c in class_names or []])}\n"
        "# The columns the model reads, in order, with the training data's means and standard\n"
        "# deviations (empty: every numeric column, standardised by the CSV's own statistics).\n"
        f"FEATURES = {_wrapped(features)}\n"
        f"FEATURE_MEANS = {_wrapped(means)}\n"
        f"FEATURE_STDS = {_wrapped(deviations)}\n"
        f"VOCAB_SIZE = {vocab}  # token ids of the synthetic data run from 0 to this minus 1\n"
        f"# What each output is: {[(o['id'], o['task']) for o in task['outputs']]!r}\n"
        f"TASKS = {[o['task'] for o in task['outputs']]!r}\n"
    )
    parts.append('def build_model():\n    """The network as drawn on the canvas; layer names are '
                 'the node ids."""\n' + "\n".join(body) + "\n")
    parts.append(_DATA_CODE[kind])
    parts.append(_MAIN_CODE)
    text = "\n\n\n".join(p.strip("\n") for p in parts) + "\n"
    # isort style: one blank line between the imports and the first statement.
    return text.replace("layers\n\n\nCONFIG", "layers\n\nCONFIG")


def _wrapped(values: list) -> str:
    """A list as Python source (``repr`` of each item), wrapped to the line limit."""
    return pprint.pformat(values, width=LINE_LIMIT - 16, compact=True)


def _data_kind(task: dict) -> str:
    inputs, outputs = task["inputs"], task["outputs"]
    if len(inputs) != 1 or len(outputs) != 1:
        return "synthetic"
    (spec,), (out,) = inputs, outputs
    if out["task"] == RECONSTRUCTION:
        return "synthetic"
    if len(spec["shape"]) == 3 and spec["dtype"] == "float32" and spec["shape"][-1] in (1, 3):
        return "images"
    if len(spec["shape"]) == 1 and spec["dtype"] == "float32":
        return "csv"
    return "synthetic"


def _header(kind: str) -> str:
    """The script's docstring: fixed text only (the design's name is a comment below it)."""
    usage = {
        "csv": "    python this_file.py --csv data.csv --target COLUMN   (numeric columns as "
               "features)\n",
        "images": "    python this_file.py --images FOLDER   (one sub-folder of images per "
                  "class)\n",
        "synthetic": "",
    }[kind]
    return (
        '"""A Keras model designed in Neural Canvas.\n\n'
        "Run it:\n"
        "    python this_file.py            (trains briefly on random data of the right "
        "shape)\n"
        f"{usage}"
        "Needs TensorFlow and Keras"
        + {"csv": " (and pandas for --csv)", "images": " (and Pillow)"}.get(kind, "")
        + ".\nThe trained model is saved to model.keras (change it with --output).\n"
        '"""'
    )


_SYNTHETIC = '''
def synthetic_data(model, rows=256, seed=0):
    """Random inputs and targets shaped like the model's, to check that it trains."""
    rng = np.random.default_rng(seed)
    xs = []
    for tensor in model.inputs:
        shape = (rows, *tensor.shape[1:])
        if "int" in str(tensor.dtype):
            xs.append(rng.integers(0, VOCAB_SIZE, size=shape).astype("int32"))
        else:
            xs.append(rng.random(shape, dtype="float32"))
    ys = []
    for tensor, task in zip(model.outputs, TASKS):
        shape = (rows, *tensor.shape[1:])
        if task == "multiclass":
            ys.append(rng.integers(0, shape[-1], size=shape[:-1]))
        elif task == "binary":
            ys.append(rng.integers(0, 2, size=shape).astype("float32"))
        elif task == "reconstruction":
            ys.append(xs[0])
        else:
            ys.append(rng.random(shape, dtype="float32"))
    return (xs[0] if len(xs) == 1 else xs), (ys[0] if len(ys) == 1 else ys)
'''

_DATA_CODE = {
    "synthetic": _SYNTHETIC + '''

def load_data(args, model):
    return synthetic_data(model)
''',
    "csv": _SYNTHETIC + '''

def load_data(args, model):
    """Numeric columns of a CSV as features (standardised), one column as the target."""
    if not args.csv:
        return synthetic_data(model)
    import pandas as pd

    if not args.target:
        raise SystemExit("Name the column to predict with --target.")
    frame = pd.read_csv(args.csv)
    target = frame.pop(args.target)
    if FEATURES:
        missing = [name for name in FEATURES if name not in frame.columns]
        if missing:
            raise SystemExit(f"The CSV has no column {missing[0]!r}; the model reads: "
                             + ", ".join(FEATURES))
        features = frame[FEATURES].astype("float32")
        features = (features - np.float32(FEATURE_MEANS)) / np.float32(FEATURE_STDS)
    else:
        features = frame.select_dtypes("number").astype("float32")
        features = (features - features.mean()) / features.std(ddof=0).replace(0, 1)
    width = model.inputs[0].shape[-1]
    if features.shape[1] != width:
        raise SystemExit(f"The model takes {width} numeric columns; the CSV has "
                         f"{features.shape[1]} besides {args.target!r}.")
    if TASKS[0] in ("multiclass", "binary"):
        codes, names = pd.factorize(target, sort=True)
        print("classes:", list(names))
        y = codes.astype("float32" if TASKS[0] == "binary" else "int64")
    else:
        y = target.to_numpy("float32")
    return features.to_numpy(), y
''',
    "images": _SYNTHETIC + '''

def load_data(args, model):
    """Images from one sub-folder per class, decoded and resized as Neural Canvas does.

    Pillow opens each file; _to_mode (Neural Canvas's own function, copied above) turns it
    upright, flattens transparency onto white and makes it grey or RGB; Keras's bilinear
    Resizing layer brings it to the model's size, rounded to whole pixel values as the app
    stores them, then scaled to 0..1. Files Pillow cannot open are skipped.
    """
    if not args.images:
        return synthetic_data(model)
    height, width, channels = model.inputs[0].shape[1:]
    resize = layers.Resizing(height, width, interpolation="bilinear")
    root = Path(args.images)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    print("classes:", classes)
    xs, ys = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if not path.is_file() or any(part.startswith(".") for part in path.parts):
                continue
            try:
                with Image.open(path) as image:
                    image.load()
                    picture = _to_mode(image, channels)
            except (OSError, ValueError, SyntaxError):
                continue
            pixels = np.asarray(picture, dtype=np.uint8).reshape(
                picture.size[1], picture.size[0], channels)
            if pixels.shape[:2] != (height, width):
                resized = np.asarray(resize(pixels[None].astype("float32")))[0]
                pixels = np.clip(np.rint(resized), 0, 255)
            xs.append(pixels)
            ys.append(label)
    return np.stack(xs).astype("float32") / 255.0, np.array(ys)
''',
}

_MAIN_CODE = '''
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="a CSV file (tabular models)")
    parser.add_argument("--target", help="the CSV column to predict")
    parser.add_argument("--images", help="a folder of images, one sub-folder per class")
    parser.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    parser.add_argument("--output", default="model.keras")
    args = parser.parse_args(argv)

    model = build_model()
    model.summary()
    optimizer = keras.optimizers.get(CONFIG["optimizer"])
    optimizer.learning_rate = CONFIG["learning_rate"]
    model.compile(optimizer=optimizer, loss=CONFIG["loss"], metrics=CONFIG["metrics"])
    x, y = load_data(args, model)
    model.fit(x, y, epochs=args.epochs, batch_size=CONFIG["batch_size"],
              validation_split=0.2)
    model.save(args.output)
    print("saved", args.output)


if __name__ == "__main__":
    main()
'''
