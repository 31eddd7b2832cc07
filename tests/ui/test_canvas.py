"""The canvas translation (design <-> component state) and the edits behind the Build page.

These run without a browser or a Streamlit session: they check what the page
sends to the canvas and how it folds the canvas's reports back into the design.
"""

import pytest

from builder.design import Design
from builder.quick_add import QuickAddError
from builder.ui import canvas, edits
from builder.validate import analyze
from tests.helpers import chain, design


def drawn(d: Design, selected=None, drafts=None, drawing=1):
    return canvas.build_state(d, analyze(d), selected, drafts or {}, drawing=drawing)


def value_of(flow, **changes):
    """The component's value for a state, as the browser would send it back."""
    value = {"nodes": [n.asdict() for n in flow.nodes],
             "edges": [e.asdict() for e in flow.edges],
             "selectedId": None, "timestamp": flow.timestamp + 5}
    value.update(changes)
    return value


def report(value):
    from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
    from streamlit_flow.state import StreamlitFlowState

    return canvas.report_of(StreamlitFlowState(
        nodes=[StreamlitFlowNode.from_dict(n) for n in value["nodes"]],
        edges=[StreamlitFlowEdge.from_dict(e) for e in value["edges"]],
        selected_id=value["selectedId"], timestamp=value["timestamp"]))


# -- what the canvas shows -------------------------------------------------------------


def test_each_node_shows_type_key_params_shape_and_parameter_count():
    d = chain(("Dense", {"units": 10, "activation": "softmax"}))
    flow = drawn(d)
    faces = {n.id: n.data["content"] for n in flow.nodes}
    assert faces["n1"].startswith("**Dense 10 softmax**")
    assert "(None, 10)" in faces["n1"] and "90 params" in faces["n1"]
    assert "nc-problem" not in faces["n1"]
    assert {n.id: n.type for n in flow.nodes} == {"inp": "input", "n1": "default"}


def test_a_node_with_a_problem_is_orange_and_says_why():
    d = chain("Flatten")  # a vector cannot be flattened further
    flow = drawn(d)
    node = next(n for n in flow.nodes if n.id == "n1")
    assert "nc-problem" in node.data["content"]
    assert node.style["border"] == canvas.ERROR_STYLE["border"]
    assert "Flatten" in node.data["content"]


def test_every_node_gets_its_own_style_dict():
    flow = drawn(chain("Dense", "Dense"))
    styles = [n.style for n in flow.nodes]
    assert len({id(s) for s in styles}) == len(styles)


def test_text_from_a_file_is_escaped_not_rendered():
    evil = "<img src=x onerror=alert(1)>"
    d = Design.from_dict({"nodes": [
        {"id": "a", "type": evil, "params": {}},
        {"id": "b", "type": "Dense", "params": {"units": evil}},
    ], "edges": []})
    flow = drawn(d)
    for node in flow.nodes:
        assert "<img" not in node.data["content"]
        assert "&lt;img" in node.data["content"]


def test_input_order_is_labelled_on_edges_into_multi_input_layers():
    d = design([("q", "Input", {"shape": [5, 8]}), ("v", "Input", {"shape": [5, 8]}),
                ("att", "MultiHeadAttention")], [("v", "att", 1), ("q", "att", 0)])
    labels = {(e.source, e.target): e.label for e in drawn(d).edges}
    assert labels == {("q", "att"): "query", ("v", "att"): "value"}


def test_duplicate_ids_and_bad_positions_do_not_break_the_drawing():
    d = Design.from_dict({"nodes": [
        {"id": "a", "type": "Input", "params": {"shape": [3]}, "position": [float("nan"), 1e99]},
        {"id": "a", "type": "Dense"},
    ], "edges": [{"source": "a", "target": "a"}, {"source": "a", "target": "a"}]})
    flow = drawn(d)
    assert [n.id for n in flow.nodes] == ["a"]
    assert flow.nodes[0].position == {"x": 0.0, "y": edits.POSITION_LIMIT}
    assert len({e.id for e in flow.edges}) == 2


def test_a_drawing_is_stamped_with_the_last_report_read_else_the_clock():
    import time

    before = int(time.time() * 1000)
    first = canvas.build_state(chain(), analyze(chain()), None, {})
    assert before <= first.timestamp <= int(time.time() * 1000)
    # The browser's time of its last report: a canvas that did something since refuses it.
    later = canvas.build_state(chain(), analyze(chain()), None, {}, stamp=1_234_567)
    assert later.timestamp == 1_234_567


