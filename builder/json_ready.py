"""Python, NumPy and container values as plain JSON data, written once for every caller
(the prepared data's description, its origin, the live chart's curves)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def json_ready(value: Any, *, finite: bool = False, text_fallback: bool = False) -> Any:
    """A copy of ``value`` that ``json.dumps`` takes: mappings become dicts with text keys,
    tuples, lists and arrays become lists, NumPy scalars Python numbers.

    Args:
        finite: NaN and infinity become None (JSON has no NaN; a chart draws a gap).
        text_fallback: any other object becomes its text; otherwise it is kept as it is.
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v, finite=finite, text_fallback=text_fallback)
                for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [json_ready(v, finite=finite, text_fallback=text_fallback) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and finite and not math.isfinite(value):
        return None
    if text_fallback and not (value is None or isinstance(value, (bool, int, float, str))):
        return str(value)
    return value
