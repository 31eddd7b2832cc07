"""One converter to plain JSON data, with its two options."""

import json
import math
from pathlib import Path

import numpy as np

from builder.json_ready import json_ready


def test_containers_and_numpy_become_plain_json():
    value = {1: (np.float32(0.5), np.arange(3)), "m": {"k": [np.int64(2)]}}
    assert json_ready(value) == {"1": [0.5, [0, 1, 2]], "m": {"k": [2]}}
    json.dumps(json_ready(value), allow_nan=False)


def test_finite_turns_nan_and_infinity_into_gaps():
    values = [1.0, math.nan, np.float64(np.inf), np.array([np.nan, 2.0])]
    assert json_ready(values, finite=True) == [1.0, None, None, [None, 2.0]]
    assert math.isnan(json_ready(values)[1])


def test_other_objects_stay_or_become_text():
    path = Path("a/b")
    assert json_ready({"p": path}) == {"p": path}
    assert json_ready({"p": path}, text_fallback=True) == {"p": "a/b"}
