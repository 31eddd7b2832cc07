"""The Build page through Streamlit's AppTest.

The canvas is driven the way the component drives it: by setting its ``edits`` state
value (the ops the person's actions made, numbered) under its session_state key; what
the page sends the canvas is read from the component's element.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from builder.design import Design
from builder.store import Store
from builder.ui import build_page, state
from builder.validate import analyze
from builder.workspace import store_path
from tests.helpers import shown

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


_SEQ = itertools.count(1)


def send(at: AppTest, *ops: dict, session: str = "browser-1", resend: list | None = None
         ) -> AppTest:
    """The canvas sends ops, as the component does: numbered, with any not yet
    acknowledged (``resend``) before them."""
    design = str(at.session_state[state.DESIGN_ID.name])
    numbered = [*(resend or []), *({"design": design, **op, "seq": next(_SEQ)} for op in ops)]
    at.session_state[build_page.CANVAS_KEY] = {"edits": {"session": session,
                                                         "ops": numbered}}
    return ok(at.run())


def add(at: AppTest, type_id: str, position=None) -> AppTest:
    """A palette click (no position: below the selected node) or a drop at a point."""
    return send(at, {"op": "add", "type": type_id, "position": position, "onEdge": None})


def canvas_data(at: AppTest) -> dict:
    """What the page gave the canvas in its last run."""
    (element,) = at.get("bidi_component")
    assert element.proto.component_name == "neural-canvas.canvas"
    return json.loads(element.proto.json)


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
        at = add(at, type_id)
    design = design_of(at)
    assert [n.id for n in design.nodes] == ["input_1", "dense_1", "dense_2"]
    assert [(e.source, e.target) for e in design.edges] == [("input_1", "dense_1"),
                                                           ("dense_1", "dense_2")]
    assert at.session_state[state.SELECTED.name] == "dense_2"
    assert "1,216 parameters" in summary(at)
    data = canvas_data(at)
    assert data["faces"]["dense_2"]["meta"] == "dense_2 · (None, 32)"
    assert data["selected"] == "dense_2"
    assert [n["id"] for n in data["graph"]["nodes"]] == ["input_1", "dense_1", "dense_2"]


def test_every_edit_is_applied_once_and_acknowledged(home):
    at = ok(run())
    design = str(at.session_state[state.DESIGN_ID.name])
    first = {"op": "add", "type": "Input", "position": [0, 0], "onEdge": None, "seq": 1000,
             "design": design}
    at.session_state[build_page.CANVAS_KEY] = {"edits": {"session": "tab", "ops": [first]}}
    ok(at.run())
    # The canvas has not seen the acknowledgement yet: it sends the op again with a new one.
    second = {"op": "add", "type": "Dense", "position": None, "onEdge": None, "seq": 1001,
              "design": design}
    at.session_state[build_page.CANVAS_KEY] = {"edits": {"session": "tab",
                                                         "ops": [first, second]}}
    ok(at.run())
    assert [n.id for n in design_of(at).nodes] == ["input_1", "dense_1"]
    assert canvas_data(at)["ack"] == {"session": "tab", "seq": 1001}
    ok(at.run())  # a rerun with the same value changes nothing
    assert len(design_of(at).nodes) == 2


def test_an_edit_made_on_another_design_is_acknowledged_not_applied(home):
    at = ok(run())
    at = add(at, "Input")
    first = at.session_state[state.DESIGN_ID.name]
    at = click(at, state.DESIGNS, "new")  # the move below was on its way meanwhile
    at = send(at, {"op": "move", "positions": {"input_1": [9, 9]}, "design": str(first)},
              {"op": "add", "type": "Dense", "position": [0, 0], "onEdge": None})
    assert [n.id for n in design_of(at).nodes] == ["dense_1"]
    assert canvas_data(at)["ack"]["seq"] == at.session_state[state.CANVAS_APPLIED.name][1]
    at = click(at, state.DESIGNS, "open", first)
    assert design_of(at).node("input_1").position != (9.0, 9.0)


def test_quick_add_text_adds_the_layer_or_says_why_not(home):
    at = ok(run())
    at = send(at, {"op": "quick_add", "text": "Input 28 28 1", "position": None})
    at = send(at, {"op": "quick_add", "text": "Conv2D 8 3 relu", "position": None})
    assert [n.type for n in design_of(at).nodes] == ["Input", "Conv2D"]
    assert design_of(at).inputs_of("conv2d_1") == ["input_1"]
    at = send(at, {"op": "quick_add", "text": "Conv2D lots", "position": [0, 0]})
    assert len(design_of(at).nodes) == 2
    assert any("not a value Conv2D understands" in w.value for w in at.warning)


def test_canvas_connect_move_and_delete_reach_the_design(home):
    at = ok(run())
    at = add(at, "Input", [0, 0])
    at = add(at, "Dense", [0, 150])
    at = add(at, "Dense", [0, 300])
    assert design_of(at).inputs_of("dense_2") == []
    rev = canvas_data(at)["rev"]
    at = send(at, {"op": "connect", "source": "dense_1", "target": "dense_2", "handle": "in"},
              {"op": "connect", "source": "input_1", "target": "dense_1", "handle": "in"},
              {"op": "move", "positions": {"input_1": [-200, -50]}})
    design = design_of(at)
    assert design.inputs_of("dense_2") == ["dense_1"]
    assert design.node("input_1").position == (-200.0, -50.0)
    assert canvas_data(at)["rev"] > rev  # the graph is sent again with its analysis
    at = send(at, {"op": "remove", "nodes": ["dense_1"], "edges": []})
    assert [n.id for n in design_of(at).nodes] == ["input_1", "dense_2"]
    # Saved at once: a new session (a refresh) finds the same design.
    again = ok(run())
    assert [n.id for n in design_of(again).nodes] == ["input_1", "dense_2"]


def test_a_move_is_not_redrawn_and_keeps_the_view(home):
    at = ok(run())
    at = add(at, "Input", [0, 0])
    before = canvas_data(at)
    at = send(at, {"op": "move", "positions": {"input_1": [40, 60]}})
    after = canvas_data(at)
    assert after["rev"] == before["rev"] and after["fitRev"] == before["fitRev"]
    assert after["graph"]["nodes"][0]["x"] == 40


def test_clicking_a_node_opens_the_inspector_and_edits_apply_at_once(home):
    at = ok(run())
    for type_id in ("Input", "Dense"):
        at = add(at, type_id)
    at = click(at, state.INSPECTOR, "close")
    assert not [b for b in at.button if b.key == state.widget_key(state.INSPECTOR, "close")]
    at = send(at, {"op": "select", "id": "dense_1"})
    revision = at.session_state[state.REVISION.name]
    units = at.number_input(key=state.widget_key(state.INSPECTOR, revision, "dense_1", "units"))
    assert units.value == 32 and units.min == 1
    rev = canvas_data(at)["rev"]
    units.set_value(10).run()
    ok(at)
    assert design_of(at).node("dense_1").params["units"] == 10
    face = canvas_data(at)["faces"]["dense_1"]
    assert face["title"] == "Dense 10 relu" and "(None, 10)" in face["meta"]
    assert canvas_data(at)["rev"] == rev  # the faces change; the drawing is not replaced
    activation = at.selectbox(key=state.widget_key(state.INSPECTOR, revision, "dense_1",
                                                   "activation"))
    activation.set_value("softmax").run()
    assert design_of(ok(at)).node("dense_1").params["activation"] == "softmax"


def test_a_canvas_edit_does_not_reset_an_inspector_field(home):
    """Issue 14: a number typed while another rerun lands must not be swallowed; canvas
    edits leave the inspector's widgets (keyed by REVISION) alone."""
    at = ok(run())
    for type_id in ("Input", "Dense"):
        at = add(at, type_id)
    revision = at.session_state[state.REVISION.name]
    at = send(at, {"op": "move", "positions": {"input_1": [5, 5]}})
    at = add(at, "Dropout", [400, 0])
    at = send(at, {"op": "select", "id": "dense_1"})
    assert at.session_state[state.REVISION.name] == revision


