"""Edits the Build page makes to a design, as plain functions (no Streamlit here).

The page's widgets and the canvas only call these; each takes a Design and
changes it in place, or raises ValueError with a sentence for the person.
"""

from __future__ import annotations

import copy
import math

from builder import catalog, layout, quick_add
from builder.design import Design, Edge, Node, is_valid_node_id, new_node_id

POSITION_LIMIT = 1_000_000.0


def safe_position(x: object, y: object) -> tuple[float, float]:
    """A finite, bounded position (uploaded designs may hold NaN or huge numbers)."""

    def clean(value: object) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0.0
        if not math.isfinite(number):
            return 0.0
        return max(-POSITION_LIMIT, min(POSITION_LIMIT, number))

    return (clean(x), clean(y))


def positions(design: Design) -> dict[str, tuple[float, float]]:
    return {n.id: safe_position(*n.position) for n in design.nodes}


def accepts_inputs(type_id: str) -> bool:
    layer_type = catalog.get(type_id)
    return layer_type is not None and layer_type.max_inputs != 0


def is_multi_input(type_id: str) -> bool:
    layer_type = catalog.get(type_id)
    return layer_type is not None and (layer_type.max_inputs is None or layer_type.max_inputs > 1)


def _incoming_in_order(design: Design, target: str) -> list[Edge]:
    return design.incoming().get(target, [])


def connect(design: Design, source: str, target: str) -> None:
    """Connect ``source`` into ``target``; into a multi-input layer it becomes the last input."""
    node = design.node(target)
    slot = None
    if node is not None and is_multi_input(node.type):
        existing = _incoming_in_order(design, target)
        for number, edge in enumerate(existing):  # make the current order explicit
            edge.slot = number
        slot = len(existing)
    design.edges.append(Edge(source=source, target=target, slot=slot))


def add_layer(design: Design, type_id: str, params: dict | None = None,
              near: str | None = None, position: tuple[float, float] | None = None) -> str:
    """Add a layer with default parameters (overridden by ``params``); return its id.

    With ``near`` (the selected node) the layer goes below it and is connected
    from it, when the new layer takes inputs; otherwise it goes in free space.

    Raises:
        ValueError: the type id is not in the catalog.
    """
    if catalog.get(type_id) is None:
        raise ValueError(f"{type_id!r} is not a layer type; choose one from the palette.")
    near = near if near is not None and design.node(near) is not None else None
    node_id = new_node_id(design, type_id)
    values = catalog.default_params(type_id)
    values.update(params or {})
    if position is None:
        position = layout.free_position(positions(design), near)
    design.nodes.append(Node(id=node_id, type=type_id, params=values,
                             position=safe_position(*position)))
    if near is not None and accepts_inputs(type_id):
        connect(design, near, node_id)
    return node_id


def set_param(design: Design, node_id: str, name: str, value: object) -> None:
    """Set one parameter of a node (the validator judges the value).

    Raises:
        KeyError: there is no such node.
    """
    node = design.node(node_id)
    if node is None:
        raise KeyError(node_id)
    if not isinstance(node.params, dict):
        node.params = {}
    node.params[name] = value


def rename_node(design: Design, old: str, new: str) -> str:
    """Give a node a new id (its Keras layer name) and follow it in every edge.

    Raises:
        ValueError: the new id is not allowed or already taken.
    """
    new = new.strip()
    node = design.node(old)
    if node is None:
        raise ValueError(f"There is no node {old!r} to rename.")
    if new == old:
        return old
    if not is_valid_node_id(new):
        raise ValueError(
            f"{new[:70]!r} cannot be a node id: start with a letter and use only letters, "
            "digits and _ (at most 64), e.g. 'dense_out'."
        )
    if design.node(new) is not None:
        raise ValueError(f"Another node is already called {new!r}. Choose a different id.")
    node.id = new
    for edge in design.edges:
        if edge.source == old:
            edge.source = new
        if edge.target == old:
            edge.target = new
    return new


def move_input(design: Design, node_id: str, index: int, step: int) -> None:
    """Move input number ``index`` of a multi-input node up (-1) or down (+1)."""
    edges = _incoming_in_order(design, node_id)
    other = index + step
    if not (0 <= index < len(edges) and 0 <= other < len(edges)):
        return
    edges[index], edges[other] = edges[other], edges[index]
    for slot, edge in enumerate(edges):
        edge.slot = slot


def auto_layout(design: Design) -> None:
    """Lay every node out in rows, top to bottom in data-flow order."""
    placed = layout.layered_positions([n.id for n in design.nodes],
                                      [(e.source, e.target) for e in design.edges])
    for node in design.nodes:
        node.position = placed[node.id]


def needs_layout(design: Design) -> bool:
    """True when nodes sit on top of each other (e.g. an uploaded file without positions)."""
    seen = {safe_position(*n.position) for n in design.nodes}
    return len(design.nodes) > 1 and len(seen) < len(design.nodes)


def retype(design: Design, node_id: str, text: str) -> None:
    """Make a node the layer described by quick-add ``text``, keeping its id and edges.

    Parameters the text does not give keep their value when the type stays the
    same, and take their defaults when it changes.

    Raises:
        quick_add.QuickAddError: the text is not understood.
    """
    parsed = quick_add.parse(text)
    node = design.node(node_id)
    if node is None:
        raise KeyError(node_id)
    if parsed.layer_type.type_id == node.type and isinstance(node.params, dict):
        values = dict(node.params)
    else:
        values = catalog.default_params(parsed.layer_type.type_id)
    values.update(parsed.params)
    node.type = parsed.layer_type.type_id
    node.params = values
    if not accepts_inputs(node.type):
        design.edges = [e for e in design.edges if e.target != node_id]


