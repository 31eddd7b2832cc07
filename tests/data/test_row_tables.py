"""The stored table behind prepared CSV data: model inputs of any rows, one trace."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from builder.data.row_tables import StoredTable, _expand_rows, aligned_empty, tensor_of


def _table(rows: int, seed: int = 0) -> tuple[StoredTable, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    numbers = rng.normal(3.0, 2.0, (2, rows)).astype(np.float32)
    numbers[1, ::4] = np.nan
    codes = rng.integers(0, 3, (1, rows)).astype(np.int32)
    means = np.array([3.0, 3.0], np.float32)
    scales = np.array([2.0, 2.0], np.float32)
    table = StoredTable(numbers=tensor_of(numbers), means=tf.constant(means),
                        scales=tf.constant(scales), flags=[1], codes=tensor_of(codes),
                        depths=[3], text=None, rows=rows)
    return table, numbers, codes


def test_expand_gives_the_standardised_flagged_one_hot_rows():
    table, numbers, codes = _table(12)
    positions = np.array([5, 0, 4, 11], np.int32)
    got = np.asarray(table.expand(positions))
    raw = numbers[:, positions].T
    missing = np.isnan(raw)
    scaled = np.where(missing, 0.0, (raw - 3.0) / 2.0)
    expected = np.concatenate([scaled, missing[:, [1]].astype(np.float32),
                               np.eye(3, dtype=np.float32)[codes[0, positions]]], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got.shape == (4, 2 + 1 + 3)


def test_tables_of_one_layout_share_one_trace_whatever_their_size():
    _table(50)[0].expand(np.arange(7, dtype=np.int32))
    before = _expand_rows().experimental_get_tracing_count()
    for rows in (30, 300, 3000):
        table = _table(rows, seed=rows)[0]
        table.expand(np.arange(rows, dtype=np.int32))
        dataset = tf.data.Dataset.from_tensor_slices(np.arange(rows, dtype=np.int32))
        batch = next(iter(dataset.batch(16).map(table.expand)))
        assert batch.shape == (16, 6)
    assert _expand_rows().experimental_get_tracing_count() == before


def test_aligned_arrays_are_taken_without_a_copy_and_others_are_copied():
    aligned = aligned_empty((3, 5), np.float32)
    assert aligned.ctypes.data % 64 == 0 and aligned.flags.c_contiguous
    aligned[...] = np.arange(15).reshape(3, 5)
    np.testing.assert_array_equal(np.asarray(tensor_of(aligned)), aligned)
    strided = np.arange(30, dtype=np.float32).reshape(3, 10)[:, ::2]
    np.testing.assert_array_equal(np.asarray(tensor_of(strided)), strided)
