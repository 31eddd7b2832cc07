"""The Build page through Streamlit's AppTest.

The canvas is driven the way the component drives it: by setting its value (its
nodes, edges, selection and timestamp) under its session_state key.
"""

from __future__ import annotations

import itertools
import time

import pytest
from streamlit.testing.v1 import AppTest

from builder.design import Design
from builder.store import Store
from builder.ui import state
from builder.validate import analyze
from builder.workspace import store_path

SCRIPT = """
from builder.ui import build_page
build_page.render()
"""

UPLOAD_SCRIPT = """
import streamlit as st
from builder.ui import build_page
# AppTest cannot drive a file uploader; the uploader's callback calls the same function.
if "upload" in st.session_state:
    name, data = st.session_state.pop("upload")
    build_page.open_design()
    build_page.import_file(name, data)
build_page.render()
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "ws"
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(folder))
    return folder


def run(script: str = SCRIPT) -> AppTest:
    at = AppTest.from_string(script, default_timeout=60)
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def design_of(at: AppTest) -> Design:
    return at.session_state[state.DESIGN.name]


def click(at: AppTest, *key_parts) -> AppTest:
    at.button(key=state.widget_key(*key_parts)).click()
    return ok(at.run())


_TICKS = itertools.count(1)


def now_ms() -> int:
    """An event time as the browser stamps it: its clock, always later than the last."""
    return int(time.time() * 1000) + next(_TICKS)


def send_canvas(at: AppTest, mutate=None, selected=None) -> AppTest:
    """Send the canvas's value back as the component would, after ``mutate`` edits it."""
    flow = at.session_state[state.FLOW.name]
    value = {"nodes": [n.asdict() for n in flow.nodes],
             "edges": [e.asdict() for e in flow.edges],
             "selectedId": selected, "timestamp": now_ms()}
    if mutate:
        mutate(value)
    at.session_state[state.CANVAS_WIDGET] = value
    return ok(at.run())


def summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "parameters**" in m.value)


def test_first_visit_opens_a_new_saved_design(home):
    at = ok(run())
    assert design_of(at).nodes == []
    assert "0 parameters" in summary(at)
    saved = Store(store_path(home)).list_designs()
    assert [d.name for d in saved] == ["Untitled design"]


def test_a_chain_is_built_by_palette_clicks_alone(home):
    at = ok(run())
    for type_id in ("Input", "Dense", "Dense"):
        at = click(at, state.PALETTE, type_id)
    design = design_of(at)
    assert [n.id for n in design.nodes] == ["input_1", "dense_1", "dense_2"]
    assert [(e.source, e.target) for e in design.edges] == [("input_1", "dense_1"),
                                                           ("dense_1", "dense_2")]
    assert at.session_state[state.SELECTED.name] == "dense_2"
    assert "1,216 parameters" in summary(at)
    faces = {n.id: n.data["content"] for n in at.session_state[state.FLOW.name].nodes}
    assert "(None, 32)" in faces["dense_2"]


def test_quick_add_text_adds_the_layer_or_says_why_not(home):
    at = ok(run())
    key = state.widget_key(state.QUICK_ADD, "text")
    at.text_input(key=key).input("Input 28 28 1").run()
    at.text_input(key=key).input("Conv2D 8 3 relu").run()
    ok(at)
    assert [n.type for n in design_of(at).nodes] == ["Input", "Conv2D"]
    assert at.text_input(key=key).value == ""
    at.text_input(key=key).input("Conv2D lots").run()
    ok(at)
    assert len(design_of(at).nodes) == 2
    assert any("not a value Conv2D understands" in e.value for e in at.error)


