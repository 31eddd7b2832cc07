"""The Train page's live chart: a small Streamlit Components v2 element on a <canvas>.

Watching a run must cost it next to nothing (issue 16). While a run trains, the panel
redraws every few seconds; with Plotly each redraw sent, validated, laid out and drew a
whole figure, half of what Chromium spent on the watched page and two fifths of the
server's share. This element takes the thinned curves as plain lists and draws them in
about a millisecond (live_chart.js, no build step: the script is short and travels
inline). The finished run's chart stays Plotly, with hover and zoom.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from builder.json_ready import json_ready

COMPONENT = "neural-canvas.live_chart"
SCRIPT = Path(__file__).with_name("live_chart.js")
HEIGHT = 320


def chart_data(panels: list[dict], height: int = HEIGHT) -> dict:
    """What the element draws: the panels of ``train_page._panels``, as plain data."""
    return {"panels": json_ready(panels, finite=True), "height": int(height),
            "label": "Training curves: " + ", ".join(p["title"] for p in panels)}


def show(panels: list[dict], key: str, height: int = HEIGHT) -> None:
    """Draw the live curves (see :func:`chart_data`)."""
    mount = st.components.v2.component(COMPONENT, js=SCRIPT.read_text(encoding="utf-8"),
                                       isolate_styles=False)
    mount(key=key, data=chart_data(panels, height), width="stretch", height="content")
