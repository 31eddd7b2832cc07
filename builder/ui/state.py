"""Every session_state key the app uses, declared once with its default.

Pages read and write session state only through :func:`get` and :func:`put` with
these keys (and widget keys made by :func:`widget_key`), so a key cannot be
misspelt in one place and a default cannot differ between two.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from builder import workspace
from builder.store import Store


def _canvas_revisions():
    from builder.ui.canvas_bridge import Revisions

    return Revisions()


@dataclass(frozen=True)
class Key:
    """One session_state entry: its name, a factory for its default, what it holds."""

    name: str
    default: Callable[[], Any]
    doc: str


DESIGN_ID = Key("nc_design_id", lambda: None, "Store id of the design open on the canvas.")
DESIGN = Key("nc_design", lambda: None, "The open builder.design.Design.")
DESIGN_VERSION = Key("nc_design_version", lambda: None, "The stored version of the open design "
                     "this session last read or wrote (a save from an older one is refused).")
CONFLICT = Key("nc_design_conflict", lambda: None, "When another tab or window saved the open "
               "design after this session read it: the time of that save (this session's "
               "edits are then not saved until the person chooses).")
HISTORY = Key("nc_history", lambda: None, "builder.history.History of the open design.")
SELECTED = Key("nc_selected", lambda: None, "Id of the node the inspector shows, or None.")
REVISION = Key("nc_revision", lambda: 0, "Bumped when the design is replaced; inspector "
               "widgets are keyed by it so they start from the new values.")
CANVAS_REVS = Key("nc_canvas_revs", _canvas_revisions, "canvas_bridge.Revisions: the numbers "
                  "the canvas acts on once each (redraw the graph, take the selection, fit, "
                  "lay out).")
CANVAS_APPLIED = Key("nc_canvas_applied", lambda: (None, 0), "(canvas session, number of the "
                     "last edit op applied): the canvas resends every op until acknowledged.")
FLASH = Key("nc_flash", list, "(level, message, queued at, shown) messages shown at the top of "
            "the page in every run for FLASH_SECONDS after they were queued (at least once).")
FLASH_SECONDS = 8.0
OPENED_FILES = Key("nc_opened_files", set, "File ids of design uploads already opened (the "
                   "browser can send one upload more than once).")
UPLOAD_NONCE = Key("nc_upload_nonce", lambda: 0, "Bumped after an upload to clear the uploader.")
RUN_LOCK = Key("nc_run_lock", threading.Lock, "Held by the Build page while it folds the "
               "canvas's edits into the design: with fast reruns Streamlit starts a new run "
               "before the stopped one has ended, and two runs must not edit at once.")
CONFIRM_DELETE = Key("nc_confirm_delete", lambda: None, "Design id awaiting delete confirmation.")
PENDING = Key("nc_pending", lambda: None, "Values put_together has not finished writing, by "
              "key name (a run stopped midway leaves them to the next run), or None.")
TRAINED = Key("nc_trained", lambda: None, "trained.TrainedModel: the model this session "
              "trained last, which the Train page hands to Explore and Export, or None.")
UNSAVED = Key("nc_unsaved", lambda: None, "A design snapshot (JSON) a canvas fold made, not yet "
              "saved to the store, or None.")

KEPT = Key("nc_kept", dict, "Values of the settings widgets marked with kept(), by widget "
           "key: Streamlit forgets a widget's value on a run that does not draw it (another "
           "page), and restore_kept() gives it back before the page draws it again.")

def _session_id() -> str:
    """Streamlit's id of the session running now, a UUID (the runtime answers whether a
    session still lives by it); a fresh UUID where there is none (a test harness, which
    gives every session one made-up id)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    session = str(getattr(ctx, "session_id", ""))
    try:
        return str(uuid.UUID(session))
    except ValueError:
        return str(uuid.uuid4())


SESSION = Key("nc_session", _session_id, "This browser session's own id: the "
              "runs it starts are its own (others see them only in the run history), and so "
              "are its uploads.")

RESTORING = Key("nc_restoring", set, "Kept widget keys given back by restore_kept whose "
                "widgets no finished run has drawn since.")
DRAWN = Key("nc_drawn", set, "Kept widget keys the current run has drawn.")

ALL_KEYS = (SESSION, DESIGN_ID, DESIGN_VERSION, CONFLICT, DESIGN, HISTORY, SELECTED, REVISION,
            CANVAS_REVS, CANVAS_APPLIED, FLASH, OPENED_FILES, UPLOAD_NONCE, CONFIRM_DELETE,
            PENDING, UNSAVED, TRAINED, KEPT, RESTORING, DRAWN)

# Prefixes of widget keys made per node or per design (see widget_key).
INSPECTOR = "nc_insp"
TOOLBAR = "nc_tool"
DESIGNS = "nc_designs"
TEMPLATES = "nc_tpl"
UPLOAD = "nc_upload"


