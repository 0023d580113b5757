"""Capacity below the number of active neurons: ordering rule and dropped-spike counter."""

import numpy as np
import pytest
import tensorflow as tf

from snnlib import ops
from snnlib.spikes import SparseSpikes


def test_more_spikes_than_slots_keeps_the_lowest_indices(backend_name):
    v = np.array([[0.95, 1.1, 2.0, 0.2, 1.0, 1.5, 0.91]], np.float32)
    spikes, dropped = ops.select_spikes(v, th1=1.0, th2=0.9, capacity=3, backend=backend_name)
    np.testing.assert_array_equal(spikes.ids.numpy(), [[1, 2, 4]])
    np.testing.assert_array_equal(spikes.counts.numpy(), [[3, 3]])
    np.testing.assert_array_equal(spikes.values.numpy(), [[1, 1, 1]])
    assert dropped.numpy().tolist() == [1]  # neuron 5; candidates 0, 6 are not counted


def test_candidates_fill_the_slots_after_the_spikes(backend_name):
    v = np.array([[0.95, 1.1, 0.3, 0.92, 1.0, 0.5, 0.91]], np.float64)
    spikes, dropped = ops.select_spikes(v, th1=1.0, th2=0.9, capacity=4, backend=backend_name)
    np.testing.assert_array_equal(spikes.ids.numpy(), [[1, 4, 0, 3]])
    np.testing.assert_array_equal(spikes.counts.numpy(), [[2, 4]])
    assert dropped.numpy().tolist() == [0]
    spikes, _ = ops.select_spikes(v, th1=1.0, th2=None, capacity=6, backend=backend_name)
    np.testing.assert_array_equal(spikes.ids.numpy(), [[1, 4, 0, 2, 3, 5]])
    np.testing.assert_array_equal(spikes.counts.numpy(), [[2, 6]])


def test_padding_slots_hold_id_zero_and_value_zero(backend_name):
    v = np.array([[0.1, 1.2, 0.2, 0.3], [0.0, 0.0, 0.0, 0.0]])
    spikes, _ = ops.select_spikes(v, th1=1.0, th2=0.9, capacity=3, backend=backend_name)
    np.testing.assert_array_equal(spikes.ids.numpy(), [[1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(spikes.counts.numpy(), [[1, 1], [0, 0]])
    np.testing.assert_array_equal(spikes.values.numpy(), [[1, 0, 0], [0, 0, 0]])


def test_overflow_over_random_rows_matches_the_rule(backend_name, rng):
    n, s = 50, 6
    v = rng.uniform(0.0, 2.0, size=(200, n))
    spikes, dropped = ops.select_spikes(v, th1=1.0, th2=0.8, capacity=s, backend=backend_name)
    ids, counts = spikes.ids.numpy(), spikes.counts.numpy()
    n_spk = (v >= 1.0).sum(axis=1)
    np.testing.assert_array_equal(counts[:, 0], np.minimum(n_spk, s))
    np.testing.assert_array_equal(dropped.numpy(), n_spk - np.minimum(n_spk, s))
    assert (ids >= 0).all() and (ids < n).all()
    for b in range(len(v)):
        expected = np.flatnonzero(v[b] >= 1.0)[:s]
        np.testing.assert_array_equal(ids[b, :counts[b, 0]], expected)
    # Dense round trip keeps exactly the kept spikes.
    dense = ops.sparse_to_dense(spikes, n, backend=backend_name).numpy()
    np.testing.assert_array_equal(dense.sum(axis=1), counts[:, 0])


def test_dropped_spikes_get_no_gradient(backend_name):
    v = tf.constant([[1.5, 1.2, 1.1, 0.95]], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(v)
        spikes, _ = ops.select_spikes(v, th1=1.0, th2=0.9, capacity=2, backend=backend_name)
        loss = tf.reduce_sum(spikes.values)
    g = tape.gradient(loss, v).numpy()
    assert g[0, 0] > 0 and g[0, 1] > 0 and g[0, 2] == 0 and g[0, 3] == 0


@pytest.mark.parametrize("capacity", [1, 2, 5])
def test_dense_to_sparse_counts_dropped_inputs(backend_name, capacity):
    dense = np.array([[1, 0, 1, 1, 0, 1]], np.float32)
    spikes, dropped = ops.dense_to_sparse(dense, capacity, backend=backend_name)
    kept = min(4, capacity)
    assert isinstance(spikes, SparseSpikes) and spikes.values is None
    np.testing.assert_array_equal(spikes.ids.numpy()[0, :kept], [0, 2, 3, 5][:kept])
    np.testing.assert_array_equal(spikes.counts.numpy(), [[kept, kept]])
    assert dropped.numpy().tolist() == [4 - kept]