def test_the_layer_can_be_retyped_as_text_in_the_inspector(home):
    at = ok(run())
    for type_id in ("Input", "Dense"):
        at = add(at, type_id)
    revision = at.session_state[state.REVISION.name]
    text = at.text_input(key=state.widget_key(state.INSPECTOR, revision, "dense_1", "__text"))
    assert text.value == "Dense 32 relu"
    text.input("Dense 64 tanh").run()
    assert design_of(ok(at)).node("dense_1").params["units"] == 64
    revision = at.session_state[state.REVISION.name]
    text = at.text_input(key=state.widget_key(state.INSPECTOR, revision, "dense_1", "__text"))
    text.input("Dense lots").run()
    assert design_of(ok(at)).node("dense_1").params["units"] == 64
    assert any("The layer is unchanged" in e.value for e in at.error)


def test_a_shape_mistake_is_shown_on_the_node_and_in_the_inspector(home):
    at = ok(run())
    for type_id in ("Input", "Conv2D"):
        at = add(at, type_id)
    face = canvas_data(at)["faces"]["conv2d_1"]
    assert face["status"] == "error" and "expects an image" in face["problem"]
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
    at = send(at, {"op": "select", "id": "cat"})
    revision = at.session_state[state.REVISION.name]
    at = click(at, state.INSPECTOR, revision, "cat", "up", 1)
    assert design_of(at).inputs_of("cat") == ["b", "a"]
    edges = canvas_data(at)["graph"]["edges"]
    assert sorted((e["source"], e["handle"]) for e in edges) == [("a", "in1"), ("b", "in0")]


