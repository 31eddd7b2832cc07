"""The canvas's messages, without a browser: what Python sends it, and how the edits it
sends back become design changes."""

from pathlib import Path

from builder.design import Design
from builder.ui import canvas_bridge as bridge
from builder.ui.canvas_bridge import KEEP, Revisions
from builder.validate import analyze
from tests.helpers import chain, design

FRONTEND_SRC = Path(__file__).resolve().parents[2] / "builder" / "ui" / "canvas_frontend" / "src"


def payload_of(d: Design, selected=None, revs=None, ack=None):
    return bridge.payload(d, analyze(d), selected=selected, revisions=revs or Revisions(),
                          ack=ack, design_key="7")


def op(seq, kind, **fields):
    return {"seq": seq, "op": kind, **fields}


# -- out ----------------------------------------------------------------------------


def test_each_face_shows_title_id_shape_and_parameter_count():
    d = chain(("Dense", {"units": 10, "activation": "softmax"}))
    faces = payload_of(d)["faces"]
    assert faces["n1"]["title"] == "Dense 10 softmax"
    assert faces["n1"]["meta"] == "n1 · (None, 10)"
    assert faces["n1"]["params"] == "90 params"
    assert faces["n1"]["status"] == "ok" and faces["n1"]["problem"] == ""
    assert faces["n1"]["isOutput"] and not faces["inp"]["isOutput"]
    assert faces["inp"]["inputs"] == [] and faces["n1"]["inputs"] == ["in"]


def test_a_problem_is_a_badge_and_its_first_sentence_the_whole_text_on_hover():
    d = chain("Flatten")  # a vector cannot be flattened further
    face = payload_of(d)["faces"]["n1"]
    problem = analyze(d).problems_for("n1")[0].message
    assert face["status"] == "error" and face["problemCount"] == 1
    assert face["problem"] and problem.startswith(face["problem"])
    assert problem in face["hover"]


def test_names_from_a_file_stay_plain_text_and_the_frontend_never_renders_html():
    evil = "<img src=x onerror=alert(1)>"
    d = Design.from_dict({"nodes": [{"id": "a", "type": evil, "params": {}},
                                    {"id": "b", "type": "Dense", "params": {"units": evil}}],
                          "edges": []})
    faces = payload_of(d)["faces"]
    assert faces["a"]["type"] == evil  # React draws it as text
    sources = "".join(p.read_text() for p in FRONTEND_SRC.rglob("*.js*"))
    assert "dangerouslySetInnerHTML" not in sources and "innerHTML" not in sources


def test_the_graph_carries_positions_and_each_edge_its_handle():
    d = design([("q", "Input", {"shape": [5, 8]}), ("v", "Input", {"shape": [5, 8]}),
                ("att", "MultiHeadAttention")], [("v", "att", 1), ("q", "att", 0)])
    d.node("q").position = (10.0, 20.0)
    graph = payload_of(d)["graph"]
    assert graph["nodes"][0] == {"id": "q", "x": 10.0, "y": 20.0}
    assert sorted((e["source"], e["handle"]) for e in graph["edges"]) == [
        ("q", "query"), ("v", "value")]
    face = payload_of(d)["faces"]["att"]
    assert face["inputs"] == ["query", "value", "key"] and face["namedInputs"]


def test_duplicate_ids_and_bad_positions_do_not_break_the_drawing():
    d = Design.from_dict({"nodes": [
        {"id": "a", "type": "Input", "params": {"shape": [3]}, "position": [float("nan"), 1e99]},
        {"id": "a", "type": "Dense"},
    ], "edges": [{"source": "a", "target": "a"}]})
    graph = payload_of(d)["graph"]
    assert graph["nodes"] == [{"id": "a", "x": 0.0, "y": 1_000_000.0}]


def test_the_palette_comes_from_the_catalog():
    from builder import catalog

    groups = payload_of(chain())["palette"]
    listed = [t["id"] for g in groups for t in g["types"]]
    assert sorted(listed) == sorted(t.type_id for t in catalog.all_types())
    assert [g["category"] for g in groups if g["open"]] == ["Input", "Core"]


def test_revisions_are_bumped_one_thing_at_a_time():
    revs = bridge.bumped(Revisions(), graph=True)
    assert (revs.rev, revs.select_rev, revs.fit_rev, revs.layout_rev) == (1, 0, 0, 0)
    revs = bridge.bumped(revs, select=True, focus=True)
    assert revs.select_rev == 1 and revs.focus
    revs = bridge.bumped(revs, layout=True, initial=True)
    assert revs.layout_rev == 1 and revs.layout_initial
    assert payload_of(chain(), revs=revs)["layoutRev"] == 1


def test_analysis_rows_are_in_graph_order():
    d = design([("out", "Dense", {"units": 2}), ("inp", "Input", {"shape": [4]}),
                ("mid", "Dense", {"units": 3})], [("inp", "mid"), ("mid", "out")])
    rows = bridge.analysis_rows(d, analyze(d))
    assert [r["id"] for r in rows] == ["inp", "mid", "out"]
    assert rows[1]["output shape"] == "(None, 3)" and rows[1]["parameters"] == 15
    assert rows[2]["problems"] == ""


# -- in -----------------------------------------------------------------------------


