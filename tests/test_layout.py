"""Auto-layout and the placing of new nodes."""

from builder.layout import X_GAP, Y_GAP, free_position, layered_positions


def overlaps(positions):
    points = list(positions.values())
    return any(abs(a[0] - b[0]) < X_GAP * 0.8 and abs(a[1] - b[1]) < Y_GAP * 0.8
               for i, a in enumerate(points) for b in points[i + 1:])


def test_a_chain_is_one_column_top_to_bottom():
    positions = layered_positions(["a", "b", "c"], [("a", "b"), ("b", "c")])
    assert positions["a"][0] == positions["b"][0] == positions["c"][0]
    assert positions["a"][1] < positions["b"][1] < positions["c"][1]


def test_a_node_sits_below_the_lowest_of_its_inputs():
    edges = [("in", "a"), ("a", "b"), ("b", "add"), ("in", "add")]
    positions = layered_positions(["in", "a", "b", "add"], edges)
    assert positions["add"][1] > positions["b"][1] > positions["a"][1] > positions["in"][1]


def test_branches_do_not_overlap():
    edges = [("in", f"b{i}") for i in range(5)] + [(f"b{i}", "out") for i in range(5)]
    positions = layered_positions(["in", *[f"b{i}" for i in range(5)], "out"], edges)
    assert not overlaps(positions)
    assert len({positions[f"b{i}"][1] for i in range(5)}) == 1


def test_loops_and_unknown_ids_do_not_break_it():
    positions = layered_positions(["a", "b", "c"],
                                  [("a", "b"), ("b", "c"), ("c", "a"), ("a", "zz"), ("b", "b")])
    assert set(positions) == {"a", "b", "c"}
    assert not overlaps(positions)


def test_rows_are_ordered_to_keep_edges_short():
    # Two independent chains: each child should sit under its own parent.
    edges = [("a", "a2"), ("b", "b2")]
    positions = layered_positions(["a", "b", "b2", "a2"], edges)
    assert (positions["a"][0] < positions["b"][0]) == (positions["a2"][0] < positions["b2"][0])


def test_origin_shifts_the_drawing():
    positions = layered_positions(["a"], [], origin=(100.0, 50.0))
    assert positions["a"] == (100.0, 50.0)


def test_free_position_goes_below_the_node_it_follows():
    assert free_position({"a": (0.0, 0.0)}, near="a") == (0.0, Y_GAP)


def test_free_position_moves_right_past_taken_spots():
    taken = {"a": (0.0, 0.0), "b": (0.0, Y_GAP)}
    assert free_position(taken, near="a") == (X_GAP, Y_GAP)


def test_free_position_without_a_node_goes_below_everything():
    assert free_position({}) == (0.0, 0.0)
    assert free_position({"a": (10.0, 0.0), "b": (300.0, 400.0)}) == (10.0, 400.0 + Y_GAP)
