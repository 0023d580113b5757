"""Memory of one training step vs sequence length, for BPTT and the online rules.

Two measurements, both for the gradient computation of one batch (no optimizer state):

1. **Stored state (analytic, exact for the online rules).** The floats a rule must keep while
   it computes the gradient. For BPTT on the dense implementation, the tape keeps per layer at
   least the input sequence (for ``dW = sum_t h_t x_t^T``) and the membrane potentials (for
   the surrogate ``psi_t``): ``T B (M_l + N_l)``, plus the gradients ``N_l M_l``; this is a
   lower bound (TF also keeps the synaptic currents and spikes in flight). For e-prop and
   DECOLLE it is the size of the carried :class:`snnlib.learning.online.OnlineState`, which
   the tests check against the real state tensors; it has no ``T`` in it.
2. **Measured peak (one fresh Python process per (rule, T),** ``python -m
   snnlib.learning.memory``). The step is a ``tf.function`` with an unknown time dimension; it
   runs once on ``T = 2`` (tracing and graph optimisation happen there), then once at ``T``.
   Two numbers for that second call:

   * ``step_peak_mb``: TensorFlow's allocator peak above the memory in use before the call
     (``tf.config.experimental.reset_memory_stats`` / ``get_memory_info("CPU:0")``): the
     tensors alive at the worst moment of the step. Deterministic for a given graph.
     TensorFlow's CPU allocator keeps these statistics only when it is the BFC allocator,
     which an environment variable read at start-up selects; the measuring subprocess
     therefore gets ``TF_CPU_ALLOCATOR_USE_BFC=true`` (and none of the caller's other
     ``TF_*`` / ``KERAS_*`` variables) from :func:`probe_environment`, so the figure does not
     depend on how the caller's shell is set up. Where the statistics are still unavailable
     the value is ``None`` and ``step_peak_method`` says why.
   * ``rss_peak_mb``: the increase of the process's resident high-water mark
     (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) over the call. It also sees allocator
     caching and the warm-up's own transient peak (so it can read 0 when the step fits into
     memory freed earlier); on a shared machine it is noisy by several MB. Reported as a
     cross-check only.

   The input batch is allocated before either baseline and is not counted. Every row names
   its methods (``step_peak_method``, ``rss_peak_method``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Sequence

BYTES_PER_FLOAT = 4
ALLOCATOR_METHOD = "TF BFC allocator peak (fresh process, TF_CPU_ALLOCATOR_USE_BFC=true)"
RSS_METHOD = "ru_maxrss increase (fresh process)"


def stored_floats(rule: str, sizes: Sequence[int], batch: int, steps: int, *,
                  layer_delay: bool = True) -> int:
    """Floats a rule keeps to compute one batch's gradient (see the module docstring).

    Args:
        rule: ``"bptt"``, ``"eprop"`` or ``"decolle"``.
        sizes: ``[n_in, n_1, ..., n_L]``.
        batch, steps: ``B`` and ``T``.
        layer_delay: e-prop's signal buffers exist only with the one-step layer delay.

    Returns:
        Number of floats (multiply by 4 for float32 bytes).
    """
    sizes = [int(s) for s in sizes]
    pairs = list(zip(sizes[:-1], sizes[1:]))  # (M_l, N_l)
    n_layers = len(pairs)
    grads = sum(m * n for m, n in pairs)
    if rule == "bptt":
        return steps * batch * sum(m + n for m, n in pairs) + grads
    if rule not in ("eprop", "decolle"):
        raise ValueError(f"rule must be 'bptt', 'eprop' or 'decolle'; got {rule!r}")
    state = sum(batch * (2 * n + m) for m, n in pairs) + grads + batch * sizes[-1] + 1 + n_layers
    if rule == "eprop" and layer_delay:
        state += sum((n_layers - 1 - l) * batch * (n + m) for l, (m, n) in enumerate(pairs))
    return state


def _step_function(rule: str, sizes: Sequence[int], batch: int):
    """A ``tf.function`` ``(x [B, None, n_in], y [B]) -> grads`` of one rule, and its weights."""
    import tensorflow as tf

    from snnlib.functional.params import LIFParams, init_weights
    from snnlib.learning.rules import fixed_matrices, online_gradients
    from snnlib.network import snn_forward

    params = LIFParams(alpha=0.9)
    weights = [tf.Variable(w) for w in init_weights(sizes)]
    fixed = fixed_matrices(rule, sizes)
    spec = [tf.TensorSpec([batch, None, sizes[0]], tf.float32), tf.TensorSpec([batch], tf.int32)]

    @tf.function(input_signature=spec)
    def step(x, y):
        if rule == "bptt":
            with tf.GradientTape() as tape:
                counts = tf.reduce_sum(snn_forward(weights, x, params).spikes[-1], axis=1)
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=counts))
            return tape.gradient(loss, weights)
        return online_gradients(rule, weights, x, y, params, fixed=fixed).grads

    return step


def probe(rule: str, steps: int, sizes: Sequence[int], batch: int, seed: int = 0) -> dict:
    """Run in *this* process: the allocator peak and ``ru_maxrss`` increase of one step.

    Call it in a fresh process (:func:`measure_step_memory` does); the high-water mark only
    rises.
    """
    import resource

    import numpy as np

    step = _step_function(rule, sizes, batch)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, sizes[-1], batch).astype(np.int32)
    warm = (rng.random((batch, 2, sizes[0])) < 0.05).astype(np.float32)
    x = (rng.random((batch, steps, sizes[0])) < 0.05).astype(np.float32)
    import tensorflow as tf

    x, y, warm = tf.constant(x), tf.constant(y), tf.constant(warm)  # the batch is not counted
    step(warm, y)
    in_use, method = _allocator_bytes("current")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    grads = step(x, y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    alloc_peak, _ = _allocator_bytes("peak")
    finite = all(bool(np.isfinite(g.numpy()).all()) for g in grads)
    step_peak = None if in_use is None or alloc_peak is None else (alloc_peak - in_use) / 2**20
    return {"rule": rule, "steps": int(steps), "batch": int(batch), "sizes": list(map(int, sizes)),
            "step_peak_mb": step_peak, "step_peak_method": method,
            "rss_baseline_mb": base / 1024.0, "rss_peak_mb": (peak - base) / 1024.0,
            "rss_peak_method": RSS_METHOD, "finite": finite}


def _allocator_bytes(key: str) -> tuple[int | None, str]:
    """``get_memory_info("CPU:0")[key]`` (``"current"`` resets the peak first) and the method
    string; ``(None, reason)`` where the CPU allocator keeps no statistics."""
    import tensorflow as tf

    try:
        if key == "current":
            tf.config.experimental.reset_memory_stats("CPU:0")
        return int(tf.config.experimental.get_memory_info("CPU:0")[key]), ALLOCATOR_METHOD
    except ValueError as err:
        return None, f"unavailable: {str(err).strip().splitlines()[0]}"


def probe_environment(base: dict | None = None) -> dict:
    """The environment of a measuring subprocess: ``base`` (default ``os.environ``) without
    its ``TF_*`` and ``KERAS_*`` variables, with the BFC CPU allocator (which keeps peak
    statistics), quiet C++ logging and no GPU."""
    base = dict(os.environ if base is None else base)
    env = {k: v for k, v in base.items() if not k.startswith(("TF_", "KERAS_"))}
    env.update(TF_CPU_ALLOCATOR_USE_BFC="true", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    return env


def measure_step_memory(rule: str, steps: int, *, sizes: Sequence[int] = (128, 128, 10),
                     batch: int = 48, timeout_s: float = 600.0) -> dict:
    """Measure :func:`probe` in a fresh subprocess (``python -m snnlib.learning.memory``).

    Returns the probe's dict (``step_peak_mb``: allocator peak of the step, MB;
    ``rss_peak_mb``: resident high-water increase, MB), plus ``stored_mb``, the analytic
    stored-state size of :func:`stored_floats`.
    """
    cmd = [sys.executable, "-m", "snnlib.learning.memory", "--rule", rule, "--steps", str(steps),
           "--batch", str(batch), "--sizes", *map(str, sizes)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=probe_environment(),
                          timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stored_mb"] = stored_floats(rule, sizes, batch, steps) * BYTES_PER_FLOAT / 2**20
    return result


def memory_table(rules: Sequence[str], steps: Sequence[int], *, sizes: Sequence[int] = (128, 128, 10),
                 batch: int = 48, measure: bool = True) -> list[dict]:
    """One row per (rule, T): analytic ``stored_mb``; with ``measure`` also ``step_peak_mb`` and
    ``rss_peak_mb`` (:func:`measure_step_memory`)."""
    rows = []
    for rule in rules:
        for t in steps:
            if measure:
                rows.append(measure_step_memory(rule, t, sizes=sizes, batch=batch))
            else:
                rows.append({"rule": rule, "steps": int(t), "batch": int(batch),
                             "sizes": list(map(int, sizes)),
                             "stored_mb": stored_floats(rule, sizes, batch, t) * BYTES_PER_FLOAT / 2**20})
    return rows


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnlib.learning.memory",
                                     description="peak memory of one training step (one JSON line)")
    parser.add_argument("--rule", required=True, choices=("bptt", "eprop", "decolle"))
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 128, 10])
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(probe(args.rule, args.steps, args.sizes, args.batch)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main())


def format_memory_table(rows: Sequence[dict]) -> str:
    """The rows of :func:`memory_table` as aligned text, one line per (rule, T); ``-`` marks a
    measurement that was not taken. A last line names the measuring methods, or says why
    the allocator peak is missing."""

    def cell(row, key):
        return "      -" if row.get(key) is None else f"{row[key]:7.1f}"

    lines = [
        f"{row['rule']:8s} T={row['steps']:4d}  stored {row['stored_mb']:7.2f} MB  allocator "
        f"peak {cell(row, 'step_peak_mb')} MB  RSS peak {cell(row, 'rss_peak_mb')} MB"
        for row in rows]
    methods = sorted({row[k] for row in rows for k in ("step_peak_method", "rss_peak_method")
                      if row.get(k)})
    if methods:
        lines.append("measured by: " + "; ".join(methods))
    return "\n".join(lines)
