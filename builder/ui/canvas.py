"""The canvas: the one module that imports streamlit_flow.

It turns a design and its analysis into the component's nodes and edges, draws
them, and turns what the component returns into a plain
:class:`builder.ui.edits.CanvasReport`. Replacing the component means rewriting
this module only.

How streamlit-flow-component 1.6.1 behaves (see the design notes): the state is
kept in session_state and passed back every run; a state whose timestamp is not
older than the component's last event replaces what the browser shows; node text
is Markdown with raw HTML allowed, so everything from a design is escaped here.
"""

from __future__ import annotations

import html
import re
import time

import streamlit as st
from streamlit_flow import streamlit_flow
from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from builder import catalog
from builder.design import Design
from builder.ui import state
from builder.ui.edits import (
    CanvasNode,
    CanvasReport,
    Draft,
    is_multi_input,
    safe_position,
    title_of,
)
from builder.validate import NodeAnalysis, Report, format_shape

HEIGHT = 640
NODE_WIDTH = 230
COMPONENT_TITLE = "streamlit_flow.streamlit_flow"
DRAWING_KEY = "nc_drawing"  # extra keys in node data survive the round trip

OK_STYLE = {"background": "#ffffff", "border": "1px solid #8a94a6"}
INPUT_STYLE = {"background": "#eef5ff", "border": "1px solid #4a7bd0"}
ERROR_STYLE = {"background": "#fff1e0", "border": "2px solid #e8590c"}
SKIPPED_STYLE = {"background": "#f6f6f6", "border": "1px dashed #a0a0a0"}
DRAFT_STYLE = {"background": "#fff1e0", "border": "2px dashed #e8590c"}
BASE_STYLE = {"width": f"{NODE_WIDTH}px", "padding": "6px 8px", "borderRadius": "8px",
              "fontSize": "13px", "textAlign": "left", "lineHeight": "1.3"}

_META = '<div style="font-size:11px;color:#555">{}</div>'
_PROBLEM = '<div class="nc-problem" style="font-size:11px;color:#b8460b">&#9888; {}</div>'
_MD_SPECIAL = re.compile(r"([\\`*\[\]])")


def _md(text: str) -> str:
    """Text safe inside a Markdown line: HTML escaped, Markdown marks backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def face(design_node, analysis: NodeAnalysis | None, problems: list) -> tuple[str, dict]:
    """The Markdown text and the style of one node."""
    layer_type = catalog.get(design_node.type)
    title = title_of(design_node)
    lines = [f"**{_md(title)}**", ""]
    meta = [html.escape(design_node.id[:64])]
    status = analysis.status if analysis else "error"
    if analysis is not None and analysis.output_shape is not None:
        meta.append(html.escape(format_shape(analysis.output_shape)))
    if analysis is not None and analysis.param_count is not None:
        meta.append(f"{analysis.param_count:,} params")
    if status == "skipped" and not problems:
        meta.append("waits for the layers before it")
    lines.append(_META.format(" · ".join(meta)))
    for problem in problems[:3]:
        lines.append(_PROBLEM.format(html.escape(problem.message)))
    if len(problems) > 3:
        lines.append(_META.format(f"and {len(problems) - 3} more problems (see the inspector)"))
    if problems:
        colours = ERROR_STYLE
    elif status == "skipped":
        colours = SKIPPED_STYLE
    elif layer_type is not None and layer_type.is_input:
        colours = INPUT_STYLE
    else:
        colours = OK_STYLE
    # every node gets its own style dict: the component mutates a shared default
    return "\n".join(lines), {**BASE_STYLE, **colours}


def draft_face(draft: Draft) -> tuple[str, dict]:
    lines = [f"**{_md(draft.text)}**", "", _PROBLEM.format(html.escape(draft.error)),
             _META.format("Right-click, Edit Node to retype it, or delete it.")]
    return "\n".join(lines), {**BASE_STYLE, **DRAFT_STYLE}


def edge_labels(design: Design) -> dict[tuple[str, str, int], str]:
    """Labels for edges into multi-input layers: the input's name or number."""
    labels = {}
    for node in design.nodes:
        layer_type = catalog.get(node.type)
        if layer_type is None or not is_multi_input(node.type):
            continue
        seen: dict[str, int] = {}
        for index, source in enumerate(design.inputs_of(node.id)):
            name = (layer_type.input_names[index] if index < len(layer_type.input_names)
                    else str(index + 1))
            k = seen.get(source, 0)
            seen[source] = k + 1
            labels[(source, node.id, k)] = name
    return labels


