"""What made a prepared dataset: the prepare call's kind, source and options.

The training process prepares the data again from them (:mod:`builder.data.handoff`),
so every prepare function that the app can hand to a worker is decorated here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from builder.json_ready import json_ready


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
            prepared.origin = (kind, source, json_ready(values))
            return prepared

        return wrapper

    return decorate


