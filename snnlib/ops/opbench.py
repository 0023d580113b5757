"""Op-level timing: the sparse matmul against the dense ``tf.matmul`` (forward + backward).

Both sides compute, in the same run,

    forward   y = spikes W^T                                    [B, out]
    backward  dL/dW [out, in] and dL/d(spikes)                  given dL/dy [B, out]

where the dense side multiplies a dense 0/1 matrix ``x [B, in]`` (gradient w.r.t. ``x``) and
the sparse side uses :func:`snnlib.ops.sparse_matmul` on ``SparseSpikes`` with ``S`` slots
(gradient w.r.t. the slot ``values``), once with ``W [out, in]`` (dense ``dW``) and once with
``W^T [in, out]`` (``weights_layout="in_out"``: row-sparse ``dW``, the ``sparse_t`` keys).
Every row holds exactly ``S = ceil(activity * in)`` spikes at random distinct positions.

Two timings per side, both medians over repeats that alternate between the sides:

* **per call**: one ``tf.function`` call per forward + backward, as a Python training loop
  would issue it (includes TensorFlow's per-call dispatch and output allocation, measured at
  about 0.25-0.3 ms for the sparse side here);
* **in graph**: ``steps`` forward + backward passes inside one ``tf.function``
  (``tf.while_loop``), step ``k`` on input set ``k mod sets`` with its own ``dL/dy``, so nothing
  is loop-invariant and the caches see rotating inputs. This is the op's own steady-state cost
  inside a compiled loop. The first passes after other work run on colder caches: the sparse
  side's in-graph time at 1 % grows by about half when ``steps`` drops from 50 to 20 (the
  dense side is compute-bound and does not move), so the two timings bracket the op's cost.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import tensorflow as tf

from snnlib import ops
from snnlib.spikes import SparseSpikes


def _sparse_step(weights, ids, counts, values, grad_y, backend, layout="out_in"):
    with tf.GradientTape() as tape:
        tape.watch([weights, values])
        y = ops.sparse_matmul(weights, SparseSpikes(ids, counts, values), weights_layout=layout,
                              backend=backend)
    grad_w, grad_values = tape.gradient(y, [weights, values], output_gradients=grad_y)
    if isinstance(grad_w, tf.IndexedSlices):  # in_out: the rows of the spiking inputs
        return [y, grad_w.values, grad_w.indices, grad_values]
    return [y, grad_w, grad_values]


def _dense_step(weights, x, grad_y):
    with tf.GradientTape() as tape:
        tape.watch([weights, x])
        y = tf.matmul(x, weights, transpose_b=True)
    return [y, *tape.gradient(y, [weights, x], output_gradients=grad_y)]


def _in_graph(step, steps: int, sets: int):
    """``fn(weights, *stacked)``: ``steps`` calls of ``step(weights, *stacked[k % sets])``."""

    @tf.function
    def run(weights, *stacked):
        def body(k, acc):
            outs = step(weights, *[t[k % sets] for t in stacked])
            firsts = [tf.cast(tf.reduce_sum(tf.reshape(o, [-1])[:1]), weights.dtype) for o in outs]
            return k + 1, acc + tf.add_n(firsts)

        return tf.while_loop(lambda k, _: k < steps, body, (0, tf.zeros([], weights.dtype)))[1]

    return run


def _median_ms(cases, repeats: int):
    """Median ms per step of each ``(fn, args, steps_per_call, calls)``, repeats interleaved."""
    for fn, args, _, _ in cases:  # warm-up: trace and first runs
        fn(*args)
        fn(*args)
    samples = [[] for _ in cases]
    for _ in range(repeats):
        for k, (fn, args, per_call, calls) in enumerate(cases):
            start = time.perf_counter()
            for _ in range(calls):
                out = fn(*args)
            tf.nest.map_structure(lambda t: t.numpy(), out)
            samples[k].append((time.perf_counter() - start) / (calls * per_call) * 1e3)
    return [statistics.median(s) for s in samples]


def time_sparse_matmul_vs_dense(activities=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5), batch=48,
                                n_in=1024, n_out=1024, repeats: int = 7, inner: int = 20,
                                steps: int = 50, sets: int = 4, seed: int = 0,
                                dtype=tf.float32, backend: str | None = None):
    """Median time of forward + backward of ``sparse_matmul`` and of dense ``tf.matmul``.

    Args:
        activities: fractions of active inputs per sample; ``S = ceil(activity * n_in)``.
        batch, n_in, n_out: problem size; weights are ``(n_out, n_in)``.
        repeats: timed repeats (the median is reported); per call: ``inner`` calls each.
        steps: forward + backward passes per call of the in-graph loop.
        sets: distinct input sets (spikes and ``dL/dy``) the in-graph loop rotates through.
        seed: NumPy seed of the weights, spike positions and output gradients.
        dtype: float32 or float64.
        backend: the :mod:`snnlib.ops` backend (``None``: the default).

    Returns:
        A list of dicts with keys ``activity``, ``capacity``, ``backend``, and per call
        ``sparse_ms``, ``dense_ms``, ``speedup`` (dense / sparse), in graph
        ``sparse_graph_ms``, ``dense_graph_ms``, ``speedup_graph``; the same for the transposed
        layout: ``sparse_t_ms``, ``speedup_t``, ``sparse_t_graph_ms``, ``speedup_t_graph``.
    """
    if steps < 1 or sets < 1 or repeats < 1 or inner < 1:
        raise ValueError(f"repeats, inner, steps and sets must be >= 1; got {repeats}, {inner}, "
                         f"{steps}, {sets}")
    rng = np.random.default_rng(seed)
    used = backend or ops.backend()
    w = tf.constant(rng.normal(0.0, 0.05, size=(n_out, n_in)), dtype)
    grads = tf.constant(rng.normal(size=(sets, batch, n_out)), dtype)
    w_t = tf.transpose(w)
    sparse_call = tf.function(lambda *a: _sparse_step(*a, backend))
    sparse_t_call = tf.function(lambda *a: _sparse_step(*a, backend, "in_out"))
    dense_call = tf.function(_dense_step)
    sparse_loop = _in_graph(lambda wt, *a: _sparse_step(wt, *a, backend), steps, sets)
    sparse_t_loop = _in_graph(lambda wt, *a: _sparse_step(wt, *a, backend, "in_out"), steps, sets)
    dense_loop = _in_graph(_dense_step, steps, sets)
    results = []
    for activity in activities:
        cap = max(1, min(n_in, math.ceil(activity * n_in)))
        ids = np.stack([np.sort(rng.permutation(n_in)[:cap]) for _ in range(sets * batch)])
        ids = ids.astype(np.int32).reshape(sets, batch, cap)
        x = np.zeros((sets, batch, n_in))
        np.put_along_axis(x, ids, 1.0, axis=2)
        ids, x = tf.constant(ids), tf.constant(x, dtype)
        counts = tf.fill([sets, batch, 2], cap)
        values = tf.ones([sets, batch, cap], dtype)
        times = _median_ms([
            (sparse_call, (w, ids[0], counts[0], values[0], grads[0]), 1, inner),
            (sparse_t_call, (w_t, ids[0], counts[0], values[0], grads[0]), 1, inner),
            (dense_call, (w, x[0], grads[0]), 1, inner),
            (sparse_loop, (w, ids, counts, values, grads), steps, 1),
            (sparse_t_loop, (w_t, ids, counts, values, grads), steps, 1),
            (dense_loop, (w, x, grads), steps, 1),
        ], repeats)
        sparse_ms, sparse_t_ms, dense_ms, sparse_graph_ms, sparse_t_graph_ms, dense_graph_ms = times
        results.append(dict(activity=activity, capacity=cap, backend=used,
                            sparse_ms=sparse_ms, dense_ms=dense_ms, speedup=dense_ms / sparse_ms,
                            sparse_graph_ms=sparse_graph_ms, dense_graph_ms=dense_graph_ms,
                            speedup_graph=dense_graph_ms / sparse_graph_ms,
                            sparse_t_ms=sparse_t_ms, speedup_t=dense_ms / sparse_t_ms,
                            sparse_t_graph_ms=sparse_t_graph_ms,
                            speedup_t_graph=dense_graph_ms / sparse_t_graph_ms))
    return results
