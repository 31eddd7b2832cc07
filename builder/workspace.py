"""The workspace folder: where Neural Canvas keeps its designs, runs and artifacts.

The folder is, in order of precedence: the ``--workspace`` command-line flag, the
``NEURAL_CANVAS_HOME`` environment variable, or ``~/.neural_canvas``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ENV_VAR = "NEURAL_CANVAS_HOME"
DEFAULT_DIRNAME = ".neural_canvas"
FLAG = "--workspace"
STORE_FILENAME = "neural_canvas.sqlite"


class WorkspaceError(ValueError):
    """The workspace folder cannot be used (not a folder, not writable)."""


def flag_value(argv: Sequence[str]) -> str | None:
    """The value of ``--workspace PATH`` or ``--workspace=PATH`` in ``argv``, if given.

    Raises:
        WorkspaceError: the flag is given without a path.
    """
    for i, arg in enumerate(argv):
        if arg == FLAG:
            if i + 1 >= len(argv) or not argv[i + 1] or argv[i + 1].startswith("--"):
                raise WorkspaceError(f"{FLAG} needs a folder, e.g. {FLAG} ~/my_canvas.")
            return argv[i + 1]
        if arg.startswith(FLAG + "="):
            value = arg[len(FLAG) + 1 :]
            if not value:
                raise WorkspaceError(f"{FLAG} needs a folder, e.g. {FLAG}=~/my_canvas.")
            return value
    return None


def resolve(override: str | os.PathLike | None = None,
            environ: Mapping[str, str] | None = None) -> Path:
    """The workspace folder to use, without creating it.

    Args:
        override: a folder given on the command line; wins over everything.
        environ: the environment to read ``NEURAL_CANVAS_HOME`` from (default: os.environ).
    """
    environ = os.environ if environ is None else environ
    chosen = override or environ.get(ENV_VAR) or Path.home() / DEFAULT_DIRNAME
    return Path(chosen).expanduser().resolve()


def ensure(folder: str | os.PathLike) -> Path:
    """Create the workspace folder if needed and check that it can be written.

    Raises:
        WorkspaceError: the path is a file, or the folder cannot be created or written.
    """
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise WorkspaceError(
            f"The workspace {str(path)!r} is a file, not a folder. Set {ENV_VAR} (or {FLAG}) "
            "to a folder."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(
            f"The workspace folder {str(path)!r} cannot be created ({exc.strerror}). Set "
            f"{ENV_VAR} (or {FLAG}) to a folder you can write to."
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise WorkspaceError(
            f"The workspace folder {str(path)!r} is not writable. Set {ENV_VAR} (or {FLAG}) "
            "to a folder you can write to."
        )
    return path


def store_path(folder: str | os.PathLike) -> Path:
    """The SQLite file inside a workspace folder."""
    return Path(folder) / STORE_FILENAME


def set_aside(store_file: str | os.PathLike) -> Path:
    """Move a damaged store file (and SQLite's -wal and -shm beside it) to a dated name in
    the same folder, never deleting it; the next open starts a fresh store.

    Returns:
        The file's new path.

    Raises:
        WorkspaceError: the file cannot be moved.
    """
    path = Path(store_file)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 2
    while target.exists():
        target = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
        number += 1
    try:
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                os.replace(companion, target.with_name(target.name + suffix))
        if path.exists():
            os.replace(path, target)
    except OSError as exc:
        raise WorkspaceError(f"The store {str(path)!r} could not be moved aside "
                             f"({exc.strerror}). Move it away by hand and restart.") from exc
    return target