def build_state(design: Design, report: Report, selected: str | None,
                drafts: dict[str, Draft], drawing: int = 0,
                stamp: int | None = None) -> StreamlitFlowState:
    """The component state that draws ``design`` with its analysis.

    Args:
        drawing: this drawing's number, stamped on every node so that a report the
            canvas made before showing it can be read against it (edits.drawing_shown).
        stamp: the timestamp of the canvas's last report that was read (the
            browser's clock); None before it has said anything (then the clock now:
            a newly mounted canvas takes its first state whatever the time).

    The component shows a state only when its timestamp is not older than its
    own last event (each report, each state it took). Stamped with the last report
    read, a drawing replaces only what Python has seen: a canvas that has done
    something since refuses it, and its report of that makes the next drawing.
    """
    nodes = []
    drawn: set[str] = set()
    for node in design.nodes:
        if node.id in drawn:
            continue  # a duplicate id (from a file): the validator reports it on the first
        drawn.add(node.id)
        analysis = report.nodes.get(node.id)
        problems = report.problems_for(node.id)
        content, style = face(node, analysis, problems)
        layer_type = catalog.get(node.type)
        is_input = layer_type is not None and layer_type.is_input
        nodes.append(StreamlitFlowNode(
            id=node.id, pos=safe_position(*node.position),
            data={"content": content, DRAWING_KEY: drawing},
            node_type="input" if is_input else "default",
            source_position="bottom", target_position="top",
            selected=node.id == selected, selectable=True, connectable=True, deletable=True,
            style=style,
        ))
    for canvas_id, draft in drafts.items():
        content, style = draft_face(draft)
        nodes.append(StreamlitFlowNode(
            id=canvas_id, pos=safe_position(*draft.position),
            data={"content": content, DRAWING_KEY: drawing},
            node_type="default", source_position="bottom", target_position="top",
            selectable=True, connectable=True, deletable=True, style=style,
        ))
    labels = edge_labels(design)
    edges = []
    used: dict[str, int] = {}
    pair_count: dict[tuple[str, str], int] = {}
    for edge in design.edges:
        pair = (edge.source, edge.target)
        k = pair_count.get(pair, 0)
        pair_count[pair] = k + 1
        base = f"{edge.source}->{edge.target}"
        n = used.get(base, 0)
        used[base] = n + 1
        label = labels.get((edge.source, edge.target, k), "")
        edges.append(StreamlitFlowEdge(
            id=base if n == 0 else f"{base}#{n}", source=edge.source, target=edge.target,
            edge_type="default", marker_end={"type": "arrowclosed"}, deletable=True,
            focusable=True, label=label, label_show_bg=bool(label),
            label_style={"fontSize": "11px"}, style={"strokeWidth": 1.5},
        ))
    timestamp = stamp if isinstance(stamp, int) else int(time.time() * 1000)
    return StreamlitFlowState(nodes=nodes, edges=edges, selected_id=selected,
                              timestamp=timestamp)


def _first_line(content: object) -> str:
    text = content if isinstance(content, str) else ""
    for line in text.splitlines():
        if line.strip():
            plain = re.sub(r"<[^>]*>", "", line).strip()
            if plain.startswith("**") and plain.endswith("**") and len(plain) >= 4:
                plain = plain[2:-2]
            return html.unescape(re.sub(r"\\(.)", r"\1", plain)).strip()
    return ""


def pending_report() -> CanvasReport | None:
    """The canvas's latest report, read from its widget value before it is drawn.

    Returns None before the canvas has said anything, or when its value is not
    what the component sends (then it is ignored rather than trusted).
    """
    value = st.session_state.get(state.CANVAS_WIDGET)
    if not isinstance(value, dict):
        return None
    try:
        flow = StreamlitFlowState(
            nodes=[StreamlitFlowNode.from_dict(n) for n in value.get("nodes") or []],
            edges=[StreamlitFlowEdge.from_dict(e) for e in value.get("edges") or []],
            selected_id=value.get("selectedId"),
            timestamp=value.get("timestamp"),
        )
    except (AssertionError, AttributeError, KeyError, TypeError, ValueError):
        return None
    return report_of(flow)


