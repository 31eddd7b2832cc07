"""Prepared data, handed to a training process as files: its source and how it was prepared.

A :class:`~builder.data.PreparedData` holds closures (its preprocessing, its batch
mapping), so it cannot travel to another process as it is, and nothing here is
pickled. What travels is what made it: the source (a table as Parquet; images as a
file list, or their pixels as ``.npy``) and the options of the prepare call, as
JSON. The training process prepares the data again from them. Preparation is
deterministic (seeded splits, fixed scaling), so both processes hold the same
splits, classes and scaling.

    write(prepared, folder)        # the app, before it starts a worker
    prepared = read(folder)        # the worker

:class:`builder.data.arrays.InMemoryData` (arrays from a script or a test) travels as its
arrays in one ``.npz`` file.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from builder.data.arrays import InMemoryData

RECIPE_FILE = "data_recipe.json"
TABLE_FILE = "data_source.parquet"
PIXELS_FILE = "data_pixels.npy"
LABELS_FILE = "data_labels.npy"
ARRAYS_FILE = "data_arrays.npz"
FORMAT = 1


class HandoffError(ValueError):
    """The data cannot be written for, or read back by, the training process."""


# -- writing (the app) -----------------------------------------------------------------------


def write(data, folder: str | Path) -> None:
    """Write what a training process needs to prepare ``data`` again into ``folder``.

    Raises:
        HandoffError: the data did not come from a prepare function (or from arrays),
            or its table cannot be stored as Parquet; the message names the fix.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, InMemoryData):
        arrays = {}
        for split in data.splits:
            arrays[f"{split}_x"], arrays[f"{split}_y"] = data.arrays(split)
        np.savez(folder / ARRAYS_FILE, **arrays)
        recipe = {"format": FORMAT, "kind": "arrays", "options": {
            "task": data.task, "num_classes": data.num_classes,
            "class_names": list(data.class_names), "name": data.name}}
    else:
        origin = getattr(data, "origin", None)
        if origin is None:
            raise HandoffError("This data was not made by a prepare function, so a training "
                               "process cannot make it again. Prepare it on the Data page "
                               "(or with builder.data's prepare functions).")
        kind, source, options = origin
        recipe = {"format": FORMAT, "kind": kind, "options": options,
                  "source": _write_source(source, folder)}
    (folder / RECIPE_FILE).write_text(json.dumps(recipe), encoding="utf-8")


def _write_source(source, folder: Path) -> dict:
    from builder.data.columns import TabularSource
    from builder.data.images import ImageSource

    if isinstance(source, pd.DataFrame):
        _write_table(source, folder)
        return {"type": "frame"}
    if isinstance(source, TabularSource):
        _write_table(source.frame, folder)
        return {"type": "table", "name": source.name, "encoding": source.encoding,
                "delimiter": source.delimiter, "notes": list(source.notes),
                "target": list(source.target), "task": source.task, "mode": source.mode,
                "description": source.description,
                "missing": None if source._missing is None else {
                    str(k): int(v) for k, v in source._missing.items()}}
    if isinstance(source, ImageSource):
        meta = {"type": "images", "name": source.name, "class_names": list(source.class_names),
                "files": [[str(path), int(label)] for path, label in source.files],
                "skipped": [[s.name, s.reason] for s in source.skipped],
                "sizes": [[list(size), int(n)] for size, n in source.sizes.items()],
                "modes": [[mode, int(n)] for mode, n in source.modes.items()],
                "empty_classes": list(source.empty_classes),
                "root": None if source.root is None else str(source.root),
                "description": source.description}
        if source.pixels is not None:
            np.save(folder / PIXELS_FILE, np.asarray(source.pixels), allow_pickle=False)
            np.save(folder / LABELS_FILE, np.asarray(source.labels), allow_pickle=False)
            meta["pixels"] = True
        return meta
    raise HandoffError(f"A training process cannot be given data from a "
                       f"{type(source).__name__}; prepare it from a table or images.")


