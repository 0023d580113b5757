"""Op-level timing: the sparse matmul against the dense ``tf.matmul`` (forward + backward).

Both sides compute, inside one ``tf.function`` each and in the same run,

    forward   y = spikes W^T                                    [B, out]
    backward  dL/dW [out, in] and dL/d(spikes)                  given dL/dy [B, out]

where the dense side multiplies a dense 0/1 matrix ``x [B, in]`` (gradient w.r.t. ``x``) and
the sparse side uses :func:`snnlib.ops.sparse_matmul` on ``SparseSpikes`` with ``S`` slots
(gradient w.r.t. the slot ``values``). Every row holds exactly ``S = ceil(activity * in)``
spikes at random distinct positions.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import tensorflow as tf

from snnlib import ops
from snnlib.spikes import SparseSpikes


def _median_ms(fn, args, repeats: int, inner: int) -> float:
    fn(*args)  # warm-up: trace and first run
    fn(*args)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            out = fn(*args)
        _ = [t.numpy() for t in out]
        samples.append((time.perf_counter() - start) / inner * 1e3)
    return statistics.median(samples)


def time_sparse_matmul_vs_dense(activities=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5), batch=48,
                                n_in=1024, n_out=1024, repeats: int = 7, inner: int = 20,
                                seed: int = 0, dtype=tf.float32, backend: str | None = None):
    """Median time of forward + backward of ``sparse_matmul`` and of dense ``tf.matmul``.

    Args:
        activities: fractions of active inputs per sample; ``S = ceil(activity * n_in)``.
        batch, n_in, n_out: problem size; weights are ``(n_out, n_in)``.
        repeats: timed repeats (the median is reported), each of ``inner`` calls.
        seed: NumPy seed of the weights and spike positions.
        dtype: float32 or float64.
        backend: the :mod:`snnlib.ops` backend (``None``: the default).

    Returns:
        A list of dicts with keys ``activity``, ``capacity``, ``sparse_ms``, ``dense_ms``,
        ``speedup`` (dense / sparse) and ``backend``.
    """
    rng = np.random.default_rng(seed)
    used = backend or ops.backend()
    w = tf.constant(rng.normal(0.0, 0.05, size=(n_out, n_in)), dtype)
    g = tf.constant(rng.normal(size=(batch, n_out)), dtype)

    @tf.function
    def sparse_step(weights, ids, counts, values, grad_y):
        with tf.GradientTape() as tape:
            tape.watch([weights, values])
            y = ops.sparse_matmul(weights, SparseSpikes(ids, counts, values), backend=backend)
        return [y, *tape.gradient(y, [weights, values], output_gradients=grad_y)]

    @tf.function
    def dense_step(weights, x, grad_y):
        with tf.GradientTape() as tape:
            tape.watch([weights, x])
            y = tf.matmul(x, weights, transpose_b=True)
        return [y, *tape.gradient(y, [weights, x], output_gradients=grad_y)]

    results = []
    for activity in activities:
        cap = max(1, min(n_in, math.ceil(activity * n_in)))
        ids = np.stack([np.sort(rng.permutation(n_in)[:cap]) for _ in range(batch)]).astype(np.int32)
        counts = np.full((batch, 2), cap, np.int32)
        x = np.zeros((batch, n_in))
        np.put_along_axis(x, ids, 1.0, axis=1)
        sparse_args = (w, tf.constant(ids), tf.constant(counts), tf.ones([batch, cap], dtype), g)
        dense_args = (w, tf.constant(x, dtype), g)
        sparse_ms = _median_ms(sparse_step, sparse_args, repeats, inner)
        dense_ms = _median_ms(dense_step, dense_args, repeats, inner)
        results.append(dict(activity=activity, capacity=cap, sparse_ms=sparse_ms,
                            dense_ms=dense_ms, speedup=dense_ms / sparse_ms, backend=used))
    return results
