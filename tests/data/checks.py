"""Checks shared by the data tests."""

from __future__ import annotations

import numpy as np


def preprocessing_gap(prepared, split: str) -> float:
    """The largest difference between a split's stored model inputs (what training
    reads) and the preprocessing model fed the split's raw rows (what the exported
    model does); 0 when they agree."""
    x, _ = prepared.arrays(split)
    out = np.asarray(prepared.preprocessing(prepared.raw(split)))
    assert out.shape == x.shape
    return float(np.abs(out - x).max())