def test_undo_and_redo_from_the_toolbar_and_the_keyboard(home):
    at = ok(run())
    at = add(at, "Input")
    at = add(at, "Dense")
    at = click(at, state.TOOLBAR, "undo")
    assert [n.id for n in design_of(at).nodes] == ["input_1"]
    assert at.session_state[state.SELECTED.name] is None  # dense_1 is gone
    at = click(at, state.TOOLBAR, "redo")
    assert [n.id for n in design_of(at).nodes] == ["input_1", "dense_1"]
    rev = canvas_data(at)["rev"]
    at = send(at, {"op": "undo"})  # Ctrl+Z on the canvas
    assert [n.id for n in design_of(at).nodes] == ["input_1"]
    assert canvas_data(at)["rev"] > rev
    at = send(at, {"op": "redo"})
    assert [n.id for n in design_of(at).nodes] == ["input_1", "dense_1"]
    at = send(at, {"op": "move", "positions": {"dense_1": [500, 500]}})
    at = send(at, {"op": "undo"})  # a move is one undo step
    assert design_of(at).node("dense_1").position != (500.0, 500.0)


def test_auto_layout_asks_the_canvas_and_its_layout_is_one_undo_step(home):
    at = ok(run())
    for type_id in ("Input", "Dense"):
        at = add(at, type_id)
    layout_rev = canvas_data(at)["layoutRev"]
    at = click(at, state.TOOLBAR, "layout")
    assert canvas_data(at)["layoutRev"] == layout_rev + 1
    assert not canvas_data(at)["layoutInitial"]
    before = [n.position for n in design_of(at).nodes]
    at = send(at, {"op": "layout", "initial": False,
                   "positions": {"input_1": [0, 0], "dense_1": [0, 134]}})
    assert design_of(at).node("dense_1").position == (0.0, 134.0)
    at = send(at, {"op": "undo"})
    assert [n.position for n in design_of(at).nodes] == before