def test_report_reads_titles_positions_and_drawing_numbers():
    d = chain("Dense")
    flow = drawn(d, drawing=7)
    seen = report(value_of(flow))
    assert seen.drawings == {7}
    assert {n.id: n.title for n in seen.nodes} == {"inp": "Input 8", "n1": "Dense 32 relu"}
    assert seen.edges == (("inp", "n1"),)


# -- folding what the person did into the design -----------------------------------------


def fold(d, value, drafts=None, selected=None, base=None):
    return edits.apply_canvas(d, report(value), drafts or {}, selected, base)


def test_a_drag_moves_the_node_and_nothing_else():
    d = chain("Dense")
    value = value_of(drawn(d))
    value["nodes"][1]["position"] = {"x": 300, "y": 40}
    outcome = fold(d, value)
    assert outcome.moved and not outcome.changed
    assert d.node("n1").position == (300.0, 40.0)


def test_a_new_connection_is_added_with_the_next_slot_for_merges():
    d = design([("a", "Input", {"shape": [4]}), ("b", "Input", {"shape": [4]}), ("add", "Add")],
               [("a", "add")])
    value = value_of(drawn(d))
    value["edges"].append({"id": "st-flow-edge_b-add", "source": "b", "target": "add"})
    outcome = fold(d, value)
    assert outcome.changed
    assert d.inputs_of("add") == ["a", "b"]
    assert [e.slot for e in d.edges] == [0, 1]


def test_deleting_a_node_or_edge_on_the_canvas_deletes_it_in_the_design():
    d = chain("Dense", "Dense")
    value = value_of(drawn(d))
    value["nodes"] = [n for n in value["nodes"] if n["id"] != "n2"]
    value["edges"] = [e for e in value["edges"] if e["target"] != "n2"]
    fold(d, value)
    assert [n.id for n in d.nodes] == ["inp", "n1"]
    value = value_of(drawn(d))
    value["edges"] = []
    fold(d, value)
    assert d.edges == []


def test_a_node_typed_in_the_pane_menu_becomes_that_layer_and_is_selected():
    d = chain()
    value = value_of(drawn(d), selectedId="st-flow-node_x1")
    value["nodes"].append({"id": "st-flow-node_x1", "position": {"x": 5, "y": 300},
                           "data": {"content": "Dense 10 softmax"}})
    outcome = fold(d, value)
    new = d.node("dense_1")
    assert new.params["units"] == 10 and new.params["activation"] == "softmax"
    assert new.position == (5.0, 300.0)
    assert outcome.selected == "dense_1"


def test_text_not_understood_stays_a_draft_with_the_reason():
    d = chain()
    value = value_of(drawn(d))
    value["nodes"].append({"id": "st-flow-node_x2", "position": {"x": 0, "y": 0},
                           "data": {"content": "Dense banana"}})
    outcome = fold(d, value)
    assert [n.id for n in d.nodes] == ["inp"]
    draft = outcome.drafts["st-flow-node_x2"]
    assert "banana" in draft.error
    # Drawn again, the draft shows its text and the reason, in the warning colour.
    flow = drawn(d, drafts=outcome.drafts)
    face = next(n for n in flow.nodes if n.id == "st-flow-node_x2")
    assert "not a value Dense understands" in face.data["content"]
    # Fixed with Edit Node, it becomes a layer.
    value = value_of(flow)
    for node in value["nodes"]:
        if node["id"] == "st-flow-node_x2":
            node["data"]["content"] = "Dense 3"
    outcome = fold(d, value, drafts=outcome.drafts)
    assert d.node("dense_1").params["units"] == 3 and outcome.drafts == {}


def test_retyping_a_node_title_changes_the_layer_and_keeps_other_params():
    d = chain(("Dense", {"units": 8, "use_bias": False}))
    value = value_of(drawn(d))
    value["nodes"][1]["data"]["content"] = "Dense 64 tanh"
    fold(d, value)
    assert d.node("n1").params == {"units": 64, "activation": "tanh", "use_bias": False}


def test_a_retyped_title_not_understood_leaves_the_layer_and_says_why():
    d = chain("Dense")
    value = value_of(drawn(d))
    value["nodes"][1]["data"]["content"] = "Dense purple"
    outcome = fold(d, value)
    assert d.node("n1").type == "Dense" and d.node("n1").params == {}
    assert "purple" in outcome.messages[0] and outcome.changed


def test_clicks_select_and_an_empty_report_keeps_the_selection():
    d = chain("Dense")
    outcome = fold(d, value_of(drawn(d), selectedId="n1"))
    assert outcome.selected == "n1"
    outcome = fold(d, value_of(drawn(d)), selected="n1")
    assert outcome.selected == "n1"
    outcome = fold(d, value_of(drawn(d)), selected="gone")
    assert outcome.selected is None


