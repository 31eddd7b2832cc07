"""A table's columns kept once as tensors, and the model inputs of any rows from them.

Prepared CSV data does not hold a copy of the model inputs per split: the raw
numbers, the one-hot positions of the categories and the text word counts are
kept once, in file order, and each split holds row positions only (see
:func:`builder.data.tabular.prepare_tabular`). :meth:`StoredTable.expand` turns a
batch of row positions into model inputs with the preprocessing model's own
formulas. Its TensorFlow function is traced once per table layout in a process,
not once per prepared dataset: preparing the same kind of table again (another
target, another split) builds its tf.data pipeline without tracing anything new.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np


def aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-ordered array at a 64-byte boundary (see :func:`tensor_of`)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    buffer = np.empty(size + 64, np.uint8)
    start = -buffer.ctypes.data % 64
    return buffer[start:start + size].view(dtype).reshape(shape)


def tensor_of(array: np.ndarray):
    """A TensorFlow tensor of ``array``, sharing its memory when it is aligned.

    ``tf.convert_to_tensor`` copies every NumPy array; through DLPack a 64-byte
    aligned, C-contiguous array is taken as it is (TensorFlow requires that
    alignment), which saves a copy of the whole table. The array must not be
    written to afterwards.
    """
    import tensorflow as tf

    if array.flags.c_contiguous and array.ctypes.data % 64 == 0 and array.size:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(array)


@dataclass
class StoredTable:
    """A table's columns, once, in file order, as tensors."""

    numbers: Any  # (numeric + date features, rows) float32 raw values, NaN when missing
    means: Any  # (numeric + date features,) float32
    scales: Any  # max(sqrt(variance), epsilon), as Normalization divides by
    flags: list[int]  # rows of ``numbers`` that get a missing flag
    codes: Any  # (categorical columns, rows) int32 one-hot positions
    depths: list[int]  # one-hot width of each categorical column
    text: Any  # (rows, words) float32 word counts
    rows: int

    def tensors(self) -> dict[str, Any]:
        """The table's tensors by name (those it has), for :meth:`expander`."""
        return {name: getattr(self, name) for name in _TENSORS if getattr(self, name) is not None}

    def expander(self):
        """A function ``(positions, tensors) -> model inputs`` holding no tensor.

        For tf.data: a map function keeps what it captures in reference cycles, so a
        dropped dataset would hold a million-row table until Python's garbage
        collector runs. The pipeline carries :meth:`tensors` along instead (see
        :meth:`builder.data.PreparedData.dataset`), and the table goes when its
        last dataset does.
        """
        layout = {"flags": tuple(self.flags), "depths": tuple(self.depths)}
        empty = self.numbers is None and self.codes is None and self.text is None

        def expand(positions, tensors: dict):
            import tensorflow as tf

            if empty:
                return tf.zeros((tf.shape(positions)[0], 0), tf.float32)
            positions = tf.convert_to_tensor(positions)
            arguments = (positions, *(tensors.get(name) for name in _TENSORS))
            # Traced for any number of rows, so that every later table of this layout
            # (and every batch) reuses the one graph.
            open_rows = tuple(_spec(value, rows_axis=_ROWS_AXIS.get(name))
                              for name, value in zip(("positions", *_TENSORS), arguments))
            function = _expand_rows().get_concrete_function(*open_rows, **layout)
            return function(*arguments, **layout)

        return expand

    def expand(self, positions):
        """The model inputs of the rows at ``positions`` (a 1-D int array or tensor).

        Equal to the preprocessing model fed the raw rows: FillMissing then
        Normalization ((x - mean) / max(sqrt(variance), epsilon), in float32; a
        missing value becomes the mean, so 0), MissingIndicator, StringLookup
        one-hot, TextVectorization multi-hot.
        """
        return self.expander()(positions, self.tensors())

    __call__ = expand


_TENSORS = ("numbers", "means", "scales", "codes", "text")
_ROWS_AXIS = {"positions": 0, "numbers": 1, "codes": 1, "text": 0}


def _spec(value, rows_axis: int | None = None):
    """A TensorSpec of ``value`` with its ``rows_axis`` left open (None stays None)."""
    import tensorflow as tf

    if value is None:
        return None
    shape = list(value.shape)
    if rows_axis is not None:
        shape[rows_axis] = None
    return tf.TensorSpec(shape, value.dtype)


@functools.cache
def _expand_rows():
    """The TensorFlow function behind :meth:`StoredTable.expand` (made once)."""
    import tensorflow as tf

    @tf.function(autograph=False)
    def expand_rows(positions, numbers, means, scales, codes, text, flags, depths):
        parts = []
        if numbers is not None:
            raw = tf.transpose(tf.gather(numbers, positions, axis=1))
            missing = tf.math.is_nan(raw)
            scaled = (raw - means) / scales
            parts.append(tf.where(missing, 0.0, scaled))
            if flags:
                parts.append(tf.cast(tf.gather(missing, list(flags), axis=1), tf.float32))
        if codes is not None:
            picked = tf.unstack(tf.gather(codes, positions, axis=1), num=len(depths))
            parts += [tf.one_hot(column, depth, dtype=tf.float32)
                      for column, depth in zip(picked, depths)]
        if text is not None:
            parts.append(tf.gather(text, positions))
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)

    return expand_rows
