"""The sidebar shown on every page: which device TensorFlow found, and the workspace."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from builder.devices import Devices, find_devices
from builder.ui import state

ICON = Path(__file__).with_name("icon.png")  # the page's icon, served by the app itself


@st.cache_resource(show_spinner="Looking for GPUs...")
def _devices() -> Devices:
    # Asking TensorFlow loads it (a few seconds), so ask once per server process.
    return find_devices()


def render() -> None:
    """Draw the device badge and the workspace folder."""
    devices = _devices()
    with st.sidebar:
        st.markdown("**Neural Canvas**")
        if devices.has_gpu:
            st.success(devices.summary(), icon=":material/memory:")
        else:
            st.info(devices.summary(), icon=":material/memory:")
            if devices.error:
                st.caption("Training will use the CPU.")
        st.caption(f"Workspace: `{state.workspace_folder()}`")
