"""Design -> keras.Model through the functional API.

Layers are created and connected in topological order; each Keras layer is named
after its node, so any Keras error can be traced back to the node that caused it.
"""

from __future__ import annotations

from builder import catalog, graph
from builder.design import Design
from builder.validate import Problem, Report, analyze


class DesignError(ValueError):
    """The design has problems; ``report`` lists them per node."""

    def __init__(self, report: Report):
        self.report = report
        lines = [_describe(p) for p in report.problems[:10]]
        more = len(report.problems) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__("The design cannot be built:\n" + "\n".join(lines))


def _describe(problem: Problem) -> str:
    where = f"[{problem.node_id}] " if problem.node_id else ""
    return f"  - {where}{problem.code}: {problem.message}"


def build_model(design: Design):
    """Build the Keras model a design describes.

    Inputs are the Input nodes and outputs the nodes that feed nothing, both in the
    design's node order; a model with one of each takes and returns single tensors.

    Raises:
        DesignError: the analysis found problems (they are on ``.report``).
    """
    import keras

    report = analyze(design)
    if not report.ok:
        raise DesignError(report)
    tensors: dict = {}
    order = [n.id for n in design.nodes]
    position = {node_id: i for i, node_id in enumerate(order)}
    # Trace in a topological order, ties broken by design order, as analyze() did.
    ordered, _ = graph.topological_order(order, [(e.source, e.target) for e in design.edges])
    for node_id in ordered:
        node = design.node(node_id)
        layer_type = catalog.get(node.type)
        params, _ = catalog.check_params(layer_type, node.params)
        if layer_type.is_input:
            tensors[node_id] = graph.make_input(node_id, params)
            continue
        inputs = [tensors[s] for s in design.inputs_of(node_id)]
        layer = graph.make_layer(layer_type, params, node_id)
        tensors[node_id] = graph.call_layer(layer_type, layer, inputs)
    input_ids = sorted(report.input_ids, key=position.get)
    output_ids = sorted(report.output_ids, key=position.get)
    inputs = [tensors[i] for i in input_ids]
    outputs = [tensors[o] for o in output_ids]
    return keras.Model(
        inputs=inputs[0] if len(inputs) == 1 else inputs,
        outputs=outputs[0] if len(outputs) == 1 else outputs,
        name=model_name(design),
    )


def model_name(design: Design) -> str:
    """The Keras model's name: the design's name in letters, digits and underscores."""
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in design.name).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = design.role or "model"
    return cleaned[:64]
