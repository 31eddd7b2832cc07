"""A design: the node graph a person draws, as plain data with JSON load and save.

A design is untrusted input: ``Design.from_dict`` accepts any JSON value and either
returns a Design (keeping fields it does not know) or raises
:class:`DesignFormatError` with a sentence that says what is wrong and how to fix
it. Semantic problems (unknown layer types, bad parameters, cycles) are not raised
here: they are the validator's job, reported per node.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_NAME = "neural-canvas-design"
CURRENT_VERSION = 1
ROLES = ("model", "generator", "discriminator")
NODE_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_NODES = 2000
MAX_EDGES = 8000
MAX_JSON_BYTES = 5_000_000

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


class DesignFormatError(ValueError):
    """The text or data is not a design at all (bad JSON, wrong structure)."""


@dataclass
class Node:
    """One layer on the canvas."""

    id: str
    type: str
    params: dict = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = dict(self.extra)
        data.update(
            id=self.id, type=self.type, params=copy.deepcopy(self.params),
            position=[float(self.position[0]), float(self.position[1])],
        )
        return data


@dataclass
class Edge:
    """A connection from ``source``'s output to one of ``target``'s inputs.

    ``slot`` is the input position for layers whose input order matters
    (Concatenate, Subtract, attention's query and value); None means "after the
    numbered ones, in the order listed".
    """

    source: str
    target: str
    slot: int | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = dict(self.extra)
        data.update(source=self.source, target=self.target)
        if self.slot is not None:
            data["slot"] = self.slot
        return data


@dataclass
class Design:
    """Nodes and edges, plus a name, a role and the format version."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    name: str = ""
    role: str = "model"
    version: int = CURRENT_VERSION
    extra: dict = field(default_factory=dict)

    # -- queries ------------------------------------------------------------

    def node(self, node_id: str) -> Node | None:
        """The node with this id, or None."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None

    def inputs_of(self, node_id: str) -> list[str]:
        """Ids of the nodes feeding ``node_id``, in input order (by slot, then listing)."""
        incoming = [(i, e) for i, e in enumerate(self.edges) if e.target == node_id]
        return [e.source for _, e in sorted(incoming, key=_input_order)]

    def incoming(self) -> dict[str, list[Edge]]:
        """Every node's incoming edges in input order, in one pass over the edges."""
        by_target: dict[str, list[tuple[int, Edge]]] = {}
        for i, edge in enumerate(self.edges):
            by_target.setdefault(edge.target, []).append((i, edge))
        return {target: [e for _, e in sorted(pairs, key=_input_order)]
                for target, pairs in by_target.items()}

    def outputs_of(self, node_id: str) -> list[str]:
        """Ids of the nodes ``node_id`` feeds."""
        return [e.target for e in self.edges if e.source == node_id]

    def copy(self) -> Design:
        return Design.from_dict(self.to_dict())

    # -- edits (used by the canvas and the one-click fixes) ------------------

    def set_input_order(self, node_id: str, ordered_sources: list[str]) -> None:
        """Renumber the slots of ``node_id``'s incoming edges to follow ``ordered_sources``."""
        rank = {source: i for i, source in enumerate(ordered_sources)}
        for edge in self.edges:
            if edge.target == node_id and edge.source in rank:
                edge.slot = rank[edge.source]

    def remove_node(self, node_id: str) -> None:
        """Remove a node and every edge touching it."""
        self.nodes = [n for n in self.nodes if n.id != node_id]
        self.edges = [e for e in self.edges if node_id not in (e.source, e.target)]

    # -- serialisation --------------------------------------------------------

    def to_dict(self) -> dict:
        data = dict(self.extra)
        data.update(
            format=FORMAT_NAME, version=self.version, name=self.name, role=self.role,
            nodes=[n.to_dict() for n in self.nodes], edges=[e.to_dict() for e in self.edges],
        )
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Design:
        """Parse design JSON text.

        Raises:
            DesignFormatError: the text is not JSON, too large, or not a design.
        """
        if isinstance(text, bytes):
            if len(text) > MAX_JSON_BYTES:
                raise DesignFormatError(_too_large(len(text)))
            try:
                text = text.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise DesignFormatError(
                    "The file is not UTF-8 text, so it is not a design JSON file. "
                    "Choose a .json file saved from Neural Canvas."
                ) from exc
        if len(text) > MAX_JSON_BYTES:
            raise DesignFormatError(_too_large(len(text)))
        if not text.strip():
            raise DesignFormatError("The file is empty. Choose a design JSON file.")
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DesignFormatError(
                f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg}); it may be truncated. Choose a complete design JSON file."
            ) from exc
        except RecursionError as exc:
            raise DesignFormatError("The JSON is nested too deeply to be a design.") from exc
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits
            raise DesignFormatError(
                f"The file holds a value JSON can be read with but no design uses ({exc}). "
                "Choose a design JSON file saved from Neural Canvas."
            ) from exc
        if _nested_deeper_than(raw, MAX_NESTING):
            raise DesignFormatError(
                f"The JSON is nested more than {MAX_NESTING} levels deep; no design is. "
                "Choose a design JSON file saved from Neural Canvas."
            )
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> Design:
        """Build a design from JSON data, migrating older versions first.

        Raises:
            DesignFormatError: the data does not have a design's structure.
        """
        data = migrate(raw)
        nodes_raw = data.get("nodes", [])
        edges_raw = data.get("edges", [])
        if not isinstance(nodes_raw, list) or not isinstance(edges_raw, list):
            raise DesignFormatError(
                "A design needs 'nodes' and 'edges' lists; got "
                f"{type(nodes_raw).__name__} and {type(edges_raw).__name__}."
            )
        if len(nodes_raw) > MAX_NODES or len(edges_raw) > MAX_EDGES:
            raise DesignFormatError(
                f"A design may hold at most {MAX_NODES} nodes and {MAX_EDGES} edges; this one "
                f"has {len(nodes_raw)} and {len(edges_raw)}. Split it into smaller designs."
            )
        nodes = [_node_from_dict(i, n) for i, n in enumerate(nodes_raw)]
        edges = [_edge_from_dict(i, e) for i, e in enumerate(edges_raw)]
        name = data.get("name") or ""
        role = data.get("role") or "model"
        if not isinstance(name, str):
            raise DesignFormatError(f"The design 'name' must be text; got {name!r:.40}.")
        name = "".join(c for c in name if c.isprintable())  # no NUL, escapes or line breaks
        if role not in ROLES:
            raise DesignFormatError(
                f"The design 'role' must be one of {', '.join(ROLES)}; got {role!r:.40}."
            )
        known = {"format", "version", "name", "role", "nodes", "edges"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(nodes=nodes, edges=edges, name=name, role=role, extra=extra)


def _input_order(pair: tuple[int, Edge]) -> tuple:
    """The one definition of input order: by slot (edges without one last), then listing."""
    index, edge = pair
    return (edge.slot is None, edge.slot or 0, index)


MAX_NESTING = 64


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels (checked without recursion,
    so a hostile file cannot exhaust the stack of the code that copies or saves it)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _too_large(size: int) -> str:
    return (f"The file is {size:,} bytes; a design file may be at most {MAX_JSON_BYTES:,}. "
            "Choose a design JSON file saved from Neural Canvas.")


def _node_from_dict(index: int, raw: Any) -> Node:
    if not isinstance(raw, dict):
        raise DesignFormatError(f"Node #{index + 1} must be an object; got {raw!r:.40}.")
    node_id, type_id = raw.get("id"), raw.get("type")
    if not isinstance(node_id, str) or not node_id:
        raise DesignFormatError(f"Node #{index + 1} needs a text 'id'; got {node_id!r:.40}.")
    if not isinstance(type_id, str):
        raise DesignFormatError(
            f"Node '{node_id:.40}' needs a text 'type' such as \"Dense\"; got {type_id!r:.40}."
        )
    params = raw.get("params", {})
    if params is None:
        params = {}
    position = raw.get("position", (0.0, 0.0))
    if isinstance(position, dict):
        position = (position.get("x", 0.0), position.get("y", 0.0))
    try:
        x, y = (float(v) for v in position)
    except (TypeError, ValueError):
        x, y = 0.0, 0.0
    extra = {k: v for k, v in raw.items() if k not in {"id", "type", "params", "position"}}
    # params stay as given: the validator reports a non-mapping on the node.
    return Node(id=node_id, type=type_id, params=params, position=(x, y), extra=extra)


def _edge_from_dict(index: int, raw: Any) -> Edge:
    if not isinstance(raw, dict):
        raise DesignFormatError(f"Edge #{index + 1} must be an object; got {raw!r:.40}.")
    source, target, slot = raw.get("source"), raw.get("target"), raw.get("slot")
    if not isinstance(source, str) or not isinstance(target, str):
        raise DesignFormatError(
            f"Edge #{index + 1} needs text 'source' and 'target' node ids; "
            f"got {source!r:.40} and {target!r:.40}."
        )
    if slot is not None and (isinstance(slot, bool) or not isinstance(slot, int) or slot < 0):
        raise DesignFormatError(
            f"Edge #{index + 1} 'slot' must be a whole number from 0; got {slot!r:.40}."
        )
    extra = {k: v for k, v in raw.items() if k not in {"source", "target", "slot"}}
    return Edge(source=source, target=target, slot=slot, extra=extra)


# -- versions ------------------------------------------------------------------


def _migrate_0_to_1(data: dict) -> dict:
    """Version 0 (unversioned) designs kept input order implicitly in edge order.

    Version 1 made it explicit with ``slot``: number each target's incoming edges
    in the order they were listed, which is what version 0 meant.
    """
    counters: dict[str, int] = {}
    edges = []
    for edge in data.get("edges", []) or []:
        if isinstance(edge, dict) and "slot" not in edge and isinstance(edge.get("target"), str):
            target = edge["target"]
            edge = dict(edge, slot=counters.get(target, 0))
            counters[target] = edge["slot"] + 1
        edges.append(edge)
    return dict(data, edges=edges, version=1)


_MIGRATIONS = {0: _migrate_0_to_1}


def migrate(raw: Any) -> dict:
    """Upgrade design data of any earlier version to the current one.

    Raises:
        DesignFormatError: not a design, or made by a newer Neural Canvas.
    """
    if not isinstance(raw, dict):
        raise DesignFormatError(
            f"A design file holds a JSON object with 'nodes' and 'edges'; got a "
            f"{type(raw).__name__}. Choose a design JSON file saved from Neural Canvas."
        )
    fmt = raw.get("format", FORMAT_NAME)
    if fmt != FORMAT_NAME:
        raise DesignFormatError(
            f"This JSON file is a {fmt!r:.40}, not a Neural Canvas design. "
            "Choose a design JSON file saved from Neural Canvas."
        )
    if "nodes" not in raw:
        raise DesignFormatError(
            "This JSON object has no 'nodes', so it is not a design. "
            "Choose a design JSON file saved from Neural Canvas."
        )
    version = raw.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise DesignFormatError(
            f"The design 'version' must be a whole number; got {version!r:.40}."
        )
    if version > CURRENT_VERSION:
        raise DesignFormatError(
            f"This design was saved by a newer Neural Canvas (format version {version}; this "
            f"one reads up to {CURRENT_VERSION}). Update Neural Canvas to open it."
        )
    data = dict(raw)
    while version < CURRENT_VERSION:
        data = _MIGRATIONS[version](data)
        version = data["version"]
    return data


# -- node ids --------------------------------------------------------------------


def new_node_id(design: Design, type_id: str) -> str:
    """A fresh node id derived from the layer type, e.g. ``conv2d_3``."""
    base = re.sub(r"[^a-z0-9]+", "_", type_id.lower()).strip("_") or "node"
    if not base[0].isalpha():
        base = "n_" + base
    base = base[:56]
    taken = {n.id for n in design.nodes}
    number = 1
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


def is_valid_node_id(node_id: str) -> bool:
    return bool(NODE_ID_PATTERN.match(node_id))


# -- templates -------------------------------------------------------------------


@dataclass
class Template:
    """An example design (or a pair of designs, for a GAN) with a description."""

    slug: str
    title: str
    description: str
    family: str
    designs: list[Design]
    sample: str = ""  # the bundled sample it trains on as it is (its description names it)

    def design(self, role: str = "model") -> Design | None:
        for design in self.designs:
            if design.role == role:
                return design
        return None


def load_template(path: Path) -> Template:
    """Read one template file.

    Raises:
        DesignFormatError: the file is not a template.
    """
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("designs"), list):
        raise DesignFormatError(f"{Path(path).name} is not a template: it has no 'designs' list.")
    designs = [Design.from_dict(d) for d in raw["designs"]]
    return Template(
        slug=Path(path).stem, title=str(raw.get("title", Path(path).stem)),
        description=str(raw.get("description", "")), family=str(raw.get("family", "")),
        designs=designs, sample=str(raw.get("sample", "")),
    )


def list_templates(folder: Path | None = None) -> list[Template]:
    """Every template in ``templates/``, sorted by title."""
    folder = Path(folder) if folder else TEMPLATES_DIR
    return sorted((load_template(p) for p in folder.glob("*.json")), key=lambda t: t.title)
