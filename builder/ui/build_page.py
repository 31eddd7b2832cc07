"""The Build page: the canvas (with its palette), the inspector, the analysis table and
the design's toolbar.

Every change goes through :func:`_commit`, which records it for undo and saves it to the
store at once, so nothing a person builds is lost on a refresh or a restart. The canvas
sends the person's edits as ops (:mod:`builder.ui.canvas_bridge`), folded into the design
at the top of each run; the editing itself lives in :mod:`builder.ui.edits`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import time
import uuid
from pathlib import Path

import streamlit as st

from builder import catalog, quick_add
from builder.design import Design, DesignFormatError, list_templates
from builder.markdown import escape as escape_md
from builder.store import DesignNameError, Store, StoreError
from builder.ui import canvas, canvas_bridge, data_fit, edits, state
from builder.ui.opening import LAST_DESIGN_SETTING, resolve_conflict, save_open, store_problem
from builder.ui.opening import bump as _bump
from builder.ui.opening import create_and_open as _create
from builder.ui.opening import open_saved as _open
from builder.validate import Report, analyze
from builder.vocabulary import format_shape
from builder.workspace import WorkspaceError

UNTITLED = "Untitled design"
CANVAS_KEY = "nc_canvas"
RUN_LOCK_WAIT = 20.0  # seconds; a stopped run ends at its next Streamlit call
_RUN_LOCK_GUARD = threading.Lock()


# -- opening and saving ------------------------------------------------------------


def _store() -> Store:
    return state.store()


def _design() -> Design:
    return state.get(state.DESIGN)


def open_design(show_error: bool = True) -> Design | None:
    """Make sure the session has an open design; None if the store cannot be used.

    The open design is this session's, else the one edited last (so a refresh or
    a server restart comes back to it), else a new empty one.
    """
    state.init()
    try:
        return _ensure_open(_store())
    except (WorkspaceError, StoreError) as exc:
        if show_error:
            store_problem(exc, state.widget_key(state.TOOLBAR, "set_aside"))
        return None


def _ensure_open(store: Store) -> Design:
    """The open design: this session's, else the one edited last, else a new one."""
    if state.get(state.DESIGN) is not None:
        return _design()
    last = store.get_setting(LAST_DESIGN_SETTING)
    if last and last.isdigit() and _open(store, int(last)):
        return _design()
    for summary in store.list_designs():
        if _open(store, summary.id):
            return _design()
    _create(store, Design(), UNTITLED)
    return _design()


def _commit(design: Design, *, graph: bool = True, fresh_widgets: bool = True) -> None:
    """Record a change for undo and save it.

    Args:
        graph: nodes or edges changed here, so the canvas redraws its graph (a
            parameter change only changes the faces, which it always takes).
        fresh_widgets: the change did not come from the inspector, whose widgets
            must then show the new values.
    """
    snapshot = design.to_json(indent=None)
    state.put(state.DESIGN, design)
    if state.get(state.HISTORY).push(snapshot):
        save_open(snapshot)
    if graph:
        _bump(graph=True)
    if fresh_widgets:
        state.put(state.REVISION, state.get(state.REVISION) + 1)


def _restore(snapshot: str | None) -> None:
    if snapshot is None:
        return
    design = Design.from_json(snapshot)
    design.name = _design().name
    state.put(state.DESIGN, design)
    save_open(snapshot)
    if state.get(state.SELECTED) and design.node(state.get(state.SELECTED)) is None:
        state.put(state.SELECTED, None)
    _bump(graph=True, select=True)
    state.put(state.REVISION, state.get(state.REVISION) + 1)


# -- callbacks (run before the page script, so the canvas is drawn after them) --------


def _on_undo() -> None:
    _restore(state.get(state.HISTORY).undo())


def _on_redo() -> None:
    _restore(state.get(state.HISTORY).redo())


def _on_layout() -> None:
    _bump(layout=True)  # the canvas lays it out with the nodes' drawn sizes


