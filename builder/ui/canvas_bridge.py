"""The canvas's messages, as plain data: no Streamlit here, so they are tested without a browser.

Out (Python to browser), :func:`payload`: the graph to draw (nodes with positions, edges
with the handle each enters), the face of every node (its analysis: title, output shape,
parameter count, first problem), the palette from the catalog, and revision numbers the
browser acts on once each: ``rev`` replaces the drawn graph, ``select_rev`` the selection,
``fit_rev`` fits the view, ``layout_rev`` lays the graph out.

In (browser to Python): the browser queues every edit the person makes as an op with a
sequence number and sends every op Python has not acknowledged (:func:`new_ops` picks the
new ones); :func:`apply_op` turns one into a design change. Everything the browser sends
is untrusted: ops that are not what the canvas sends are ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from builder import catalog, graph, quick_add
from builder.design import Design
from builder.ui import edits
from builder.validate import Report
from builder.vocabulary import format_shape

MAX_OPS = 500
MAX_TEXT = 200
OPEN_CATEGORIES = ("Input", "Core")
KEEP = object()  # apply_op leaves the selection as it was


# -- out ------------------------------------------------------------------------------


def _first_sentence(text: str) -> str:
    for end in (". ", "; "):
        if end in text:
            return text[: text.index(end) + 1]
    return text


def face(design: Design, report: Report, node, incoming: int | None = None) -> dict[str, Any]:
    """What one node shows: its title, id, shape, parameters and first problem.

    Args:
        incoming: the node's number of incoming edges, when counted already.
    """
    layer_type = catalog.get(node.type)
    analysis = report.nodes.get(node.id)
    problems = report.problems_for(node.id)
    meta = [node.id]
    if analysis is not None and analysis.output_shape is not None:
        meta.append(format_shape(analysis.output_shape))
    count = analysis.param_count if analysis is not None else None
    status = analysis.status if analysis is not None else "error"
    handles = edits.input_handles(design, node, incoming)
    named = layer_type is not None and edits.is_multi_input(node.type)
    if named and layer_type.input_names:
        labels = [layer_type.input_names[i] if i < len(layer_type.input_names) else str(i + 1)
                  for i in range(len(handles))]
    else:
        labels = [str(i + 1) for i in range(len(handles))]
    help_text = layer_type.help if layer_type is not None else ""
    return {
        "title": edits.title_of(node),
        "type": layer_type.title if layer_type is not None else str(node.type)[:60],
        "categoryKey": (layer_type.category.lower() if layer_type is not None else "other"),
        "meta": " · ".join(meta),
        "params": "" if count is None else f"{count:,} params",
        "status": "error" if problems else status,
        "problem": _first_sentence(problems[0].message) if problems else "",
        "problemCount": len(problems),
        "note": "waits for the layers before it" if status == "skipped" and not problems else "",
        "hover": "\n".join([p.message for p in problems] + ([help_text] if help_text else [])),
        "inputs": handles,
        "namedInputs": named,
        "inputLabels": labels,
        "isOutput": node.id in report.output_ids and not (layer_type and layer_type.is_input),
    }


def drawn_graph(design: Design) -> dict[str, list]:
    """The nodes (with positions) and edges (with their target handles) to draw."""
    nodes, seen = [], set()
    for node in design.nodes:
        if node.id in seen:
            continue  # a duplicate id (from a file): the validator reports it on the first
        seen.add(node.id)
        x, y = edits.safe_position(*node.position)
        nodes.append({"id": node.id, "x": x, "y": y})
    edges = []
    incoming = design.incoming()
    for node in design.nodes:
        if node.id not in incoming:
            continue
        for edge, handle in edits.handles_of(design, node, incoming.pop(node.id)):
            if edge.source in seen:
                edges.append({"source": edge.source, "target": edge.target, "handle": handle})
    return {"nodes": nodes, "edges": edges}


def palette() -> list[dict[str, Any]]:
    """Every layer type from the catalog, grouped by category in palette order."""
    return [
        {"category": category, "key": category.lower(), "open": category in OPEN_CATEGORIES,
         "types": [{"id": t.type_id, "title": t.title, "help": t.help} for t in types]}
        for category, types in catalog.by_category().items() if types
    ]


@dataclass
class Revisions:
    """The numbers the browser acts on once each (see the module docstring)."""

    rev: int = 0
    select_rev: int = 0
    fit_rev: int = 0
    layout_rev: int = 0
    layout_initial: bool = False
    focus: bool = False


def bumped(revs: Revisions, *, graph: bool = False, select: bool = False,
           focus: bool = False, fit: bool = False, layout: bool = False,
           initial: bool = False) -> Revisions:
    """``revs`` with the numbers of what the canvas is asked to do once more: redraw the
    graph, take the selection (``focus``: and centre it), fit the view, lay the graph out
    (``initial``: as part of opening it, not an undo step)."""
    new = dataclasses.replace(revs)
    new.rev += graph
    if select:
        new.select_rev += 1
        new.focus = focus
    new.fit_rev += fit
    if layout:
        new.layout_rev += 1
        new.layout_initial = initial
    return new


def payload(design: Design, report: Report, *, selected: str | None, revisions: Revisions,
            ack: dict | None, design_key: str) -> dict[str, Any]:
    """Everything the canvas is given in one run."""
    counts: dict[str, int] = {}
    for edge in design.edges:
        counts[edge.target] = counts.get(edge.target, 0) + 1
    return {
        "graph": drawn_graph(design),
        "faces": {node.id: face(design, report, node, counts.get(node.id, 0))
                  for node in design.nodes},
        "selected": selected,
        "rev": revisions.rev,
        "selectRev": revisions.select_rev,
        "focus": revisions.focus,
        "fitRev": revisions.fit_rev,
        "layoutRev": revisions.layout_rev,
        "layoutInitial": revisions.layout_initial,
        "ack": ack,
        "designKey": design_key,
        "palette": palette(),
        # Problems of the whole design, drawn over the canvas (as text, never as HTML).
        "notices": [problem.message for problem in report.design_problems()],
    }


def analysis_rows(design: Design, report: Report) -> list[dict[str, Any]]:
    """One row per layer in graph order (the Analyze view): id, type, shape, parameters,
    problems."""
    ids = list(dict.fromkeys(n.id for n in design.nodes))
    known = set(ids)
    order, _ = graph.topological_order(
        ids, [(e.source, e.target) for e in design.edges
              if e.source in known and e.target in known])
    order += [n for n in ids if n not in set(order)]
    rows = []
    for node_id in order:
        node = design.node(node_id)
        analysis = report.nodes.get(node_id)
        layer_type = catalog.get(node.type)
        rows.append({
            "id": node_id,
            "type": layer_type.title if layer_type else str(node.type)[:60],
            "output shape": format_shape(analysis.output_shape)
            if analysis is not None and analysis.output_shape is not None else "?",
            "parameters": analysis.param_count if analysis is not None else None,
            "problems": " ".join(p.message for p in report.problems_for(node_id)),
        })
    return rows


# -- in -------------------------------------------------------------------------------


def new_ops(value: Any, session: str | None, applied: int) -> tuple[str | None, list[dict]]:
    """The ops in the canvas's ``edits`` value that Python has not applied yet.

    Args:
        value: the browser's value: ``{"session": str, "ops": [{"seq": int, "op": str,
            ...}]}``; anything else is ignored.
        session, applied: the session of the last op applied and its number.

    Returns:
        The value's session and its new ops, in order.
    """
    if not isinstance(value, dict):
        return session, []
    their_session, ops = value.get("session"), value.get("ops")
    if not isinstance(their_session, str) or len(their_session) > 64 or not isinstance(ops, list):
        return session, []
    floor = applied if their_session == session else 0
    fresh = [op for op in ops[:MAX_OPS] if isinstance(op, dict)
             and isinstance(op.get("seq"), int) and not isinstance(op.get("seq"), bool)
             and op["seq"] > floor and isinstance(op.get("op"), str)]
    return their_session, sorted(fresh, key=lambda op: op["seq"])


@dataclass
class OpResult:
    """What one op did.

    Attributes:
        changed: nodes, edges or parameters changed (the graph is sent again).
        moved: only positions changed.
        selected: the node to select now, or KEEP.
        history: "undo" or "redo" for the caller to carry out.
        initial: a layout made on opening a design (not an undo step).
        message: a sentence for the person (an op refused or not understood).
    """

    changed: bool = False
    moved: bool = False
    selected: Any = KEEP
    history: str | None = None
    initial: bool = False
    message: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TEXT else None


def _point(value: Any) -> tuple[float, float] | None:
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return edits.safe_position(value[0], value[1])
    return None


def _edge_of(design: Design, value: Any):
    if not isinstance(value, dict):
        return None
    source, target, handle = (_text(value.get("source")), _text(value.get("target")),
                              _text(value.get("handle")))
    if source is None or target is None:
        return None
    return edits.find_edge(design, source, target, handle)


def _positions(value: Any) -> dict[str, tuple[float, float]]:
    if not isinstance(value, dict):
        return {}
    placed = {}
    for node_id, point in list(value.items())[: 10 * MAX_OPS]:
        position = _point(point)
        if isinstance(node_id, str) and position is not None:
            placed[node_id] = position
    return placed


def apply_op(design: Design, op: dict, selected: str | None) -> OpResult:
    """Carry out one canvas op on ``design`` (in place)."""
    kind = op.get("op")
    result = OpResult()
    if kind == "select":
        node_id = _text(op.get("id"))
        result.selected = node_id if node_id and design.node(node_id) is not None else None
    elif kind in ("move", "layout"):
        result.moved = edits.set_positions(design, _positions(op.get("positions")))
        result.initial = kind == "layout" and op.get("initial") is True
    elif kind in ("undo", "redo"):
        result.history = kind
    elif kind == "connect":
        source, target, handle = (_text(op.get("source")), _text(op.get("target")),
                                  _text(op.get("handle")))
        if source and target and handle:
            try:
                edits.connect_to_handle(design, source, target, handle)
                result.changed = True
            except ValueError as exc:
                result.message = str(exc)
                result.changed = True  # draw the design again without the refused edge
    elif kind == "reconnect":
        edge = _edge_of(design, op.get("from"))
        to = op.get("to") if isinstance(op.get("to"), dict) else {}
        if edge is not None:
            edits.remove_edge(design, edge)
        result.changed = True
        source, target, handle = (_text(to.get("source")), _text(to.get("target")),
                                  _text(to.get("handle")))
        if source and target and handle:
            try:
                edits.connect_to_handle(design, source, target, handle)
            except ValueError as exc:
                result.message = str(exc)
    elif kind == "remove":
        node_ids = op.get("nodes") if isinstance(op.get("nodes"), list) else []
        for raw in op.get("edges") if isinstance(op.get("edges"), list) else []:
            edge = _edge_of(design, raw)
            if edge is not None:
                edits.remove_edge(design, edge)
                result.changed = True
        for node_id in node_ids:
            if isinstance(node_id, str) and design.node(node_id) is not None:
                design.remove_node(node_id)
                result.changed = True
                if node_id == selected:
                    result.selected = None
    elif kind in ("add", "quick_add"):
        _add(design, op, selected, result)
    elif kind == "duplicate":
        ids = [i for i in op.get("ids") or [] if isinstance(i, str)] if isinstance(
            op.get("ids"), list) else []
        copies = edits.duplicate(design, ids)
        if copies:
            result.changed = True
            result.selected = copies[-1]
    return result


def _add(design: Design, op: dict, selected: str | None, result: OpResult) -> None:
    params: dict = {}
    if op.get("op") == "quick_add":
        text = _text(op.get("text"))
        if text is None:
            return
        try:
            parsed = quick_add.parse(text)
        except quick_add.QuickAddError as exc:
            result.message = str(exc)
            return
        type_id, params = parsed.layer_type.type_id, parsed.params
    else:
        type_id = _text(op.get("type"))
        if type_id is None or catalog.get(type_id) is None:
            result.message = f"{str(op.get('type'))[:40]!r} is not a layer type."
            return
    position = _point(op.get("position"))
    edge = _edge_of(design, op.get("onEdge"))
    near = selected if position is None else None
    node_id = edits.add_layer(design, type_id, params, near=near, position=position)
    if edge is not None and edits.accepts_inputs(type_id):
        edits.insert_on_edge(design, edge, node_id)
    result.changed = True
    result.selected = node_id