def report_of(flow: StreamlitFlowState) -> CanvasReport:
    """What the canvas shows, as plain data for :func:`builder.ui.edits.apply_canvas`."""
    nodes = tuple(
        CanvasNode(id=str(n.id), x=n.position.get("x", 0.0), y=n.position.get("y", 0.0),
                   title=_first_line(n.data.get("content") if isinstance(n.data, dict) else ""))
        for n in flow.nodes
    )
    edges = tuple((str(e.source), str(e.target)) for e in flow.edges)
    selected = flow.selected_id if isinstance(flow.selected_id, str) else None
    timestamp = flow.timestamp if isinstance(flow.timestamp, int) else 0
    drawings = frozenset(
        n.data[DRAWING_KEY] for n in flow.nodes
        if isinstance(n.data, dict) and isinstance(n.data.get(DRAWING_KEY), int)
    )
    return CanvasReport(nodes=nodes, edges=edges, selected_id=selected, timestamp=timestamp,
                        drawings=drawings)


def draw(flow: StreamlitFlowState, fit: bool = True,
         height: int = HEIGHT) -> StreamlitFlowState:
    """Show the canvas; returns the component's last report as a state (see pending_report).

    Args:
        fit: fit the view to the nodes. The component refits after each of its
            layouts (it lays out after every state it takes) while this is on, so
            it is on only until a drawing has been fitted; otherwise zoom and pan
            stay as the person left them. Its controls (bottom left) include a
            fit-view button.
    """
    _delete_key_bridge()
    return streamlit_flow(
        state.CANVAS_WIDGET, flow, height=height, fit_view=fit, show_controls=True,
        show_minimap=False, allow_new_edges=True, animate_new_edges=False,
        get_node_on_click=True, get_edge_on_click=False, pan_on_drag=True, allow_zoom=True,
        min_zoom=0.2, enable_pane_menu=True, enable_node_menu=True, enable_edge_menu=True,
        hide_watermark=True,
    )


# The component deletes the selected node or edge on Backspace but tells Python
# only at its next event, so the page would redraw the deleted node. This script
# (static text, no user input) listens in the canvas frame: Delete is turned into
# the Backspace the component knows, and after either key a click on the empty
# pane makes the component report its nodes and edges at once.
_BRIDGE = """<script>
(function () {
  if (window.__ncDeleteBridge) { return; }
  window.__ncDeleteBridge = true;
  function editing(t) {
    return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT'
                 || t.isContentEditable);
  }
  function attach() {
    document.querySelectorAll('iframe[title="TITLE"]').forEach(function (frame) {
      var doc;
      try { doc = frame.contentDocument; } catch (e) { return; }
      if (!doc || !doc.body || doc.__ncBridge) { return; }
      doc.__ncBridge = true;
      var win = frame.contentWindow;
      function backspace(type) {
        return new win.KeyboardEvent(type, {key: 'Backspace', code: 'Backspace', bubbles: true});
      }
      function report() {
        setTimeout(function () {
          var pane = doc.querySelector('.react-flow__pane');
          if (pane) { pane.dispatchEvent(new win.MouseEvent('click', {bubbles: true})); }
        }, 150);
      }
      doc.addEventListener('keydown', function (ev) {
        if (!ev.isTrusted || ev.key !== 'Delete' || editing(ev.target)) { return; }
        ev.stopPropagation();
        (doc.activeElement || doc.body).dispatchEvent(backspace('keydown'));
      }, true);
      doc.addEventListener('keyup', function (ev) {
        if (!ev.isTrusted || editing(ev.target)) { return; }
        if (ev.key === 'Delete') {
          ev.stopPropagation();
          setTimeout(function () {
            (doc.activeElement || doc.body).dispatchEvent(backspace('keyup'));
          }, 50);
          report();
        } else if (ev.key === 'Backspace') {
          report();
        }
      }, true);
    });
  }
  setInterval(attach, 400);
})();
</script>""".replace("TITLE", COMPONENT_TITLE)


def _delete_key_bridge() -> None:
    st.html(_BRIDGE, unsafe_allow_javascript=True)