def _on_param(node_id: str, param_name: str, key: str, design_id: int) -> None:
    if design_id != state.get(state.DESIGN_ID):
        return  # a field of a design that is no longer open, resent by the browser
    design = _design()
    node = design.node(node_id)
    layer_type = catalog.get(node.type) if node else None
    param = layer_type.param(param_name) if layer_type else None
    if param is None:
        return
    value = st.session_state.get(key)
    if param.kind in ("shape", "ints"):
        value = _int_list_or_text(value)
    elif param.kind == "int" and isinstance(value, float) and value.is_integer():
        value = int(value)
    current = node.params.get(param_name, param.default) if isinstance(node.params, dict) else None
    if value == current and type(value) is type(current):
        return  # a value resent by the browser, not a change
    edits.set_param(design, node_id, param_name, value)
    _commit(design, graph=False, fresh_widgets=False)


def _int_list_or_text(text: object) -> object:
    """``"28, 28, 1"`` -> ``[28, 28, 1]``; text that is not such a list is kept as typed,
    so the validator can say what is wrong with it on the node."""
    if not isinstance(text, str):
        return text
    parts = [p for p in re.split(r"[\s,x×*()\[\]]+", text.strip()) if p]
    if parts and all(re.fullmatch(r"-?\d+", p) for p in parts):
        return [int(p) for p in parts]
    return text


def _on_rename_node(node_id: str, key: str, design_id: int) -> None:
    if design_id != state.get(state.DESIGN_ID):
        return
    design = _design()
    text = st.session_state.get(key)
    # The browser may resend a field's value after its node was closed or renamed:
    # act only on a real change of a node that is still there.
    if not isinstance(text, str) or design.node(node_id) is None or text.strip() == node_id:
        return
    try:
        new_id = edits.rename_node(design, node_id, text)
    except ValueError as exc:
        state.flash("error", str(exc))
        state.put(state.REVISION, state.get(state.REVISION) + 1)
        return
    state.put(state.SELECTED, new_id)
    _bump(select=True)
    _commit(design)


def _on_retype(node_id: str, key: str, design_id: int) -> None:
    if design_id != state.get(state.DESIGN_ID):
        return
    design = _design()
    node = design.node(node_id)
    text = st.session_state.get(key)
    if node is None or not isinstance(text, str) or text.strip() == edits.title_of(node):
        return
    try:
        edits.retype(design, node_id, text)
    except quick_add.QuickAddError as exc:
        state.flash("error", f"The layer is unchanged: {exc}")
        state.put(state.REVISION, state.get(state.REVISION) + 1)
        return
    _commit(design)


def _on_move_input(node_id: str, index: int, step: int) -> None:
    design = _design()
    edits.move_input(design, node_id, index, step)
    _commit(design)


def _on_close_inspector() -> None:
    state.put(state.SELECTED, None)
    _bump(select=True)


def _on_delete_node(node_id: str) -> None:
    design = _design()
    design.remove_node(node_id)
    state.put(state.SELECTED, None)
    _bump(select=True)
    _commit(design)


def _on_rename_design(key: str, design_id: int, shown: str) -> None:
    store = _store()
    text = st.session_state.get(key)
    # The browser may resend the field of a design that is no longer open, or an
    # unchanged value: only a real edit of the open design's name renames it.
    if (not isinstance(text, str) or design_id != state.get(state.DESIGN_ID)
            or " ".join(text.split()) in (shown, _design().name)):
        return
    try:
        name = store.rename_design(state.get(state.DESIGN_ID), st.session_state.get(key, ""))
    except DesignNameError as exc:
        state.flash("error", str(exc))
        state.put(state.REVISION, state.get(state.REVISION) + 1)
        return
    design = _design()
    design.name = name
    save_open(design.to_json(indent=None))
    state.put(state.REVISION, state.get(state.REVISION) + 1)


def _on_new_design() -> None:
    _create(_store(), Design(), UNTITLED)


def _on_open_design(design_id: int) -> None:
    _open(_store(), design_id)


def _on_duplicate_design(design_id: int) -> None:
    store = _store()
    record = store.duplicate_design(design_id)
    _open(store, record.id)
    state.flash("success", f"Made a copy: {record.name!r}.")


def _on_delete_design(design_id: int) -> None:
    if state.get(state.CONFIRM_DELETE) != design_id:
        state.put(state.CONFIRM_DELETE, design_id)
        return
    store = _store()
    record = store.get_design(design_id)
    store.delete_design(design_id)
    state.put(state.CONFIRM_DELETE, None)
    if record is not None:
        state.flash("info", f"Deleted {record.name!r}.")
    if design_id == state.get(state.DESIGN_ID):
        remaining = store.list_designs()
        if not any(_open(store, s.id) for s in remaining):
            _create(store, Design(), UNTITLED)


