"""Checkpoints: the weights and optimizer state after every epoch (and the best
epoch's weights), so that a run cut short resumes where it was.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from builder.train.settings import TrainingError

CHECKPOINT_FILE = "checkpoint.npz"
CHECKPOINT_INFO = "checkpoint.json"
BEST_FILE = "best_weights.npz"  # keep_best: the best epoch's weights, across sessions
BEST_INFO = "best_weights.json"


def _variables(model) -> tuple[list, list]:
    optimizer = getattr(model, "optimizer", None)
    return list(model.weights), list(optimizer.variables) if optimizer is not None else []


def _relative_path(variable) -> str:
    # Model and optimizer names get numbered when built twice in one process
    # ("model_1/dense/kernel"); the part after the first "/" is stable.
    path = getattr(variable, "path", "") or getattr(variable, "name", "")
    return path.split("/", 1)[-1]


def snapshot_state(model) -> dict[str, np.ndarray]:
    """The model's weights and optimizer state as NumPy arrays (fast; no I/O)."""
    weights, optimizer_vars = _variables(model)
    arrays = {}
    for i, variable in enumerate(weights):
        arrays[f"w{i:05d}"] = np.asarray(variable.numpy())
    for i, variable in enumerate(optimizer_vars):
        arrays[f"o{i:05d}"] = np.asarray(variable.numpy())
    return arrays


def write_checkpoint(folder: Path, arrays: dict[str, np.ndarray], info: dict) -> Path:
    """Write a checkpoint atomically: the arrays, then the JSON that names its epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CHECKPOINT_FILE
    temporary = folder / f".{CHECKPOINT_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(temporary, target)
    info_temporary = folder / f".{CHECKPOINT_INFO}.tmp"
    info_temporary.write_text(json.dumps(info), encoding="utf-8")
    os.replace(info_temporary, folder / CHECKPOINT_INFO)
    return target


def read_checkpoint_info(folder: str | os.PathLike) -> dict | None:
    """The checkpoint's description (``epochs_done`` ...), or None when there is none."""
    path = Path(folder) / CHECKPOINT_INFO
    if not path.is_file() or not (Path(folder) / CHECKPOINT_FILE).is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def restore_checkpoint(model, folder: str | os.PathLike) -> dict:
    """Load weights and optimizer state written by :func:`write_checkpoint`.

    The model must be compiled with the same design and settings; the optimizer is
    built here if it has not been yet.

    Raises:
        TrainingError: the checkpoint is missing, damaged, or of another design.
    """
    folder = Path(folder)
    info = read_checkpoint_info(folder)
    if info is None:
        raise TrainingError(f"There is no checkpoint in {folder}. Start a new run instead.")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    weights, optimizer_vars = _variables(model)
    try:
        with np.load(folder / CHECKPOINT_FILE, allow_pickle=False) as stored:
            arrays = {k: stored[k] for k in stored.files}
    except (OSError, ValueError) as exc:
        raise TrainingError(f"The checkpoint in {folder} cannot be read ({exc}). Start a new "
                            "run instead.") from exc
    paths = info.get("paths", {})
    for prefix, variables in (("w", weights), ("o", optimizer_vars)):
        names = sorted(k for k in arrays if k.startswith(prefix))
        if len(names) != len(variables):
            raise TrainingError(
                "The checkpoint does not match this design and these settings (it holds "
                f"{len(names)} {'weights' if prefix == 'w' else 'optimizer values'}, the model "
                f"has {len(variables)}). Resume with the design the run started with.")
        for name, variable in zip(names, variables):
            array = arrays[name]
            expected = paths.get(name)
            if tuple(array.shape) != tuple(variable.shape) or (
                    expected is not None and prefix == "w"
                    and expected != _relative_path(variable)):
                raise TrainingError(
                    f"The checkpoint's {expected or name} does not fit the model's "
                    f"{_relative_path(variable)} {tuple(variable.shape)}. Resume with the design "
                    "the run started with.")
            variable.assign(array)
    return info


class _CheckpointWriter:
    """Writes checkpoints in a background thread, so training does not wait for disk."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: Future | None = None
        self.last: Path | None = None

    def save(self, model, epochs_done: int) -> None:
        arrays = snapshot_state(model)
        weights, _ = _variables(model)
        info = {"epochs_done": int(epochs_done), "saved_at": time.time(),
                "paths": {f"w{i:05d}": _relative_path(v) for i, v in enumerate(weights)}}
        self._wait()
        self._pending = self._pool.submit(write_checkpoint, self.folder, arrays, info)

    def _wait(self) -> None:
        if self._pending is not None:
            self.last = self._pending.result()
            self._pending = None

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
