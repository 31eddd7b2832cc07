"""Does a design fit the prepared data? Every mismatch with a one-click fix.

The Input node must take the shape (and dtype) the data gives; the output must
have as many units as the task needs and an activation that fits the loss
training will use (``PreparedData.expected_output``). For text, Embedding and
PositionEmbedding sizes must cover the vocabulary and the sequence length.

``check_link`` lists the issues; ``apply_fix`` returns a corrected *copy* of the
design for one issue, ``fix_all`` for all that can be fixed automatically.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder import catalog
from builder.data import OutputSpec, PreparedData
from builder.design import Design, Edge, Node, new_node_id
from builder.vocabulary import format_shape

ACTIVATION_WORDS = {
    "sigmoid": "a probability between 0 and 1 ('sigmoid')",
    "softmax": "probabilities over the classes that add up to 1 ('softmax')",
    "linear": "any number, unbounded ('linear')",
}
LOSS_WORDS = {
    "binary_crossentropy": "binary cross-entropy",
    "sparse_categorical_crossentropy": "categorical cross-entropy",
    "mse": "mean squared error",
}


@dataclass
class LinkIssue:
    """One mismatch between a design and the data.

    Attributes:
        code: ``input_count``, ``input_shape``, ``input_dtype``, ``output_count``,
            ``output_units``, ``output_activation``, ``output_layer``,
            ``output_shape``, ``embedding_vocab`` or ``position_length``.
        message: what is wrong, with the values.
        node_id: the node concerned, or None.
        fix_label: the one-click fix as button text; empty when there is none.
    """

    code: str
    message: str
    node_id: str | None = None
    fix_label: str = ""

    @property
    def fixable(self) -> bool:
        return bool(self.fix_label)

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "node_id": self.node_id,
                "fix_label": self.fix_label}


def _inputs(design: Design) -> list[Node]:
    return [n for n in design.nodes if n.type == "Input"]


def _params(node: Node) -> dict:
    layer_type = catalog.get(node.type)
    if layer_type is None:
        return dict(node.params) if isinstance(node.params, dict) else {}
    clean, _ = catalog.check_params(layer_type, node.params)
    merged = dict(node.params) if isinstance(node.params, dict) else {}
    merged.update(clean)
    return merged


def _with_data_input(design: Design, prepared: PreparedData) -> Design:
    copy = design.copy()
    for node in _inputs(copy):
        node.params = dict(node.params or {}, shape=list(prepared.input_shape),
                           dtype=prepared.input_dtype)
    return copy


def _outputs(design: Design) -> list[str]:
    """Nodes (other than Input) that feed nothing: the model's outputs."""
    feeding = {e.source for e in design.edges}
    return [n.id for n in design.nodes if n.id not in feeding and n.type != "Input"]


def check_link(design: Design, prepared: PreparedData) -> list[LinkIssue]:
    """Every way ``design`` does not fit ``prepared``; empty when it fits."""
    from builder.validate import analyze

    issues: list[LinkIssue] = []
    inputs = _inputs(design)
    want_shape = list(prepared.input_shape)
    if len(inputs) != 1:
        issues.append(LinkIssue(
            "input_count",
            f"The design has {len(inputs)} Input nodes; this data feeds exactly one, of shape "
            f"{format_shape(want_shape)}." + (" Add an Input node." if not inputs else
                                             " Remove the extra Input nodes."),
        ))
    else:
        node = inputs[0]
        params = _params(node)
        shape = params.get("shape")
        if list(shape or []) != want_shape:
            issues.append(LinkIssue(
                "input_shape",
                f"The Input '{node.id}' takes shape {format_shape(shape or [])}, but the data "
                f"gives {format_shape(want_shape)} ({_what_goes_in(prepared)}).",
                node.id, f"Set the input shape to {format_shape(want_shape)}",
            ))
        if params.get("dtype", "float32") != prepared.input_dtype:
            words = "whole-number token ids" if prepared.input_dtype == "int32" else "numbers"
            issues.append(LinkIssue(
                "input_dtype",
                f"The Input '{node.id}' takes {params.get('dtype')}, but the data gives {words} "
                f"({prepared.input_dtype}).",
                node.id, f"Set the input dtype to {prepared.input_dtype}",
            ))
    if prepared.kind == "text":
        issues.extend(_text_issues(design, prepared))
    outputs = _outputs(design)
    if len(outputs) != 1:
        issues.append(LinkIssue(
            "output_count",
            f"The design has {len(outputs)} output nodes (nodes that feed nothing); the data "
            "has one target, so the design needs exactly one.",
        ))
        return issues
    report = analyze(_with_data_input(design, prepared))
    issues.extend(_output_issues(design, prepared, outputs[0], report))
    return issues


def _what_goes_in(prepared: PreparedData) -> str:
    if prepared.kind == "tabular":
        return f"{prepared.input_shape[0]} prepared features from {len(prepared.feature_names)} " \
               "column(s)"
    if prepared.kind == "images":
        height, width, channels = prepared.input_shape
        return f"{height} x {width} images with {channels} channel(s)"
    if prepared.kind == "text":
        return f"{prepared.input_shape[0]} token ids per text"
    window, features = prepared.input_shape
    return f"windows of {window} steps with {features} feature(s)"