def test_canvas_connect_move_and_delete_reach_the_design(home):
    at = ok(run())
    for type_id in ("Input", "Dense"):
        at = click(at, state.PALETTE, type_id)
    at = click(at, state.INSPECTOR, "close")
    at = click(at, state.PALETTE, "Dense")
    assert design_of(at).inputs_of("dense_2") == []

    def connect_and_move(value):
        value["edges"].append({"id": "st-flow-edge_dense_1-dense_2", "source": "dense_1",
                               "target": "dense_2"})
        for node in value["nodes"]:
            if node["id"] == "input_1":
                node["position"] = {"x": -200, "y": -50}

    at = send_canvas(at, connect_and_move)
    design = design_of(at)
    assert design.inputs_of("dense_2") == ["dense_1"]
    assert design.node("input_1").position == (-200.0, -50.0)

    def delete(value):
        value["nodes"] = [n for n in value["nodes"] if n["id"] != "dense_1"]
        value["edges"] = [e for e in value["edges"] if "dense_1" not in (e["source"],
                                                                            e["target"])]

    at = send_canvas(at, delete)
    assert [n.id for n in design_of(at).nodes] == ["input_1", "dense_2"]
    # Saved at once: a new session (a refresh) finds the same design.
    again = ok(run())
    assert [n.id for n in design_of(again).nodes] == ["input_1", "dense_2"]


def test_a_late_canvas_report_does_not_remove_a_node_just_added(home):
    at = ok(run())
    at = click(at, state.PALETTE, "Input")
    old_flow = at.session_state[state.FLOW.name]
    at = click(at, state.PALETTE, "Dense")  # drawn as a newer drawing
    value = {"nodes": [n.asdict() for n in old_flow.nodes], "edges": [],
             "selectedId": None, "timestamp": now_ms()}
    at.session_state[state.CANVAS_WIDGET] = value
    ok(at.run())
    assert [n.id for n in design_of(at).nodes] == ["input_1", "dense_1"]


def test_clicking_a_node_opens_the_inspector_and_edits_apply_at_once(home):
    at = ok(run())
    for type_id in ("Input", "Dense"):
        at = click(at, state.PALETTE, type_id)
    at = click(at, state.INSPECTOR, "close")
    assert not [b for b in at.button if b.key == state.widget_key(state.INSPECTOR, "close")]
    at = send_canvas(at, selected="dense_1")
    revision = at.session_state[state.REVISION.name]
    units = at.number_input(key=state.widget_key(state.INSPECTOR, revision, "dense_1", "units"))
    assert units.value == 32 and units.min == 1
    units.set_value(10).run()
    ok(at)
    assert design_of(at).node("dense_1").params["units"] == 10
    faces = {n.id: n.data["content"] for n in at.session_state[state.FLOW.name].nodes}
    assert faces["dense_1"].startswith("**Dense 10 relu**")
    assert "(None, 10)" in faces["dense_1"]
    activation = at.selectbox(key=state.widget_key(state.INSPECTOR, revision, "dense_1",
                                                   "activation"))
    activation.set_value("softmax").run()
    assert design_of(ok(at)).node("dense_1").params["activation"] == "softmax"


def test_a_shape_mistake_is_shown_on_the_node_and_in_the_inspector(home):
    at = ok(run())
    for type_id in ("Input", "Conv2D"):
        at = click(at, state.PALETTE, type_id)
    face = next(n for n in at.session_state[state.FLOW.name].nodes if n.id == "conv2d_1")
    assert "nc-problem" in face.data["content"] and "expects an image" in face.data["content"]
    assert any("expects an image" in w.value for w in at.warning)
    assert "1 problem" in summary(at)


def test_multi_input_order_can_be_changed_in_the_inspector(home):
    at = ok(run())
    store = Store(store_path(home))
    d = Design.from_dict({"nodes": [
        {"id": "a", "type": "Input", "params": {"shape": [2]}},
        {"id": "b", "type": "Input", "params": {"shape": [3]}},
        {"id": "cat", "type": "Concatenate", "params": {"axis": -1}},
    ], "edges": [{"source": "a", "target": "cat", "slot": 0},
                 {"source": "b", "target": "cat", "slot": 1}]})
    record = store.create_design("merge", d.to_json())
    ok(at.run())  # the list of designs now shows it
    at = click(at, state.DESIGNS, "open", record.id)
    at = send_canvas(at, selected="cat")
    revision = at.session_state[state.REVISION.name]
    at = click(at, state.INSPECTOR, revision, "cat", "up", 1)
    assert design_of(at).inputs_of("cat") == ["b", "a"]


