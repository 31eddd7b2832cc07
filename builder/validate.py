"""Analysis of a design: every problem on the node that causes it, every shape known.

``analyze(design)`` never raises for a bad design. It collects problems with
stable codes, keyed by node id, and for each node it can resolve gives the output
shape and parameter count, the way Deep Network Designer's Analyze view does.
Nodes that fail only because something upstream failed are marked ``skipped``
without a copy of the upstream error.

Shapes come from building the real Keras layers on symbolic inputs with weight
allocation switched off, so the analysis and the compiled model agree by
construction, and a layer with absurdly many parameters costs nothing to check.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from builder import catalog, graph
from builder.design import Design, is_valid_node_id
from builder.vocabulary import format_shape

# A layer larger than this is refused before anything is allocated: at four bytes
# a weight it would need 2 GB for the weights alone, more than a learner's laptop
# can train.
MAX_LAYER_PARAMS = 500_000_000

CODES = (
    "unknown_type",
    "bad_id",
    "duplicate_id",
    "bad_param",
    "missing_input",
    "too_many_inputs",
    "dangling_edge",
    "cycle",
    "disconnected",
    "no_input",
    "no_output",
    "input_has_inputs",
    "shape_mismatch",
    "too_large",
)

RANK_WORDS = {
    2: "a vector (batch, features)",
    3: "a sequence (batch, steps, features)",
    4: "an image (batch, height, width, channels)",
}


@dataclass
class Problem:
    """One thing wrong, on one node (or on the whole design when ``node_id`` is None)."""

    code: str
    message: str
    node_id: str | None = None
    param: str | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "node_id": self.node_id,
                "param": self.param}


@dataclass
class NodeAnalysis:
    """What the analysis knows about one node."""

    node_id: str
    type_id: str
    status: str = "ok"  # "ok" | "error" | "skipped"
    output_shape: tuple | None = None
    param_count: int | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def shape_text(self) -> str:
        return format_shape(self.output_shape)


@dataclass
class Report:
    """The result of :func:`analyze`."""

    nodes: dict[str, NodeAnalysis]
    problems: list[Problem]
    input_ids: list[str] = field(default_factory=list)
    output_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def total_params(self) -> int:
        return sum(n.param_count or 0 for n in self.nodes.values())

    def problems_for(self, node_id: str) -> list[Problem]:
        return [p for p in self.problems if p.node_id == node_id]

    def design_problems(self) -> list[Problem]:
        """Problems that belong to no single node."""
        return [p for p in self.problems if p.node_id is None or p.node_id not in self.nodes]

    def summary(self) -> str:
        """One line: total parameters and the number of problems."""
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        return f"{self.total_params:,} parameters · {count} {noun}"


# ---------------------------------------------------------------------------


_CACHE: OrderedDict[str, Report] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64


@dataclass
class _Traced:
    """What tracing one node gave: a pure function of its :func:`_trace_key`."""

    param_count: int | None
    output_shape: tuple | None
    problems: list[tuple[str, str]]  # (code, message), in the order they were found
    tensor: object | None  # the symbolic output, for the nodes after it


class _TraceMemo:
    """Per-node trace results of recent analyses, least recently used dropped first.

    An edit changes one node's key (its parameters) and, when its output shape
    changes too, the keys of the nodes it feeds; every other node's result is
    reused, so an edit costs a few layer traces instead of one per node.
    """

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[str, _Traced] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> _Traced | None:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
            return found

    def put(self, key: str, traced: _Traced) -> None:
        with self.lock:
            self.entries[key] = traced
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_TRACES = _TraceMemo(4096)


def clear_caches() -> None:
    """Forget every cached report and per-node trace (benchmarks measure the work)."""
    with _CACHE_LOCK:
        _CACHE.clear()
    _TRACES.clear()


def _tensor_signature(tensor) -> tuple:
    """Everything about a symbolic input that a layer's trace can depend on."""
    mask = getattr(tensor, "_keras_mask", None)
    return (tuple(tensor.shape), str(tensor.dtype), bool(getattr(tensor, "sparse", False)),
            bool(getattr(tensor, "ragged", False)),
            None if mask is None else (tuple(mask.shape), str(mask.dtype)))


def _trace_key(node_id: str, type_id: str, params: dict, sources: list[str],
               inputs: list) -> str:
    """A digest of all a node's trace depends on: its id (the layer name, and the
    messages), type, checked parameters, input ids in order, and its inputs'
    shapes and dtypes. Not the inputs' own history: a node after an edited one
    whose output shape did not change keeps its result."""
    parts = json.dumps([node_id, type_id, params, sources,
                        [_tensor_signature(t) for t in inputs]],
                       sort_keys=True, default=repr)
    return hashlib.blake2b(parts.encode(), digest_size=16).hexdigest()