def _on_template(slug: str) -> None:
    template = next((t for t in _templates() if t.slug == slug), None)
    if template is None:
        state.flash("error", "That template is no longer in the templates folder.")
        return
    store = _store()
    records = []
    # The designs of one template (a GAN's generator and discriminator) know each other.
    pair = uuid.uuid4().hex[:12] if len(template.designs) > 1 else None
    for design in template.designs:
        copy = design.copy()
        if pair:
            copy.extra["gan_pair"] = pair
        name = template.title if len(template.designs) == 1 else (
            f"{template.title} ({copy.role})")
        copy.name = name
        if edits.needs_layout(copy):
            edits.auto_layout(copy)  # the saved copies that are not opened now
        records.append(store.create_design(name, copy.to_json(indent=None)))
    _open(store, records[0].id, lay_out=True)
    if len(records) > 1:
        others = ", ".join(repr(r.name) for r in records[1:])
        state.flash("info", f"Opened {records[0].name!r}; the template also saved {others} "
                            "(see Designs).")


def _on_upload(key: str) -> None:
    uploaded = st.session_state.get(key)
    # The browser may send the same upload again with the next runs (a new design's
    # layout makes several) before it drops the old uploader: open each file once.
    if uploaded is None or uploaded.file_id in state.get(state.OPENED_FILES):
        return
    state.get(state.OPENED_FILES).add(uploaded.file_id)
    import_file(uploaded.name, uploaded.getvalue())
    state.put(state.UPLOAD_NONCE, state.get(state.UPLOAD_NONCE) + 1)


def import_file(filename: str, data: bytes) -> bool:
    """Open an uploaded design file as a new saved design.

    The file is untrusted: it is only parsed as JSON and checked as a design; a
    bad file leaves the current design open and says what is wrong.

    Returns:
        True when the file was opened.
    """
    try:
        design = Design.from_json(data)
    except DesignFormatError as exc:
        state.flash("error", f"'{escape_md(filename)}' was not opened: {escape_md(str(exc))} "
                             "Your current design is unchanged.")
        return False
    name = design.name.strip() or Path(filename).stem or UNTITLED
    unplaced = edits.needs_layout(design)
    if unplaced:
        edits.auto_layout(design)  # placed at once; the canvas then lays it out properly
    _create(_store(), design, name[:100], lay_out=unplaced)
    state.flash("success", f"Opened '{escape_md(filename)}' as a new design.")
    return True


@st.cache_resource(ttl=30, show_spinner=False)
def _templates():
    try:
        return list_templates()
    except (DesignFormatError, OSError, ValueError) as exc:
        state.flash("warning", f"The templates could not be read: {exc}")
        return []


# -- sections of the page ----------------------------------------------------------


def _show_flash() -> None:
    for level, message in state.take_flash():
        getattr(st, level, st.info)(message)


