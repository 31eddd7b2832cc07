"""A Keras model (a ``.keras`` file or a ``keras.Model``) -> a Design on the canvas.

An uploaded file is untrusted. Its ``config.json`` is read as plain JSON first and
every layer class is checked against the catalog: Lambda layers (which hold Python
code) and classes the canvas does not have are refused, by name, before Keras sees
the file. The file is then loaded with Keras's safe mode on, so no code in it runs.

Each Keras class maps back to the catalog entry whose ``keras_class`` it is, and
the entry's params are read from the layer's config. Settings the canvas does not
have (say a dilation rate) are dropped and listed in the notes, so the person knows
what changed. Weights are not carried over: the canvas holds architectures.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from builder import catalog
from builder.design import MAX_NODES, Design, Edge, Node

MAX_KERAS_BYTES = 1024 * 1024 * 1024
MAX_CONFIG_BYTES = 50 * 1024 * 1024
# What a Keras 3 .keras file holds; Keras extracts every member to disk, so nothing else
# is let through, and what is there is checked against its stored size first.
KERAS_MEMBERS = ("config.json", "metadata.json", "model.weights.h5", "model.weights.npz")
KERAS_FOLDERS = ("assets/",)
MAX_UNPACKED_BYTES = 2 * MAX_KERAS_BYTES
MAX_EXPANSION = 100  # inflated / stored, for members over a mebibyte
VARIABLE_SIZE = 32  # what a None (variable) input size becomes on the canvas


def _variants() -> dict[str, tuple[catalog.LayerType, catalog.KerasVariant]]:
    """Keras classes that are a catalog entry with one parameter set (the catalog's
    variants): ``LeakyReLU`` is Activation ``"leaky_relu"``."""
    return {v.keras_class: (t, v) for t in catalog.LAYER_TYPES for v in t.variants}


def _wrappers() -> dict[str, dict[str, catalog.LayerType]]:
    """Wrapper classes, and the catalog entries each may wrap by their Keras class."""
    found: dict[str, dict[str, catalog.LayerType]] = {}
    for layer_type in catalog.LAYER_TYPES:
        if layer_type.wrapper is not None:
            found.setdefault(layer_type.wrapper.keras_class, {})[layer_type.keras_class] = (
                layer_type)
    return found

_NESTED = ("Functional", "Sequential", "Model")
# Config keys that never change what a layer computes, or that are the name itself.
_IGNORED_KEYS = {"name", "trainable", "dtype", "autocast", "seed", "build_config",
                 "input_dim_unused"}


class ImportRefused(ValueError):
    """The file or model cannot become a design; the message says why and what to do."""


@dataclass
class ImportResult:
    """A design made from a Keras model, and what did not carry over."""

    design: Design
    notes: list[str] = field(default_factory=list)


# -- entry points ------------------------------------------------------------------


def import_keras_bytes(data: bytes, name: str = "the file") -> Design:
    """The design of an uploaded ``.keras`` file (safe mode on; no code runs).

    The notes (settings that were dropped) are on ``design.extra["import_notes"]``.

    Raises:
        ImportRefused: not a .keras file, a Lambda layer, a layer outside the catalog,
            or a graph the canvas cannot hold.
    """
    result = read_keras_bytes(data, name)
    result.design.extra["import_notes"] = list(result.notes)
    return result.design


def read_keras_bytes(data: bytes, name: str = "the file") -> ImportResult:
    """Like :func:`import_keras_bytes`, returning the design and the notes apart."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise ImportRefused(f"{name} is empty. Choose a .keras file saved by Keras 3.")
    if len(data) > MAX_KERAS_BYTES:
        raise ImportRefused(f"{name} is {len(data) / 1e6:,.0f} MB; at most "
                            f"{MAX_KERAS_BYTES / 1e6:,.0f} MB can be imported.")
    config = _read_config(bytes(data), name)
    model_config = _check_classes(config)
    with tempfile.TemporaryDirectory(prefix="nc_import_") as folder:
        path = Path(folder) / "upload.keras"
        path.write_bytes(bytes(data))
        _safe_load(path, name)
    return design_from_config(model_config)


def import_keras_file(path: str | os.PathLike) -> ImportResult:
    """The design of a ``.keras`` file on disk (safe mode on)."""
    path = Path(path)
    if not path.is_file():
        raise ImportRefused(f"There is no file {str(path)!r}. Check the path.")
    return read_keras_bytes(path.read_bytes(), path.name)


