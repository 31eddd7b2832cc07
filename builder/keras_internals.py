"""Every use of Keras's private parts, in one place.

Keras 3 has no public way to build a layer without allocating its weights, to change
how a distributed step's results are combined, or to ask which layer made a symbolic
tensor. The few private names this needs are reached only through this module;
tests/test_keras_internals.py fails, naming the missing one, when a Keras upgrade moves
them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def weights_not_allocated() -> Iterator[None]:
    """Inside: layers are built symbolically and their weights are never allocated.

    Keras's StatelessScope defers variable initialisation; the deferred variables are
    then dropped instead of initialised.
    """
    from keras.src.backend.common import global_state
    from keras.src.backend.common.stateless_scope import StatelessScope

    pending = list(global_state.get_global_attribute("uninitialized_variables", []) or [])
    try:
        with StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", pending)


def tensorflow_trainer():
    """Keras's TensorFlow trainer module (its ``reduce_per_replica`` combines a step's
    results across replicas)."""
    from keras.src.backend.tensorflow import trainer

    return trainer


def build_once_from_batch(model, batch) -> None:
    """Build a model's metrics and optimizer state from one local batch (Keras's own
    symbolic build step), and make ``fit`` skip its own build, which would read a
    distributed iterator."""
    model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def producing_layer(tensor):
    """The layer that made a symbolic Keras tensor, or None for another tensor."""
    history = getattr(tensor, "_keras_history", None)
    return history[0] if history is not None else None


def layer_name_of(tensor, fallback: str) -> str:
    """The name of the layer that made ``tensor``; else the tensor's own name without
    TensorFlow's ``/...`` and ``:0`` suffixes; else ``fallback``."""
    layer = producing_layer(tensor)
    if layer is not None:
        return layer.name
    name = getattr(tensor, "name", None)
    return name.split("/")[0].split(":")[0] if name else fallback