def _toolbar(store: Store, design: Design, report: Report) -> None:
    revision = state.get(state.REVISION)
    name_col, designs_col, tpl_col, file_col, tools_col = st.columns(
        [2.0, 1, 1, 0.8, 3.0], vertical_alignment="bottom")
    with name_col:
        key = state.widget_key(state.DESIGNS, "name", revision)
        st.text_input("Design name", value=design.name, key=key, max_chars=120,
                      on_change=_on_rename_design,
                      args=(key, state.get(state.DESIGN_ID), design.name))
    with designs_col, st.popover("Designs", width="stretch"):
        _designs_list(store)
    with tpl_col, st.popover("Templates", width="stretch"):
        _templates_gallery()
    with file_col, st.popover("File", width="stretch"):
        _file_menu(design)
    with tools_col:
        history = state.get(state.HISTORY)
        a, b, c = st.columns([1.4, 1, 1])
        a.button("Auto-layout", key=state.widget_key(state.TOOLBAR, "layout"),
                 on_click=_on_layout, width="stretch",
                 help="Arrange the layers top to bottom in data-flow order, branches side "
                      "by side.")
        b.button("Undo", key=state.widget_key(state.TOOLBAR, "undo"), on_click=_on_undo,
                 disabled=not history.can_undo, width="stretch")
        c.button("Redo", key=state.widget_key(state.TOOLBAR, "redo"), on_click=_on_redo,
                 disabled=not history.can_redo, width="stretch")
    count = len(report.problems)
    mark = ":green[ok]" if count == 0 else f":orange[{count} problem{'s' if count > 1 else ''}]"
    data = data_fit.prepared()
    misfits = data_fit.issues(design, data) if count == 0 else None
    if misfits:
        mark = (f":orange[does not fit the prepared data ({len(misfits)} "
                f"mismatch{'es' if len(misfits) > 1 else ''})]")
    layers = len(design.nodes)
    summary_col, jump_col = st.columns([5, 1.3], vertical_alignment="center")
    summary_col.markdown(
        f"**{report.total_params:,} parameters** · {mark} · {layers} "
        f"layer{'' if layers == 1 else 's'} · saved automatically",
        help="Parameters are the weights training will learn. Problems are drawn on their "
             "nodes in orange; with data prepared, the design is also checked against it.")
    first = next((p.node_id for p in report.problems if p.node_id and design.node(p.node_id)),
                 None)
    # Always drawn (disabled while no layer has a problem), so the canvas below does not
    # move down and up as the first problem comes and goes.
    jump_col.button("Show the first problem", key=state.widget_key(state.TOOLBAR, "jump"),
                    on_click=_select_and_show, args=(first,), width="stretch",
                    disabled=first is None,
                    help="Select the first layer with a problem and centre it.")
    with st.container():
        # The design's own problems (empty, no output...) are drawn over the canvas
        # (canvas_bridge.payload's notices), so the canvas stays where it is as they change.
        if misfits:
            with st.expander(f"The design and the prepared data ({escape_md(str(data.source))})",
                             expanded=True):
                data_fit.show(misfits, data, state.widget_key(state.TOOLBAR, "fit"))


def _designs_list(store: Store) -> None:
    st.button("New design", key=state.widget_key(state.DESIGNS, "new"),
              on_click=_on_new_design, width="stretch")
    current = state.get(state.DESIGN_ID)
    confirm = state.get(state.CONFIRM_DELETE)
    for summary in store.list_designs():
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.updated_at))
        marker = " (open)" if summary.id == current else ""
        st.markdown(f"**{escape_md(summary.name)}**{marker}  \n:gray[changed {when}]")
        a, b, c = st.columns([1.4, 1, 1])
        a.button("Open", key=state.widget_key(state.DESIGNS, "open", summary.id),
                 on_click=_on_open_design, args=(summary.id,),
                 disabled=summary.id == current)
        b.button("Duplicate", key=state.widget_key(state.DESIGNS, "dup", summary.id),
                 on_click=_on_duplicate_design, args=(summary.id,))
        c.button("Confirm delete" if confirm == summary.id else "Delete",
                 key=state.widget_key(state.DESIGNS, "del", summary.id),
                 on_click=_on_delete_design, args=(summary.id,),
                 type="primary" if confirm == summary.id else "secondary")


def _templates_gallery() -> None:
    templates = _templates()
    if not templates:
        st.caption("No templates were found in the templates folder.")
        return
    for template in templates:
        family = f" · {template.family}" if template.family else ""
        st.markdown(f"**{escape_md(template.title)}**{escape_md(family)}")
        st.caption(template.description)
        st.button("Open a copy", key=state.widget_key(state.TEMPLATES, template.slug),
                  on_click=_on_template, args=(template.slug,))


def _file_menu(design: Design) -> None:
    filename = re.sub(r"[^A-Za-z0-9_-]+", "_", design.name).strip("_") or "design"
    st.download_button("Download design JSON", data=design.to_json(),
                       file_name=f"{filename}.json", mime="application/json",
                       key=state.widget_key(state.TOOLBAR, "download"),
                       width="stretch")
    key = state.widget_key(state.UPLOAD, state.get(state.UPLOAD_NONCE))
    st.file_uploader("Open a design JSON file", type=["json"], key=key,
                     on_change=_on_upload, args=(key,),
                     help="The file opens as a new design; the current one stays saved.")


