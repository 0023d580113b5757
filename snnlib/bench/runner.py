"""Benchmark runner: training-step and inference throughput of every implementation.

What is timed (one :class:`BenchCase` = one network, one batch of data, one implementation):

* ``train``: the real training step of :class:`snnlib.layers.SNNClassifier`, i.e.
  ``model.train_step((x, y))`` (forward, loss, gradients, Adam update, metrics) wrapped in
  one ``tf.function``; ``jit_compile=False`` except for ``dense_xla`` (the dense path under
  XLA, since the seed compared against the faster of dense with and without XLA).
* ``infer``: the forward pass to the logits, in one ``tf.function``.

Timing (:mod:`snnlib.bench.timing`): ``warmup`` untimed calls, then ``repeats`` timed blocks
of ``steps`` calls, each block ending by reading the loss back to the host; a record reports
the median time per step over the blocks, its quartiles, min and max, and ``samples_per_s``.

Memory (:func:`snnlib.bench.timing.with_peak_rss`): before each mode's warm-up and timed calls
the process's resident-set high-water mark is reset (Linux ``/proc/self/clear_refs``), so
``rss_delta_mb`` is the most memory those calls held above what was resident before them
(activations kept for the backward pass, gradients, optimizer state, allocator caching) and
``peak_rss_mb`` the process's peak during them (TF runtime included). ``rss_method`` says
whether the reset was possible (otherwise the rise is a lower bound); ``memory_method`` says
whether the case ran in this process or, with ``isolate=True``, in a fresh ``python -m
snnlib.bench.worker`` subprocess.

Data: :func:`snnlib.bench.cases.bench_inputs`, identical for every implementation
(``input_sha256`` in every record); the sparse implementations take it as index lists built
before the timed steps (:func:`model_inputs`), as the training loop's data pipeline feeds them.
A case with a ``target_activity`` is first calibrated (:mod:`snnlib.bench.calibrate`) and the
same calibrated weights serve every implementation and peer of that network. Peers (``peer:<name>``) always run in a worker process of
their own that never imports TensorFlow (:mod:`snnlib.bench.peers`).

Every record carries the machine (:func:`machine_info`), the TF/Keras versions, the
:mod:`snnlib.ops` backend actually used, the implementation and all sizes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from snnlib import ops
from snnlib.bench.calibrate import calibrated
from snnlib.bench.cases import MODES, BenchCase, array_sha256, bench_inputs
from snnlib.bench.peers import run_peer_case
from snnlib.bench.roofline import roofline_fields
from snnlib.bench.timing import (maxrss_mb, measure_memory_bandwidth, summarize, time_calls,
                                  with_peak_rss)
from snnlib.functional.params import LIFParams
from snnlib.layers.classifier import SNNClassifier
from snnlib.layers.optimizer import FusedAdam
from snnlib.runtime import PEER_WORKER_ENV
from snnlib.spikes import dense_to_sparse_np

log = logging.getLogger(__name__)


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (or ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    """Machine, software and backend facts attached to every record."""
    gpus = []
    for dev in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(dev)
        gpus.append(details.get("device_name", dev.name))
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model(), "cpu_cores": os.cpu_count(), "cpu_cores_usable": usable,
        "gpu": ", ".join(gpus) if gpus else "none", "hostname": platform.node(),
        "os": platform.platform(), "python": platform.python_version(),
        "tf_version": tf.__version__, "keras_version": keras.__version__,
        "numpy_version": np.__version__, "ops_backend": ops.backend(),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def build_bench_model(case: BenchCase, lr: float = 1e-3):
    """The :class:`SNNClassifier` of a case, compiled with Adam (:class:`FusedAdam`, as training
    uses), weights and optimizer built."""
    impl = "dense" if case.impl == "dense_xla" else case.impl
    params = LIFParams(th2=(case.th2,) * len(case.hidden) + (None,), weight_mul=case.weight_mul)
    model = SNNClassifier(case.sizes, params, impl=impl, max_activity=case.max_activity,
                          input_capacity=case.input_capacity if impl != "dense" else None,
                          seed=case.seed)
    model.compile(optimizer=FusedAdam(lr), jit_compile=case.impl == "dense_xla")
    model.build((None, None, case.n_in))
    for kernel, scale in zip(model.stack.kernels, case.layer_scales or ()):
        kernel.assign(kernel * scale)  # the calibrated network (real_activity preset)
    model.optimizer.build(model.trainable_variables)
    return model


def model_inputs(case: BenchCase, x_np: np.ndarray):
    """What the training loop feeds the case's implementation: the rasters for the dense paths,
    the index lists ``{"ids", "counts"}`` of capacity ``input_capacity`` for the sparse ones
    (built once, outside the timed step, as the data pipeline does)."""
    if case.impl in ("dense", "dense_xla"):
        return tf.constant(x_np)
    spikes, _ = dense_to_sparse_np(x_np, case.input_capacity)
    return {"ids": tf.constant(spikes.ids), "counts": tf.constant(spikes.counts)}


def run_case(case: BenchCase, *, modes: Sequence[str] = MODES, warmup: int = 2,
             repeats: int = 5, steps: int = 3, memory_method: str = "in-process",
             data: tuple[np.ndarray, np.ndarray] | None = None) -> list[dict]:
    """Time one case in this process: one record per mode (``infer`` first, then ``train``).

    Args:
        case: the configuration.
        modes: a subset of ``("train", "infer")``.
        warmup, repeats, steps: see the module docstring.
        memory_method: recorded as is (``"subprocess"`` when called by the isolated runner).
        data: ``(x, y)`` from :func:`bench_inputs` (computed if ``None``).
    """
    for m in modes:
        if m not in MODES:
            raise ValueError(f"modes must be a subset of {MODES}; got {m!r}")
    if case.impl.startswith("peer:"):
        return run_peer_case(case, modes=modes, warmup=warmup, repeats=repeats, steps=steps,
                             memory_method=memory_method, data=data)
    x_np, y_np = bench_inputs(case) if data is None else data
    base = {**case.to_dict(), "input_sha256": array_sha256(x_np, y_np),
            "input_spikes_per_step": float(x_np.sum(-1).mean()),
            "memory_method": memory_method, "warmup": warmup, "repeats": repeats, "steps": steps}
    rss0 = maxrss_mb()
    model = build_bench_model(case)
    base["sparse_sizes"] = model.sparse_sizes
    base["n_params"] = int(sum(int(np.prod(w.shape)) for w in model.trainable_variables))
    x, y = model_inputs(case, x_np), tf.constant(y_np)
    xla = case.impl == "dense_xla"
    base["setup_rss_mb"] = maxrss_mb() - rss0
    records = []
    if "infer" in modes:
        infer = tf.function(lambda a: model.forward(a)[0], jit_compile=xla)
        t, memory = with_peak_rss(lambda: time_calls(
            infer, (x,), warmup=warmup, repeats=repeats, steps=steps, sync=lambda out: out.numpy()))
        records.append({**base, "mode": "infer", "warmup_s": t["warmup_s"],
                        **summarize(t["step_s"], case.batch_size), **memory})
    if "train" in modes:
        train = tf.function(model.train_step, jit_compile=xla)
        t, memory = with_peak_rss(lambda: time_calls(
            train, ((x, y),), warmup=warmup, repeats=repeats, steps=steps,
            sync=lambda out: out["loss"].numpy()))
        logs = {k: float(v) for k, v in t["last"].items()}
        n_layers = len(case.hidden) + 1
        records.append({**base, "mode": "train", "warmup_s": t["warmup_s"],
                        **summarize(t["step_s"], case.batch_size), **memory,
                        "loss": logs.get("loss"),
                        "activity": [logs.get(f"activity_{l}") for l in range(n_layers)],
                        "overflow": [logs.get(f"overflow_{l}", 0.0) for l in range(n_layers)]})
    return records


def run_case_isolated(case: BenchCase, *, modes: Sequence[str] = MODES, warmup: int = 2,
                      repeats: int = 5, steps: int = 3, timeout_s: float = 1800) -> list[dict]:
    """:func:`run_case` in a fresh ``python -m snnlib.bench.worker`` subprocess (memory
    isolation). A peer's worker gets ``SNNLIB_PEER_WORKER=1``, so it never imports TensorFlow.

    A failing or timed-out case gives one record with an ``error`` field instead of raising.
    """
    spec = json.dumps({"case": case.to_dict(), "modes": list(modes), "warmup": warmup,
                       "repeats": repeats, "steps": steps})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    env.pop(PEER_WORKER_ENV, None)
    if case.impl.startswith("peer:"):
        env[PEER_WORKER_ENV] = "1"
    try:
        proc = subprocess.run([sys.executable, "-m", "snnlib.bench.worker", spec],
                              capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return [{**case.to_dict(), "error": f"timed out after {timeout_s} s"}]
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [{**case.to_dict(), "error": f"exit {proc.returncode}: {tail}"}]
    return json.loads(lines[-1])["records"]


def run_benchmark(cases: Sequence[BenchCase], *, modes: Sequence[str] = MODES, warmup: int = 2,
                  repeats: int = 5, steps: int = 3, isolate: bool = False,
                  bandwidth: bool = True, progress=None, rounds: int = 1) -> dict:
    """Run many cases; returns ``{"machine", "bandwidth_gbs", "records"}``.

    Cases sharing a data configuration share one input array (in-process runs), and every
    record carries ``input_sha256``. A case that raises is recorded with an ``error`` field.
    ``progress(i, n, case)`` is called before each case when given.

    ``rounds``: how many times the whole list of cases runs, one pass after the other; every
    record carries its ``round`` (0 ..). A machine whose speed drifts over minutes (a VM) then
    slows a different stretch of cases in each round, and a ratio taken within each round and
    summarised over the rounds (:func:`snnlib.bench.figures.speedup_summary`) is steadier
    than one pass. Calibrations are made once and reused by every round.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1 (passes over the cases); got {rounds!r}")
    machine = machine_info()
    bw = measure_memory_bandwidth() if bandwidth else None
    data_cache: dict[tuple, tuple] = {}
    scales: dict[tuple, tuple] = {}
    records = []
    for rnd in range(rounds):
        records += _run_round(cases, rnd, rounds, modes=modes, warmup=warmup, repeats=repeats,
                              steps=steps, isolate=isolate, progress=progress, machine=machine,
                              bw=bw, data_cache=data_cache, scales=scales)
    return {"machine": machine, "bandwidth_gbs": bw, "records": records}


