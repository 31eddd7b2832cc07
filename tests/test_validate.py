"""analyze(): coded problems on the right node, shapes and counts, and it never raises."""


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder import catalog, validate
from builder.design import Design, Edge, Node
from builder.validate import CODES, analyze, analyze_uncached
from tests.helpers import chain, design


def codes(report, node_id=None):
    return {p.code for p in report.problems if node_id is None or p.node_id == node_id}


def test_clean_mlp_has_shapes_and_counts():
    report = analyze(chain(("Dense", {"units": 16}), ("Dense", {"units": 3}), input_shape=(4,)))
    assert report.ok
    assert report.nodes["n1"].output_shape == (None, 16)
    assert report.nodes["n1"].param_count == 4 * 16 + 16
    assert report.nodes["n2"].param_count == 16 * 3 + 3
    assert report.total_params == 80 + 51
    assert report.input_ids == ["inp"] and report.output_ids == ["n2"]
    assert report.summary() == "131 parameters · 0 problems"


def test_cnn_shapes():
    report = analyze(chain(("Conv2D", {"filters": 8, "kernel_size": 3}), "MaxPooling2D",
                           "Flatten", ("Dense", {"units": 10}), input_shape=(28, 28, 1)))
    assert report.ok
    assert report.nodes["n1"].output_shape == (None, 26, 26, 8)
    assert report.nodes["n2"].output_shape == (None, 13, 13, 8)
    assert report.nodes["n3"].output_shape == (None, 1352)


def test_cycle_is_reported_on_each_node_of_the_loop_and_downstream_is_skipped():
    d = design([("inp", "Input", {"shape": [4]}), ("a", "Add"), ("b", "Dense"), ("c", "Dense")],
               [("inp", "a"), ("b", "a"), ("a", "b"), ("b", "c")])
    report = analyze(d)
    assert codes(report, "a") == {"cycle"} and codes(report, "b") == {"cycle"}
    assert report.nodes["c"].status == "skipped" and not report.problems_for("c")


def test_self_loop_is_a_cycle():
    d = design([("inp", "Input"), ("a", "Dense")], [("inp", "a"), ("a", "a")])
    assert "cycle" in codes(analyze(d), "a")


def test_dangling_edge_is_reported_and_does_not_block_shapes():
    d = design([("inp", "Input"), ("a", "Dense")], [("inp", "a"), ("a", "ghost")])
    report = analyze(d)
    assert "dangling_edge" in codes(report)
    assert report.nodes["a"].output_shape == (None, 32)