def _fold_canvas_edits(design: Design) -> None:
    """Fold the edits the canvas sent since the last run into the design, before drawing.

    The browser has already drawn them; each op becomes one undo step. All of the fold's
    results are written together (state.put_together): Streamlit stops a run at any
    session_state access once the canvas asks for a newer one, and a design written
    without the number of the last op applied would apply that op twice.
    """
    session, applied = state.get(state.CANVAS_APPLIED)
    their_session, ops = canvas_bridge.new_ops(canvas.edits_value(CANVAS_KEY), session,
                                               applied)
    if not ops:
        return
    work = design.copy()
    work.name = design.name
    history = state.get(state.HISTORY)
    selected = state.get(state.SELECTED)
    revs = dataclasses.replace(state.get(state.CANVAS_REVS))
    flashes = list(state.get(state.FLASH))
    fresh_widgets = False
    open_key = str(state.get(state.DESIGN_ID))
    for op in ops:
        if op.get("design") != open_key:
            continue  # made on a design no longer open: acknowledged, not applied
        result = canvas_bridge.apply_op(work, op, selected)
        if result.history:
            snapshot = history.undo() if result.history == "undo" else history.redo()
            if snapshot is not None:
                work = Design.from_json(snapshot)
                work.name = design.name
                revs.rev += 1
                fresh_widgets = True
                if selected and work.node(selected) is None:
                    selected = None
                    revs.select_rev += 1
                    revs.focus = False
            continue
        if result.initial:
            history.reset(work.to_json(indent=None))
        elif result.changed or result.moved:
            history.push(work.to_json(indent=None))
        if result.changed:
            revs.rev += 1
        if result.selected is not canvas_bridge.KEEP and result.selected != selected:
            selected = result.selected
            if op.get("op") != "select":  # the canvas chose it itself otherwise
                revs.select_rev += 1
                revs.focus = False
        if result.message:
            flashes = state.flashed(flashes, "warning", result.message)
    writes: dict[state.Key, object] = {
        state.DESIGN: work, state.CANVAS_APPLIED: (their_session, ops[-1]["seq"]),
        state.CANVAS_REVS: revs, state.SELECTED: selected, state.FLASH: flashes,
        state.UNSAVED: work.to_json(indent=None),
    }
    if fresh_widgets:
        writes[state.REVISION] = state.get(state.REVISION) + 1
    state.put_together(writes)
    _save_unsaved()


def _save_unsaved() -> None:
    """Save a design a canvas fold made to the store (idempotent: a run stopped midway
    leaves the next run to do it again)."""
    snapshot = state.get(state.UNSAVED)
    if snapshot is None:
        return
    save_open(snapshot)
    state.put(state.UNSAVED, None)


def _on_canvas_edits() -> None:
    """The canvas sent edits; they are folded in at the top of the run (_fold_canvas_edits),
    where tests can drive them too. Streamlit keeps a state value only with a callback."""


def _canvas(design: Design, report: Report) -> None:
    revs = state.get(state.CANVAS_REVS)
    session, applied = state.get(state.CANVAS_APPLIED)
    data = canvas_bridge.payload(
        design, report, selected=state.get(state.SELECTED), revisions=revs,
        ack={"session": session, "seq": applied} if session else None,
        design_key=str(state.get(state.DESIGN_ID)))
    try:
        canvas.show(CANVAS_KEY, data, on_edits=_on_canvas_edits)
    except canvas.CanvasMissing as exc:
        st.error(str(exc))


def _on_select_row(key: str, ids: list[str]) -> None:
    rows = (st.session_state.get(key) or {}).get("selection", {}).get("rows", [])
    if rows and 0 <= rows[0] < len(ids):
        _select_and_show(ids[rows[0]])


def _select_and_show(node_id: str) -> None:
    if _design().node(node_id) is None:
        return
    state.put(state.SELECTED, node_id)
    _bump(select=True, focus=True)


def _analysis(design: Design, report: Report) -> None:
    """Deep Network Designer's Analyze view: every layer in graph order; a click selects
    the layer on the canvas and centres it. Drawn only while switched on (a big table in
    every run would slow each edit)."""
    rows = canvas_bridge.analysis_rows(design, report)
    if not rows:
        return
    shown = st.toggle("Analysis table: every layer's output shape, parameters and problems",
                      key=state.kept(state.widget_key(state.TOOLBAR, "analysis_on")))
    if not shown:
        return
    key = state.widget_key(state.TOOLBAR, "analysis", state.get(state.REVISION))
    ids = [row["id"] for row in rows]
    st.dataframe(rows, key=key, on_select=lambda: _on_select_row(key, ids),
                 selection_mode="single-row", hide_index=True, width="stretch",
                 column_config={"parameters": st.column_config.NumberColumn(format="%d")})
    st.caption("Click a row's box to select that layer on the canvas.")