def design_from_model(model) -> ImportResult:
    """The design of a functional or Sequential ``keras.Model`` already in memory.

    Raises:
        ImportRefused: a subclassed model, or layers the canvas cannot hold.
    """
    import keras

    if isinstance(model, keras.Sequential):
        class_name = "Sequential"
    elif isinstance(model, keras.Model) and type(model).__name__ == "Functional":
        class_name = "Functional"
    else:
        raise ImportRefused(
            f"The model {getattr(model, 'name', '?')!r} is a subclassed "
            f"{type(model).__name__}, whose graph lives in Python code. Only functional "
            "and Sequential models can be imported.")
    config = {"class_name": class_name, "config": _plain(model.get_config())}
    return design_from_config(_check_classes(config))


# -- reading the file ------------------------------------------------------------


def _read_config(data: bytes, name: str) -> dict:
    if data[:4] == b"\x89HDF":
        raise ImportRefused(f"{name} is a legacy HDF5 (.h5) model. Open it in Keras and save "
                            "it again as .keras (model.save('model.keras')).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImportRefused(f"{name} is not a .keras file (it is not a zip archive). Choose a "
                            "file saved with model.save('model.keras').") from exc
    with archive:
        try:
            info = archive.getinfo("config.json")
        except KeyError as exc:
            raise ImportRefused(f"{name} has no config.json, so it is not a Keras 3 .keras "
                                "file. Save the model again with Keras 3.") from exc
        _check_members(archive, name)
        if info.file_size > MAX_CONFIG_BYTES:
            raise ImportRefused(f"The config.json in {name} is {info.file_size:,} bytes, too "
                                "large for a model graph.")
        try:
            config = json.loads(archive.read(info).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, RecursionError) as exc:
            raise ImportRefused(f"The config.json in {name} is not readable JSON ({exc}); "
                                "the file may be damaged. Save the model again.") from exc
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ImportRefused(f"The config.json in {name} does not describe a model. Choose a "
                            ".keras file of a Keras model.")
    return config


def _check_members(archive: zipfile.ZipFile, name: str) -> None:
    """Refuse members a .keras file does not have, and sizes that would fill the disk."""
    total = 0
    for info in archive.infolist():
        member = info.filename
        if member not in KERAS_MEMBERS and not member.startswith(KERAS_FOLDERS):
            raise ImportRefused(f"{name} holds {member[:80]!r}, which a Keras model file does "
                                "not have. Save the model again with model.save('model.keras').")
        if ".." in member.split("/") or member.startswith("/") or "\\" in member:
            raise ImportRefused(f"{name} holds a path that leaves its folder ({member[:80]!r}). "
                                "Save the model again with model.save('model.keras').")
        if info.file_size > 1024 * 1024 and info.file_size > MAX_EXPANSION * max(
                info.compress_size, 1):
            raise ImportRefused(
                f"{name}'s member {member[:80]!r} would inflate from {info.compress_size:,} "
                f"to {info.file_size:,} bytes, which no model file does (a zip bomb?). Save "
                "the model again with model.save('model.keras').")
        total += info.file_size
    if total > MAX_UNPACKED_BYTES:
        raise ImportRefused(f"{name} would unpack to {total:,} bytes; at most "
                            f"{MAX_UNPACKED_BYTES:,} can be imported.")


def _safe_load(path: Path, name: str) -> None:
    import keras

    import builder.custom_layers  # noqa: F401  (registers our own layers for loading)

    try:
        keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ImportRefused(f"Keras could not load {name} with safe mode on: "
                            f"{str(exc).splitlines()[0][:300]}") from exc


# -- checking the classes ----------------------------------------------------------


def _class_to_type() -> dict[str, str]:
    table = {t.keras_class: t.type_id for t in catalog.LAYER_TYPES if t.keras_class}
    table["InputLayer"] = "Input"
    return table


def _short_class(entry: dict) -> str:
    registered = entry.get("registered_name") or ""
    if isinstance(registered, str) and registered.startswith("neural_canvas>"):
        return registered.split(">", 1)[1]
    return str(entry.get("class_name", "?"))


