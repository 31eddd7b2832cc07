"""Text from a design, a file or a model, shown literally inside Markdown.

Streamlit's ``st.markdown`` (and captions, messages, labels) and the export bundle's
README render Markdown: a column named ``![T](http://host/x.png)`` would be fetched
as an image, ``[L](javascript:...)`` drawn as a link, ``<b>`` or ``:red[x]`` styled.
:func:`escape` backslash-escapes every character Markdown or Streamlit's directives
read, and turns line breaks into spaces, so such text shows as it is written.

Streamlit's Markdown also makes links of bare web and mail addresses
(``http://host/x``, ``www.host``, ``a@host``) in plain text, which no backslash
prevents; :func:`escape` puts an invisible word joiner (U+2060) into each such address,
where the link finder stops reading it.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_\[\]{}()<>#+|~$!:&-])")
WORD_JOINER = "\u2060"
# After "scheme:" before "//", after "www" before ".", after "@": where an address starts.
_ADDRESS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def escape(text: object) -> str:
    """``text`` as Markdown that renders to the same characters, on one line (those of
    :func:`shown`)."""
    return _SPECIAL.sub(r"\\\1", shown(text))


def shown(text: object) -> str:
    """The characters :func:`escape` makes ``text`` show as: NUL dropped, line breaks as
    spaces, a word joiner in each web or mail address."""
    flat = str(text).replace("\x00", "").replace("\r\n", " ").replace("\r", " ") \
        .replace("\n", " ")
    return _ADDRESS.sub(WORD_JOINER, flat)


def plotly_text(text: object) -> str:
    """``text`` for a Plotly label, legend entry, tick or title, shown as written.

    Plotly reads a few HTML tags in its texts (``<b>``, ``<a href>``, ``<br>``); the
    entities it decodes stand for the characters instead.
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
