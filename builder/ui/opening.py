"""Opening a saved design in this session: the one path every page uses to put a design
on the canvas (a template, a file, an imported .keras model, a new design)."""

from __future__ import annotations

from builder.design import Design, DesignFormatError
from builder.history import History
from builder.markdown import escape as md
from builder.store import DesignConflict, Store
from builder.ui import canvas_bridge, state

LAST_DESIGN_SETTING = "last_design_id"


def open_saved(store: Store, design_id: int, lay_out: bool = False) -> bool:
    """Make a saved design the open one; False (with a message) when it cannot be read.

    Args:
        lay_out: have the canvas lay it out (a template, a file without positions).
    """
    record = store.get_design(design_id)
    if record is None:
        state.flash("warning", "That design no longer exists; it may have been deleted.")
        return False
    try:
        design = Design.from_json(record.json)
    except DesignFormatError as exc:
        state.flash("error", f"The saved design '{md(record.name)}' cannot be opened: "
                             f"{md(str(exc))}")
        return False
    design.name = record.name
    state.put(state.DESIGN_ID, record.id)
    state.put(state.DESIGN_VERSION, record.version)
    state.put(state.CONFLICT, None)
    state.put(state.DESIGN, design)
    state.put(state.HISTORY, History(design.to_json(indent=None)))
    state.put(state.SELECTED, None)
    bump(graph=True, select=True, fit=True, layout=lay_out, initial=True)
    state.put(state.REVISION, state.get(state.REVISION) + 1)
    store.set_setting(LAST_DESIGN_SETTING, str(record.id))
    return True


def bump(**asked: bool) -> None:
    """Ask the canvas to act once (see canvas_bridge.bumped)."""
    state.put(state.CANVAS_REVS, canvas_bridge.bumped(state.get(state.CANVAS_REVS), **asked))


def create_and_open(store: Store, design: Design, name: str, lay_out: bool = False) -> None:
    """Save ``design`` as a new design and open it."""
    design.name = name
    record = store.create_design(name, design.to_json(indent=None))
    design.name = record.name
    store.save_design(record.id, design.to_json(indent=None))
    open_saved(store, record.id, lay_out)


def save_open(snapshot: str) -> bool:
    """Save a snapshot of the open design, unless another tab or window saved the design
    after this session last read or wrote it: then nothing is written, :data:`state.CONFLICT`
    says when the other save was, and the Build page asks the person what to keep.

    Raises:
        builder.store.StoreError, builder.workspace.WorkspaceError: the store is unusable.
    """
    store = state.store()
    design_id = state.get(state.DESIGN_ID)
    if design_id is None:
        return False
    expected = state.get(state.DESIGN_VERSION)
    try:
        version = store.save_design(design_id, snapshot, expected_version=expected)
    except DesignConflict as conflict:
        stored = store.get_design(design_id)
        history = state.get(state.HISTORY)
        if stored is None or history is None or not history.holds(stored.json):
            state.put(state.CONFLICT, conflict.updated_at)
            return False
        # The stored design is one this session wrote (a run stopped before it noted the
        # version): no one else's work is in the way.
        version = store.save_design(design_id, snapshot, expected_version=stored.version)
    if version is not None:
        state.put(state.DESIGN_VERSION, version)
    return version is not None


def resolve_conflict(keep_mine: bool) -> None:
    """After a conflict: reopen the saved design (this tab's edits go), or save this tab's
    design as a new copy and open that (both are kept)."""
    store = state.store()
    if keep_mine:
        design = state.get(state.DESIGN)
        create_and_open(store, design.copy(),
                        f"{design.name or 'Untitled design'} (this tab)"[:100])
    else:
        open_saved(store, state.get(state.DESIGN_ID))


def store_problem(exc: Exception, key: str) -> None:
    """Say why the workspace's store cannot be used; when the file is damaged, offer to move
    it aside (it is kept, under a dated name) and start a fresh workspace."""
    import sqlite3

    import streamlit as st

    from builder import workspace

    st.error(md(str(exc)))
    cause = exc.__cause__
    if not isinstance(cause, sqlite3.DatabaseError) or isinstance(cause, sqlite3.OperationalError):
        return  # busy, unreadable or newer: nothing to move aside
    path = workspace.store_path(workspace.resolve())
    if not path.is_file():
        return
    st.button("Move the damaged file aside and start a fresh workspace", key=key,
              on_click=_set_aside, args=(path,), icon=":material/restore_page:",
              help=f"Renames {path.name} to {path.name}.damaged-<date>; nothing is deleted.")


def _set_aside(path) -> None:
    from builder import workspace

    try:
        kept = workspace.set_aside(path)
        state.forget_store()
    except workspace.WorkspaceError as exc:
        state.flash("error", md(str(exc)))
        return
    state.flash("success", f"The damaged file is kept as {md(str(kept))}; this is a fresh "
                           "workspace.")
