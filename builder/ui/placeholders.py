"""Pages whose issue is not done yet: each says so plainly, and what will come."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

import streamlit as st

_NOTES = {
    "Data": "Loading data (CSV tables, image folders, text, and the bundled samples) is not "
            "built yet. Until then, designs can be built and checked on the Build page.",
    "Train": "Training is not built yet. When it is, this page will train the open design "
             "on your data with live loss and accuracy curves.",
    "Explore": "Exploring a trained model is not built yet. When it is, this page will show "
               "predictions, metrics, saliency maps and activations.",
    "Export": "Exporting is not built yet. Until then, the Build page's File menu downloads "
              "the design as JSON.",
}


def _note(title: str) -> None:
    st.header(title)
    st.info(_NOTES[title], icon=":material/construction:")


def data_page() -> None:
    """The Data page, until builder.ui.data_page exists."""
    _note("Data")


def train_page() -> None:
    _note("Train")


def explore_page() -> None:
    _note("Explore")


def export_page() -> None:
    _note("Export")


def page_or_placeholder(module: str, placeholder: Callable[[], None]) -> Callable[[], None]:
    """``builder.ui.<module>.render`` when that page exists, else its placeholder."""
    if importlib.util.find_spec(f"builder.ui.{module}") is not None:
        return importlib.import_module(f"builder.ui.{module}").render
    return placeholder
