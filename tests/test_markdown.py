"""builder.markdown: text from a design or a file renders as itself, never as markup."""

from __future__ import annotations

import html
import zipfile

import pytest
from markdown_it import MarkdownIt

from builder import export
from builder.compile import build_model
from builder.markdown import WORD_JOINER, escape, shown
from tests.helpers import chain

HOSTILE = [
    "![T](http://127.0.0.1:9/targetcol.png)",
    "[L](javascript:alert(1))",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "**bold** _it_ `code` # head | pipe ~strike~ $x$",
    ":red[colour] :smile: {{ }} %s &lt;",
    "two\nlines\r\nand\x00nul",
    "\\ back\\slash \u202eright-to-left",
    "bare http://127.0.0.1:9/x.png www.evil.example HTTPS://A.B mail me@evil.example",
]


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_the_same_characters(text):
    out = _rendered(f"Name: **{escape(text)}** here")
    assert "<img" not in out and "<a " not in out and "<script" not in out
    expected = text.replace("\x00", "").replace("\r\n", " ").replace("\n", " ")
    assert html.escape(shown(text), quote=False) in out.replace("&quot;", '"')
    assert shown(text).replace(WORD_JOINER, "") == expected


@pytest.mark.parametrize(("text", "address"), [
    ("see http://127.0.0.1:9/x.png", "http://"), ("at www.evil.example", "www."),
    ("to ftp://h/f", "ftp://"), ("mail me@evil.example", "@evil"), ("WWW.A.B", "WWW.")])
def test_bare_addresses_are_broken_where_a_link_finder_would_start(text, address):
    # Streamlit's Markdown links bare addresses in text (its GFM autolink literals); a
    # backslash does not stop it, an invisible word joiner inside the address does.
    assert address not in shown(text) and address not in escape(text)
    assert shown(text).replace(WORD_JOINER, "") == text


def test_the_bundle_readme_shows_hostile_names_and_labels_as_text(tmp_path):
    design = chain(("Dense", {"units": 3, "activation": "softmax"}), input_shape=(4,))
    design.name = HOSTILE[0]
    result = export.export_bundle(tmp_path / "b.zip", design=design, model=build_model(design),
                                  class_names=HOSTILE[1:4], data_info={"kind": "tabular"})
    readme = zipfile.ZipFile(result.path).read("README.md").decode()
    out = _rendered(readme)
    # The text is there, shown; nothing of it became an image, a link or a tag.
    assert "<img" not in out and "href=" not in out and "<script" not in out
    for text in HOSTILE[:4]:
        assert html.escape(shown(text), quote=False) in out.replace("&quot;", '"'), text
