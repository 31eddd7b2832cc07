"""Graph walking shared by the validator and the compiler.

Keras rebuilds a functional model from its config by creating every layer and
then connecting them in topological order; we do the same, so a loop or a
disconnected node is found and reported rather than crashed on.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator

from builder import catalog
from builder.design import Design


def topological_order(node_ids: list[str], edges: list[tuple[str, str]]) -> tuple[list, set]:
    """Kahn's algorithm over the given edges.

    Returns:
        ``(order, blocked)``: the nodes that can be ordered, and the ids that sit
        on or after a cycle (they never reach in-degree zero).
    """
    indegree = {n: 0 for n in node_ids}
    children: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        indegree[target] += 1
        children[source].append(target)
    queue = deque(n for n in node_ids if indegree[n] == 0)
    order = []
    while queue:
        node_id = queue.popleft()
        order.append(node_id)
        for child in children[node_id]:
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    blocked = {n for n in node_ids if indegree[n] > 0}
    return order, blocked


def nodes_on_cycles(node_ids: set[str], edges: list[tuple[str, str]]) -> set[str]:
    """The ids among ``node_ids`` that lie on a cycle (not merely after one)."""
    children: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        if source in node_ids and target in node_ids:
            children[source].append(target)

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            current = stack.pop()
            for child in children[current]:
                if child == goal:
                    return True
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return False

    return {n for n in node_ids if reaches(n, n)}


def make_input(node_id: str, params: dict):
    """The Keras Input tensor of an Input node."""
    import keras

    return keras.Input(shape=tuple(params["shape"]), dtype=params["dtype"], name=node_id)


def make_layer(layer_type: catalog.LayerType, params: dict, node_id: str):
    """The Keras layer of a (non-Input) node, named after the node."""
    return layer_type.build(params, node_id)


def call_layer(layer_type: catalog.LayerType, layer, inputs: list):
    """Connect ``layer`` to its ordered input tensors the way its type says."""
    if layer_type.call_style == "list":
        return layer(list(inputs))
    if layer_type.call_style == "attention":
        query = inputs[0]
        value = inputs[1] if len(inputs) > 1 else inputs[0]
        if len(inputs) > 2:
            return layer(query, value, key=inputs[2])
        return layer(query, value)
    return layer(inputs[0])


@contextlib.contextmanager
def no_weight_allocation() -> Iterator[None]:
    """Build layers symbolically without allocating their weights.

    Inside Keras's StatelessScope, variable initialisation is deferred; we then
    drop the deferred variables instead of initialising them, so analysing a
    layer with ten billion parameters costs nothing.
    """
    from builder.keras_internals import weights_not_allocated

    with weights_not_allocated():
        yield


def sinks(design: Design, node_ids: list[str]) -> list[str]:
    """Nodes (in design order) that feed nothing: the model's outputs."""
    feeding = {e.source for e in design.edges}
    return [n for n in node_ids if n not in feeding]
