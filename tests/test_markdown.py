"""builder.markdown: text from a design or a file renders as itself, never as markup."""

from __future__ import annotations

import html
import zipfile

import pytest
from markdown_it import MarkdownIt

from builder import export
from builder.compile import build_model
from builder.markdown import escape
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
]


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_the_same_characters(text):
    out = _rendered(f"Name: **{escape(text)}** here")
    assert "<img" not in out and "<a " not in out and "<script" not in out
    expected = text.replace("\x00", "").replace("\r\n", " ").replace("\n", " ")
    assert html.escape(expected, quote=False) in out.replace("&quot;", '"')


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
        assert html.escape(text, quote=False) in out.replace("&quot;", '"'), text
