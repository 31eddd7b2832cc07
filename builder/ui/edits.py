"""Edits the Build page makes to a design, as plain functions (no Streamlit here).

The page's widgets and the canvas only call these; each takes a Design and
changes it in place, or raises ValueError with a sentence for the person.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

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
    incoming = [(i, e) for i, e in enumerate(design.edges) if e.target == target]
    incoming.sort(key=lambda pair: (pair[1].slot is None, pair[1].slot or 0, pair[0]))
    return [e for _, e in incoming]


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


# -- the canvas reports what the person did: fold it into the design ----------------


def title_of(node: Node) -> str:
    """The first line of a node's face: its quick-add text, e.g. ``Dense 64 relu``."""
    layer_type = catalog.get(node.type)
    if layer_type is None:
        return str(node.type)[:60]
    params = node.params if isinstance(node.params, dict) else {}
    return quick_add.describe(layer_type, params)


@dataclass(frozen=True)
class CanvasNode:
    """A node as the canvas reports it."""

    id: str
    x: float
    y: float
    title: str  # the first line of the node's text: the quick-add text of the layer


@dataclass(frozen=True)
class CanvasReport:
    """What the canvas holds after an event.

    Attributes:
        drawings: the drawing numbers found on the nodes (each redraw stamps its
            number on every node; nodes made from the pane menu have none).
    """

    nodes: tuple[CanvasNode, ...]
    edges: tuple[tuple[str, str], ...]
    selected_id: str | None
    timestamp: int
    drawings: frozenset[int] = frozenset()


def drawing_shown(report: CanvasReport, made_at: dict[int, int],
                  reachable: Callable[[int], bool] = lambda number: True) -> int | None:
    """The number of the drawing the canvas showed when it made ``report``, if known.

    Every node carries the number of the drawing it came from. A canvas with no
    stamped node (empty, or only pane-made nodes) is taken to show the newest
    drawing made before it spoke that it can have shown.

    Args:
        made_at: when (ms) each recent drawing was made, by drawing number.
        reachable: whether a report without stamped nodes can have been made on a
            drawing: an empty one, or one the canvas is known to have shown. (A
            late report from an empty canvas must not read as "every node of the
            template just opened was deleted".)
    """
    if len(report.drawings) == 1:
        return next(iter(report.drawings))
    if report.drawings:
        return None
    earlier = [n for n, when in made_at.items() if when <= report.timestamp and reachable(n)]
    return max(earlier) if earlier else None


@dataclass
class Draft:
    """A node made from the pane menu whose text was not understood."""

    text: str
    position: tuple[float, float]
    error: str


@dataclass
class CanvasDiff:
    """What the person changed on the canvas, relative to the drawing they saw."""

    removed: list[str] = field(default_factory=list)
    moved: dict[str, tuple[float, float]] = field(default_factory=dict)
    retitled: dict[str, str] = field(default_factory=dict)
    created: list[tuple[str, str, tuple[float, float]]] = field(default_factory=list)
    drafts: dict[str, Draft] = field(default_factory=dict)
    added_edges: list[tuple[str, str]] = field(default_factory=list)
    removed_edges: list[tuple[str, str]] = field(default_factory=list)
    clicked: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.removed or self.moved or self.retitled or self.created
                    or self.added_edges or self.removed_edges or self.clicked)


@dataclass
class CanvasOutcome:
    """The result of folding a canvas report into the design.

    Attributes:
        changed: nodes, edges, types or parameters changed (faces must be redrawn).
        moved: positions changed.
        selected: the node to show in the inspector.
        drafts: pane-made nodes still not understood, by canvas id.
        messages: sentences to show the person (e.g. a retyped title not understood).
        converted: every pane-made node turned into a layer so far (canvas id -> id).
    """

    changed: bool = False
    moved: bool = False
    selected: str | None = None
    drafts: dict[str, Draft] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    converted: dict[str, str] = field(default_factory=dict)