@pytest.mark.parametrize(
    ("nodes", "edges", "node_id", "code"),
    [
        ([("inp", "Input"), ("d", "Dense")], [], "d", "missing_input"),
        ([("inp", "Input"), ("i2", "Input"), ("d", "Dense")], [("inp", "d"), ("i2", "d")],
         "d", "too_many_inputs"),
        ([("inp", "Input"), ("a", "Add")], [("inp", "a")], "a", "missing_input"),
        ([("inp", "Input"), ("i2", "Input"), ("i3", "Input"), ("s", "Subtract")],
         [("inp", "s"), ("i2", "s"), ("i3", "s")], "s", "too_many_inputs"),
        ([("inp", "Input"), ("d", "Dense"), ("i2", "Input")], [("inp", "d"), ("d", "i2")],
         "i2", "input_has_inputs"),
        ([("inp", "Input"), ("d", "Dense"), ("x", "Dense")], [("inp", "d")], "x",
         "missing_input"),
        ([("inp", "Input"), ("d", "Dense"), ("lonely", "Input")], [("inp", "d")], "lonely",
         "disconnected"),
        ([("inp", "Input"), ("x", "__import__('os').system('ls')")], [("inp", "x")], "x",
         "unknown_type"),
        ([("inp", "Input"), ("x", "Lambda", {"function": "lambda x: x"})], [("inp", "x")], "x",
         "unknown_type"),
        ([("inp", "Input"), ("bad id!", "Dense")], [("inp", "bad id!")], "bad id!", "bad_id"),
        ([("inp", "Input"), ("d", "Dense", {"units": -1})], [("inp", "d")], "d", "bad_param"),
        ([("inp", "Input"), ("d", "Dense", {"units": 10**10})], [("inp", "d")], "d",
         "bad_param"),
        ([("inp", "Input", {"shape": [16]}), ("c", "Conv2D")], [("inp", "c")], "c",
         "shape_mismatch"),
        ([("inp", "Input", {"shape": [3, 3, 1]}), ("c", "Conv2D", {"kernel_size": 5})],
         [("inp", "c")], "c", "shape_mismatch"),
        ([("inp", "Input", {"shape": [4]}), ("a", "Dense", {"units": 8}),
          ("b", "Dense", {"units": 4}), ("m", "Add")],
         [("inp", "a"), ("inp", "b"), ("a", "m"), ("b", "m")], "m", "shape_mismatch"),
        ([("inp", "Input", {"shape": [4, 4, 1]}), ("f", "Flatten"), ("c", "Concatenate")],
         [("inp", "c"), ("inp", "f"), ("f", "c")], "c", "shape_mismatch"),
        ([("inp", "Input", {"shape": [10]}), ("r", "Reshape", {"target_shape": [3, 3]})],
         [("inp", "r")], "r", "shape_mismatch"),
        ([("inp", "Input", {"shape": [65536]}), ("d", "Dense", {"units": 65536})],
         [("inp", "d")], "d", "too_large"),
        ([("inp", "Input", {"shape": [600], "dtype": "int32"}), ("e", "Embedding"),
          ("p", "PositionEmbedding", {"max_length": 100})],
         [("inp", "e"), ("e", "p")], "p", "shape_mismatch"),
    ],
)
def test_bad_designs_give_their_coded_problem_on_the_node(nodes, edges, node_id, code):
    report = analyze(design(nodes, edges))
    assert code in codes(report, node_id), [(p.code, p.node_id, p.message) for p in
                                             report.problems]
    assert code in CODES
    for problem in report.problems:
        assert problem.message.endswith(".") and len(problem.message) > 30


def test_messages_say_what_and_how_to_fix():
    report = analyze(design([("inp", "Input", {"shape": [16]}), ("c", "Conv2D")],
                            [("inp", "c")]))
    message = report.problems_for("c")[0].message
    assert "(None, 16)" in message and "Reshape" in message
    report = analyze(design([("inp", "Input"), ("d", "Dense", {"units": -1})], [("inp", "d")]))
    assert report.problems_for("d")[0].message == "Dense 'units' must be at least 1; got -1."
    assert report.problems_for("d")[0].param == "units"


def test_downstream_of_a_broken_node_is_skipped_not_flooded():
    report = analyze(chain(("Dense", {"units": 0}), "Dense", "Dense", "Dense"))
    assert [p.node_id for p in report.problems] == ["n1"]
    assert [report.nodes[n].status for n in ("n2", "n3", "n4")] == ["skipped"] * 3


def test_empty_design_and_no_input():
    assert codes(analyze(Design())) == {"no_input"}
    report = analyze(design([("a", "Dense"), ("b", "Dense")], [("a", "b")]))
    assert "no_input" in codes(report)


def test_multi_input_multi_output_is_allowed():
    d = design([("x1", "Input", {"shape": [4]}), ("x2", "Input", {"shape": [3]}),
                ("c", "Concatenate"), ("y1", "Dense", {"units": 1}),
                ("y2", "Dense", {"units": 2})],
               [("x1", "c"), ("x2", "c"), ("c", "y1"), ("c", "y2")])
    report = analyze(d)
    assert report.ok
    assert report.nodes["c"].output_shape == (None, 7)
    assert report.input_ids == ["x1", "x2"] and report.output_ids == ["y1", "y2"]