def _inspector(design: Design, report: Report) -> None:
    node_id = state.get(state.SELECTED)
    node = design.node(node_id) if node_id else None
    if node is None:
        st.markdown("**Inspector**")
        st.caption("Click a node to edit its parameters here. Drag a layer from the palette "
                   "onto the canvas (onto a connection to insert it), or click it to add it "
                   "below the selected node. Drag from a node's bottom handle to another's "
                   "top handle to connect them. Delete removes the selection; Ctrl+Z and "
                   "Ctrl+Shift+Z undo and redo; Ctrl+D duplicates; Shift+drag selects a box; "
                   "right-click for more.")
        return
    revision = state.get(state.REVISION)
    layer_type = catalog.get(node.type)
    analysis = report.nodes.get(node.id)
    title = layer_type.title if layer_type else str(node.type)[:60]
    title_col, close_col = st.columns([3, 1.2], vertical_alignment="center")
    title_col.markdown(f"**{escape_md(title)}**")
    close_col.button("Close", key=state.widget_key(state.INSPECTOR, "close"),
                     on_click=_on_close_inspector,
                     help="Close the inspector; new layers then go in free space.")
    if layer_type:
        st.caption(layer_type.help)
    key = state.widget_key(state.INSPECTOR, revision, node.id, "__id")
    st.text_input("Node id (the Keras layer name)", value=node.id, key=key, max_chars=64,
                  on_change=_on_rename_node, args=(node.id, key, state.get(state.DESIGN_ID)))
    key = state.widget_key(state.INSPECTOR, revision, node.id, "__text")
    st.text_input("Layer as text", value=edits.title_of(node), key=key, max_chars=200,
                  on_change=_on_retype, args=(node.id, key, state.get(state.DESIGN_ID)),
                  help="The layer in quick-add words, e.g. 'Conv2D 32 3 relu'. Type another "
                       "to change it (its id and connections stay); press Enter.")
    shape = format_shape(analysis.output_shape) if analysis else "?"
    count = analysis.param_count if analysis and analysis.param_count is not None else None
    st.markdown(f"Output `{shape}` · {'?' if count is None else f'{count:,}'} parameters")
    for problem in report.problems_for(node.id):
        st.warning(problem.message)
    if layer_type is not None:
        params = node.params if isinstance(node.params, dict) else {}
        for param in layer_type.params:
            _param_widget(node.id, param, params.get(param.name, param.default), revision)
        if edits.is_multi_input(node.type):
            _input_order(design, node.id, layer_type, revision)
    st.button("Delete this node", key=state.widget_key(state.INSPECTOR, revision, node.id,
                                                       "__delete"),
              on_click=_on_delete_node, args=(node.id,), width="stretch")


def _param_widget(node_id: str, param: catalog.Param, value, revision: int) -> None:
    key = state.widget_key(state.INSPECTOR, revision, node_id, param.name)
    common = dict(key=key, help=param.help, on_change=_on_param,
                  args=(node_id, param.name, key, state.get(state.DESIGN_ID)))
    label = param.display_name.capitalize()
    if param.kind == "bool":
        st.checkbox(label, value=value is True, **common)
    elif param.kind == "choice":
        options = list(param.choices)
        index = options.index(value) if value in options else None
        st.selectbox(label, options, index=index, placeholder="choose a value", **common)
    elif param.kind == "int":
        fits = (isinstance(value, int) and not isinstance(value, bool)
                and _in_bounds(param, value))
        st.number_input(label, min_value=_bound(param.minimum, int),
                        max_value=_bound(param.maximum, int), step=1,
                        value=value if fits else None,
                        placeholder="auto" if param.optional else "enter a whole number",
                        **common)
    elif param.kind == "float":
        fits = (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value) and _in_bounds(param, value))
        st.number_input(label, min_value=_bound(param.minimum, float),
                        max_value=_bound(param.maximum, float), step=_float_step(param),
                        value=float(value) if fits else None, format="%g",
                        placeholder="enter a number", **common)
    else:  # shape / ints: typed as a list
        if isinstance(value, (list, tuple)):
            text = ", ".join(str(v) for v in value)
        else:
            text = "" if value is None else str(value)
        st.text_input(label, value=text, placeholder="e.g. 28, 28, 1", **common)


