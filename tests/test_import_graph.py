"""The package's imports flow one way (issue 17): canvas JSON -> Design -> analysis ->
model -> training -> explain / export, with the pages on top. Lazy imports inside
functions count too: they are cycles all the same, only deferred.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "builder"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _package_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_module_of_the_package_imports_itself_through_others():
    graph = _graph()
    # A package's __init__ importing its own submodule is how packages work; a submodule
    # importing its package's __init__ for shared names is not a cycle of jobs.
    for name in graph:
        graph[name] = {t for t in graph[name]
                       if t not in _package_parents(name) and name not in _package_parents(t)}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _edges_from(prefix: str, graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(source, target) for source, targets in graph.items()
            if source == prefix or source.startswith(prefix + ".") for target in targets}


def _into(edges, *prefixes: str) -> set[tuple[str, str]]:
    return {(s, t) for s, t in edges
            if any(t == p or t.startswith(p + ".") for p in prefixes)}


def test_data_preparation_knows_nothing_of_training_exploring_or_pages():
    edges = _edges_from("builder.data", _graph())
    assert _into(edges, "builder.train", "builder.jobs", "builder.worker", "builder.explain",
                 "builder.export", "builder.ui") == set()


def test_training_does_not_reach_into_the_explainers():
    graph = _graph()
    edges = _edges_from("builder.train", graph) | _edges_from("builder.worker", graph)
    assert _into(edges, "builder.explain", "builder.ui") == set()


def test_no_page_imports_another_page():
    graph = _graph()
    pages = {name for name in graph if name.startswith("builder.ui.") and name.endswith("_page")}
    assert {(page, target) for page in pages for target in graph[page] if target in pages} == set()


def test_the_engine_knows_nothing_of_streamlit():
    """builder/ outside builder/ui/ never imports Streamlit (design.md)."""
    found = []
    for name, path in _modules().items():
        if name.startswith("builder.ui"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                       else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            found += [(name, m) for m in modules if m.split(".")[0] == "streamlit"]
    assert found == []


def test_the_csv_and_archive_helpers_load_without_tensorflow():
    """builder/data/__init__.py promises it: reading a CSV or listing a zip is cheap."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "import builder.data.csv_reading, builder.data.columns, builder.data.archive\n"
             "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "[]"