def test_concatenate_follows_the_explicit_input_order():
    d = design([("x1", "Input", {"shape": [4, 4, 1]}), ("x2", "Input", {"shape": [4, 4, 2]}),
                ("c", "Concatenate", {"axis": -1}), ("f", "Flatten")],
               [("x2", "c", 0), ("x1", "c", 1), ("c", "f")])
    assert d.inputs_of("c") == ["x2", "x1"]
    assert analyze(d).nodes["c"].output_shape == (None, 4, 4, 3)


def test_attention_self_and_cross():
    self_attention = design([("x", "Input", {"shape": [6, 8]}), ("a", "MultiHeadAttention")],
                            [("x", "a")])
    assert analyze(self_attention).nodes["a"].output_shape == (None, 6, 8)
    cross = design([("q", "Input", {"shape": [5, 8]}), ("v", "Input", {"shape": [7, 4]}),
                    ("a", "MultiHeadAttention")], [("q", "a", 0), ("v", "a", 1)])
    report = analyze(cross)
    assert report.ok and report.nodes["a"].output_shape == (None, 5, 8)


def test_a_hundred_node_design_analyses_whole():
    # Its speed is bench/analyze.py's to measure: a timed test fails on a loaded machine.
    layers = [("Dense", {"units": 16})] * 99
    report = analyze(chain(*layers))
    assert report.ok and len(report.nodes) == 100


def test_positions_do_not_change_the_report():
    d = chain("Dense")
    first = analyze(d)
    d.nodes[1].position = (500.0, 20.0)
    assert analyze(d) is first


TYPE_IDS = [t.type_id for t in catalog.LAYER_TYPES] + ["Nope", "", "Lambda"]
param_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000),
                         st.floats(allow_nan=True), st.text(max_size=5),
                         st.lists(st.integers(-2, 40), max_size=5))


@st.composite
def random_designs(draw):
    count = draw(st.integers(0, 7))
    ids = [f"n{i}" for i in range(count)]
    nodes = []
    for node_id in ids:
        type_id = draw(st.sampled_from(TYPE_IDS))
        layer_type = catalog.get(type_id)
        names = [p.name for p in layer_type.params] if layer_type else ["x"]
        params = draw(st.dictionaries(st.sampled_from(names + ["junk"]), param_values,
                                      max_size=3))
        nodes.append({"id": node_id, "type": type_id, "params": params})
    endpoints = st.sampled_from(ids + ["ghost"]) if ids else st.just("ghost")
    edges = draw(st.lists(st.tuples(endpoints, endpoints, st.one_of(st.none(),
                                                                     st.integers(0, 3))),
                          max_size=10))
    return Design.from_dict({"version": 1, "nodes": nodes, "edges": [
        {"source": s, "target": t, "slot": slot} for s, t, slot in edges]})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_designs())
def test_random_designs_never_make_analyze_raise(random_design):
    report = analyze(random_design)
    assert all(p.code in CODES for p in report.problems)
    assert set(report.nodes) <= {n.id for n in random_design.nodes}


# -- incremental analysis: per-node trace results are reused, the report is the same --


CHEAP_TYPES = ["Dense", "Dropout", "Activation", "Flatten", "Reshape", "Conv1D", "Conv2D",
               "MaxPooling2D", "GlobalAveragePooling1D", "Embedding", "SimpleRNN",
               "BatchNormalization", "ZeroPadding2D"]
MERGE_TYPES = ["Add", "Concatenate", "Multiply"]


def candidates(param: catalog.Param) -> list:
    """Values for one parameter: mostly sensible, some wrong (the report says why)."""
    if param.kind == "int":
        return [1, 2, 3, 4, 6, -1, 0, 64]
    if param.kind == "float":
        return [0.0, 0.1, 0.5, 1.5]
    if param.kind == "choice":
        return list(param.choices)
    if param.kind == "bool":
        return [True, False]
    return [[4], [2, 4], [3, 3], [-1, 2], [0], [8, 6, 1]]