def _in_bounds(param: catalog.Param, value) -> bool:
    low = param.minimum if param.minimum is not None else -math.inf
    high = param.maximum if param.maximum is not None else math.inf
    return low <= value <= high


def _bound(value, kind):
    return None if value is None else kind(value)


def _float_step(param: catalog.Param) -> float:
    default = param.default if isinstance(param.default, (int, float)) else 0
    if not default:
        return 0.01
    return float(10 ** math.floor(math.log10(abs(default))))


def _input_order(design: Design, node_id: str, layer_type: catalog.LayerType,
                 revision: int) -> None:
    inputs = design.inputs_of(node_id)
    st.markdown("**Input order**")
    if not inputs:
        st.caption("No inputs yet: connect layers into this one.")
        return
    for index, source in enumerate(inputs):
        name = (layer_type.input_names[index] if index < len(layer_type.input_names)
                else f"input {index + 1}")
        text_col, up_col, down_col = st.columns([3, 1, 1], vertical_alignment="center")
        text_col.markdown(f"{index + 1}. {escape_md(source)} ({escape_md(name)})")
        up_col.button("↑", key=state.widget_key(state.INSPECTOR, revision, node_id, "up",
                                                index),
                      on_click=_on_move_input, args=(node_id, index, -1),
                      disabled=index == 0, help="Move this input earlier.")
        down_col.button("↓", key=state.widget_key(state.INSPECTOR, revision, node_id, "down",
                                                  index),
                        on_click=_on_move_input, args=(node_id, index, 1),
                        disabled=index == len(inputs) - 1, help="Move this input later.")


# -- the page -------------------------------------------------------------------------


def _run_lock() -> threading.Lock:
    with _RUN_LOCK_GUARD:  # two first runs of a session must not make two locks
        return state.get(state.RUN_LOCK)


def render() -> None:
    """Draw the Build page.

    When the canvas sends an edit while a run is going, Streamlit stops that run and
    starts the next; the stopped one goes on until its next Streamlit call. The
    per-session lock makes the new run wait for it, so two runs never fold the same
    edits into the design at once.
    """
    lock = _run_lock()
    acquired = lock.acquire(timeout=RUN_LOCK_WAIT)
    try:
        _render()
    finally:
        if acquired:
            lock.release()


def _conflict_notice() -> None:
    """Another tab or window saved this design after this one read it: say so, and let the
    person choose what to keep (nothing is overwritten without a word)."""
    when = state.get(state.CONFLICT)
    if when is None:
        return
    saved = time.strftime("%H:%M:%S", time.localtime(when))
    st.warning(f"This design was changed in another tab or window (saved at {saved}) after "
               "this tab opened it, so the edits made here are not saved. Reload the saved "
               "design (the edits made here are dropped), or keep them as a new copy.",
               icon=":material/sync_problem:")
    left, right, _ = st.columns([2, 2, 3])
    left.button("Reload the saved design", key=state.widget_key(state.TOOLBAR, "reload"),
                on_click=resolve_conflict, args=(False,), icon=":material/refresh:")
    right.button("Keep mine as a copy", key=state.widget_key(state.TOOLBAR, "keep_copy"),
                 on_click=resolve_conflict, args=(True,), icon=":material/content_copy:")


def _render() -> None:
    design = open_design()
    if design is None:
        return
    store = _store()
    state.finish_puts()  # what a stopped run left half written
    _save_unsaved()
    _fold_canvas_edits(_design())
    design = _design()
    # Fixed containers keep the canvas at the same place in the page's element tree
    # whatever number of messages shows above it; a moved canvas would be remounted.
    with st.container():
        _show_flash()
        _conflict_notice()
    report = analyze(design)
    toolbar = st.container()
    canvas_col, inspector_col = st.columns([4.2, 1.5])
    with canvas_col:
        _canvas(design, report)  # first: the canvas's new data reaches the browser sooner
    with toolbar:
        _toolbar(store, design, report)
    with canvas_col:
        _analysis(design, report)
    with inspector_col:
        _inspector(design, report)
