"""Binning of events into dense rasters and sparse index lists (snnlib.data.events)."""

import numpy as np
import pytest

from snnlib.data.events import (BinnedSet, bin_events, binned_to_dense, binned_to_sparse,
                                flatten_events)
from snnlib.spikes import sparse_to_dense_np

EV = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


def _events(rows):
    return np.array([tuple(r) for r in rows], dtype=EV)


def test_flatten_uses_x_plus_w_y_plus_wh_p():
    ev = _events([(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 0, 1), (3, 2, 0, 1)])
    np.testing.assert_array_equal(flatten_events(ev, (4, 3, 2)), [1, 4, 12, 3 + 8 + 12])


def test_flatten_skips_axes_of_size_one():
    ev = np.array([(5, 7, 1)], dtype=[("t", int), ("x", int), ("p", int)])
    np.testing.assert_array_equal(flatten_events(ev, (700, 1, 1)), [7])


def test_flatten_rejects_out_of_sensor_address():
    with pytest.raises(ValueError, match="'x' outside"):
        flatten_events(_events([(4, 0, 0, 0)]), (4, 3, 2))


def test_bins_start_at_first_event_and_merge_duplicates():
    t = np.array([500, 900, 1499, 1500, 1500, 2600, 9000])
    ids = np.array([3, 1, 3, 2, 2, 0, 5])
    out_ids, counts = bin_events(t, ids, n_steps=3, dt=1000)
    # bin 0: [500, 1500) -> {1, 3}; bin 1: [1500, 2500) -> {2}; bin 2: [2500, 3500) -> {0}
    np.testing.assert_array_equal(counts, [2, 1, 1])
    np.testing.assert_array_equal(out_ids, [1, 3, 2, 0])


def test_bin_events_validates():
    with pytest.raises(ValueError, match="n_steps"):
        bin_events(np.zeros(1), np.zeros(1, int), n_steps=0)
    with pytest.raises(ValueError, match="dt"):
        bin_events(np.zeros(1), np.zeros(1, int), n_steps=1, dt=0)


def test_sparse_equals_dense_with_enough_capacity(rng):
    t = np.sort(rng.integers(0, 50_000, 2000))
    ids = rng.integers(0, 64, 2000)
    out_ids, counts = bin_events(t, ids, n_steps=40)
    dense = binned_to_dense(out_ids, counts, 64)
    spikes, dropped = binned_to_sparse(out_ids, counts, 64)
    assert dropped == 0
    np.testing.assert_array_equal(sparse_to_dense_np(spikes, 64), dense)
    # the dense raster is exactly the set of (bin, id) pairs of the events in the window
    bins = (t - t[0]) // 1000
    expect = np.zeros((40, 64), np.uint8)
    expect[bins[bins < 40], ids[bins < 40]] = 1
    np.testing.assert_array_equal(dense, expect)


def test_sparse_overflow_keeps_seeded_subset_and_counts_drops():
    ids = np.arange(10, dtype=np.int32)
    counts = np.array([10, 0], np.int32)
    a, dropped = binned_to_sparse(ids, counts, 4, seed=3)
    b, _ = binned_to_sparse(ids, counts, 4, seed=3)
    assert dropped == 6
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.counts, [[4, 4], [0, 0]])
    kept = a.ids[0]
    assert np.all(np.diff(kept) > 0) and set(kept) <= set(range(10))
    others = {tuple(binned_to_sparse(ids, counts, 4, seed=s)[0].ids[0]) for s in range(20)}
    assert len(others) > 1  # the subset is random, not "lowest ids first"


def test_binned_set_subset_and_batch_conversions(rng):
    per_sample = [bin_events(np.sort(rng.integers(0, 5000, 80)), rng.integers(0, 16, 80),
                             n_steps=5) for _ in range(3)]
    ids = np.concatenate([p[0] for p in per_sample])
    counts = np.stack([p[1] for p in per_sample])
    bset = BinnedSet(ids, counts, np.arange(3, dtype=np.int32), counts.sum(1), 16, 1000.0,
                     np.array(["a", "b", "c"]))
    dense = bset.dense()
    assert dense.shape == (3, 5, 16) and dense.dtype == np.uint8
    for k, (i, c) in enumerate(per_sample):
        np.testing.assert_array_equal(dense[k], binned_to_dense(i, c, 16))
    sub = bset.subset([2, 0])
    np.testing.assert_array_equal(sub.dense(), dense[[2, 0]])
    np.testing.assert_array_equal(sub.sample_ids, ["c", "a"])
    spikes, dropped = bset.sparse(16)
    assert spikes.ids.shape == (3, 5, 16) and dropped.shape == (3,) and not dropped.any()
    np.testing.assert_array_equal(sparse_to_dense_np(spikes, 16), dense)