def test_undo_and_redo(home):
    at = ok(run())
    at = click(at, state.PALETTE, "Input")
    at = click(at, state.PALETTE, "Dense")
    at = click(at, state.TOOLBAR, "undo")
    assert [n.id for n in design_of(at).nodes] == ["input_1"]
    at = click(at, state.TOOLBAR, "redo")
    assert [n.id for n in design_of(at).nodes] == ["input_1", "dense_1"]


def test_auto_layout_puts_layers_in_rows(home):
    at = ok(run())
    for type_id in ("Input", "Dense", "Dense"):
        at = click(at, state.PALETTE, type_id)

    def pile_up(value):
        for node in value["nodes"]:
            node["position"] = {"x": 0, "y": 0}

    at = send_canvas(at, pile_up)
    at = click(at, state.TOOLBAR, "layout")
    ys = [n.position[1] for n in design_of(at).nodes]
    assert ys == sorted(ys) and len(set(ys)) == 3


def test_designs_can_be_made_renamed_duplicated_opened_and_deleted(home):
    at = ok(run())
    first_id = at.session_state[state.DESIGN_ID.name]
    at = click(at, state.PALETTE, "Input")
    revision = at.session_state[state.REVISION.name]
    at.text_input(key=state.widget_key(state.DESIGNS, "name", revision)).input("My net").run()
    assert design_of(ok(at)).name == "My net"
    at = click(at, state.DESIGNS, "dup", first_id)
    assert design_of(at).name == "My net copy"
    assert [n.id for n in design_of(at).nodes] == ["input_1"]
    at = click(at, state.DESIGNS, "new")
    assert design_of(at).nodes == []
    at = click(at, state.DESIGNS, "open", first_id)
    assert design_of(at).name == "My net"
    at = click(at, state.DESIGNS, "del", first_id)  # first click asks to confirm
    assert Store(store_path(home)).get_design(first_id) is not None
    at = click(at, state.DESIGNS, "del", first_id)
    assert Store(store_path(home)).get_design(first_id) is None
    assert at.session_state[state.DESIGN_ID.name] != first_id
    assert design_of(at).name == "Untitled design"


def test_a_refresh_or_restart_comes_back_to_the_design_being_edited(home):
    at = ok(run())
    at = click(at, state.PALETTE, "Input")
    at = click(at, state.DESIGNS, "new")
    at = click(at, state.PALETTE, "Dense")
    editing = at.session_state[state.DESIGN_ID.name]
    again = ok(run())  # a new session, as after a browser refresh
    assert again.session_state[state.DESIGN_ID.name] == editing
    assert [n.id for n in design_of(again).nodes] == ["dense_1"]


def test_a_template_opens_as_a_new_design(home):
    at = ok(run())
    at = click(at, state.TEMPLATES, "mlp_classifier")
    design = design_of(at)
    assert design.nodes and analyze(design).ok
    names = [d.name for d in Store(store_path(home)).list_designs()]
    assert design.name in names and "Untitled design" in names


def test_a_two_model_template_saves_both(home):
    at = ok(run())
    at = click(at, state.TEMPLATES, "gan_digits")
    names = {d.name for d in Store(store_path(home)).list_designs()}
    assert sum("(generator)" in n or "(discriminator)" in n for n in names) == 2
    # The message saying so outlives the canvas's reports on the new drawing ...
    for _ in range(3):
        at = send_canvas(at)
        assert any("the template also saved" in m.value for m in at.info)


def test_a_message_goes_at_the_first_run_after_its_time(home, monkeypatch):
    at = ok(run())
    at = click(at, state.TEMPLATES, "gan_digits")
    clock = time.monotonic() + state.FLASH_SECONDS + 1
    monkeypatch.setattr(state.time, "monotonic", lambda: clock)
    at = send_canvas(at)  # the first run after its time
    assert not any("the template also saved" in m.value for m in at.info)