def init() -> None:
    """Give every declared key its default if the session does not have it yet."""
    for key in ALL_KEYS:
        if key.name not in st.session_state:
            st.session_state[key.name] = key.default()


def get(key: Key) -> Any:
    if key.name not in st.session_state:
        st.session_state[key.name] = key.default()
    return st.session_state[key.name]


def put(key: Key, value: Any) -> None:
    st.session_state[key.name] = value


def put_together(values: dict[Key, Any]) -> None:
    """Write several keys so that a stopped run cannot leave only some of them written.

    Every session_state access is a point where Streamlit stops a run whose successor
    has been asked for (a new canvas report does that). The values are first stored
    under one key, in one write, then copied to their own keys; :func:`finish_puts`
    at the start of the next run completes a copy that was cut short.
    """
    put(PENDING, {key.name: value for key, value in values.items()})
    finish_puts()


def finish_puts() -> None:
    """Complete the writes of a :func:`put_together` that a stopped run left unfinished."""
    pending = get(PENDING)
    if not pending:
        return
    for name, value in pending.items():
        st.session_state[name] = value
    put(PENDING, None)


def kept(key: str) -> str:
    """Mark a value widget's key (not a button's) to keep its value across pages.

    A person who types 40 epochs, looks at the Data page and comes back finds 40, not
    the default. Returns ``key``, for ``st.number_input(..., key=state.kept(key))``.
    """
    memory = get(KEPT)
    if key not in memory:
        memory[key] = None  # known; its value is taken at the end of the run
    get(DRAWN).add(key)
    return key


def restore_kept() -> None:
    """Before a page draws: give back the kept values Streamlit dropped on another page."""
    restoring = get(RESTORING)
    for key, value in get(KEPT).items():
        if value is None:
            continue
        if key not in st.session_state:
            st.session_state[key] = value
            restoring.add(key)
        elif key in restoring:
            # Given back in a run that was cut short before it drew the widget: set it
            # again, so the run that draws it sends the value to the browser (a widget
            # the browser draws afresh shows its default otherwise, and sends that back).
            st.session_state[key] = st.session_state[key]


def remember_kept() -> None:
    """After a page drew: remember the current value of every kept widget."""
    memory = get(KEPT)
    for key in memory:
        if key in st.session_state:
            memory[key] = st.session_state[key]


def run_keeping_settings(draw: Callable[[], Any]) -> None:
    """Draw a page (``navigation.run``) with the kept widget values given back first."""
    get(DRAWN).clear()
    restore_kept()
    try:
        draw()
        # The widgets this run drew to its end carried their values to the browser.
        get(RESTORING).difference_update(get(DRAWN))
    finally:
        remember_kept()


def widget_key(prefix: str, *parts: object) -> str:
    """A widget key from a declared prefix and the parts that make it unique."""
    return "::".join([prefix, *(str(p) for p in parts)])


def flash(level: str, message: str) -> None:
    """Queue a message (``"success"``, ``"info"``, ``"warning"`` or ``"error"``)."""
    put(FLASH, flashed(get(FLASH), level, message))


def flashed(queue: list, level: str, message: str) -> list:
    """``queue`` with a message added (for writes that go together, see put_together)."""
    return [*queue, (level, message, time.monotonic(), False)]


def take_flash() -> list[tuple[str, str]]:
    """The messages to show in this run: those queued less than FLASH_SECONDS ago, and
    any not shown yet. The canvas often answers a run at once (opening a template makes
    it lay the design out and send the positions), and a message shown only once would
    vanish before it can be read."""
    now = time.monotonic()
    shown = [(level, message, queued) for level, message, queued, seen in get(FLASH)
             if not seen or now - queued < FLASH_SECONDS]
    put(FLASH, [(level, message, queued, True) for level, message, queued in shown])
    return list(dict.fromkeys((level, message) for level, message, _ in shown))


@st.cache_resource(show_spinner=False)
def _open_store(folder: str) -> Store:
    path = workspace.ensure(folder)
    return Store(workspace.store_path(path))


def forget_store() -> None:
    """Drop the cached store, so the next use opens the file afresh (after it was moved)."""
    _open_store.clear()


def workspace_folder() -> str:
    """The workspace folder: NEURAL_CANVAS_HOME (app.py puts the --workspace flag there)."""
    return str(workspace.resolve())


def job_manager(start: bool = True):
    """The training jobs of the workspace folder, shared by every session (started on
    first use, with a spare worker process that loads TensorFlow ahead of the first run;
    None when ``start`` is False and nothing has started it yet).

    Raises:
        builder.workspace.WorkspaceError: the folder cannot be used.
    """
    from builder import jobs

    return jobs.manager(workspace.store_path(workspace.ensure(workspace_folder())), start=start)


def store() -> Store:
    """The store of the workspace folder, shared by every session.

    Raises:
        builder.workspace.WorkspaceError: the folder cannot be used.
        builder.store.StoreError: the store file cannot be read.
    """
    return _open_store(workspace_folder())
