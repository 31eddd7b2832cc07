"""An autoencoder's code space: what the bottleneck makes of each sample.

An autoencoder squeezes its input through a narrow layer, the bottleneck, and
rebuilds it from there; what that layer outputs is the sample's *code*. When the
code has two numbers, every sample is a point on a plane, and colouring the
points by the labels the data had (kept beside reconstruction data, never used
in training) shows whether the network sorted the samples by kind on its own.

``find_bottleneck`` picks the layer: the one named ``code`` (the node id a
template gives it) when there is one, otherwise the narrowest layer between the
input and the output. ``code_space`` runs a sub-model from the input to that
layer over a split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

CODE_NAMES = ("code", "bottleneck", "latent")
DEFAULT_LIMIT = 2000


class CodeError(ValueError):
    """The code space cannot be shown; the message says why and what to do."""


@dataclass
class CodeSpace:
    """The codes of (the first samples of) one split.

    Attributes:
        layer: the bottleneck layer's name (the design's node id).
        codes: ``(n, size)``: each sample's code, flattened.
        shape: the layer's output shape without the batch.
        labels: ``(n,)`` class ids the samples had (unused by training), or None.
        label_names: one name per class id.
        split: which split.
    """

    layer: str
    codes: np.ndarray
    shape: tuple[int, ...]
    labels: np.ndarray | None = None
    label_names: list[str] = field(default_factory=list)
    split: str = "validation"

    @property
    def size(self) -> int:
        """Numbers per code."""
        return int(self.codes.shape[1])

    @property
    def is_2d(self) -> bool:
        return self.size == 2


def _size(shape) -> int | None:
    dims = list(shape)[1:]
    if any(d is None for d in dims):
        return None
    return int(math.prod(dims)) if dims else 1


def find_bottleneck(model) -> str:
    """The name of the model's bottleneck layer.

    A layer named ``code``, ``bottleneck`` or ``latent`` wins; otherwise the layer
    with the fewest output numbers per sample, not counting the input and output
    layers (the earliest of equals, so a Dense code beats the Reshape after it).

    Raises:
        CodeError: the model has no layer between its input and output, or
            several inputs or outputs.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CodeError(
            f"The model has {len(model.inputs)} input(s) and {len(model.outputs)} output(s); a "
            "code space needs an autoencoder with one of each."
        )
    import keras

    inner = [layer for layer in model.layers
             if not isinstance(layer, keras.layers.InputLayer)
             and not any(layer.output is tensor for tensor in model.outputs)]
    for name in CODE_NAMES:
        for layer in inner:
            if layer.name == name:
                return layer.name
    sized = [(size, index, layer.name) for index, layer in enumerate(inner)
             if (size := _size(layer.output.shape)) is not None]
    if not sized:
        raise CodeError(
            "The model has no layer between its input and its output, so it has no bottleneck "
            "to show. Give the autoencoder an encoder that narrows to a code."
        )
    return min(sized)[2]


def encode(model, x: np.ndarray, layer: str | None = None, batch_size: int = 256) -> np.ndarray:
    """The codes of ``x``: the bottleneck layer's outputs, flattened to ``(n, size)``.

    Raises:
        CodeError: there is no layer of that name.
    """
    import keras

    name = layer or find_bottleneck(model)
    try:
        target = model.get_layer(name)
    except ValueError as exc:
        raise CodeError(f"The model has no layer named {name!r}. Choose one of: "
                        f"{', '.join(lay.name for lay in model.layers)}.") from exc
    encoder = keras.Model(model.inputs, target.output, name=f"{model.name}_encoder")
    codes = np.asarray(encoder.predict(np.asarray(x), batch_size=batch_size, verbose=0))
    return codes.reshape(len(codes), -1)


def code_space(model, prepared, split: str = "validation", limit: int | None = DEFAULT_LIMIT,
               layer: str | None = None) -> CodeSpace:
    """The codes of a split's samples, with the labels kept beside the data.

    Raises:
        CodeError: the data is not for reconstruction, the split is empty or
            unknown, or the model has no bottleneck.
    """
    if prepared.task != "reconstruction":
        raise CodeError(
            f"A code space belongs to an autoencoder trained to reconstruct its input; this data "
            f"is for {prepared.task}. Prepare the data with the task Reconstruct."
        )
    if split not in prepared.splits or len(prepared.splits[split]) == 0:
        raise CodeError(f"The {split} split is empty or missing. Choose another split.")
    name = layer or find_bottleneck(model)
    x, _ = prepared.arrays(split, limit)
    codes = encode(model, x, name)
    labels = prepared.splits[split].labels
    if labels is not None:
        labels = np.asarray(labels)[:len(codes)].astype(np.int64)
    names = [str(n) for n in prepared.info.get("label_names", [])]
    shape = tuple(int(d) for d in model.get_layer(name).output.shape[1:])
    return CodeSpace(name, codes, shape, labels, names, split)


__all__ = ["CODE_NAMES", "CodeError", "CodeSpace", "code_space", "encode", "find_bottleneck"]