def _check_classes(config: dict) -> dict:
    """Refuse Lambda layers, nested models and classes outside the catalog, all at once."""
    class_name = config.get("class_name")
    if class_name not in ("Functional", "Sequential", "Model"):
        raise ImportRefused(
            f"The file holds a {str(class_name)[:60]!r}, not a functional or Sequential model. "
            "Subclassed models keep their graph in Python code, which is never run here."
        )
    inner = config["config"]
    entries = inner.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ImportRefused("The model has no layers to import.")
    if len(entries) > MAX_NODES:
        raise ImportRefused(f"The model has {len(entries)} layers; a design holds at most "
                            f"{MAX_NODES}.")
    known, variants, wrappers = _class_to_type(), _variants(), _wrappers()
    lambdas, nested, unknown = [], [], []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ImportRefused("The model's layer list is damaged. Save the model again.")
        cls = _short_class(entry)
        layer_name = str(entry.get("name") or (entry.get("config") or {}).get("name", "?"))
        if cls in ("Lambda", "TFOpLambda", "SlicingOpLambda"):
            lambdas.append(layer_name)
        elif cls in _NESTED:
            nested.append(layer_name)
        elif cls in wrappers:
            inner_cls = _short_class((entry.get("config") or {}).get("layer") or {})
            if inner_cls not in wrappers[cls]:
                unknown.append(f"{cls}({inner_cls}) ('{layer_name}')")
        elif cls not in known and cls not in variants:
            unknown.append(f"{cls} ('{layer_name}')")
    problems = []
    if lambdas:
        problems.append(
            f"Lambda layers hold Python code, which Neural Canvas never runs from an uploaded "
            f"file: {', '.join(repr(n) for n in lambdas)}. Replace them with built-in layers "
            "and save the model again.")
    if nested:
        problems.append(
            f"The model contains other models as layers: {', '.join(repr(n) for n in nested)}. "
            "Rebuild it as one flat functional model, then import it.")
    if unknown:
        problems.append(
            f"These layers are not on the canvas palette: {', '.join(unknown)}. Replace them "
            "with palette layers, or rebuild that part on the canvas.")
    if problems:
        raise ImportRefused("This model cannot be imported. " + " ".join(problems))
    return {"class_name": class_name, "config": inner}


# -- config -> design --------------------------------------------------------------


def design_from_config(model_config: dict) -> ImportResult:
    """A design from a checked model config (``{"class_name", "config"}``)."""
    inner = model_config["config"]
    entries = inner["layers"]
    notes: list[str] = []
    if model_config["class_name"] == "Sequential":
        entries = _sequential_as_functional(entries, inner, notes)
    ids = _node_ids([str(e.get("name") or e["config"].get("name")) for e in entries])
    by_name = {str(e.get("name") or e["config"].get("name")): ids[i]
               for i, e in enumerate(entries)}
    nodes: list[Node] = []
    edges: list[Edge] = []
    for i, entry in enumerate(entries):
        node_id = ids[i]
        type_id, params = _node_params(entry, node_id, notes)
        nodes.append(Node(id=node_id, type=type_id, params=params))
        sources = _sources(entry, node_id, notes)
        layer_type = catalog.get(type_id)
        ordered = len(sources) > 1 or (layer_type and layer_type.call_style != "single")
        for slot, source in enumerate(sources):
            if source not in by_name:
                raise ImportRefused(f"Layer '{node_id}' takes its input from '{source}', "
                                    "which is not in the model. The file is damaged.")
            edges.append(Edge(source=by_name[source], target=node_id,
                              slot=slot if ordered else None))
    _note_outputs(inner, by_name, edges, notes)
    design = Design(nodes=nodes, edges=edges, name=_design_name(inner.get("name")))
    _lay_out(design)
    return ImportResult(design=design, notes=notes)


def _sequential_as_functional(entries: list, inner: dict, notes: list[str]) -> list:
    """Give a Sequential model's layers explicit inbound nodes, one after another."""
    chained = []
    previous = None
    for entry in entries:
        entry = dict(entry)
        if previous is None and _short_class(entry) != "InputLayer":
            shape = inner.get("build_input_shape") or entry["config"].get("batch_shape")
            if not shape:
                raise ImportRefused("The Sequential model has no input shape, so it was never "
                                    "built. Call it on data (or add keras.Input) and save again.")
            chained.append({"class_name": "InputLayer", "name": "input",
                            "config": {"name": "input", "batch_shape": list(shape),
                                       "dtype": "float32"}, "inbound_nodes": []})
            previous = "input"
        name = str(entry.get("name") or entry["config"].get("name"))
        entry["name"] = name
        entry["inbound_nodes"] = [] if previous is None else [_history_node(previous)]
        chained.append(entry)
        previous = name
    return chained


