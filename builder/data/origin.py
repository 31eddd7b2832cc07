"""What made a prepared dataset: the prepare call's kind, source and options.

The training process prepares the data again from them (:mod:`builder.data.handoff`),
so every prepare function that the app can hand to a worker is decorated here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def remembered(kind: str) -> Callable:
    """Decorate a prepare function so that its result remembers the call that made it.

    The first argument is the source; the others are kept as JSON-able options in
    ``prepared.origin`` = ``(kind, source, options)``.
    """

    def decorate(prepare: Callable) -> Callable:
        signature = inspect.signature(prepare)

        @functools.wraps(prepare)
        def wrapper(*args, **kwargs):
            prepared = prepare(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
            source = values.pop(next(iter(signature.parameters)))
            prepared.origin = (kind, source, _plain(values))
            return prepared

        return wrapper

    return decorate


def _plain(value: Any) -> Any:
    """JSON-able copy: tuples and other sequences become lists, mappings dicts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