def test_a_message_is_shown_at_least_once_however_late_its_run(home, monkeypatch):
    at = ok(run())
    queued = time.monotonic() - state.FLASH_SECONDS - 5
    at.session_state[state.FLASH.name] = [("warning", "late news", queued, False)]
    at = ok(at.run())
    assert any("late news" in m.value for m in at.warning)
    at = ok(at.run())
    assert not any("late news" in m.value for m in at.warning)


@pytest.mark.parametrize("data, words", [
    (b"not json at all", "not valid JSON"),
    (b"[1, 2, 3]", "got a list"),
    (b'{"nodes": 5, "edges": []}', "'nodes' and 'edges' lists"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"", "empty"),
])
def test_a_bad_upload_says_what_is_wrong_and_keeps_the_design(home, data, words):
    at = ok(run(UPLOAD_SCRIPT))
    at = click(at, state.PALETTE, "Input")
    before = at.session_state[state.DESIGN_ID.name]
    at.session_state["upload"] = ("evil.json", data)
    ok(at.run())
    assert at.session_state[state.DESIGN_ID.name] == before
    assert [n.id for n in design_of(at).nodes] == ["input_1"]
    messages = [e.value for e in at.error]
    assert any(words in m and "unchanged" in m for m in messages), messages


def test_a_good_upload_opens_as_a_new_design_laid_out(home):
    at = ok(run(UPLOAD_SCRIPT))
    data = Design.from_dict({"name": "From disk", "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [4]}},
        {"id": "y", "type": "Dense", "params": {"units": 2}},
    ], "edges": [{"source": "x", "target": "y"}]}).to_json().encode()
    at.session_state["upload"] = ("net.json", data)
    ok(at.run())
    design = design_of(at)
    assert design.name == "From disk"
    assert design.node("x").position != design.node("y").position
    assert "10 parameters" in summary(at) and "2 layers" in summary(at)


def test_a_pane_node_reported_twice_becomes_one_layer(home):
    """The canvas can report a node typed in its pane menu again before showing the layer."""
    at = ok(run())
    pane_node = {"id": "st-flow-node_abc", "position": {"x": 10, "y": 20},
                 "data": {"content": "Input 28 28 1"}}
    for later in (1, 2):
        at.session_state[state.CANVAS_WIDGET] = {
            "nodes": [pane_node], "edges": [], "selectedId": "st-flow-node_abc",
            "timestamp": now_ms() + later}
        ok(at.run())
    design = design_of(at)
    assert [(n.id, n.type) for n in design.nodes] == [("input_1", "Input")]
    assert at.session_state[state.SELECTED.name] == "input_1"


def test_a_drawing_is_stamped_with_the_last_report_and_resent_when_not_shown(home):
    """Issue 3: a canvas that moved on refuses an older drawing; its next report asks again."""
    at = ok(run())
    at = click(at, state.PALETTE, "Input")
    at = send_canvas(at)  # the canvas shows the drawing with input_1
    seen = at.session_state[state.FLOW_SEEN.name]
    old_flow = at.session_state[state.FLOW.name]
    at = click(at, state.PALETTE, "Dense")
    flow = at.session_state[state.FLOW.name]
    assert flow.timestamp == seen  # taken only by a canvas that has not acted since
    drawing = at.session_state[state.DRAWING.name]
    # The canvas spoke again still showing the older drawing (it refused the newer one).
    later = now_ms()
    at.session_state[state.CANVAS_WIDGET] = {
        "nodes": [n.asdict() for n in old_flow.nodes], "edges": [], "selectedId": None,
        "timestamp": later}
    ok(at.run())
    assert [n.id for n in design_of(at).nodes] == ["input_1", "dense_1"]
    assert at.session_state[state.DRAWING.name] == drawing + 1
    assert at.session_state[state.FLOW.name].timestamp == later
    # Once the canvas shows the latest drawing, nothing is drawn again.
    at = send_canvas(at)
    assert at.session_state[state.DRAWING.name] == drawing + 1


