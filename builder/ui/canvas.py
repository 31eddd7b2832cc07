"""The canvas component (Streamlit Components v2): register it, draw it, read what it says.

Its JavaScript lives in canvas_frontend/ (React Flow 12) and is built into
canvas_frontend/build/ by :mod:`builder.ui.canvas_build`; the manifest beside it
(canvas_frontend/pyproject.toml) names that folder, so the browser loads the script once
from ``/_stcore/bidi-components/neural-canvas.canvas/``. The messages themselves are
plain data made and read in :mod:`builder.ui.canvas_bridge`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

from builder.ui import canvas_build

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

COMPONENT = "neural-canvas.canvas"
MANIFEST = canvas_build.FRONTEND / "pyproject.toml"
EDITS = "edits"  # the state value holding the person's unacknowledged edits


class CanvasMissing(RuntimeError):
    """The canvas's JavaScript has not been built."""


def _register() -> None:
    """Register the component's asset folder with the running Streamlit, if needed.

    An installed wheel is found by Streamlit's own manifest scan; a source checkout (an
    editable install) is not, so the same manifest is registered here.
    """
    manager = get_bidi_component_manager()
    if manager.get_component_asset_root(COMPONENT) is None:
        with open(MANIFEST, "rb") as handle:
            raw = tomllib.load(handle)
        entries = raw["tool"]["streamlit"]["component"]["components"]
        manifest = ComponentManifest(
            name=raw["project"]["name"], version=raw["project"]["version"],
            components=[ComponentConfig.from_dict(entry) for entry in entries])
        manager.register_from_manifest(manifest, MANIFEST.parent)
    st.components.v2.component(COMPONENT, js="index.js", css="index.css", isolate_styles=False)


def show(key: str, data: dict[str, Any], on_edits) -> Any:
    """Draw the canvas with ``data`` (see canvas_bridge.payload); returns its values.

    Raises:
        CanvasMissing: the JavaScript is not built (the page says how to build it).
    """
    if not all((canvas_build.BUILD / name).is_file() for name in canvas_build.BUILT_FILES):
        raise CanvasMissing(
            "The canvas's JavaScript has not been built. Start the app with ./dev.sh app "
            "(it builds it), or run: python -m builder.ui.canvas_build")
    _register()
    mount = st.components.v2.component(COMPONENT, js="index.js", css="index.css",
                                       isolate_styles=False)
    return mount(key=key, data=data, on_edits_change=on_edits, width="stretch",
                 height="content")


def edits_value(key: str) -> Any:
    """The canvas's ``edits`` state value from session state (before it is drawn)."""
    value = st.session_state.get(key)
    if isinstance(value, dict) or hasattr(value, "get"):
        try:
            return value.get(EDITS)
        except Exception:  # noqa: BLE001 - a value of some other shape is ignored
            return None
    return None