def _run_round(cases, rnd, rounds, *, modes, warmup, repeats, steps, isolate, progress, machine,
               bw, data_cache, scales) -> list[dict]:
    """One pass of :func:`run_benchmark` over the cases; its records carry ``round = rnd``."""
    measured: dict[BenchCase, list[dict]] = {}
    records = []

    def inputs(case: BenchCase) -> tuple:
        key = case.data_key()
        if key not in data_cache:
            data_cache[key] = bench_inputs(case)
        return data_cache[key]

    for i, case in enumerate(cases):
        if case.target_activity is not None:
            case = calibrated(case, inputs(case)[0], scales)
        same = dataclasses.replace(case, sweep="")
        if same in measured:  # shared by two sweeps: measured once, recorded under both
            records.extend({**r, "sweep": case.sweep} for r in measured[same])
            continue
        if progress is not None:
            progress(rnd * len(cases) + i, rounds * len(cases), case)
        if isolate or case.impl.startswith("peer:"):  # peers: torch never shares TF's process
            recs = run_case_isolated(case, modes=modes, warmup=warmup, repeats=repeats, steps=steps)
        else:
            try:
                recs = run_case(case, modes=modes, warmup=warmup, repeats=repeats, steps=steps,
                                data=inputs(case))
            except Exception as err:  # one failing case must not lose the others
                log.warning("benchmark case %s failed: %s", case, err)
                recs = [{**case.to_dict(), "error": f"{type(err).__name__}: {err}"}]
        for r in recs:
            r.update(machine)
            r["bandwidth_gbs"] = bw
            r["round"] = rnd
            if "error" not in r:
                r.update(roofline_fields(r, bw))
        measured[same] = recs
        records.extend(recs)
    return records