def _history_node(name: str) -> dict:
    return {"args": [{"class_name": "__keras_tensor__",
                      "config": {"keras_history": [name, 0, 0]}}], "kwargs": {}}


def _node_ids(names: list[str]) -> list[str]:
    ids, taken = [], set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:60] or "layer"
        if not base[0].isalpha():
            base = "n_" + base[:58]
        node_id, number = base, 2
        while node_id in taken:
            node_id = f"{base}_{number}"
            number += 1
        ids.append(node_id)
        taken.add(node_id)
    return ids


def _design_name(name) -> str:
    return str(name)[:80] if isinstance(name, str) else "imported"


def _tensors(value, found: list) -> None:
    """Collect ``keras_history`` references in call arguments, in order."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = (value.get("config") or {}).get("keras_history")
            if isinstance(history, list) and len(history) == 3:
                found.append(history)
            return
        for item in value.values():
            _tensors(item, found)
    elif isinstance(value, list):
        for item in value:
            _tensors(item, found)


def _sources(entry: dict, node_id: str, notes: list[str]) -> list[str]:
    inbound = entry.get("inbound_nodes") or []
    if len(inbound) > 1:
        raise ImportRefused(f"Layer '{node_id}' is called {len(inbound)} times (shared "
                            "weights); a canvas node is one layer used once. Import a model "
                            "without shared layers.")
    if not inbound:
        return []
    node = inbound[0]
    histories: list = []
    if isinstance(node, dict):
        _tensors(node.get("args", []), histories)
        kwargs = node.get("kwargs") or {}
        for key in ("query", "value"):
            _tensors(kwargs.get(key), histories)
        extra: list = []
        _tensors({k: v for k, v in kwargs.items() if k not in ("query", "value")}, extra)
        if extra:
            notes.append(f"'{node_id}': extra tensor arguments (such as a key or a mask) "
                         "were dropped; the canvas passes only query and value.")
    elif isinstance(node, list):  # Keras 2 style: [[name, node_index, tensor_index, kwargs]]
        histories = [item[:3] for item in node if isinstance(item, list) and len(item) >= 3]
    sources = []
    for name, node_index, tensor_index in histories:
        if node_index != 0 or tensor_index != 0:
            raise ImportRefused(f"Layer '{node_id}' uses output #{tensor_index} of a call "
                                f"#{node_index} of '{name}'; a canvas node has one output and "
                                "is called once. Import a model without shared or "
                                "multi-output layers.")
        sources.append(str(name))
    return sources


def _note_outputs(inner: dict, by_name: dict, edges: list[Edge], notes: list[str]) -> None:
    outputs = inner.get("output_layers") or []
    if outputs and isinstance(outputs[0], str):
        outputs = [outputs]
    wanted = {by_name.get(str(o[0])) for o in outputs if isinstance(o, list) and o}
    feeding = {e.source for e in edges}
    for node_id in sorted(n for n in wanted if n in feeding):
        notes.append(f"'{node_id}' was an output of the model and also fed other layers; on "
                     "the canvas only nodes that feed nothing are outputs.")


# -- params ------------------------------------------------------------------------


def _plain(value):
    """A config value as JSON data (tuples -> lists), for comparisons."""
    return json.loads(json.dumps(value, default=str))


def _activation_name(value) -> str:
    if isinstance(value, dict):
        value = value.get("config", value.get("class_name"))
    if value is None:
        return "linear"
    return str(value)


def _single_int(value, node_id: str, key: str, notes: list[str]):
    if isinstance(value, (list, tuple)):
        flat = [v for pair in value for v in (pair if isinstance(pair, (list, tuple)) else [pair])]
        if flat and len(set(flat)) > 1:
            notes.append(f"'{node_id}': {key} {_plain(value)} is not the same in every "
                         f"direction; the canvas uses {flat[0]}.")
        return flat[0] if flat else None
    return value


def _factor(value, node_id: str, key: str, notes: list[str]):
    if isinstance(value, (list, tuple)):
        largest = max(abs(float(v)) for v in value)
        if len({abs(float(v)) for v in value}) > 1:
            notes.append(f"'{node_id}': {key} {_plain(value)} is uneven; the canvas uses "
                         f"±{largest:g}.")
        return largest
    return value


def _node_params(entry: dict, node_id: str, notes: list[str]) -> tuple[str, dict]:
    cls = _short_class(entry)
    config = dict(entry.get("config") or {})
    if cls == "InputLayer":
        return "Input", _input_params(config, node_id, notes)
    variant = _variants().get(cls)
    if variant is not None:
        layer_type, variant = variant
        value = {variant.param: variant.value}
        changed = {k: config[k] for k, v in variant.fixed.items() if k in config
                   and config[k] != v}
        if changed:
            notes.append(f"'{node_id}': {cls} settings {_plain(changed)} are not on the canvas; "
                         f"it became a plain {variant.value} {variant.param}.")
        return layer_type.type_id, value
    wrapped = _wrappers().get(cls, {})
    wrapper = None
    if wrapped:
        layer = config.get("layer") or {}
        wrapper = wrapped[_short_class(layer)].wrapper
        for key, value in wrapper.fixed.items():
            if config.get(key, value) != value:
                notes.append(f"'{node_id}': {key.replace('_', ' ')} {config.get(key)!r} "
                             f"became {value!r}, the only one the canvas has.")
        cls, config = _short_class(layer), dict(layer.get("config") or {})
    type_id = _class_to_type()[cls]
    layer_type = catalog.get(type_id)
    params = {}
    for param in layer_type.params:
        key = layer_type.keras_arg(param.name)
        if key not in config:
            continue
        value = config[key]
        if param.name == "activation":
            value = _activation_name(value)
        elif param.kind == "int":
            value = _single_int(value, node_id, key, notes)
        elif param.kind == "float":
            value = _factor(value, node_id, key, notes)
        elif param.kind in ("shape", "ints"):
            value = list(value) if isinstance(value, (list, tuple)) else value
        params[param.name] = value
    if layer_type.wrapper is not None:
        params[layer_type.wrapper.param] = wrapper is not None
    _note_dropped(layer_type, params, config, node_id, notes)
    return type_id, params


def _input_params(config: dict, node_id: str, notes: list[str]) -> dict:
    shape = config.get("batch_shape") or config.get("batch_input_shape") or [None, 1]
    dims = list(shape[1:])
    if any(d is None for d in dims):
        notes.append(f"'{node_id}': the input shape {_plain(shape[1:])} has variable sizes; "
                     f"on the canvas each became {VARIABLE_SIZE}. Set the real size.")
        dims = [VARIABLE_SIZE if d is None else d for d in dims]
    dtype = str(config.get("dtype") or "float32")
    if isinstance(config.get("dtype"), dict):
        dtype = str(config["dtype"].get("config", {}).get("name", "float32"))
    if "int" in dtype:
        wanted = "int32"
    else:
        wanted = "float32"
        if "float" not in dtype:
            notes.append(f"'{node_id}': input type {dtype} is not on the canvas; it became "
                         "float32.")
    return {"shape": dims, "dtype": wanted}


def _note_dropped(layer_type, params: dict, config: dict, node_id: str,
                  notes: list[str]) -> None:
    """List the original settings the catalog layer does not reproduce."""
    clean, problems = catalog.check_params(layer_type, params)
    if problems:
        return  # the validator reports these on the node
    built = layer_type.build(clean, node_id)
    call = layer_type.keras_call(clean)
    if call.wrapper is not None:
        built = getattr(built, call.wrapper.inner_attribute)
    ours = _plain(built.get_config())
    theirs = _plain(config)
    skip = _IGNORED_KEYS | set(layer_type.keras_args.values())
    changed = sorted(k for k in theirs if k not in skip and k in ours and k not in params
                     and not _same(k, ours[k], theirs[k]))
    if changed:
        shown = ", ".join(f"{k}={_short(theirs[k])}" for k in changed[:6])
        more = f" and {len(changed) - 6} more" if len(changed) > 6 else ""
        notes.append(f"'{node_id}' ({layer_type.title}): settings the canvas does not have "
                     f"were reset to defaults: {shown}{more}.")


def _same(key: str, ours, theirs) -> bool:
    """Equal settings, counting ``-1`` and ``[-1]`` alike, and values Keras fills in on build."""
    if ours == theirs or [ours] == theirs or ours == [theirs]:
        return True
    # MultiHeadAttention records the axes it attended over once built: (1,) for sequences.
    return key == "attention_axes" and ours is None and theirs == [1]


def _short(value) -> str:
    if isinstance(value, dict) and "class_name" in value:
        return str(value["class_name"])
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _lay_out(design: Design) -> None:
    from builder.layout import layered_positions

    positions = layered_positions([n.id for n in design.nodes],
                                  [(e.source, e.target) for e in design.edges])
    for node in design.nodes:
        node.position = positions[node.id]
