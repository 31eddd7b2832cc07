"""Design JSON: load, save, migrate, and clear refusals of what is not a design."""

import json

import pytest

from builder.design import (
    CURRENT_VERSION,
    Design,
    DesignFormatError,
    list_templates,
    migrate,
    new_node_id,
)
from tests.helpers import chain


def test_round_trip_keeps_everything_including_unknown_fields():
    raw = {
        "format": "neural-canvas-design", "version": 1, "name": "mlp", "role": "model",
        "author": "ada",
        "nodes": [{"id": "inp", "type": "Input", "params": {"shape": [4]},
                   "position": [10, 20], "note": "first"},
                  {"id": "d", "type": "Dense", "params": {"units": 3}, "position": [10, 120]}],
        "edges": [{"source": "inp", "target": "d", "slot": 0, "color": "red"}],
    }
    d = Design.from_json(json.dumps(raw))
    assert d.extra == {"author": "ada"} and d.nodes[0].extra == {"note": "first"}
    assert d.edges[0].extra == {"color": "red"}
    assert Design.from_json(d.to_json()).to_dict() == d.to_dict()
    assert d.to_dict()["nodes"][0]["position"] == [10.0, 20.0]


def test_unversioned_designs_are_migrated_with_explicit_input_order():
    raw = {"nodes": [{"id": "a", "type": "Input"}, {"id": "b", "type": "Input"},
                     {"id": "c", "type": "Concatenate"}],
           "edges": [{"source": "b", "target": "c"}, {"source": "a", "target": "c"}]}
    migrated = migrate(raw)
    assert migrated["version"] == CURRENT_VERSION
    assert [e["slot"] for e in migrated["edges"]] == [0, 1]
    assert Design.from_dict(raw).inputs_of("c") == ["b", "a"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ('{"nodes": [', "not valid JSON"),
        ("[1, 2, 3]", "got a list"),
        ('{"hello": 1}', "no 'nodes'"),
        ('{"format": "something-else", "nodes": []}', "not a Neural Canvas design"),
        ('{"version": 99, "nodes": []}', "newer Neural Canvas"),
        ('{"version": 1, "nodes": [42]}', "Node #1 must be an object"),
        ('{"version": 1, "nodes": [{"id": 3, "type": "Dense"}]}', "needs a text 'id'"),
        ('{"version": 1, "nodes": [{"id": "a", "type": null}]}', "needs a text 'type'"),
        ('{"version": 1, "nodes": [], "edges": [{"source": "a"}]}', "'source' and 'target'"),
        ('{"version": 1, "nodes": [], "edges": [{"source": "a", "target": "b", "slot": -1}]}',
         "'slot' must be a whole number"),
        ('{"version": 1, "nodes": [], "role": "boss"}', "'role' must be one of"),
        ('{"version": 1, "nodes": {}}', "needs 'nodes' and 'edges' lists"),
    ],
)
def test_not_a_design_gives_a_sentence(text, fragment):
    with pytest.raises(DesignFormatError, match=fragment):
        Design.from_json(text)


def test_binary_and_huge_input_are_refused():
    with pytest.raises(DesignFormatError, match="not UTF-8"):
        Design.from_json(b"\xff\xfe\x00junk")
    with pytest.raises(DesignFormatError, match="at most"):
        Design.from_json(b" " * 6_000_000)
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(DesignFormatError):
        Design.from_json(deep)


def test_too_many_nodes_is_refused():
    nodes = [{"id": f"n{i}", "type": "Dense"} for i in range(2001)]
    with pytest.raises(DesignFormatError, match="at most 2000 nodes"):
        Design.from_dict({"version": 1, "nodes": nodes, "edges": []})


def test_new_node_ids_are_unique_and_valid():
    d = chain("Dense")
    first = new_node_id(d, "Dense")
    assert first == "dense_1"
    d.nodes[1].id = "dense_1"
    assert new_node_id(d, "Dense") == "dense_2"
    assert new_node_id(d, "Conv2D") == "conv2d_1"


def test_edits_keep_edges_in_step():
    d = chain("Dense", "Dense")
    d.remove_node("n1")
    assert [(e.source, e.target) for e in d.edges] == []
    d = Design.from_dict({"version": 1,
                          "nodes": [{"id": "a", "type": "Input"}, {"id": "b", "type": "Input"},
                                    {"id": "c", "type": "Concatenate"}],
                          "edges": [{"source": "a", "target": "c"},
                                    {"source": "b", "target": "c"}]})
    d.set_input_order("c", ["b", "a"])
    assert d.inputs_of("c") == ["b", "a"]


def test_templates_load():
    templates = list_templates()
    assert len(templates) >= 9
    for template in templates:
        assert template.title and len(template.description) > 60
        assert template.designs


# -- hostile files (issue 18) -------------------------------------------------------------


def test_a_huge_integer_is_refused_with_a_sentence_not_a_traceback():
    text = '{"nodes": [{"id": "d", "type": "Dense", "params": {"units": ' + "9" * 5000 + "}}]}"
    with pytest.raises(DesignFormatError, match="no design uses"):
        Design.from_json(text)


def test_deep_nesting_is_refused_before_anything_copies_it():
    for levels, words in ((980, "nested"), (200, "nested more than 64 levels")):
        text = '{"nodes": [], "edges": [], "x": ' + "[" * levels + "]" * levels + "}"
        with pytest.raises(DesignFormatError, match=words):
            Design.from_json(text)
    shallow = Design.from_json('{"nodes": [], "edges": [], "x": [[[1]]]}')
    assert shallow.copy().extra == {"x": [[[1]]]}


def test_control_characters_leave_design_names():
    design = Design.from_json('{"name": "a\\u0000b\\u001b[31m\\nc", "nodes": [], "edges": []}')
    assert design.name == "ab[31mc"
