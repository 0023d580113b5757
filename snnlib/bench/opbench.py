"""Op-level timing: the sparse matmul against the dense ``tf.matmul`` (forward + backward).

Both sides compute, in the same run,

    forward   y = spikes W                                      [B, out]
    backward  dL/dW [in, out] and dL/d(spikes)                  given dL/dy [B, out]

where the dense side multiplies a dense 0/1 matrix ``x [B, in]`` (gradient w.r.t. ``x``) and
the sparse side uses :func:`snnlib.ops.sparse_matmul` on ``SparseSpikes`` with ``S`` slots
(gradient w.r.t. the slot ``values``), once with ``W [in, out]`` (the default layout of every
network: a spike reads one contiguous row and ``dW`` is row-sparse; the ``sparse`` keys) and
once with the conversion path ``W^T [out, in]`` (``weights_layout="out_in"``: the op reads all
of ``W^T`` and writes a dense ``dW``; the ``sparse_oi`` keys).
Every row holds exactly ``S = ceil(activity * in)`` spikes at random distinct positions.

Timings per side, all medians over repeats that alternate between the sides:

* **per call**: one ``tf.function`` call per forward + backward, as a Python training loop
  would issue it. It includes TensorFlow's per-call dispatch: ``call_ms`` times a call of the
  same arguments that does nothing (returns a slice of each), so ``dense_ms / call_ms`` bounds
  the per-call speed-up of *any* kernel;
* **in graph**: ``steps`` forward + backward passes inside one ``tf.function``
  (``tf.while_loop``), pass ``k`` on input set ``k mod sets`` with its own ``dL/dy``, so nothing
  is loop-invariant and the caches see rotating inputs; each pass's outputs are the loop
  variables (nothing is pruned, no op consumes them). This is the op's steady-state cost inside
  a compiled loop, plus the loop's own cost per pass, reported as ``loop_ms`` (the same loop
  around a step that only slices its inputs; about 0.02 ms here). Both sides pay it.

(Unrolling the passes instead does not work: Grappler turns passes whose outputs are consumed
only by control dependencies into no-ops, and returning every pass's outputs keeps them all
alive at once, which defeats buffer reuse.)

The dense baseline depends on TensorFlow's threading: on a 2-core machine, dense forward +
backward ran about 1.7x faster with one intra-op thread (the backward's two independent
matmuls then run side by side on the two cores instead of contending for a 2-thread pool).
Threads are fixed when TensorFlow starts, so :func:`time_against_fastest_dense` runs the
benchmark once per setting, each in a fresh process, and reports the run whose dense side was
fastest; its speed-ups are measured within that one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from snnlib import ops
from snnlib.atomic import write_atomic
from snnlib.spikes import SparseSpikes


def _sparse_step(weights, ids, counts, values, grad_y, backend, layout="in_out"):
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
        y = tf.matmul(x, weights)
    return [y, *tape.gradient(y, [weights, x], output_gradients=grad_y)]


def _in_graph(step, steps: int, sets: int):
    """``fn(weights, *stacked)``: ``steps`` calls of ``step(weights, *stacked[k % sets])`` in a
    ``tf.while_loop``; each call's outputs are the loop variables (so nothing is pruned and no
    op consumes them), the last call's are returned."""

    @tf.function
    def run(weights, *stacked):
        first = step(weights, *[t[0] for t in stacked])

        def body(k, *_):
            return (k + 1, *step(weights, *[t[k % sets] for t in stacked]))

        shapes = [tf.TensorShape([None] * o.shape.rank) for o in first]  # rows vary per set
        return tf.while_loop(lambda k, *_: k < steps, body, (tf.constant(1), *first),
                             shape_invariants=(tf.TensorShape([]), *shapes))[1:]

    return run


def _do_nothing(*args):
    return [tf.reshape(a, [-1])[:1] for a in args]  # one slice per input


