"""Placing nodes on the canvas: the auto-layout button and where a new node goes.

Data flows top to bottom (each node's input handle is on top, its output at the
bottom), so the layout is layered: a node sits one row below the lowest of its
inputs, rows are ordered to keep connections short (barycenter sweeps, as in
Sugiyama-style drawing), and each row is centred under the previous ones.
Loops are tolerated: an edge that closes a loop is ignored for placement.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

X_GAP = 260.0  # nodes are 220 px wide
Y_GAP = 130.0  # and 78 px tall
SWEEPS = 4


def layered_positions(
    node_ids: Sequence[str],
    edges: Iterable[tuple[str, str]],
    origin: tuple[float, float] = (0.0, 0.0),
    x_gap: float = X_GAP,
    y_gap: float = Y_GAP,
) -> dict[str, tuple[float, float]]:
    """Positions for every node id, rows top to bottom in data-flow order.

    Args:
        node_ids: the nodes, in the order they were made (ties keep this order).
        edges: (source, target) pairs; pairs naming unknown ids and self-loops are ignored.
        origin: the top-left corner of the drawing.

    Returns:
        ``{node_id: (x, y)}`` with the top-left of each node.
    """
    ids = list(dict.fromkeys(node_ids))
    known = set(ids)
    children: dict[str, list[str]] = {n: [] for n in ids}
    for source, target in edges:
        if source in known and target in known and source != target:
            children[source].append(target)
    forward = _drop_back_edges(ids, children)
    parents: dict[str, list[str]] = {n: [] for n in ids}
    for source, targets in forward.items():
        for target in targets:
            parents[target].append(source)

    depth = _longest_path_depths(ids, forward, parents)
    rows: dict[int, list[str]] = {}
    for node_id in ids:
        rows.setdefault(depth[node_id], []).append(node_id)
    levels = [rows[d] for d in sorted(rows)]
    _order_rows(levels, parents, forward)

    positions: dict[str, tuple[float, float]] = {}
    widest = max((len(row) for row in levels), default=0)
    for level, row in enumerate(levels):
        offset = (widest - len(row)) / 2.0
        for i, node_id in enumerate(row):
            positions[node_id] = (origin[0] + (offset + i) * x_gap, origin[1] + level * y_gap)
    return positions


def _drop_back_edges(ids: list[str], children: dict[str, list[str]]) -> dict[str, list[str]]:
    """The edges minus those that close a loop (found by an iterative depth-first search)."""
    state = {n: 0 for n in ids}  # 0 unseen, 1 on the stack, 2 done
    forward: dict[str, list[str]] = {n: [] for n in ids}
    for root in ids:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(children[root]))]
        while stack:
            node_id, remaining = stack[-1]
            child = next(remaining, None)
            if child is None:
                state[node_id] = 2
                stack.pop()
                continue
            if state[child] == 1:
                continue  # a back edge: it closes a loop
            forward[node_id].append(child)
            if state[child] == 0:
                state[child] = 1
                stack.append((child, iter(children[child])))
    return forward


def _longest_path_depths(ids, forward, parents) -> dict[str, int]:
    indegree = {n: len(parents[n]) for n in ids}
    depth = {n: 0 for n in ids}
    queue = deque(n for n in ids if indegree[n] == 0)
    while queue:
        node_id = queue.popleft()
        for child in forward[node_id]:
            depth[child] = max(depth[child], depth[node_id] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    return depth


def _order_rows(levels: list[list[str]], parents, children) -> None:
    """Reorder each row by the mean position of its neighbours, sweeping down then up."""

    def sweep(rows: list[list[str]], neighbours) -> None:
        for r in range(1, len(rows)):
            above = {n: i for i, n in enumerate(rows[r - 1])}
            current = {n: i for i, n in enumerate(rows[r])}

            def key(node_id: str, above=above, current=current) -> tuple[float, int]:
                linked = [above[n] for n in neighbours[node_id] if n in above]
                centre = sum(linked) / len(linked) if linked else float(current[node_id])
                return (centre, current[node_id])

            rows[r].sort(key=key)

    for _ in range(SWEEPS):
        sweep(levels, parents)
        reversed_levels = levels[::-1]
        sweep(reversed_levels, children)
        levels[:] = reversed_levels[::-1]


def free_position(
    positions: Mapping[str, tuple[float, float]],
    near: str | None = None,
    x_gap: float = X_GAP,
    y_gap: float = Y_GAP,
) -> tuple[float, float]:
    """Where to put a new node: below ``near`` when given, else below everything.

    The spot moves right until no existing node overlaps it.
    """
    if near is not None and near in positions:
        x, y = positions[near]
        y += y_gap
    elif positions:
        x = min(p[0] for p in positions.values())
        y = max(p[1] for p in positions.values()) + y_gap
    else:
        return (0.0, 0.0)

    def taken(cx: float, cy: float) -> bool:
        return any(abs(px - cx) < x_gap * 0.8 and abs(py - cy) < y_gap * 0.8
                   for px, py in positions.values())

    for _ in range(len(positions) + 1):
        if not taken(x, y):
            break
        x += x_gap
    return (x, y)