def _expected_words(prepared: PreparedData) -> str:
    if prepared.task == "binary":
        return "binary classification (one unit: the probability of " \
               f"'{prepared.class_names[1] if len(prepared.class_names) > 1 else 'yes'}')"
    if prepared.task == "multiclass":
        names = ", ".join(prepared.class_names[:6]) + (", ..." if prepared.num_classes and
                                                       prepared.num_classes > 6 else "")
        return f"{prepared.num_classes} classes ({names})"
    if prepared.task == "regression":
        count = len(prepared.target_names)
        return f"{count} number(s) to predict ({', '.join(prepared.target_names[:6])})"
    return "reconstruction of the input"


def _output_issues(design: Design, prepared: PreparedData, out_id: str, report
                   ) -> list[LinkIssue]:
    spec = prepared.expected_output()
    node = design.node(out_id)
    params = _params(node)
    analysis = report.nodes.get(out_id)
    shape = analysis.output_shape if analysis is not None else None
    issues: list[LinkIssue] = []
    if prepared.task == "reconstruction":
        if shape is not None and list(shape[1:]) != list(spec.shape):
            issues.append(LinkIssue(
                "output_shape",
                f"The output '{out_id}' gives {format_shape(shape[1:])}, but reconstruction "
                f"must give back the input's shape {format_shape(spec.shape)}.", out_id))
        if "activation" in params and params["activation"] != spec.activation:
            issues.append(_activation_issue(out_id, params["activation"], spec, prepared))
        return issues
    dense_id = _dense_behind(design, node)
    if dense_id is None:
        rank_note = ""
        if shape is not None and len(shape) > 2:
            rank_note = f" Its output {format_shape(shape[1:])} is not a flat vector either."
        issues.append(LinkIssue(
            "output_layer",
            f"The output '{out_id}' is a {node.type}, but {_expected_words(prepared)} needs a "
            f"Dense layer with {spec.units} unit(s) and '{spec.activation}' at the end."
            + rank_note,
            out_id, f"Add a Dense({spec.units}, {spec.activation}) output",
        ))
        return issues
    dense = design.node(dense_id)
    dense_params = _params(dense)
    activation = params.get("activation") if node.type == "Activation" else dense_params.get(
        "activation")
    if prepared.task == "binary" and dense_params.get("units") == 2 and activation == "softmax":
        # Two classes as two softmax probabilities: as right as one sigmoid unit.
        spec = OutputSpec(2, "softmax", spec.loss, spec.metrics, (2,))
    if dense_params.get("units") != spec.units:
        issues.append(LinkIssue(
            "output_units",
            f"The output '{dense_id}' has {dense_params.get('units')} unit(s), but the data has "
            f"{_expected_words(prepared)}.",
            dense_id, f"Set units to {spec.units}",
        ))
    if activation != spec.activation:
        issues.append(_activation_issue(out_id, activation, spec, prepared))
    if shape is not None and len(shape) != len(spec.shape) + 1:
        issues.append(LinkIssue(
            "output_shape",
            f"The output '{out_id}' gives {format_shape(shape[1:])} per sample, but the target is "
            f"{format_shape(spec.shape)}: the Dense layer is applied to every step or pixel. "
            "Put a Flatten or global pooling layer (or a recurrent layer without 'return "
            "sequences') before it.", out_id))
    return issues


def _dense_behind(design: Design, node: Node) -> str | None:
    """The Dense node that sets the output units: the output itself, or one Activation back."""
    if node.type == "Dense":
        return node.id
    if node.type == "Activation":
        sources = design.inputs_of(node.id)
        if len(sources) == 1 and design.node(sources[0]) is not None and design.node(
                sources[0]).type == "Dense":
            return sources[0]
    return None


def _activation_issue(out_id: str, activation, spec, prepared: PreparedData) -> LinkIssue:
    needs = ACTIVATION_WORDS.get(spec.activation, f"'{spec.activation}'")
    loss = LOSS_WORDS.get(spec.loss, spec.loss)
    task = prepared.task if prepared.task != "multiclass" else "multiclass classification"
    if prepared.task == "binary":
        task = "binary classification"
    return LinkIssue(
        "output_activation",
        f"The output '{out_id}' uses '{activation}', which does not fit {task}: its loss "
        f"({loss}) needs {needs}.",
        out_id, f"Use {spec.activation}",
    )