def test_only_new_ops_of_a_session_are_taken_and_junk_is_ignored():
    value = {"session": "s1", "ops": [op(2, "undo"), op(1, "redo"), {"seq": True, "op": "x"},
                                      "junk", op(3, "select", id="a")]}
    assert bridge.new_ops(value, None, 0) == ("s1", [op(1, "redo"), op(2, "undo"),
                                                     op(3, "select", id="a")])
    assert bridge.new_ops(value, "s1", 2)[1] == [op(3, "select", id="a")]
    assert bridge.new_ops(value, "old", 9)[1][0]["seq"] == 1  # a new mount starts again
    for junk in (None, [], {"session": 3, "ops": []}, {"session": "s", "ops": "x"}):
        assert bridge.new_ops(junk, "s1", 2) == ("s1", [])


def test_a_move_changes_positions_only():
    d = chain("Dense")
    result = bridge.apply_op(d, op(1, "move", positions={"n1": [300, -40], "zz": [1, 1],
                                                         "inp": "bad"}), None)
    assert result.moved and not result.changed and result.selected is KEEP
    assert d.node("n1").position == (300.0, -40.0)


def test_select_takes_a_known_node_or_none():
    d = chain("Dense")
    assert bridge.apply_op(d, op(1, "select", id="n1"), None).selected == "n1"
    assert bridge.apply_op(d, op(2, "select", id="gone"), "n1").selected is None
    assert bridge.apply_op(d, op(3, "select", id=None), "n1").selected is None


def test_connect_reconnect_and_remove_reach_the_design():
    d = design([("a", "Input", {"shape": [4]}), ("b", "Input", {"shape": [4]}),
                ("add", "Add"), ("d", "Dense")], [])
    assert bridge.apply_op(d, op(1, "connect", source="a", target="add", handle="in0"),
                           None).changed
    bridge.apply_op(d, op(2, "connect", source="b", target="add", handle="in1"), None)
    assert d.inputs_of("add") == ["a", "b"]
    refused = bridge.apply_op(d, op(3, "connect", source="b", target="add", handle="in0"), None)
    assert "already connected" in refused.message and d.inputs_of("add") == ["a", "b"]
    bridge.apply_op(d, op(4, "reconnect", **{"from": {"source": "b", "target": "add",
                                                      "handle": "in1"},
                                             "to": {"source": "b", "target": "d",
                                                    "handle": "in"}}), None)
    assert d.inputs_of("add") == ["a"] and d.inputs_of("d") == ["b"]
    result = bridge.apply_op(d, op(5, "remove", nodes=["a"],
                                   edges=[{"source": "b", "target": "d", "handle": "in"}]),
                             "a")
    assert result.changed and result.selected is None
    assert [n.id for n in d.nodes] == ["b", "add", "d"] and d.edges == []


def test_a_drop_adds_the_layer_at_its_point_and_selects_it():
    d = chain()
    result = bridge.apply_op(d, op(1, "add", type="Dense", position=[120, 340]), "inp")
    assert result.changed and result.selected == "dense_1"
    assert d.node("dense_1").position == (120.0, 340.0)
    assert d.inputs_of("dense_1") == []  # dropped at a point: not connected


def test_a_palette_click_adds_below_the_selected_node_and_connects_it():
    d = chain()
    bridge.apply_op(d, op(1, "add", type="Dense", position=None), "inp")
    assert d.inputs_of("dense_1") == ["inp"]


def test_a_drop_onto_a_connection_inserts_the_layer_there():
    d = chain("Dense")
    bridge.apply_op(d, op(1, "add", type="Dropout", position=[0, 90],
                          onEdge={"source": "inp", "target": "n1", "handle": "in"}), None)
    assert d.inputs_of("dropout_1") == ["inp"] and d.inputs_of("n1") == ["dropout_1"]


def test_quick_add_text_adds_the_layer_or_says_why_not():
    d = chain()
    result = bridge.apply_op(d, op(1, "quick_add", text="Dense 7 relu", position=[5, 5]), None)
    assert d.node("dense_1").params["units"] == 7 and result.selected == "dense_1"
    result = bridge.apply_op(d, op(2, "quick_add", text="Conv2D lots", position=None), None)
    assert "not a value Conv2D understands" in result.message and len(d.nodes) == 2
    unknown = bridge.apply_op(d, op(3, "add", type="Nope", position=None), None)
    assert "not a layer type" in unknown.message and len(d.nodes) == 2


def test_duplicate_selects_the_copy_and_undo_redo_are_left_to_the_history():
    d = chain("Dense")
    result = bridge.apply_op(d, op(1, "duplicate", ids=["n1"]), None)
    assert result.changed and result.selected == "dense_1"
    assert bridge.apply_op(d, op(2, "undo"), None).history == "undo"
    assert bridge.apply_op(d, op(3, "redo"), None).history == "redo"


def test_a_layout_on_opening_is_marked_initial():
    d = chain("Dense")
    result = bridge.apply_op(d, op(1, "layout", initial=True,
                                   positions={"inp": [0, 0], "n1": [0, 130]}), None)
    assert result.initial and result.moved
    assert d.node("n1").position == (0.0, 130.0)


def test_the_whole_designs_problems_go_to_the_canvas_as_notices():
    def notices(drawn: Design) -> list[str]:
        return bridge.payload(drawn, analyze(drawn), selected=None, revisions=Revisions(),
                              ack=None, design_key="1")["notices"]

    assert notices(Design()) == [
        "The design is empty. Add an Input layer from the palette, then the layers that "
        "follow it."]
    assert notices(chain(("Dense", {"units": 2}), input_shape=(4,))) == []
