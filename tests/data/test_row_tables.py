"""The stored table behind prepared CSV data: model inputs of any rows, one trace."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import tensorflow as tf

from builder.data.row_tables import StoredTable, _expand_rows, aligned_empty, tensor_of
from builder.data.tabular import prepare_tabular


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


def test_a_dropped_prepared_table_frees_its_tensors_without_a_garbage_collection():
    rng = np.random.default_rng(0)
    size = np.where(rng.random(300) < 0.1, np.nan, rng.normal(5, 2, 300))
    frame = pd.DataFrame({"size": size, "colour": rng.choice(["red", "blue", "green"], 300),
                          "label": rng.choice(["yes", "no"], 300)})
    prepared = prepare_tabular(frame, "label", validation=0.2, test=0.2, seed=0)
    x, y = prepared.arrays("train", limit=4)
    first = next(iter(prepared.train))
    np.testing.assert_allclose(first[0].numpy(), x[0], rtol=1e-6)
    batch = next(iter(prepared.batches("train", batch_size=8, shuffle=False)))
    np.testing.assert_allclose(batch[0].numpy()[:4], x, rtol=1e-6)
    np.testing.assert_array_equal(batch[1].numpy()[:4], y)
    table = prepared.x_map
    held = [weakref.ref(tensor) for tensor in table.tensors().values()]
    assert len(held) == 4  # numbers, means, scales, codes
    gc.disable()
    try:
        del prepared, table, first, batch
        assert [ref() for ref in held] == [None] * 4
    finally:
        gc.enable()


def test_a_table_with_no_columns_expands_to_empty_rows():
    table = StoredTable(numbers=None, means=tf.zeros(0), scales=tf.ones(0), flags=[],
                        codes=None, depths=[], text=None, rows=5)
    assert table.expand(np.arange(3, dtype=np.int32)).shape == (3, 0)