def diff_canvas(base: Design, report: CanvasReport, drafts: dict[str, Draft]) -> CanvasDiff:
    """What changed between the drawing of ``base`` (with ``drafts``) and the canvas now."""
    diff = CanvasDiff()
    shown = {n.id: n for n in report.nodes}
    diff.removed = [n.id for n in base.nodes if n.id not in shown]
    for canvas_node in report.nodes:
        position = safe_position(canvas_node.x, canvas_node.y)
        node = base.node(canvas_node.id)
        if node is not None:
            if safe_position(*node.position) != position:
                diff.moved[node.id] = position
            if canvas_node.title.strip() != title_of(node).strip():
                diff.retitled[node.id] = canvas_node.title
            continue
        draft = drafts.get(canvas_node.id)
        if draft is not None and draft.text == canvas_node.title:
            diff.drafts[canvas_node.id] = Draft(draft.text, position, draft.error)
        else:
            diff.created.append((canvas_node.id, canvas_node.title, position))
    before = [(e.source, e.target) for e in base.edges]
    after = list(report.edges)
    for pair in before:
        if pair in after:
            after.remove(pair)
        else:
            diff.removed_edges.append(pair)
    diff.added_edges = after
    diff.clicked = report.selected_id
    return diff


def apply_diff(design: Design, diff: CanvasDiff, selected: str | None = None,
               converted: dict[str, str] | None = None) -> CanvasOutcome:
    """Apply the person's canvas changes to ``design`` (in place).

    The design may have moved on since the drawing the diff was taken from (a
    palette click landed first); changes to nodes that are gone are dropped.
    The canvas reports no selection both when the pane is clicked and when it
    merely echoes a redraw, so only a click on a node (or a node made from the
    pane menu) changes the selection; the inspector's Close button clears it.

    Args:
        converted: pane-made nodes already turned into layers (canvas id -> node
            id); the canvas may report them again before it shows the layer.
    """
    outcome = CanvasOutcome(drafts=dict(diff.drafts), converted=dict(converted or {}))
    for node_id in diff.removed:
        if design.node(node_id) is not None:
            design.remove_node(node_id)
            outcome.changed = True
    for node_id, position in diff.moved.items():
        node = design.node(node_id)
        if node is not None and safe_position(*node.position) != position:
            node.position = position
            outcome.moved = True
    for node_id, text in diff.retitled.items():
        if design.node(node_id) is None:
            continue
        outcome.changed = True  # redraw: with the new layer, or with its real title again
        try:
            retype(design, node_id, text)
        except quick_add.QuickAddError as exc:
            outcome.messages.append(
                f"The new text of '{node_id}' was not understood, so the layer is "
                f"unchanged: {exc}"
            )
    renamed = outcome.converted
    for canvas_id, text, position in diff.created:
        if canvas_id in renamed:
            continue  # reported again before the canvas showed the layer it became
        outcome.changed = True
        try:
            parsed = quick_add.parse(text)
        except quick_add.QuickAddError as exc:
            outcome.drafts[canvas_id] = Draft(text, position, str(exc))
            continue
        renamed[canvas_id] = add_layer(design, parsed.layer_type.type_id, parsed.params,
                                       position=position)
    for source, target in diff.removed_edges:
        for i, edge in enumerate(design.edges):
            if (edge.source, edge.target) == (source, target):
                del design.edges[i]
                outcome.changed = True
                break
    for source, target in diff.added_edges:
        source, target = renamed.get(source, source), renamed.get(target, target)
        if design.node(source) is not None and design.node(target) is not None:
            connect(design, source, target)
            outcome.changed = True
        elif source in outcome.drafts or target in outcome.drafts:
            outcome.messages.append(
                "A connection to a node whose text was not understood was dropped. Fix the "
                "node's text (right-click it, Edit Node), then connect it."
            )
            outcome.changed = True
    clicked = renamed.get(diff.clicked, diff.clicked)
    if clicked is not None and design.node(clicked) is not None:
        outcome.selected = clicked
    elif selected is not None and design.node(selected) is not None:
        outcome.selected = selected
    return outcome


def apply_canvas(design: Design, report: CanvasReport, drafts: dict[str, Draft],
                 selected: str | None = None, base: Design | None = None,
                 converted: dict[str, str] | None = None) -> CanvasOutcome:
    """Fold what the canvas shows into ``design`` (in place).

    Args:
        design: the current design.
        report: the canvas after the person's action.
        drafts: the not-understood pane nodes of the drawing the canvas showed.
        selected: the node selected before the action.
        base: the design as the canvas last showed it, when it is older than
            ``design``; by default the canvas showed ``design`` itself.
        converted: pane-made nodes already turned into layers (see apply_diff).
    """
    diff = diff_canvas(base if base is not None else design, report, drafts)
    return apply_diff(design, diff, selected, converted)