def _write_table(frame: pd.DataFrame, folder: Path) -> None:
    try:
        frame.to_parquet(folder / TABLE_FILE, index=True)
    except (ValueError, TypeError, ImportError) as exc:  # pyarrow refuses mixed columns
        raise HandoffError(f"The table could not be written for the training process "
                           f"({' '.join(str(exc).split())[:200]}). Give each column values "
                           "of one type (all numbers or all text), then prepare it again."
                           ) from exc


# -- reading (the training process) ----------------------------------------------------------


def read(folder: str | Path):
    """Prepare the data again from what :func:`write` left in ``folder``.

    Raises:
        HandoffError: the files are missing or not what :func:`write` writes.
        builder.data.errors.DataError: preparing failed (the source changed on disk).
    """
    folder = Path(folder)
    try:
        recipe = json.loads((folder / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HandoffError(f"The run's data description cannot be read ({exc}). Start a "
                           "new run from the Train page.") from exc
    if not isinstance(recipe, dict) or recipe.get("format") != FORMAT:
        raise HandoffError("The run's data description was written by another version. "
                           "Start a new run from the Train page.")
    kind, options = recipe.get("kind"), dict(recipe.get("options") or {})
    if kind == "arrays":
        return _read_arrays(folder, options)
    if kind not in ("tabular", "timeseries", "images"):
        raise HandoffError(f"The run's data description names an unknown kind {kind!r:.40}. "
                           "Start a new run from the Train page.")
    source = _read_source(recipe.get("source") or {}, folder)
    if kind == "tabular":
        from builder.data.tabular import prepare_tabular

        return prepare_tabular(source, **options)
    if kind == "timeseries":
        from builder.data.timeseries import prepare_timeseries

        return prepare_timeseries(source, **options)
    from builder.data.images import prepare_images

    if options.get("size") is not None:
        options["size"] = tuple(options["size"])
    return prepare_images(source, **options)


def _read_arrays(folder: Path, options: dict):
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as stored:
        splits = {split: (stored[f"{split}_x"], stored[f"{split}_y"])
                  for split in ("train", "validation", "test") if f"{split}_x" in stored}
    return InMemoryData(splits["train"], splits.get("validation"), splits.get("test"),
                        task=options["task"], num_classes=options.get("num_classes"),
                        class_names=options.get("class_names") or (),
                        name=options.get("name") or "arrays")


def _read_source(meta: dict, folder: Path):
    kind = meta.get("type")
    if kind in ("frame", "table"):
        frame = pd.read_parquet(folder / TABLE_FILE)
        if kind == "frame":
            return frame
        from builder.data.columns import TabularSource

        return TabularSource(frame=frame, name=meta["name"], encoding=meta["encoding"],
                             delimiter=meta["delimiter"], notes=list(meta["notes"]),
                             target=list(meta["target"]), task=meta["task"], mode=meta["mode"],
                             description=meta["description"], _missing=meta.get("missing"))
    if kind == "images":
        from builder.data.archive import Skipped
        from builder.data.images import ImageSource

        pixels = labels = None
        if meta.get("pixels"):
            pixels = np.load(folder / PIXELS_FILE, allow_pickle=False)
            labels = np.load(folder / LABELS_FILE, allow_pickle=False)
        return ImageSource(
            name=meta["name"], class_names=list(meta["class_names"]),
            files=[(Path(path), int(label)) for path, label in meta["files"]],
            pixels=pixels, labels=labels,
            skipped=[Skipped(name, reason) for name, reason in meta["skipped"]],
            sizes=Counter({tuple(size): n for size, n in meta["sizes"]}),
            modes=Counter({mode: n for mode, n in meta["modes"]}),
            empty_classes=list(meta["empty_classes"]),
            root=None if meta["root"] is None else Path(meta["root"]),
            description=meta["description"])
    raise HandoffError("The run's data source is missing or of an unknown type. Start a new "
                       "run from the Train page.")