def test_the_analysis_table_and_the_problem_count_select_and_centre_a_layer(home):
    at = ok(run())
    for type_id in ("Input", "Conv2D"):
        at = add(at, type_id)
    at = click(at, state.INSPECTOR, "close")
    select_rev = canvas_data(at)["selectRev"]
    at = click(at, state.TOOLBAR, "jump")  # "Show the first problem"
    data = canvas_data(at)
    assert data["selected"] == "conv2d_1" and data["focus"]
    assert data["selectRev"] == select_rev + 1
    assert not at.dataframe  # the table is drawn only when asked for
    at.toggle(key=state.widget_key(state.TOOLBAR, "analysis_on")).set_value(True).run()
    table = ok(at).dataframe[0].value  # the Analyze view, in graph order
    assert list(table["id"]) == ["input_1", "conv2d_1"]
    assert "expects an image" in table["problems"][1]


def test_designs_can_be_made_renamed_duplicated_opened_and_deleted(home):
    at = ok(run())
    first_id = at.session_state[state.DESIGN_ID.name]
    at = add(at, "Input")
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
    at = add(at, "Input")
    at = click(at, state.DESIGNS, "new")
    at = add(at, "Dense")
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
    data = canvas_data(at)  # laid out and fitted by the canvas, as part of opening
    assert data["layoutInitial"] and data["layoutRev"] >= 1 and data["fitRev"] >= 1
    history = at.session_state[state.HISTORY.name]
    at = send(at, {"op": "layout", "initial": True,
                   "positions": {n.id: [0, 100 * i] for i, n in enumerate(design.nodes)}})
    assert not history.can_undo  # opening is not an undo step


def test_a_two_model_template_saves_both(home):
    at = ok(run())
    at = click(at, state.TEMPLATES, "gan_digits")
    names = {d.name for d in Store(store_path(home)).list_designs()}
    assert sum("(generator)" in n or "(discriminator)" in n for n in names) == 2
    assert any("the template also saved" in m.value for m in at.info)
    at = send(at, {"op": "select", "id": None})  # the canvas answers at once: still shown
    assert any("the template also saved" in m.value for m in at.info)


def test_a_message_goes_at_the_first_run_after_its_time(home, monkeypatch):
    at = ok(run())
    at = click(at, state.TEMPLATES, "gan_digits")
    clock = time.monotonic() + state.FLASH_SECONDS + 1
    monkeypatch.setattr(state.time, "monotonic", lambda: clock)
    at = send(at, {"op": "select", "id": None})  # the first run after its time
    assert not any("the template also saved" in m.value for m in at.info)


def test_a_message_is_shown_at_least_once_however_late_its_run(home):
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
    at = add(at, "Input")
    before = at.session_state[state.DESIGN_ID.name]
    at.session_state["upload"] = ("evil.json", data)
    ok(at.run())
    assert at.session_state[state.DESIGN_ID.name] == before
    assert [n.id for n in design_of(at).nodes] == ["input_1"]
    messages = [shown(e.value) for e in at.error]
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


def test_a_canvas_fold_cut_short_by_a_stopped_run_is_finished_by_the_next(home):
    at = ok(run())
    at = add(at, "Input")
    done = design_of(at).copy()
    done.nodes[0].id = "pixels"
    # What a stopped run leaves: the fold's values written under one key only.
    at.session_state[state.PENDING.name] = {state.DESIGN.name: done,
                                            state.SELECTED.name: "pixels",
                                            state.UNSAVED.name: done.to_json(indent=None)}
    ok(at.run())
    assert [n.id for n in design_of(at).nodes] == ["pixels"]
    assert at.session_state[state.SELECTED.name] == "pixels"
    assert at.session_state[state.PENDING.name] is None
    assert [n["id"] for n in canvas_data(at)["graph"]["nodes"]] == ["pixels"]
    # Saved too: a new session (a refresh) opens it.
    assert [n.id for n in design_of(ok(run())).nodes] == ["pixels"]


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


