"""What training reads from prepared data: the TrainingData protocol, split sizes and
the description kept with a run.
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class TrainingData(Protocol):
    """What training needs from prepared data (``builder.data`` provides it).

    ``batches`` yields batched ``(features, target)`` pairs for a split
    ("train", "validation" or "test").
    """

    task: str
    num_classes: int | None

    def batches(self, split: str, batch_size: int, shuffle: bool = False,
                seed: int | None = None): ...

    def describe(self) -> Any: ...


def split_size(data, split: str) -> int:
    """How many samples a split holds (0 when the data has no such split)."""
    size = getattr(data, "size", None)
    if callable(size):
        try:
            return int(size(split))
        except (KeyError, ValueError):
            return 0
    sizes = getattr(data, "sizes", None)
    if isinstance(sizes, dict):
        return int(sizes.get(split, 0) or 0)
    return 0


def describe_data(data) -> dict:
    """The data's description as a JSON-ready mapping, for the run record."""
    describe = getattr(data, "describe", None)
    described = describe() if callable(describe) else {}
    if not isinstance(described, dict):
        described = {"text": str(described)}
    out = json.loads(json.dumps(described, default=str))
    out.setdefault("task", getattr(data, "task", ""))
    out.setdefault("sizes", {s: split_size(data, s) for s in ("train", "validation", "test")})
    return out