@st.composite
def edit_sequences(draw):
    """A small design, then a sequence of edits a person makes on the canvas."""
    shape = draw(st.sampled_from([[8], [6, 4], [6, 6, 2]]))
    nodes = [("inp", "Input", {"shape": shape})]
    edges = []
    for i in range(draw(st.integers(2, 7))):
        type_id = draw(st.sampled_from(CHEAP_TYPES + MERGE_TYPES))
        sources = [n[0] for n in nodes]
        if type_id in MERGE_TYPES:
            picked = draw(st.lists(st.sampled_from(sources), min_size=2, max_size=2))
            edges += [(s, f"n{i}", slot) for slot, s in enumerate(picked)]
        else:
            edges.append((draw(st.sampled_from(sources)), f"n{i}"))
        nodes.append((f"n{i}", type_id, {}))
    unit = st.floats(0, 1, exclude_max=True)
    steps = draw(st.lists(st.tuples(
        st.sampled_from(["param", "param", "param", "add_leaf", "remove_leaf"]),
        unit, unit, unit, st.sampled_from(CHEAP_TYPES)), min_size=1, max_size=8))
    return design(nodes, edges), steps


def apply_edit(d: Design, kind: str, a: float, b: float, c: float, type_id: str) -> None:
    """Change one parameter, add a leaf after a node, or remove a node nothing reads."""
    if kind == "param":
        node = d.nodes[int(a * len(d.nodes))]
        layer_type = catalog.get(node.type)
        if layer_type.params:
            param = layer_type.params[int(b * len(layer_type.params))]
            values = candidates(param)
            node.params[param.name] = values[int(c * len(values))]
    elif kind == "add_leaf":
        source = d.nodes[int(a * len(d.nodes))].id
        node_id = f"leaf_{int(b * 10**6)}"
        if d.node(node_id) is None:
            d.nodes.append(Node(id=node_id, type=type_id, params={}))
            d.edges.append(Edge(source=source, target=node_id))
    else:
        feeding = {e.source for e in d.edges}
        leaves = [n.id for n in d.nodes if n.id not in feeding and n.id != "inp"]
        if leaves:
            d.remove_node(leaves[int(a * len(leaves))])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_sequences())
def test_incremental_analysis_equals_a_full_one_after_every_edit(case):
    d, steps = case
    assert analyze(d) == analyze_uncached(d)
    for kind, a, b, c, type_id in steps:
        apply_edit(d, kind, a, b, c, type_id)
        assert analyze(d) == analyze_uncached(d), (kind, d.to_json(indent=None))


def test_an_edit_retraces_only_the_nodes_whose_inputs_or_params_changed(monkeypatch):
    d = chain(*[("Dense", {"units": 16}) for _ in range(30)])
    analyze(d)
    traced = []
    original = validate._Analysis.trace_fresh

    def counting(self, node_id, *args):
        traced.append(node_id)
        return original(self, node_id, *args)

    monkeypatch.setattr(validate._Analysis, "trace_fresh", counting)
    d.node("n10").params["units"] = 9  # n10's output changes, n11's does not
    report = analyze(d)
    assert traced == ["n10", "n11"]
    assert report.nodes["n10"].output_shape == (None, 9)
    assert report.nodes["n11"].param_count == 9 * 16 + 16
    assert report == analyze_uncached(d)
    traced.clear()
    d.node("n10").params["units"] = 16  # back to a design traced before: nothing to build
    analyze(d)
    assert traced == []


def test_keras_messages_carry_no_tensor_counter():
    d = chain(("Dense", {"units": 10}), ("Reshape", {"target_shape": [3, 3]}))
    message = analyze(d).problems_for("n2")[0].message
    assert "keras_tensor" not in message and "(None, 10) from 'n1'" in message
