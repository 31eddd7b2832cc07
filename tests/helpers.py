"""Small builders of literal designs for tests."""

from __future__ import annotations

from builder.design import Design


def chain(*layers, input_shape=(8,), input_dtype="float32") -> Design:
    """Input -> layer -> layer ...; each layer is (type, params) or a type id."""
    nodes = [{"id": "inp", "type": "Input",
              "params": {"shape": list(input_shape), "dtype": input_dtype}}]
    edges = []
    previous = "inp"
    for i, layer in enumerate(layers, start=1):
        type_id, params = (layer, {}) if isinstance(layer, str) else layer
        node_id = f"n{i}"
        nodes.append({"id": node_id, "type": type_id, "params": params})
        edges.append({"source": previous, "target": node_id})
        previous = node_id
    return Design.from_dict({"version": 1, "nodes": nodes, "edges": edges})


def design(nodes: list, edges: list) -> Design:
    """A design from compact node tuples (id, type[, params]) and edge pairs."""
    return Design.from_dict({
        "version": 1,
        "nodes": [{"id": n[0], "type": n[1], "params": n[2] if len(n) > 2 else {}}
                  for n in nodes],
        "edges": [{"source": e[0], "target": e[1], **({"slot": e[2]} if len(e) > 2 else {})}
                  for e in edges],
    })


def shown(markdown: str) -> str:
    """The characters a Markdown text renders to, backslash escapes undone (the pages
    escape names and messages: builder.markdown.escape), without the invisible word
    joiners escape puts into addresses."""
    import re

    from builder.markdown import WORD_JOINER

    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")