def test_a_canvas_fold_cut_short_by_a_stopped_run_is_finished_by_the_next(home):
    at = ok(run())
    at = click(at, state.PALETTE, "Input")
    done = design_of(at).copy()
    done.nodes[0].id = "pixels"
    # What a stopped run leaves: the fold's values written under one key only.
    at.session_state[state.PENDING.name] = {state.DESIGN.name: done,
                                            state.SELECTED.name: "pixels",
                                            state.UNSAVED.name: done.to_json(indent=None),
                                            state.REDRAW.name: True}
    ok(at.run())
    assert [n.id for n in design_of(at).nodes] == ["pixels"]
    assert at.session_state[state.SELECTED.name] == "pixels"
    assert at.session_state[state.PENDING.name] is None
    assert [n.id for n in at.session_state[state.FLOW.name].nodes] == ["pixels"]
    # Saved too: a new session (a refresh) opens it.
    assert [n.id for n in design_of(ok(run())).nodes] == ["pixels"]


def test_the_view_is_fitted_for_new_nodes_and_kept_for_parameter_changes(home):
    at = ok(run())
    at = click(at, state.PALETTE, "Input")
    at = click(at, state.PALETTE, "Dense")
    fitted = at.session_state[state.DRAWING.name]
    assert at.session_state[state.FIT.name] == fitted  # nodes were added: fit this drawing
    # Streamlit may fold the component's two reports on a drawing into one run.
    at = send_canvas(at)
    revision = at.session_state[state.REVISION.name]
    units = at.number_input(key=state.widget_key(state.INSPECTOR, revision, "dense_1", "units"))
    units.set_value(10).run()
    ok(at)
    assert at.session_state[state.DRAWING.name] > fitted  # the changed node is drawn again
    at = send_canvas(at)
    at = send_canvas(at)
    assert design_of(at).node("dense_1").params["units"] == 10
    assert at.session_state[state.FIT.name] == fitted  # the person's zoom and pan stay


def test_a_drawing_replacing_one_not_shown_yet_keeps_its_fit(home):
    at = ok(run())
    at = click(at, state.PALETTE, "Input")
    at = click(at, state.PALETTE, "Dense")
    # The units change comes before the canvas has shown the drawing with dense_1.
    revision = at.session_state[state.REVISION.name]
    units = at.number_input(key=state.widget_key(state.INSPECTOR, revision, "dense_1", "units"))
    units.set_value(10).run()
    ok(at)
    assert at.session_state[state.FIT.name] == at.session_state[state.DRAWING.name]


def test_with_data_prepared_the_summary_checks_the_design_against_it(home):
    """A design that analyses clean but does not fit the prepared data is not 'ok', and
    the Data page's one-click fixes are here too."""
    from builder.data.samples import load_sample
    from builder.data.tabular import prepare_tabular
    from builder.ui import data_fit

    source = load_sample("iris")  # 4 measurements, 3 species
    data = prepare_tabular(source, source.target, task=source.task)
    at = click(ok(run()), state.TEMPLATES, "mlp_classifier")  # 30 inputs, 2 classes

    def summary():
        return next(m.value for m in at.markdown if "parameters**" in m.value)

    assert ":green[ok]" in summary()
    at.session_state[data_fit.PREPARED.name] = data
    ok(at.run())
    assert "does not fit the prepared data (2 mismatches)" in summary()
    warnings = " ".join(w.value for w in at.warning)
    assert "takes shape (30,)" in warnings and "3 classes" in warnings
    at.button(key=state.widget_key(state.TOOLBAR, "fit", "fix_all")).click()
    ok(at.run())
    assert ":green[ok]" in summary()
    fixed = design_of(at)
    assert fixed.node("features").params["shape"] == [4]
    assert analyze(fixed).ok