def analyze(design: Design) -> Report:
    """Check a design and infer every node's output shape and parameter count.

    Positions do not affect the result, so the report of a design that was only
    dragged around comes from a small cache. The returned report is shared:
    treat it as read-only.
    """
    key = _cache_key(design)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    report = _Analysis(design, _TRACES).run()
    with _CACHE_LOCK:
        _CACHE[key] = report
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return report


def analyze_uncached(design: Design) -> Report:
    """The same report as :func:`analyze`, built from scratch: every node is traced,
    and no cache is read or filled (to check the caches, and to measure the work)."""
    return _Analysis(design, None).run()


def _cache_key(design: Design) -> str:
    nodes = [(n.id, n.type, n.params) for n in design.nodes]
    edges = [(e.source, e.target, e.slot) for e in design.edges]
    return json.dumps([nodes, edges], sort_keys=True, default=repr)


class _Analysis:
    """One run of the analysis; a class only to share its working state."""

    def __init__(self, design: Design, memo: _TraceMemo | None):
        self.design = design
        self.memo = memo
        self.problems: list[Problem] = []
        self.nodes: dict[str, NodeAnalysis] = {}
        self.clean_params: dict[str, dict] = {}

    def report(self, code: str, message: str, node_id: str | None = None,
               param: str | None = None) -> None:
        problem = Problem(code, message, node_id, param)
        self.problems.append(problem)
        if node_id in self.nodes:
            self.nodes[node_id].problems.append(problem)
            self.nodes[node_id].status = "error"

    def run(self) -> Report:
        self.check_nodes()
        edges = self.check_edges()
        self.check_input_counts(edges)
        order = self.check_cycles(edges)
        self.check_ends(edges)
        self.trace(order)
        inputs = [n for n in order if self.type_of(n) and self.type_of(n).is_input]
        outputs = graph.sinks(self.design, [n for n in order if n in self.nodes])
        return Report(self.nodes, self.problems, inputs, outputs)

    def type_of(self, node_id: str) -> catalog.LayerType | None:
        node = self.nodes.get(node_id)
        return catalog.get(node.type_id) if node else None

    def title(self, node_id: str) -> str:
        layer_type = self.type_of(node_id)
        return f"{layer_type.title if layer_type else 'Node'} '{node_id}'"

    # -- structure ------------------------------------------------------------

    def check_nodes(self) -> None:
        for node in self.design.nodes:
            if node.id in self.nodes:
                self.report("duplicate_id", f"Two nodes share the id '{node.id:.64}'. Node ids "
                            "must be unique; rename or delete one of them.", node.id)
                continue
            self.nodes[node.id] = NodeAnalysis(node.id, node.type)
            if not is_valid_node_id(node.id):
                self.report("bad_id", f"Node id {node.id!r:.70} is not allowed: ids start with "
                            "a letter and use only letters, digits and _ (at most 64). "
                            "Rename the node.", node.id)
            layer_type = catalog.get(node.type)
            if layer_type is None:
                self.report("unknown_type", f"{node.type!r:.60} is not a layer type Neural "
                            "Canvas knows. Replace the node with one from the palette.", node.id)
                continue
            clean, param_problems = catalog.check_params(layer_type, node.params)
            for param, message in param_problems:
                self.report("bad_param", message, node.id, param or None)
            self.clean_params[node.id] = clean

    def check_edges(self) -> list[tuple[str, str]]:
        """Report edges to missing nodes; return the usable (source, target) pairs."""
        usable = []
        for edge in self.design.edges:
            missing = [end for end in (edge.source, edge.target) if end not in self.nodes]
            if missing:
                # A design-level problem: the node that still exists is fine in itself,
                # and blaming it would stop its shape (and everything after it) showing.
                self.report("dangling_edge", f"A connection {edge.source!r:.40} -> "
                            f"{edge.target!r:.40} points to a node that does not exist "
                            f"({', '.join(repr(m)[:40] for m in missing)}). Delete the "
                            "connection.")
                continue
            usable.append((edge.source, edge.target))
        return usable

    def check_input_counts(self, edges: list[tuple[str, str]]) -> None:
        count = {n: 0 for n in self.nodes}
        for _, target in edges:
            count[target] += 1
        for node_id, n_inputs in count.items():
            layer_type = self.type_of(node_id)
            if layer_type is None:
                continue
            if layer_type.is_input:
                if n_inputs:
                    self.report("input_has_inputs", f"{self.title(node_id)} is where data "
                                "enters, so nothing can connect into it. Delete the "
                                "connection into it.", node_id)
                continue
            low, high = layer_type.min_inputs, layer_type.max_inputs
            if n_inputs < low:
                if n_inputs == 0:
                    message = (f"{self.title(node_id)} has no input. Connect a layer (or an "
                               "Input) into it.")
                else:
                    message = (f"{self.title(node_id)} needs at least {low} inputs; it has "
                               f"{n_inputs}. Connect another layer into it.")
                self.report("missing_input", message, node_id)
            elif high is not None and n_inputs > high:
                wanted = "one input" if high == 1 else f"at most {high} inputs"
                fix = ("Use a merge layer (Add, Concatenate, ...) to join them first."
                       if high == 1 else "Remove the extra connections.")
                self.report("too_many_inputs", f"{self.title(node_id)} takes {wanted}; it has "
                            f"{n_inputs}. {fix}", node_id)

    def check_cycles(self, edges: list[tuple[str, str]]) -> list[str]:
        order, blocked = graph.topological_order(list(self.nodes), edges)
        if blocked:
            looped = graph.nodes_on_cycles(blocked, edges)
            for node_id in sorted(looped, key=list(self.nodes).index):
                self.report("cycle", f"{self.title(node_id)} is part of a loop: data would flow "
                            "back into itself. Delete one connection of the loop.", node_id)
            for node_id in blocked - looped:
                self.nodes[node_id].status = "skipped"
        self.edges = edges
        return order

    def check_ends(self, edges: list[tuple[str, str]]) -> None:
        if not self.nodes:
            self.report("no_input", "The design is empty. Add an Input layer from the palette, "
                        "then the layers that follow it.")
            return
        input_ids = [n for n in self.nodes if (t := self.type_of(n)) and t.is_input]
        if not input_ids:
            self.report("no_input", "The design has no Input layer, so no data can enter it. "
                        "Add an Input from the palette and connect it to the first layer.")
        if not graph.sinks(self.design, list(self.nodes)):
            self.report("no_output", "Every layer feeds another, so the design has no output. "
                        "Remove the connection that loops back.")
        if len(self.nodes) > 1:
            touched = {end for edge in edges for end in edge}
            for node_id in self.nodes:
                if node_id not in touched and self.nodes[node_id].status == "ok":
                    self.report("disconnected", f"{self.title(node_id)} is not connected to "
                                "anything. Connect it, or delete it.", node_id)

    # -- shapes -----------------------------------------------------------------

    def trace(self, order: list[str]) -> None:
        tensors: dict = {}
        try:
            scope = graph.no_weight_allocation()
            scope.__enter__()
        except Exception as exc:  # Keras missing or broken: structure is still reported
            self.report("shape_mismatch", f"Shapes could not be inferred: {exc}. Reinstall "
                        "Neural Canvas's dependencies.")
            return
        try:
            for node_id in order:
                self.trace_node(node_id, tensors)
        finally:
            scope.__exit__(None, None, None)

    def trace_node(self, node_id: str, tensors: dict) -> None:
        info = self.nodes[node_id]
        if info.status != "ok":
            return
        params = self.clean_params[node_id]
        sources = self.design.inputs_of(node_id)
        if any(s not in tensors for s in sources):
            info.status = "skipped"
            return
        inputs = [tensors[s] for s in sources]
        traced = None
        if self.memo is not None:
            key = _trace_key(node_id, info.type_id, params, sources, inputs)
            traced = self.memo.get(key)
        if traced is None:
            traced = self.trace_fresh(node_id, params, sources, inputs)
            if self.memo is not None:
                self.memo.put(key, traced)
        info.param_count = traced.param_count
        for code, message in traced.problems:
            self.report(code, message, node_id)
        info.output_shape = traced.output_shape
        if traced.tensor is not None:
            tensors[node_id] = traced.tensor

    def trace_fresh(self, node_id: str, params: dict, sources: list[str],
                    inputs: list) -> _Traced:
        """Build the node's real Keras layer on its symbolic inputs."""
        layer_type = self.type_of(node_id)
        traced = _Traced(param_count=None, output_shape=None, problems=[], tensor=None)
        if layer_type.is_input:
            output = graph.make_input(node_id, params)
            traced.param_count = 0
        else:
            message = self.input_problem(node_id, layer_type, params, sources, inputs)
            if message:
                traced.problems.append(("shape_mismatch", message))
                return traced
            try:
                layer = graph.make_layer(layer_type, params, node_id)
                output = graph.call_layer(layer_type, layer, inputs)
                param_count = int(layer.count_params())
            except Exception as exc:  # Keras rejected the combination: say so on the node
                traced.problems.append(
                    ("shape_mismatch", self.keras_message(node_id, sources, inputs, exc)))
                return traced
            if param_count > MAX_LAYER_PARAMS:
                traced.problems.append((
                    "too_large", f"{self.title(node_id)} would have {param_count:,} "
                    f"parameters; the limit is {MAX_LAYER_PARAMS:,} per layer. Use fewer "
                    "units or filters, or shrink its input (pooling, a smaller Dense)."))
                return traced
            traced.param_count = param_count
        shape = tuple(output.shape)
        if any(d is not None and d <= 0 for d in shape):
            traced.problems.append((
                "shape_mismatch", f"{self.title(node_id)} would output "
                f"{format_shape(shape)}, which has no room left. Use padding 'same', a "
                "smaller window, or fewer pooling layers before it."))
            return traced
        traced.output_shape = shape
        traced.tensor = output
        return traced

    def input_problem(self, node_id, layer_type, params, sources, inputs) -> str:
        """Our own sentence for the common shape mistakes, before Keras sees them."""
        shapes = [tuple(t.shape) for t in inputs]
        if layer_type.input_rank:
            low, high = layer_type.input_rank
            for source, shape in zip(sources, shapes):
                if not low <= len(shape) <= high:
                    wanted = RANK_WORDS.get(low, f"{low - 1} dimensions plus the batch")
                    if low != high:
                        wanted = f"at least {low - 1} dimensions plus the batch"
                    return (f"{self.title(node_id)} expects {wanted}; it gets "
                            f"{format_shape(shape)} from '{source}'. "
                            + _rank_fix(len(shape), low))
        if layer_type.call_style == "list" and layer_type.type_id != "Concatenate":
            if len(set(shapes)) > 1:
                listed = _listed(sources, shapes)
                return (f"{self.title(node_id)} needs inputs of the same shape; got {listed}. "
                        "Make the layers before it produce the same shape (e.g. equal units "
                        "or filters).")
        if layer_type.type_id == "Concatenate":
            return _concatenate_problem(self.title(node_id), params["axis"], sources, shapes)
        return _window_problem(self.title(node_id), layer_type, params, shapes[0])

    def keras_message(self, node_id, sources, inputs, exc: Exception) -> str:
        shapes = ", ".join(f"{format_shape(tuple(t.shape))} from '{s}'"
                           for s, t in zip(sources, inputs))
        # Keras names unnamed symbolic tensors from a global counter; the number
        # means nothing to a person and would make two analyses differ.
        detail = _TENSOR_NAME.sub("", " ".join(str(exc).split()))
        if len(detail) > 300:
            detail = detail[:297] + "..."
        return (f"{self.title(node_id)} cannot take its input {shapes}: {detail} "
                "Check its parameters and the layers before it.")


