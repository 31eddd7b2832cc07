"""Text from a design, a file or a model, shown literally inside Markdown.

Streamlit's ``st.markdown`` (and captions, messages, labels) and the export bundle's
README render Markdown: a column named ``![T](http://host/x.png)`` would be fetched
as an image, ``[L](javascript:...)`` drawn as a link, ``<b>`` or ``:red[x]`` styled.
:func:`escape` backslash-escapes every character Markdown or Streamlit's directives
read, and turns line breaks into spaces, so such text shows as it is written.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_\[\]{}()<>#+|~$!:&-])")


def escape(text: object) -> str:
    """``text`` as Markdown that renders to the same characters, on one line."""
    flat = str(text).replace("\x00", "").replace("\r\n", " ").replace("\r", " ") \
        .replace("\n", " ")
    return _SPECIAL.sub(r"\\\1", flat)


def plotly_text(text: object) -> str:
    """``text`` for a Plotly label, legend entry, tick or title, shown as written.

    Plotly reads a few HTML tags in its texts (``<b>``, ``<a href>``, ``<br>``); the
    entities it decodes stand for the characters instead.
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
