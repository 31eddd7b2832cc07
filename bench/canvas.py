"""Server-side time of one Build page run for 20, 100 and 300-node designs.

A page run after an edit analyses the changed design (the report cache cannot
help; the per-node trace results of the unchanged nodes are reused), makes the
canvas's data (graph, faces, analysis table) and draws every widget of the page. It
is measured with Streamlit's AppTest, which runs the page script as the server
does (without a browser), by typing a new unit count in the inspector each run.
The browser's side (edit to node on screen, drop, drag) is bench/canvas_browser.py.

A run after a drag (positions only: the analysis comes from its cache) and a full
``analyze_uncached()`` of the same design (every node traced) are shown beside it for
scale. The last line is the absolute server time of a page run after an edit at 100
nodes (target: under 100 ms); the browser's side is bench/canvas_browser.py.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamlit.testing.v1 import AppTest  # noqa: E402

from builder import validate  # noqa: E402
from builder.design import Design  # noqa: E402
from builder.ui import build_page, canvas_bridge, edits, state  # noqa: E402

SIZES = (20, 100, 300)
REPEATS = 5
# The page script as the server runs it, timed from inside: AppTest's own work
# (turning the page's messages into an element tree) is not server time.
SCRIPT = """
import time
import streamlit as st
from builder.ui import build_page
started = time.perf_counter()
build_page.render()
st.session_state["bench_seconds"] = time.perf_counter() - started
"""
EDITED = "n4"  # a Dense layer


def make_design(size: int) -> Design:
    """Input -> Dense/Dropout/... with a residual Add every sixth layer."""
    kinds = [("Dense", {"units": 32}), ("Dropout", {"rate": 0.1}),
             ("BatchNormalization", {}), ("Activation", {"activation": "gelu"}),
             ("Dense", {"units": 32})]
    nodes = [{"id": "inp", "type": "Input", "params": {"shape": [32]}}]
    edges = []
    for i in range(1, size):
        node_id = f"n{i}"
        if i % 6 == 0 and i >= 3:
            nodes.append({"id": node_id, "type": "Add", "params": {}})
            edges += [{"source": nodes[i - 1]["id"], "target": node_id, "slot": 0},
                      {"source": nodes[i - 3]["id"], "target": node_id, "slot": 1}]
        else:
            type_id, params = kinds[i % len(kinds)]
            nodes.append({"id": node_id, "type": type_id, "params": dict(params)})
            edges.append({"source": nodes[i - 1]["id"], "target": node_id})
    design = Design.from_dict({"version": 1, "nodes": nodes, "edges": edges})
    edits.auto_layout(design)
    return design


def time_analyze(design: Design, units: int) -> float:
    """One full analysis, every node traced, no cache read or filled."""
    changed = design.copy()
    changed.node(EDITED).params["units"] = units
    start = time.perf_counter()
    validate.analyze_uncached(changed)
    return time.perf_counter() - start


def page_app(design: Design, home: Path) -> AppTest:
    os.environ["NEURAL_CANVAS_HOME"] = str(home)
    at = AppTest.from_string(SCRIPT, default_timeout=300)
    at.run()
    at.session_state[state.DESIGN.name] = design.copy()
    at.session_state[state.SELECTED.name] = EDITED
    at.run()
    if at.exception:
        raise SystemExit(f"the Build page failed: {at.exception[0].value}")
    return at


def time_page_edit(at: AppTest, units: int) -> float:
    """One page run after the person typed a new unit count in the inspector."""
    revision = at.session_state[state.REVISION.name]
    field = at.number_input(key=state.widget_key(state.INSPECTOR, revision, EDITED, "units"))
    field.set_value(units).run()
    if at.session_state[state.DESIGN.name].node(EDITED).params["units"] != units:
        raise SystemExit("the inspector edit did not reach the design")
    return at.session_state["bench_seconds"]


def time_page_move(at: AppTest, step: int) -> float:
    """One page run after a drag: the design's shapes are unchanged, so analysis is cached."""
    at.session_state[build_page.CANVAS_KEY] = {"edits": {"session": "bench", "ops": [
        {"seq": 1000 + step, "op": "move", "positions": {"inp": [float(step), -50.0]},
         "design": str(at.session_state[state.DESIGN_ID.name])}]}}
    at.run()
    if at.session_state[state.DESIGN.name].nodes[0].position[0] != float(step):
        raise SystemExit("the drag did not reach the design")
    return at.session_state["bench_seconds"]


def time_draw_state(design: Design) -> float:
    """Making the canvas's data alone (graph, faces, palette) and its JSON."""
    import json

    report = validate.analyze(design)
    start = time.perf_counter()
    data = canvas_bridge.payload(design, report, selected=None,
                                 revisions=canvas_bridge.Revisions(), ack=None, design_key="1")
    json.dumps(data)
    return time.perf_counter() - start


def main() -> None:
    validate.analyze(make_design(3))  # import Keras before timing anything
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            design = make_design(size)
            at = page_app(design, Path(tmp) / f"ws{size}")
            time_page_edit(at, 40)  # warm up the page's caches
            analyze_s = statistics.median(time_analyze(design, 50 + i) for i in range(REPEATS))
            page_s = statistics.median(time_page_edit(at, 60 + i) for i in range(REPEATS))
            move_s = statistics.median(time_page_move(at, i) for i in range(REPEATS))
            draw_s = statistics.median(time_draw_state(design) for _ in range(REPEATS))
            rows[size] = (analyze_s, page_s, draw_s)
            print(f"{size:4d} nodes: page run after an edit {page_s * 1000:7.1f} ms | "
                  f"after a drag {move_s * 1000:6.1f} ms | "
                  f"full analyze {analyze_s * 1000:7.1f} ms | "
                  f"canvas state {draw_s * 1000:5.1f} ms")
    _, page_s, _ = rows[100] if 100 in rows else rows[max(rows)]
    verdict = "meets" if page_s < 0.1 else "misses"
    print(f"Build page server time after an edit (100 nodes): {page_s * 1000:.1f} ms; "
          f"{verdict} the 100 ms target")


if __name__ == "__main__":
    main()
