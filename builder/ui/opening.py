"""Opening a saved design in this session: the one path every page uses to put a design
on the canvas (a template, a file, an imported .keras model, a new design)."""

from __future__ import annotations

from builder.design import Design, DesignFormatError
from builder.history import History
from builder.markdown import escape as md
from builder.store import Store
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