def test_a_stale_tab_never_overwrites_newer_edits_and_is_asked_what_to_keep(home):
    first = ok(run())
    second = ok(run())  # the same design, open in a second tab
    assert first.session_state[state.DESIGN_ID.name] == second.session_state[state.DESIGN_ID.name]
    design_id = first.session_state[state.DESIGN_ID.name]
    add(first, "Input")
    add(first, "Dense")
    add(second, "Conv2D")  # built on the empty design the second tab opened
    stored = Design.from_json(Store(store_path(home)).get_design(design_id).json)
    assert [n.type for n in stored.nodes] == ["Input", "Dense"]
    assert any("changed in another tab" in w.value for w in second.warning)
    assert [n.type for n in design_of(second).nodes] == ["Conv2D"]  # kept in the tab

    click(second, state.TOOLBAR, "keep_copy")
    copy_id = second.session_state[state.DESIGN_ID.name]
    assert copy_id != design_id and not any("changed in another tab" in w.value
                                            for w in second.warning)
    names = {d.id: d.name for d in Store(store_path(home)).list_designs()}
    assert names[copy_id].endswith("(this tab)")
    add(second, "Dense")  # the copy saves normally
    copy = Design.from_json(Store(store_path(home)).get_design(copy_id).json)
    assert [n.type for n in copy.nodes] == ["Conv2D", "Dense"]

    add(first, "Dropout")  # the first tab was never in the way of anyone
    assert not any("another tab" in w.value for w in first.warning)
    add(first, "Dense")
    stored = Design.from_json(Store(store_path(home)).get_design(design_id).json)
    assert [n.type for n in stored.nodes] == ["Input", "Dense", "Dropout", "Dense"]


def test_reloading_after_a_conflict_shows_the_saved_design(home):
    first, second = ok(run()), ok(run())
    add(first, "Input")
    add(second, "Dense")
    assert any("changed in another tab" in w.value for w in second.warning)
    click(second, state.TOOLBAR, "reload")
    assert [n.type for n in design_of(second).nodes] == ["Input"]
    add(second, "Dense")
    assert not any("changed in another tab" in w.value for w in second.warning)
    design_id = second.session_state[state.DESIGN_ID.name]
    stored = Design.from_json(Store(store_path(home)).get_design(design_id).json)
    assert [n.type for n in stored.nodes] == ["Input", "Dense"]


@pytest.mark.parametrize("damage", [b"\0" * 8192, b"SQLite format 3\0" + b"garbage" * 100,
                                    b"not a database at all"])
def test_a_damaged_store_is_said_and_moved_aside_on_request_never_deleted(home, damage):
    home.mkdir(parents=True)
    store_file = store_path(home)
    store_file.write_bytes(damage)
    at = ok(run())
    assert any("could not be read" in e.value or "cannot be opened" in e.value
               for e in at.error), [e.value for e in at.error]
    click(at, state.TOOLBAR, "set_aside")
    (kept,) = list(home.glob("neural_canvas.sqlite.damaged-*"))
    assert kept.read_bytes() == damage
    assert not at.error and design_of(at).nodes == []
    assert any("kept as" in s.value for s in at.success)
    assert [d.name for d in Store(store_file).list_designs()] == ["Untitled design"]


def test_the_first_problem_button_keeps_its_place_and_is_off_without_a_layer_problem(home):
    at = ok(run())  # empty: a problem of the whole design, none of a layer
    jump = at.button(key=state.widget_key(state.TOOLBAR, "jump"))
    assert jump.disabled
    assert canvas_data(at)["notices"][0].startswith("The design is empty")
    for type_id in ("Input", "Conv2D"):
        at = add(at, type_id)
    assert not at.button(key=state.widget_key(state.TOOLBAR, "jump")).disabled
