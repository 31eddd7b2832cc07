"""Session keys are declared once (builder/ui/state.py, or a page's state.Key and widget
prefix), never typed as a bare string where a widget or session_state uses them."""

import ast
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "builder" / "ui"
PAGES = sorted(p for p in UI.glob("*.py"))


def _bare_keys(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "key" and isinstance(keyword.value, ast.Constant):
                    found.append(f"line {node.lineno}: key={keyword.value.value!r}")
        if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                and ast.unparse(node.value).endswith("session_state")):
            found.append(f"line {node.lineno}: session_state[{node.slice.value!r}]")
        if (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("session_state.get")
                and node.args and isinstance(node.args[0], ast.Constant)):
            found.append(f"line {node.lineno}: session_state.get({node.args[0].value!r})")
    return found


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_page_uses_a_bare_string_as_a_session_key(path):
    assert _bare_keys(path) == []


def test_the_check_finds_a_bare_key(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('st.button("Go", key="go")\nst.session_state["x"] = 1\n'
                    'st.session_state.get("y")\n')
    assert len(_bare_keys(page)) == 3