def _text_issues(design: Design, prepared: PreparedData) -> list[LinkIssue]:
    issues = []
    vocab = int(prepared.info.get("vocabulary_size", 0))
    length = int(prepared.info.get("sequence_length", prepared.input_shape[0]))
    for node in design.nodes:
        params = _params(node)
        if node.type == "Embedding" and int(params.get("input_dim", 0)) < vocab:
            issues.append(LinkIssue(
                "embedding_vocab",
                f"The Embedding '{node.id}' knows {params.get('input_dim')} token ids, but the "
                f"vocabulary has {vocab:,}; larger ids would fail.",
                node.id, f"Set the vocabulary size to {vocab:,}",
            ))
        if node.type == "PositionEmbedding" and int(params.get("max_length", 0)) < length:
            issues.append(LinkIssue(
                "position_length",
                f"The PositionEmbedding '{node.id}' takes at most {params.get('max_length')} "
                f"steps, but each text is {length} tokens.",
                node.id, f"Set max length to {length}",
            ))
    return issues


def apply_fix(design: Design, prepared: PreparedData, issue: LinkIssue) -> Design:
    """A corrected copy of ``design`` for one fixable issue (unchanged copy otherwise)."""
    fixed = design.copy()
    node = fixed.node(issue.node_id) if issue.node_id else None
    spec = prepared.expected_output()
    if issue.code in ("input_shape", "input_dtype") and node is not None:
        node.params = dict(node.params or {}, shape=list(prepared.input_shape),
                           dtype=prepared.input_dtype)
    elif issue.code == "output_units" and node is not None:
        node.params = dict(node.params or {}, units=spec.units)
    elif issue.code == "output_activation" and node is not None:
        node.params = dict(node.params or {}, activation=spec.activation)
    elif issue.code == "embedding_vocab" and node is not None:
        node.params = dict(node.params or {},
                           input_dim=int(prepared.info["vocabulary_size"]))
    elif issue.code == "position_length" and node is not None:
        node.params = dict(node.params or {},
                           max_length=int(prepared.info["sequence_length"]))
    elif issue.code == "output_layer" and node is not None:
        _append_dense(fixed, prepared, node)
    return fixed


def _append_dense(design: Design, prepared: PreparedData, node: Node) -> None:
    from builder.validate import analyze

    spec = prepared.expected_output()
    report = analyze(_with_data_input(design, prepared))
    analysis = report.nodes.get(node.id)
    shape = analysis.output_shape if analysis is not None else None
    x, y = node.position
    last = node.id
    if shape is not None and len(shape) > 2:
        flat_id = new_node_id(design, "Flatten")
        design.nodes.append(Node(flat_id, "Flatten", {}, (x, y + 110)))
        design.edges.append(Edge(last, flat_id))
        last, y = flat_id, y + 110
    dense_id = new_node_id(design, "Dense")
    design.nodes.append(Node(dense_id, "Dense", {"units": spec.units,
                                                 "activation": spec.activation,
                                                 "use_bias": True}, (x, y + 110)))
    design.edges.append(Edge(last, dense_id))


def fix_all(design: Design, prepared: PreparedData, rounds: int = 8) -> Design:
    """A copy of ``design`` with every fixable issue fixed."""
    fixed = design.copy()
    for _ in range(rounds):
        todo = [i for i in check_link(fixed, prepared) if i.fixable]
        if not todo:
            break
        fixed = apply_fix(fixed, prepared, todo[0])
    return fixed


def preparation_hints(design: Design) -> dict:
    """The choices of data preparation that the design's Input already makes.

    Preparing data leaves some things open (the image size and channels, the tokens
    per text and the vocabulary, the window of a series); a design fixes them. With
    these as the preparation's settings, a design trains on a sample as it is,
    without a "Fix all". Only what the design states is given:

    - ``size`` and ``channels``: an Input of shape (height, width, 1 or 3);
    - ``sequence_length`` and ``max_tokens``: an int32 Input of shape (length,) read
      by Embedding layers (the smallest Embedding's ``input_dim`` is the vocabulary);
    - ``window``: an Input of shape (steps, features);
    - ``task``: ``"reconstruction"`` when the design's one output has its Input's shape.
    """
    from builder.validate import analyze

    inputs = _inputs(design)
    if len(inputs) != 1:
        return {}
    params = _params(inputs[0])
    shape = [int(d) for d in params.get("shape") or [] if isinstance(d, int)]
    if len(shape) != len(params.get("shape") or []):
        return {}
    hints: dict = {}
    if len(shape) == 3 and shape[-1] in (1, 3):
        hints.update(size=(shape[0], shape[1]), channels=shape[2])
    elif len(shape) == 2:
        hints["window"] = shape[0]
    elif len(shape) == 1 and params.get("dtype") == "int32":
        embeddings = [int(_params(n).get("input_dim", 0)) for n in design.nodes
                      if n.type == "Embedding"]
        hints["sequence_length"] = shape[0]
        if embeddings and min(embeddings) > 2:
            # Ids 0 (padding) and 1 (unknown word) come on top of the words kept.
            hints["max_tokens"] = min(embeddings) - 2
    outputs = _outputs(design)
    if len(outputs) == 1 and len(shape) > 1:
        report = analyze(design)
        analysis = report.nodes.get(outputs[0])
        if analysis is not None and analysis.output_shape is not None and \
                list(analysis.output_shape[1:]) == shape:
            hints["task"] = "reconstruction"
    return hints
