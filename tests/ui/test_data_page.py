"""The Data page through Streamlit's AppTest: samples, a failed upload, the design link."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from builder.history import History
from builder.ui import data_page
from tests.helpers import chain, shown

# AppTest cannot drive a file uploader, so the script hands "uploads" to the same
# functions the uploader calls; the real uploader is covered by tests/e2e.
SCRIPT = """
import streamlit as st
from builder.history import History
from builder.ui import data_page
pending = st.session_state.pop("test_upload", None)
if pending is not None:
    kind, name, data = pending
    (data_page.accept_csv if kind == "csv" else data_page.accept_zip)(name, data)
data_page.render()
"""
SOURCE = data_page.SOURCE.name
PREPARED = data_page.PREPARED.name


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    at = AppTest.from_string(SCRIPT, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def _load(at: AppTest, sample_id: str) -> AppTest:
    at.selectbox(key="nc_data::sample").set_value(sample_id).run()
    at.button(key="nc_data::load_sample").click().run()
    assert not at.exception, at.exception
    return at


def _prepare(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def test_the_empty_page_explains_what_to_do(app):
    assert any("Pick a sample" in info.value for info in app.info)
    assert app.session_state[PREPARED] is None


def test_a_table_sample_is_shown_and_prepared(app):
    at = _load(app, "breast_cancer")
    assert any("Loaded the sample" in s.value for s in at.success)
    assert at.dataframe and at.multiselect(key="nc_data::target::1").value == ["diagnosis"]
    assert "Infer (binary" in at.selectbox(key="nc_data::task::1::('diagnosis',)").format_func(
        "auto")
    _prepare(at, "nc_data::prepare::1")
    prepared = at.session_state[PREPARED]
    assert prepared.kind == "tabular" and prepared.task == "binary"
    assert prepared.input_shape == (30,)
    assert any("ready for training" in s.value for s in at.success)
    assert [m.label for m in at.metric][:2] == ["Task", "Model input"]


def test_a_failed_upload_keeps_the_data_loaded_before(app):
    at = _load(app, "iris")
    _prepare(at, "nc_data::prepare::1")
    before_source, before_prepared = at.session_state[SOURCE], at.session_state[PREPARED]
    for name, data, words in (("empty.csv", b"", "is empty"),
                              ("head.csv", b"a,b,c\n", "no data rows"),
                              ("junk.csv", bytes(range(256)) * 20, "binary"),
                              ("photos.zip", b"plain text", "not a zip")):
        at.session_state["test_upload"] = ("zip" if name.endswith("zip") else "csv", name, data)
        at.run()
        assert not at.exception
        errors = " ".join(e.value for e in at.error)
        assert words in errors and "kept" in errors
        assert at.session_state[SOURCE] is before_source
        assert at.session_state[PREPARED] is before_prepared


def test_a_good_upload_replaces_the_source(app):
    rows = "".join(f"{i % 7},{'ab'[i % 2]},{i % 3}\n" for i in range(60))
    app.session_state["test_upload"] = ("csv", "mine.csv", ("x,letter,label\n" + rows).encode())
    app.run()
    assert not app.exception
    assert app.session_state[SOURCE].name == "mine.csv"
    assert any("mine.csv" in s.value for s in app.success)


def test_images_text_and_series_samples(app):
    at = _load(app, "digits")
    assert any("1,797 images" in c.value for c in at.caption)
    _prepare(at, "nc_data::img_prepare::1")
    assert at.session_state[PREPARED].kind == "images"
    at = _load(at, "topics")
    _prepare(at, "nc_data::prepare::2")
    assert at.session_state[PREPARED].kind == "text"
    at = _load(at, "energy")
    assert at.radio(key="nc_data::mode::3").value == "Forecast a time series"
    _prepare(at, "nc_data::ts_prepare::3")
    prepared = at.session_state[PREPARED]
    assert prepared.kind == "timeseries" and prepared.input_shape[0] == 24


def test_the_open_design_is_checked_and_fixed(app):
    at = _load(app, "iris")
    _prepare(at, "nc_data::prepare::1")
    wrong = chain(("Dense", {"units": 8}), ("Dense", {"units": 10, "activation": "relu"}),
                  input_shape=(7,))
    at.session_state["nc_design"] = wrong
    at.session_state["nc_history"] = History(wrong.to_json(indent=None))
    at.run()
    warnings = " ".join(w.value for w in at.warning)
    assert "(7,)" in warnings and "10 unit(s)" in warnings and "'relu'" in warnings
    at.button(key="nc_data::fix_all").click().run()
    assert not at.exception
    fixed = at.session_state["nc_design"]
    assert fixed.node("inp").params["shape"] == [4]
    assert fixed.node("n2").params == {"units": 3, "activation": "softmax"}
    assert any("fits this data" in s.value for s in at.success)
    history = at.session_state["nc_history"]
    assert history.can_undo, "the fix is one undoable step on the Build page"
    assert at.session_state["nc_canvas_revs"].rev >= 1, "the canvas draws the fixed design"


def test_dates_are_shown_as_dates_and_a_short_row_is_named(app):
    rows = ["when,size,label"] + [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d},{(i * 7) % 11},"
                                  f"{'ab'[i % 2]}" for i in range(120)]
    rows.insert(50, "2024-05-05,3")  # a short row: one field missing
    app.session_state["test_upload"] = ("csv", "dated.csv", ("\n".join(rows) + "\n").encode())
    app.run()
    assert not app.exception
    source = app.session_state[SOURCE]
    assert len(source.frame) == 120
    infos = " ".join(shown(i.value) for i in app.info)
    assert "Skipped 1 malformed row(s) with fewer fields" in infos and "row 51" in infos
    types = next(d.value for d in app.dataframe if "column" in d.value.columns)
    assert types.set_index("column").loc["when", "type"] == "date"
    assert "dates (YYYY-MM-DD)" in types.set_index("column").loc["when", "why"]
    _prepare(app, "nc_data::prepare::1")
    prepared = app.session_state[PREPARED]
    assert [b["kind"] for b in prepared.info["layout"]][:2] == ["numeric", "date"]
    assert prepared.raw_spec["when"] == ((1,), "string")


def test_a_new_source_does_not_pass_for_the_data_prepared_before(app):
    at = _load(app, "iris")
    at = _prepare(at, "nc_data::prepare::1")
    assert any(h.value == "Prepared for training" for h in at.subheader)
    at = _load(at, "diabetes")  # another source, not prepared yet
    headings = [h.value for h in at.subheader]
    assert "Prepared for training" not in headings
    assert "Prepared earlier, from another source" in headings
    assert any("Training still uses" in i.value and "iris" in i.value.lower() for i in at.info)


def test_the_source_tab_is_kept_when_the_page_is_left_and_opened_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_CANVAS_HOME", str(tmp_path / "ws"))
    # A run without the page, as when a person opens another page: Streamlit drops the
    # page's widget values then.
    at = AppTest.from_string(
        "import streamlit as st\n"
        "from builder.ui import data_page\n"
        "if not st.session_state.get('elsewhere'):\n"
        "    data_page.render()\n", default_timeout=120).run()
    at.button_group(key="nc_data::choice").set_value("CSV file").run()
    assert not at.exception
    at.session_state["elsewhere"] = True
    at.run()
    at.session_state["elsewhere"] = False
    at.run()
    assert not at.exception
    assert at.button_group(key="nc_data::choice").value == "CSV file"


def test_a_hostile_file_name_is_shown_as_text(app):
    """A file named like a Markdown image is escaped in every message that shows it."""
    from markdown_it import MarkdownIt

    name = "![T](http://127.0.0.1:9/t.png)<b>x</b>.csv"
    app.session_state["test_upload"] = ("csv", name, b"a,b\n1,x\n2,y\n3,x\n4,y\n")
    app.run()
    assert not app.exception, app.exception
    shown = [s.value for s in app.success if "Loaded" in s.value]
    assert shown
    for text in [shown[0], *(h.value for h in app.subheader)]:
        html = MarkdownIt("commonmark").render(text)
        assert "<img" not in html and "<b>" not in html, text
    assert any("![T](http" in MarkdownIt("commonmark").render(h.value) for h in app.subheader)


def _upload_zip(at: AppTest, name: str, data: bytes) -> AppTest:
    at.session_state["test_upload"] = ("zip", name, data)
    at.run()
    assert not at.exception, at.exception
    return at


def test_one_sessions_upload_never_removes_anothers_images(app):
    from tests.data.builders import class_zip

    first = _upload_zip(app, "pets.zip", class_zip(("cats", "dogs"), per_class=4))
    first_root = first.session_state[SOURCE].root
    second = AppTest.from_string(SCRIPT, default_timeout=120)
    second.run()
    _upload_zip(second, "birds.zip", class_zip(("owls", "wrens"), per_class=3))
    earlier = second.session_state[SOURCE].root
    _upload_zip(second, "fish.zip", class_zip(("cod", "eel"), per_class=5))
    _upload_zip(second, "bugs.zip", class_zip(("ants", "bees"), per_class=2))
    assert first_root.is_dir() and len(list(first_root.rglob("*.png"))) == 8
    # A session's own archives older than the one on show make room for its new one.
    assert not earlier.exists()
    assert second.session_state[SOURCE].root.is_dir()
    sessions = {data_page._upload_of(root).parent.name
                for root in (first_root, second.session_state[SOURCE].root)}
    assert len(sessions) == 2 and all(s.startswith("session-") for s in sessions)


def test_the_uploads_of_sessions_that_ended_are_removed_on_the_next_upload(app, tmp_path,
                                                                            monkeypatch):
    from tests.data.builders import class_zip

    uploads = tmp_path / "ws" / data_page.UPLOADS
    ended = uploads / "session-ended" / "images-0123"
    living = uploads / "session-living" / "images-4567"
    for folder in (ended, living):
        folder.mkdir(parents=True)
    monkeypatch.setattr(data_page, "_session_lives", lambda session: session != "ended")
    _upload_zip(app, "pets.zip", class_zip(("cats", "dogs"), per_class=2))
    assert not ended.parent.exists() and living.is_dir()
