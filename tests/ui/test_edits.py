"""The edits behind the Build page and its canvas, as plain functions on a design."""

import pytest

from builder.quick_add import QuickAddError
from builder.ui import edits
from builder.validate import analyze
from tests.helpers import chain, design


def merge_design():
    return design([("a", "Input", {"shape": [2]}), ("b", "Input", {"shape": [3]}),
                   ("c", "Input", {"shape": [4]}), ("cat", "Concatenate")],
                  [("a", "cat", 0), ("b", "cat", 1)])


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
    d = merge_design()
    edits.move_input(d, "cat", 1, -1)
    assert d.inputs_of("cat") == ["b", "a"]
    edits.move_input(d, "cat", 0, -1)  # already first: nothing happens
    assert d.inputs_of("cat") == ["b", "a"]
    assert analyze(d).nodes["cat"].output_shape == (None, 5)


def test_retype_changes_the_layer_and_keeps_other_params():
    d = chain(("Dense", {"units": 8, "use_bias": False}))
    edits.retype(d, "n1", "Dense 64 tanh")
    assert d.node("n1").params == {"units": 64, "activation": "tanh", "use_bias": False}


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


# -- handles: what the canvas draws the inputs as ----------------------------------------


def test_handles_follow_the_catalog():
    d = design([("q", "Input", {"shape": [5, 8]}), ("d", "Dense"), ("att", "MultiHeadAttention"),
                ("sub", "Subtract"), ("cat", "Concatenate")], [("q", "cat", 0)])
    handles = {n.id: edits.input_handles(d, n) for n in d.nodes}
    assert handles == {"q": [], "d": ["in"], "att": ["query", "value", "key"],
                       "sub": ["first", "second"], "cat": ["in0", "in1"]}


def test_edges_are_drawn_into_the_handle_of_their_place():
    d = design([("q", "Input", {"shape": [5, 8]}), ("v", "Input", {"shape": [5, 8]}),
                ("att", "MultiHeadAttention")], [("v", "att", 1), ("q", "att", 0)])
    assert [(e.source, h) for e, h in edits.incoming_with_handles(d, "att")] == [
        ("q", "query"), ("v", "value")]


def test_connect_to_a_handle_takes_that_place_and_refuses_a_taken_one():
    d = design([("q", "Input", {"shape": [5, 8]}), ("v", "Input", {"shape": [7, 8]}),
                ("k", "Input", {"shape": [7, 8]}), ("att", "MultiHeadAttention")], [])
    edits.connect_to_handle(d, "q", "att", "query")
    edits.connect_to_handle(d, "v", "att", "value")
    edits.connect_to_handle(d, "k", "att", "key")
    assert d.inputs_of("att") == ["q", "v", "k"]
    assert analyze(d).nodes["att"].output_shape == (None, 5, 8)
    with pytest.raises(ValueError, match="already connected"):
        edits.connect_to_handle(d, "v", "att", "key")
    with pytest.raises(ValueError, match="no input"):
        edits.connect_to_handle(d, "v", "q", "in")
    with pytest.raises(ValueError, match="its own output"):
        edits.connect_to_handle(d, "att", "att", "query")


def test_a_merge_takes_each_new_input_last_and_closes_gaps_on_removal():
    d = merge_design()
    edits.connect_to_handle(d, "c", "cat", "in2")
    assert d.inputs_of("cat") == ["a", "b", "c"]
    edits.remove_edge(d, edits.find_edge(d, "a", "cat", "in0"))
    assert d.inputs_of("cat") == ["b", "c"]
    assert [e.slot for e in d.edges if e.target == "cat"] == [0, 1]
    assert edits.input_handles(d, d.node("cat")) == ["in0", "in1", "in2"]


def test_insert_on_edge_keeps_the_input_place():
    d = merge_design()
    node_id = edits.add_layer(d, "Dense", position=(0, 0))
    edits.insert_on_edge(d, edits.find_edge(d, "a", "cat", "in0"), node_id)
    assert d.inputs_of("cat") == [node_id, "b"]
    assert d.inputs_of(node_id) == ["a"]


def test_duplicate_copies_nodes_and_their_inner_connections_beside_them():
    d = chain("Dense", "Dense")
    d.node("n1").position = (100.0, 50.0)
    copies = edits.duplicate(d, ["n1", "n2", "missing"])
    assert copies == ["dense_1", "dense_2"]
    assert d.inputs_of("dense_2") == ["dense_1"] and d.inputs_of("dense_1") == []
    assert d.node("dense_1").position == (140.0, 90.0)
    d.node("dense_1").params["units"] = 3  # a copy, not the same dict
    assert d.node("n1").params.get("units") != 3