def title_of(node: Node) -> str:
    """The first line of a node's face: its quick-add text, e.g. ``Dense 64 relu``."""
    layer_type = catalog.get(node.type)
    if layer_type is None:
        return str(node.type)[:60]
    params = node.params if isinstance(node.params, dict) else {}
    return quick_add.describe(layer_type, params)


def input_handles(design: Design, node: Node, count: int | None = None) -> list[str]:
    """The names of a node's input handles on the canvas, in input order.

    None for an Input; ``in`` for a one-input layer; the catalog's input names for a
    layer with named inputs (MultiHeadAttention's query, value, key); ``in0``, ``in1``...
    for a merge that takes any number: one per connected input plus a free one.
    """
    layer_type = catalog.get(node.type)
    if layer_type is None:
        return ["in"]
    if layer_type.max_inputs == 0:
        return []
    if not is_multi_input(node.type):
        return ["in"]
    if layer_type.input_names and layer_type.max_inputs is not None:
        return list(layer_type.input_names[: layer_type.max_inputs])
    if count is None:
        count = sum(1 for e in design.edges if e.target == node.id)
    return [f"in{i}" for i in range(count + 1)]


def incoming_with_handles(design: Design, node_id: str) -> list[tuple[Edge, str]]:
    """A node's incoming edges in input order, each with the handle it is drawn into."""
    node = design.node(node_id)
    if node is None:
        return []
    return handles_of(design, node, _incoming_in_order(design, node_id))


def handles_of(design: Design, node: Node, edges: list[Edge]) -> list[tuple[Edge, str]]:
    """``edges`` (a node's incoming edges, in input order) with the handle each enters."""
    if not is_multi_input(node.type):
        return [(edge, "in") for edge in edges]
    names = input_handles(design, node, len(edges))
    return [(edge, names[i] if i < len(names) else f"in{i}") for i, edge in enumerate(edges)]


def find_edge(design: Design, source: str, target: str, handle: str | None) -> Edge | None:
    """The edge from ``source`` into ``target``'s ``handle`` (or any such edge)."""
    matches = [(e, name) for e, name in incoming_with_handles(design, target)
               if e.source == source]
    exact = [e for e, name in matches if name == handle]
    return (exact or [e for e, _ in matches] or [None])[0]


def _renumber(design: Design, target: str) -> None:
    node = design.node(target)
    if node is not None and is_multi_input(node.type):
        for number, edge in enumerate(_incoming_in_order(design, target)):
            edge.slot = number


def remove_edge(design: Design, edge: Edge) -> None:
    """Remove one edge; the inputs after it move up one place."""
    design.edges = [e for e in design.edges if e is not edge]
    _renumber(design, edge.target)


def connect_to_handle(design: Design, source: str, target: str, handle: str) -> None:
    """Connect ``source`` into ``target``'s ``handle``, as the canvas draws them.

    Raises:
        ValueError: the connection cannot be made (said in a sentence).
    """
    node = design.node(target)
    if design.node(source) is None or node is None:
        raise ValueError("That connection joins a layer that is no longer there.")
    if source == target:
        raise ValueError(f"'{target}' cannot take its own output as input.")
    names = input_handles(design, node)
    if handle not in names:
        raise ValueError(f"'{target}' ({node.type}) has no input {handle!r}.")
    taken = dict((name, edge) for edge, name in incoming_with_handles(design, target))
    if handle in taken:
        raise ValueError(f"Input {handle!r} of '{target}' is already connected; drag its "
                         "connection away first.")
    if is_multi_input(node.type):
        existing = _incoming_in_order(design, target)
        for number, edge in enumerate(existing):
            edge.slot = number
        design.edges.append(Edge(source=source, target=target,
                                 slot=min(names.index(handle), len(existing))))
        _renumber(design, target)
    else:
        design.edges.append(Edge(source=source, target=target))


def insert_on_edge(design: Design, edge: Edge, node_id: str) -> None:
    """Put ``node_id`` into ``edge``: source -> node -> target, in the edge's input place."""
    target_edges = _incoming_in_order(design, edge.target)
    place = target_edges.index(edge) if edge in target_edges else None
    design.edges = [e for e in design.edges if e is not edge]
    design.edges.append(Edge(source=edge.source, target=node_id))
    target = design.node(edge.target)
    slot = place if target is not None and is_multi_input(target.type) else None
    design.edges.append(Edge(source=node_id, target=edge.target, slot=slot))
    if slot is not None:
        ordered = [e for e in target_edges if e is not edge]
        ordered.insert(place, design.edges[-1])
        for number, e in enumerate(ordered):
            e.slot = number


DUPLICATE_OFFSET = 40.0


def duplicate(design: Design, node_ids: list[str]) -> list[str]:
    """Copy the given nodes (and the connections among them) beside them; their new ids."""
    chosen = [n for n in design.nodes if n.id in set(node_ids)]
    renamed: dict[str, str] = {}
    for node in chosen:
        new_id = new_node_id(design, node.type)
        x, y = safe_position(*node.position)
        design.nodes.append(Node(id=new_id, type=node.type, params=copy.deepcopy(node.params),
                                 position=(x + DUPLICATE_OFFSET, y + DUPLICATE_OFFSET)))
        renamed[node.id] = new_id
    for edge in list(design.edges):
        if edge.source in renamed and edge.target in renamed:
            design.edges.append(Edge(source=renamed[edge.source], target=renamed[edge.target],
                                     slot=edge.slot))
    return list(renamed.values())


def set_positions(design: Design, placed: dict[str, tuple[float, float]]) -> bool:
    """Move nodes to the given positions; True when any moved."""
    moved = False
    for node in design.nodes:
        if node.id in placed:
            position = safe_position(*placed[node.id])
            if safe_position(*node.position) != position:
                node.position = position
                moved = True
    return moved
