"""The forward pass made visible: every layer's output for one sample.

One sub-model with the chosen layers' outputs as its outputs runs the sample once
(in inference mode, so Dropout and random augmentation stand still), and each
layer's activations come back with a ``kind`` that says how to draw them.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

KINDS = ("feature_maps", "vector", "sequence", "other")


class ActivationError(ValueError):
    """An activation request that cannot be met, with the reason and the fix."""


@dataclass(frozen=True)
class LayerActivation:
    """One layer's output for one sample.

    Attributes:
        name: the layer name (the design's node id).
        layer_type: the Keras class name, e.g. ``"Conv2D"``.
        kind: ``feature_maps`` (height, width, channels), ``vector`` (units),
            ``sequence`` (steps, features) or ``other``.
        values: the activations, without the batch axis.
    """

    name: str
    layer_type: str
    kind: str
    values: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def summary(self) -> dict:
        """Mean, spread and the share of exact zeros (dead ReLU units show up here)."""
        values = self.values.astype(np.float64)
        return {"mean": float(values.mean()), "std": float(values.std()),
                "min": float(values.min()), "max": float(values.max()),
                "zero_fraction": float(np.mean(values == 0))}


def _kind(rank: int) -> str:
    return {3: "feature_maps", 1: "vector", 2: "sequence"}.get(rank, "other")


def layer_names(model) -> list[str]:
    """Layers whose output can be shown, in the model's order (Input layers left out)."""
    import keras

    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            output = layer.output
        except (AttributeError, ValueError):
            continue  # a layer used more than once has no single output
        if not isinstance(output, (list, tuple, dict)):
            names.append(layer.name)
    return names


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _probe(model, names: tuple[str, ...]):
    import keras

    with _LOCK:
        per_model = _CACHE.setdefault(model, {})
        if names not in per_model:
            outputs = [model.get_layer(name).output for name in names]
            per_model[names] = keras.Model(model.inputs[0], outputs)
        return per_model[names]


def layer_activations(model, sample, layers: list[str] | None = None) -> list[LayerActivation]:
    """Run one sample through the model and return the chosen layers' outputs.

    Args:
        model: the trained Keras model (single input).
        sample: one model input, without the batch axis (a batch of one is accepted).
        layers: layer names, in any order; all showable layers when None.

    Raises:
        ActivationError: the sample does not fit the input, or a layer is unknown.
    """
    if len(model.inputs) != 1:
        raise ActivationError(
            f"Activations are shown for models with one Input; this one has "
            f"{len(model.inputs)}. Explore a design with a single Input."
        )
    available = layer_names(model)
    chosen = available if layers is None else list(dict.fromkeys(layers))
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ActivationError(
            f"No layer called {', '.join(repr(u) for u in unknown)} can be shown; the layers "
            f"are {', '.join(available)}."
        )
    if not chosen:
        raise ActivationError("Pick at least one layer to show its activations.")
    expected = tuple(model.inputs[0].shape[1:])
    array = np.asarray(sample)
    if array.ndim == len(expected) + 1 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != len(expected) or any(
            e is not None and e != g for e, g in zip(expected, array.shape)):
        raise ActivationError(
            f"The model takes one sample of shape {tuple(expected)}; got {array.shape}. Pick a "
            "sample from the data the model was trained on."
        )
    dtype = "int32" if "int" in str(model.inputs[0].dtype) else "float32"
    outputs = _probe(model, tuple(chosen))(array[None].astype(dtype), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    result = []
    for name, value in zip(chosen, outputs):
        values = np.asarray(value, dtype=np.float32)[0]
        result.append(LayerActivation(name, type(model.get_layer(name)).__name__,
                                      _kind(values.ndim), values))
    return result
