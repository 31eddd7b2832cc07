"""Building the canvas's JavaScript: when it is rebuilt, and what is said when it cannot be."""

import os
import shutil

import pytest

from builder.ui import canvas_build


@pytest.fixture
def frontend(tmp_path, monkeypatch):
    folder = tmp_path / "canvas_frontend"
    (folder / "src").mkdir(parents=True)
    for name in canvas_build.SOURCE_FILES:
        (folder / name).write_text("{}")
    (folder / "src" / "Canvas.jsx").write_text("export default 1;")
    monkeypatch.setattr(canvas_build, "FRONTEND", folder)
    monkeypatch.setattr(canvas_build, "BUILD", folder / "build")
    return folder


def test_missing_or_older_built_files_are_stale(frontend):
    assert canvas_build.is_stale()  # nothing built yet
    (frontend / "build").mkdir()
    for name in canvas_build.BUILT_FILES:
        (frontend / "build" / name).write_text("built")
    source = frontend / "src" / "Canvas.jsx"
    built = (frontend / "build" / "index.js").stat().st_mtime
    os.utime(source, (built - 10, built - 10))
    for name in canvas_build.SOURCE_FILES:
        os.utime(frontend / name, (built - 10, built - 10))
    assert not canvas_build.is_stale()
    os.utime(source, (built + 10, built + 10))  # a source edited after the build
    assert canvas_build.is_stale()


def test_no_node_anywhere_says_what_to_do(monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(canvas_build, "_wheel_node_dir", lambda: None)
    with pytest.raises(canvas_build.CanvasBuildError, match="needs Node 20.19 or newer"):
        canvas_build.find_node(install=False)


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on this PATH")
def test_a_suitable_node_on_the_path_is_used():
    folder = canvas_build.find_node(install=False)
    assert (folder / "node").exists() or shutil.which("node", path=str(folder))