def test_a_report_about_an_older_drawing_does_not_undo_newer_edits():
    """A palette click added a node the canvas had not drawn when it reported a connection."""
    d = chain("Dense")
    old = d.copy()
    value = value_of(drawn(old))
    edits.add_layer(d, "Dropout")  # the palette click, not yet on the canvas
    value["edges"].append({"id": "e", "source": "n1", "target": "inp"})
    fold(d, value, base=old)
    assert d.node("dropout_1") is not None
    assert ("n1", "inp") in [(e.source, e.target) for e in d.edges]


def test_drawing_shown_reads_the_stamp_or_falls_back_to_time():
    made_at = {3: 100, 4: 200}
    stamped = edits.CanvasReport((), (), None, 5, frozenset({3}))
    assert edits.drawing_shown(stamped, made_at) == 3
    empty_late = edits.CanvasReport((), (), None, 250, frozenset())
    assert edits.drawing_shown(empty_late, made_at) == 4
    empty_between = edits.CanvasReport((), (), None, 150, frozenset())
    assert edits.drawing_shown(empty_between, made_at) == 3
    empty_early = edits.CanvasReport((), (), None, 50, frozenset())
    assert edits.drawing_shown(empty_early, made_at) is None
    mixed = edits.CanvasReport((), (), None, 500, frozenset({1, 2}))
    assert edits.drawing_shown(mixed, made_at) is None



def test_a_late_report_from_an_empty_canvas_is_not_read_against_a_drawing_it_never_showed():
    """An empty canvas speaks after a template was opened: not 'every node was deleted'."""
    made_at = {3: 100, 4: 200}  # 3: the empty design; 4: the template, not yet shown
    late_empty = edits.CanvasReport((), (), None, 250, frozenset())
    shown_so_far = 3
    assert edits.drawing_shown(late_empty, made_at, lambda n: n <= shown_so_far) == 3
    # Once the canvas has shown drawing 4 (a report carried its nodes), an empty
    # report after it is the person deleting the last nodes.
    assert edits.drawing_shown(late_empty, made_at, lambda n: n <= 4) == 4

# -- the other edits -----------------------------------------------------------------------


def test_add_layer_below_the_selected_node_connects_it():
    d = chain()
    node_id = edits.add_layer(d, "Dense", near="inp")
    assert d.inputs_of(node_id) == ["inp"]
    assert d.node(node_id).position[1] > d.node("inp").position[1]


def test_an_input_added_near_a_node_is_not_connected():
    d = chain()
    node_id = edits.add_layer(d, "Input", near="inp")
    assert d.inputs_of(node_id) == []


def test_add_layer_refuses_unknown_types():
    with pytest.raises(ValueError, match="palette"):
        edits.add_layer(chain(), "Nope")


def test_rename_follows_edges_and_refuses_bad_or_taken_ids():
    d = chain("Dense", "Dense")
    assert edits.rename_node(d, "n1", " hidden ") == "hidden"
    assert d.inputs_of("n2") == ["hidden"] and d.inputs_of("hidden") == ["inp"]
    with pytest.raises(ValueError, match="start with a letter"):
        edits.rename_node(d, "n2", "2bad")
    with pytest.raises(ValueError, match="already called"):
        edits.rename_node(d, "n2", "inp")


def test_move_input_swaps_the_order_of_a_merge():
    d = design([("a", "Input", {"shape": [2]}), ("b", "Input", {"shape": [3]}),
                ("cat", "Concatenate")], [("a", "cat", 0), ("b", "cat", 1)])
    edits.move_input(d, "cat", 1, -1)
    assert d.inputs_of("cat") == ["b", "a"]
    edits.move_input(d, "cat", 0, -1)  # already first: nothing happens
    assert d.inputs_of("cat") == ["b", "a"]
    assert analyze(d).nodes["cat"].output_shape == (None, 5)


def test_retype_to_an_input_drops_its_incoming_edges():
    d = chain("Dense")
    edits.retype(d, "n1", "Input 3")
    assert d.node("n1").type == "Input" and d.inputs_of("n1") == []
    with pytest.raises(QuickAddError):
        edits.retype(d, "n1", "Nothing")


def test_auto_layout_spreads_stacked_nodes():
    d = chain("Dense", "Dense")
    assert edits.needs_layout(d)
    edits.auto_layout(d)
    assert not edits.needs_layout(d)
    assert d.node("inp").position[1] < d.node("n1").position[1] < d.node("n2").position[1]