def thread_settings() -> dict:
    """TensorFlow's intra- and inter-op pool sizes in this process (0: TensorFlow's default)."""
    return dict(intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
                inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads())


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
                                steps: int = 48, sets: int = 4, seed: int = 0,
                                dtype=tf.float32, backend: str | None = None):
    """Median time of forward + backward of ``sparse_matmul`` and of dense ``tf.matmul``.

    Args:
        activities: fractions of active inputs per sample; ``S = ceil(activity * n_in)``.
        batch, n_in, n_out: problem size; weights are ``[n_in, n_out]``.
        repeats: timed repeats (the median is reported); per call: ``inner`` calls each.
        steps: forward + backward passes per call of the in-graph timing.
        sets: distinct input sets (spikes and ``dL/dy``) the in-graph loop rotates through.
        seed: NumPy seed of the weights, spike positions and output gradients.
        dtype: float32 or float64 (a ``tf.DType`` or its name).
        backend: the :mod:`snnlib.ops` backend (``None``: the default).

    Returns:
        A list of dicts with keys ``activity``, ``capacity``, ``backend``, the thread settings
        (:func:`thread_settings`), ``call_ms`` and ``loop_ms`` (a do-nothing call and loop
        pass), and per call
        ``sparse_ms``, ``dense_ms``, ``speedup`` (dense / sparse), in graph
        ``sparse_graph_ms``, ``dense_graph_ms``, ``speedup_graph``; the same for the
        ``[out, in]`` conversion path: ``sparse_oi_ms``, ``speedup_oi``,
        ``sparse_oi_graph_ms``, ``speedup_oi_graph``.
    """
    if steps < 1 or sets < 1 or repeats < 1 or inner < 1:
        raise ValueError(f"repeats, inner, steps and sets must be >= 1; got {repeats}, {inner}, "
                         f"{steps}, {sets}")
    dtype = tf.as_dtype(dtype)
    rng = np.random.default_rng(seed)
    used = backend or ops.backend()
    w_t = tf.constant(rng.normal(0.0, 0.05, size=(n_out, n_in)), dtype)
    grads = tf.constant(rng.normal(size=(sets, batch, n_out)), dtype)
    w = tf.transpose(w_t)  # [in, out]: the same weights as earlier runs of this benchmark
    sparse_call = tf.function(lambda *a: _sparse_step(*a, backend))
    sparse_oi_call = tf.function(lambda *a: _sparse_step(*a, backend, "out_in"))
    dense_call = tf.function(_dense_step)
    nothing_call = tf.function(_do_nothing)
    nothing_loop = _in_graph(_do_nothing, steps, sets)
    sparse_loop = _in_graph(lambda wt, *a: _sparse_step(wt, *a, backend), steps, sets)
    sparse_oi_loop = _in_graph(lambda wt, *a: _sparse_step(wt, *a, backend, "out_in"), steps,
                               sets)
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
            (sparse_oi_call, (w_t, ids[0], counts[0], values[0], grads[0]), 1, inner),
            (dense_call, (w, x[0], grads[0]), 1, inner),
            (sparse_loop, (w, ids, counts, values, grads), steps, 1),
            (sparse_oi_loop, (w_t, ids, counts, values, grads), steps, 1),
            (dense_loop, (w, x, grads), steps, 1),
            (nothing_call, (w, ids[0], counts[0], values[0], grads[0]), 1, inner),
            (nothing_loop, (w, ids, counts, values, grads), steps, 1),
        ], repeats)
        (sparse_ms, sparse_oi_ms, dense_ms, sparse_graph_ms, sparse_oi_graph_ms, dense_graph_ms,
         call_ms, loop_ms) = times
        results.append(dict(activity=activity, capacity=cap, backend=used, **thread_settings(),
                            call_ms=call_ms, loop_ms=loop_ms,
                            sparse_ms=sparse_ms, dense_ms=dense_ms, speedup=dense_ms / sparse_ms,
                            sparse_graph_ms=sparse_graph_ms, dense_graph_ms=dense_graph_ms,
                            speedup_graph=dense_graph_ms / sparse_graph_ms,
                            sparse_oi_ms=sparse_oi_ms, speedup_oi=dense_ms / sparse_oi_ms,
                            sparse_oi_graph_ms=sparse_oi_graph_ms,
                            speedup_oi_graph=dense_graph_ms / sparse_oi_graph_ms))
    return results


def run_isolated(intra_op_threads: int | None = None, **kwargs) -> list[dict]:
    """:func:`time_sparse_matmul_vs_dense` in a fresh Python process whose TensorFlow intra-op
    pool has ``intra_op_threads`` threads (``None``: TensorFlow's default).

    ``kwargs`` go to :func:`time_sparse_matmul_vs_dense` (JSON values; ``dtype`` by name).
    Raises ``RuntimeError`` with the child's last error lines if it fails.
    """
    if intra_op_threads is not None and (isinstance(intra_op_threads, bool)
                                         or not isinstance(intra_op_threads, int)
                                         or intra_op_threads < 1):
        raise ValueError(f"intra_op_threads must be None or an integer >= 1; "
                         f"got {intra_op_threads!r}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "opbench.json"
        cmd = [sys.executable, "-m", "snnlib.bench.opbench", "--out", str(out),
               "--kwargs", json.dumps(kwargs)]
        if intra_op_threads is not None:
            cmd += ["--intra-op-threads", str(intra_op_threads)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"the op benchmark process failed (exit {proc.returncode}):\n"
                               + "\n".join(proc.stderr.strip().splitlines()[-15:]))
        return json.loads(out.read_text())


def time_against_fastest_dense(thread_options=(None, 1), **kwargs) -> dict:
    """Run the benchmark once per intra-op thread setting (each in a fresh process) and pick
    the run whose dense side was fastest in graph (summed over the activities): the honest
    dense baseline. Every speed-up stays a ratio measured within one run.

    Returns:
        ``{"chosen": setting, "runs": {setting: rows}, "rows": rows of the chosen run}`` with
        settings as given (``None``: TensorFlow's default).
    """
    runs = {opt: run_isolated(opt, **kwargs) for opt in thread_options}
    chosen = min(runs, key=lambda opt: sum(r["dense_graph_ms"] for r in runs[opt]))
    return dict(chosen=chosen, runs=runs, rows=runs[chosen])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnlib.bench.opbench",
                                     description="Sparse matmul vs dense matmul, forward + "
                                                 "backward (see the module docstring).")
    parser.add_argument("--intra-op-threads", type=int, default=None,
                        help="TensorFlow intra-op threads (default: TensorFlow's choice)")
    parser.add_argument("--kwargs", default="{}",
                        help="JSON object of arguments of time_sparse_matmul_vs_dense")
    parser.add_argument("--out", default=None, help="write the rows here as JSON (else stdout)")
    args = parser.parse_args(argv)
    if args.intra_op_threads is not None:
        if args.intra_op_threads < 1:
            parser.error("--intra-op-threads must be >= 1")
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
    try:
        kwargs = json.loads(args.kwargs)
    except json.JSONDecodeError as err:
        parser.error(f"--kwargs must be a JSON object: {err}")
    if not isinstance(kwargs, dict):
        parser.error("--kwargs must be a JSON object")
    rows = time_sparse_matmul_vs_dense(**kwargs)
    text = json.dumps(rows, indent=1)
    if args.out:
        write_atomic(args.out, text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