_TENSOR_NAME = re.compile(r", name=keras_tensor(_\d+)?")


def _listed(sources, shapes) -> str:
    """"(None, 8) from 'a', (None, 4) from 'b'"."""
    return ", ".join(f"{format_shape(s)} from '{n}'" for n, s in zip(sources, shapes))


def _rank_fix(got: int, wanted: int) -> str:
    if got > wanted:
        return "Add a Flatten or a global pooling layer before it."
    if wanted == 4:
        return "Start from an image Input (height, width, channels), or add a Reshape before it."
    if wanted == 3:
        return ("Feed it a sequence: an Embedding, a recurrent layer with 'return sequences', "
                "or a Reshape before it.")
    return "Add a Reshape before it."


def _concatenate_problem(title: str, axis: int, sources, shapes) -> str:
    ranks = {len(s) for s in shapes}
    if len(ranks) > 1:
        listed = _listed(sources, shapes)
        return (f"{title} joins inputs with the same number of dimensions; got {listed}. "
                "Flatten or reshape the inputs first.")
    rank = ranks.pop()
    if not -rank <= axis < rank or axis % rank == 0:
        return (f"{title} 'axis' {axis} is not a feature axis of inputs with {rank - 1} "
                f"dimensions; use -1 (the last) or a value from 1 to {rank - 1}.")
    keep = [i for i in range(rank) if i != axis % rank]
    reduced = {tuple(s[i] for i in keep) for s in shapes}
    if len(reduced) > 1:
        listed = _listed(sources, shapes)
        return (f"{title} needs inputs that match in every axis except {axis}; got {listed}. "
                "Make them the same size there, or join along another axis.")
    return ""


def _window_problem(title: str, layer_type, params: dict, shape: tuple) -> str:
    """Windows (kernels, pools) larger than a 'valid'-padded input."""
    window = params.get("kernel_size") or params.get("pool_size")
    if not window or params.get("padding", "valid") != "valid":
        return ""
    if layer_type.type_id == "Conv2DTranspose":
        return ""
    spatial = shape[1:-1]
    if any(d is not None and d < window for d in spatial):
        size = " x ".join(str(d) for d in spatial)
        name = "kernel size" if "kernel_size" in params else "pool size"
        return (f"{title}'s window ({name} {window}) is larger than its input ({size}). Use "
                "padding 'same', a smaller window, or fewer pooling layers before it.")
    return ""
