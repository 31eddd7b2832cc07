"""Does the open design fit the prepared data? The same check and fixes on every page.

The Data page, the Build page's summary and the Train page show the mismatches
between the open design and the prepared data (``builder.data.link.check_link``),
each with its one-click fix, and a "Fix all"; a fix replaces the open design the
way a Build page edit does (undo history, saved, canvas redrawn).
"""

from __future__ import annotations

import streamlit as st

from builder.data import PreparedData
from builder.data.link import LinkIssue, apply_fix, check_link, fix_all
from builder.design import Design
from builder.markdown import escape as md
from builder.ui import canvas_bridge, opening, state

PREPARED = state.Key("nc_prepared", lambda: None,
                     "The builder.data.PreparedData training uses (prepared on the Data page; "
                     "read by the Build, Train and Explore pages).")


def prepared() -> PreparedData | None:
    """The data prepared on the Data page, or None."""
    return state.get(PREPARED)


def issues(design: Design | None, prepared: PreparedData | None) -> list[LinkIssue] | None:
    """The mismatches, or None when there is nothing to check (or a GAN design)."""
    if design is None or prepared is None or not design.nodes:
        return None
    if design.role in ("generator", "discriminator"):
        return None  # a GAN's pair is checked by builder.gan_training
    try:
        return check_link(design, prepared)
    except Exception:  # a design the analyser cannot read is the Build page's to report
        return None


def replace_design(design: Design) -> None:
    """Make ``design`` the open one, the way the Build page commits an edit."""
    snapshot = design.to_json(indent=None)
    state.put(state.DESIGN, design)
    history = state.get(state.HISTORY)
    design_id = state.get(state.DESIGN_ID)
    if history is not None and history.push(snapshot) and design_id is not None:
        try:
            opening.save_open(snapshot)
        except Exception as exc:  # the store is unusable: the design stays fixed in the session
            st.warning(f"The fixed design could not be saved: {md(str(exc))}")
    state.put(state.CANVAS_REVS, canvas_bridge.bumped(state.get(state.CANVAS_REVS), graph=True))
    state.put(state.REVISION, state.get(state.REVISION) + 1)


def _on_fix(issue: LinkIssue | None, prepared: PreparedData) -> None:
    design = state.get(state.DESIGN)
    if design is None:
        return
    fixed = fix_all(design, prepared) if issue is None else apply_fix(design, prepared, issue)
    fixed.name = design.name
    replace_design(fixed)


def show(found: list[LinkIssue], prepared: PreparedData, key_prefix: str) -> None:
    """Each mismatch with its fix button, and "Fix all" when more than one can be fixed."""
    for i, issue in enumerate(found):
        text, button = st.columns([5, 2], vertical_alignment="center")
        text.warning(issue.message)
        if issue.fixable:
            button.button(issue.fix_label, key=state.widget_key(key_prefix, "fix", i,
                                                                issue.code),
                          on_click=_on_fix, args=(issue, prepared), width="stretch")
    if sum(i.fixable for i in found) > 1:
        st.button("Fix all", key=state.widget_key(key_prefix, "fix_all"), on_click=_on_fix,
                  args=(None, prepared), type="primary")
