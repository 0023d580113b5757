"""Many random calls of the compiled kernels: valid ones must agree with their invariants,
invalid ones must raise InvalidArgumentError, and nothing may crash or read out of bounds.

The raw kernels are called directly (eager, tiny tensors) so that every invalid call goes
through the kernel's own validation. The reference cannot crash (pure TF), so it is not
stressed here.
"""

import time

import numpy as np
import tensorflow as tf

from tests.ops.random_inputs import random_sparse

N_VALID = 10_000
N_INVALID = 1_000


def _random_valid(rng, count):
    """``count`` random (ids, counts, n) triples with garbage in the padding slots."""
    out = []
    for _ in range(count):
        batch, n = int(rng.integers(1, 4)), int(rng.integers(1, 9))
        cap = int(rng.integers(1, n + 1))
        sp = random_sparse(rng, batch, n, cap)
        out.append((sp.ids, sp.counts, n))
    return out


def _corrupt(rng, ids, counts, n):
    """An invalid copy of (ids, counts): one of the rules broken in one row."""
    ids, counts = ids.copy(), counts.copy()
    b = int(rng.integers(0, len(ids)))
    cap = ids.shape[1]
    kind = int(rng.integers(0, 5))
    if kind == 0:  # id out of range in a read slot
        counts[b] = (counts[b, 0], max(counts[b, 1], 1))
        ids[b, int(rng.integers(0, counts[b, 1]))] = int(rng.choice([-1, n, n + 1000, -10 ** 9]))
    elif kind == 1:
        counts[b, 1] = cap + int(rng.integers(1, 5))
    elif kind == 2:
        counts[b, 0] = -int(rng.integers(1, 5))
    elif kind == 3:
        counts[b] = (min(counts[b, 1] + 1, cap + 1), counts[b, 1])
    else:
        counts = np.concatenate([counts, counts[:1]])  # batch mismatch
    return ids, counts


