"""Neural Canvas: design Keras networks on a canvas, train, explore and export them.

Run with ``streamlit run app.py`` (optionally ``-- --workspace FOLDER``). This file
only routes between pages and draws the sidebar.
"""

import os
import sys

import streamlit as st

from builder import strategy, workspace
from builder.ui import (
    build_page,
    data_page,
    explore_page,
    export_page,
    keras_state,
    sidebar,
    state,
    train_page,
)

# Streamlit clears Keras's session after every run, under other sessions' threads.
keras_state.keep_keras_state_between_runs()

# `streamlit run app.py -- --workspace FOLDER` wins over NEURAL_CANVAS_HOME; putting it in
# the environment makes every module (designs, runs) use the same folder.
try:
    _flag = workspace.flag_value(sys.argv[1:])
except workspace.WorkspaceError as exc:
    st.error(str(exc))
    st.stop()
if _flag:
    os.environ[workspace.ENV_VAR] = str(workspace.resolve(_flag))

# Before any page touches TensorFlow: GPU memory is taken as needed, not all at once.
strategy.enable_memory_growth()

# The icon is a file of ours: a Material icon name would make the browser fetch it from
# Google's font servers, and the app works offline and asks no one else for anything.
st.set_page_config(page_title="Neural Canvas", page_icon=str(sidebar.ICON), layout="wide")

pages = [
    st.Page(build_page.render, title="Build", icon=":material/account_tree:",
            url_path="build", default=True),
    st.Page(data_page.render, title="Data", icon=":material/table:", url_path="data"),
    st.Page(train_page.render, title="Train", icon=":material/model_training:",
            url_path="train"),
    st.Page(explore_page.render, title="Explore", icon=":material/insights:",
            url_path="explore"),
    st.Page(export_page.render, title="Export", icon=":material/download:", url_path="export"),
]
navigation = st.navigation(pages)
sidebar.render()
# Every page works on the open design: after a refresh or a restart it is the one
# edited last, whichever page the person lands on.
build_page.open_design(show_error=False)  # the Build page shows the error
# Settings typed on one page are still there after a visit to another.
state.run_keeping_settings(navigation.run)