def test_ten_thousand_valid_and_one_thousand_invalid_calls(lib, rng):
    start = time.perf_counter()
    valid = _random_valid(rng, N_VALID)
    ones = {}
    for k, (ids, counts, n) in enumerate(valid):
        batch, cap = ids.shape
        key = (batch, cap, n)
        if key not in ones:
            ones[key] = (tf.ones([n, n], tf.float32), tf.ones([batch, cap], tf.float32),
                         tf.ones([batch, n], tf.float32))
        w, values, g_dense = ones[key]
        y, columns, weights_t = lib.snnlib_sparse_matmul(weights=w, ids=ids, counts=counts,
                                                         values=values)
        dense = lib.snnlib_sparse_to_dense(ids=ids, counts=counts, values=values, n=n)
        np.testing.assert_array_equal(y.numpy()[:, 0], counts[:, 0])
        y_t = lib.snnlib_sparse_matmul_t(weights_t=w, ids=ids, counts=counts, values=values)
        np.testing.assert_array_equal(y_t.numpy(), y.numpy())
        np.testing.assert_array_equal(dense.numpy().sum(axis=1), counts[:, 0])
        if k % 4 == 0:  # the gradient kernels on a quarter of the calls
            grad_inputs = dict(weights=w, ids=ids, counts=counts, grad_y=g_dense, columns=columns,
                               weights_t=weights_t)
            dw = lib.snnlib_sparse_matmul_grad(**grad_inputs)
            gv = lib.snnlib_sparse_matmul_slot_grad(**grad_inputs)
            gd = lib.snnlib_sparse_to_dense_grad(ids=ids, counts=counts, grad_dense=g_dense)
            dv = lib.snnlib_select_spikes_grad(v=g_dense, ids=ids, counts=counts, grad_values=values,
                                               th1=1.0, beta=10.0)
            assert dw.numpy().sum() == n * counts[:, 0].sum()
            rows, _ = lib.snnlib_sparse_matmul_t_grad(weights_t=w, ids=ids, counts=counts,
                                                      grad_y=g_dense)
            gv_t = lib.snnlib_sparse_matmul_t_slot_grad(weights_t=w, ids=ids, counts=counts,
                                                        grad_y=g_dense)
            assert rows.numpy().sum() == n * counts[:, 0].sum()
            np.testing.assert_array_equal(gv_t.numpy(), gv.numpy())
            np.testing.assert_array_equal(gd.numpy().sum(axis=1), counts[:, 1])
            assert dv.shape == (batch, n) and gv.shape == (batch, cap)
    v_all = rng.uniform(0.0, 2.0, size=(N_VALID, 8)).astype(np.float32)
    for k in range(N_VALID):
        n = 1 + k % 8
        cap = 1 + (k // 8) % n
        ids, counts, _, dropped = lib.snnlib_select_spikes(
            v=v_all[k:k + 1, :n], th1=1.0, th2=0.9, beta=10.0, capacity=cap)
        c = counts.numpy()[0]
        assert 0 <= c[0] <= c[1] <= cap and (ids.numpy() >= 0).all() and (ids.numpy() < n).all()
        assert c[0] + dropped.numpy()[0] == (v_all[k, :n] >= 1.0).sum()

    raised = 0
    for ids, counts, n in valid[:N_INVALID]:
        bad_ids, bad_counts = _corrupt(rng, ids, counts, n)
        batch, cap = ids.shape
        calls = [
            lambda: lib.snnlib_sparse_matmul(weights=tf.ones([2, n]), ids=bad_ids,
                                             counts=bad_counts, values=tf.ones([batch, cap])),
            lambda: lib.snnlib_sparse_to_dense(ids=bad_ids, counts=bad_counts,
                                               values=tf.ones([batch, cap]), n=n),
            lambda: lib.snnlib_sparse_matmul_grad(weights=tf.ones([2, n]), ids=bad_ids,
                                                  counts=bad_counts, grad_y=tf.ones([batch, 2]),
                                                  columns=np.arange(n, dtype=np.int32),
                                                  weights_t=tf.ones([n, 2])),
            lambda: lib.snnlib_sparse_to_dense_grad(ids=bad_ids, counts=bad_counts,
                                                    grad_dense=tf.ones([batch, n])),
            lambda: lib.snnlib_sparse_matmul_t(weights_t=tf.ones([n, 2]), ids=bad_ids,
                                               counts=bad_counts, values=tf.ones([batch, cap])),
            lambda: lib.snnlib_sparse_matmul_t_grad(weights_t=tf.ones([n, 2]), ids=bad_ids,
                                                    counts=bad_counts, grad_y=tf.ones([batch, 2])),
            lambda: lib.snnlib_sparse_matmul_t_slot_grad(weights_t=tf.ones([n, 2]), ids=bad_ids,
                                                         counts=bad_counts,
                                                         grad_y=tf.ones([batch, 2])),
            lambda: lib.snnlib_sparse_matmul_slot_grad(weights=tf.ones([2, n]), ids=bad_ids,
                                                       counts=bad_counts,
                                                       grad_y=tf.ones([batch, 2]),
                                                       columns=np.arange(n, dtype=np.int32),
                                                       weights_t=tf.ones([n, 2])),
            lambda: lib.snnlib_select_spikes_grad(v=tf.ones([batch, n]), ids=bad_ids,
                                                  counts=bad_counts,
                                                  grad_values=tf.ones([batch, cap]),
                                                  th1=1.0, beta=10.0),
        ]
        try:
            calls[raised % len(calls)]()
        except tf.errors.InvalidArgumentError:
            raised += 1
        else:
            raise AssertionError(f"invalid input accepted: ids={bad_ids}, counts={bad_counts}, n={n}")
    assert raised == N_INVALID
    assert time.perf_counter() - start < 120  # seconds; a generous bound, not a benchmark
