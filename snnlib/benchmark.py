"""Benchmark harness: training-step and inference throughput of every implementation.

What is timed (one :class:`BenchCase` = one network, one batch of data, one implementation):

* ``train``: the real training step of :class:`snnlib.layers.SNNClassifier`, i.e.
  ``model.train_step((x, y))`` (forward, loss, gradients, Adam update, metrics) wrapped in
  one ``tf.function``; ``jit_compile=False`` except for ``dense_xla`` (the dense path under
  XLA, since the seed compared against the faster of dense with and without XLA).
* ``infer``: the forward pass to the logits, in one ``tf.function``.

Each measurement runs ``warmup`` untimed calls (tracing, compilation, allocator warm-up), then
``repeats`` timed blocks of ``steps`` calls each; a block ends by reading the loss back to the
host, so queued work is included. A record reports the median time per step over the blocks,
its quartiles, min and max, and ``samples_per_s = batch_size / median``.

Memory: ``ru_maxrss`` (the process's resident-set high-water mark, ``getrusage``). With
``isolate=True`` every case runs in a fresh ``python -m snnlib.benchmark`` subprocess and the
record's ``peak_rss_mb`` is that process's high-water mark (TF runtime included) and
``rss_delta_mb`` its growth from "model built, data ready" to the end of the timed steps.
Without isolation the same numbers are read in the running process, where the high-water
mark only ever rises: ``rss_delta_mb`` is then a lower bound (0 once an earlier case used
more). ``memory_method`` says which was used.

Data: :func:`bench_inputs` draws Bernoulli input spikes (:func:`snnlib.data.random_spikes`)
once per data configuration and caps every (sample, step) at the input capacity, so the
dense and sparse implementations see bit-identical inputs (``input_sha256`` in every record).

Every record carries the machine (:func:`machine_info`), the TF/Keras versions, the
:mod:`snnlib.ops` backend actually used, the implementation and all sizes.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)

BENCH_IMPLS = ("dense", "dense_xla", "sparse_ops", "sparse_layer")
MODES = ("train", "infer")


@dataclasses.dataclass(frozen=True)
class BenchCase:
    """One benchmark configuration.

    Attributes:
        impl: ``"dense"``, ``"dense_xla"``, ``"sparse_ops"``, ``"sparse_layer"`` or a peer
            (``"peer:torch"``, ``"peer:snntorch"``, ``"peer:norse"``, ``"peer:spikingjelly"``).
        n_in, hidden, n_out: network ``[n_in, *hidden, n_out]``.
        n_steps: sequence length ``T``.
        batch_size: samples per step ``B``.
        max_activity: capacity rule of the sparse implementations (``None`` for dense).
        input_capacity: input ``S``; inputs are capped to it for every implementation.
        input_activity: firing probability of each input per step (default: half the
            capacity on average, ``input_capacity / (2 n_in)``).
        th2: second threshold of the hidden layers (seed benchmarks: 0.9; the output layer is
            never masked); ``None`` lists every non-spiking neuron as a candidate.
        weight_mul: initialisation scale (seed: 1.0 for the NMNIST runs, 2.0 for the
            multi-IPU runs); it sets how active the random network is.
        seed: data and weight seed.
        sweep: name of the sweep the case belongs to (for plots).
    """

    impl: str
    n_in: int = 1152
    hidden: tuple[int, ...] = (980, 980, 980)
    n_out: int = 10
    n_steps: int = 100
    batch_size: int = 48
    max_activity: float | None = None
    input_capacity: int = 32
    input_activity: float | None = None
    th2: float | None = 0.9
    weight_mul: float = 1.0
    seed: int = 0
    sweep: str = ""

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if not (self.impl in BENCH_IMPLS or self.impl.startswith("peer:")):
            raise ValueError(f"impl must be one of {BENCH_IMPLS} or 'peer:<name>'; got {self.impl!r}")
        for name in ("n_in", "n_out", "n_steps", "batch_size", "input_capacity"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)!r}")
        if self.input_capacity > self.n_in:
            raise ValueError(f"input_capacity must be <= n_in = {self.n_in}; got {self.input_capacity}")
        if self.impl in ("sparse_ops", "sparse_layer") and self.max_activity is None:
            raise ValueError(f"impl={self.impl!r} needs max_activity")

    @property
    def sizes(self) -> list[int]:
        """``[n_in, *hidden, n_out]``."""
        return [self.n_in, *self.hidden, self.n_out]

    @property
    def activity_in(self) -> float:
        """The input firing probability actually used."""
        if self.input_activity is not None:
            return float(self.input_activity)
        return self.input_capacity / (2.0 * self.n_in)

    def data_key(self) -> tuple:
        """Cases with equal keys get identical input data."""
        return (self.n_in, self.n_out, self.n_steps, self.batch_size, self.input_capacity,
                round(self.activity_in, 12), self.seed)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --- grids (graphcore_snn spec sections 3.4 and 3.6) ---------------------------------------

ACTIVITIES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def _grid(sweep: str, impls: Sequence[str], activities: Iterable[float], **base) -> list[BenchCase]:
    """Dense paths once per network (they do not depend on ``max_activity``), sparse ones per
    activity."""
    cases = []
    for impl in impls:
        if impl.startswith("dense") or impl.startswith("peer:"):
            cases.append(BenchCase(impl=impl, sweep=sweep, **base))
        else:
            cases.extend(BenchCase(impl=impl, max_activity=a, sweep=sweep, **base)
                         for a in activities)
    return cases


# The seed's multi_layer benchmark network; with weight_mul 3 its hidden layers fire at
# about 1.7-2.9 % (measured, issue 15), with the seed's weight_mul 1 they are nearly silent.
SEED_NETWORK = dict(n_in=1152, hidden=(980,) * 3, n_out=10, n_steps=100, batch_size=48,
                    input_capacity=32)
SEED_POINT_WEIGHT_MUL = 3.0


def _seed_sweeps(impls, *, n_in=1152, hidden=980, layers=3, n_out=10, t=100, batch=48,
                 s_in=32, activities=ACTIVITIES, sweep_activity=0.05,
                 layer_counts=(2, 3, 4, 5), batches=(24, 48, 96, 192, 384),
                 neurons=(245, 490, 980, 1960), seq_lens=(10, 25, 50, 100, 200)) -> dict:
    base = dict(n_in=n_in, hidden=(hidden,) * layers, n_out=n_out, n_steps=t, batch_size=batch,
                input_capacity=s_in)
    one = (sweep_activity,)
    return {
        "activity": _grid("activity", impls, activities, **base),
        "layers": [c for l in layer_counts
                   for c in _grid("layers", impls, one, **{**base, "hidden": (hidden,) * l})],
        "batch": [c for b in batches
                  for c in _grid("batch", impls, one, **{**base, "batch_size": b})],
        "neurons": [c for n in neurons
                    for c in _grid("neurons", impls, one, **{**base, "hidden": (n,) * layers})],
        "seq_len": [c for s in seq_lens
                    for c in _grid("seq_len", impls, one, **{**base, "n_steps": s})],
    }


def preset_sweeps(preset: str, impls: Sequence[str] = BENCH_IMPLS) -> dict[str, list[BenchCase]]:
    """The named sweeps of a preset, ``{sweep name: [BenchCase, ...]}``.

    * ``tiny``: a seconds-long smoke grid (input 64, two hidden layers of 48, T = 20, B = 8;
      the scaling sweeps only for ``dense`` and ``sparse_layer``).
    * ``multi_layer``: the seed's multi_layer benchmark: input 1152 with capacity 32, three
      hidden layers of 980, 10 outputs, T = 100, B = 48, max activity 0.5 % to 50 %, and
      2 to 5 hidden layers at 5 %.
    * ``batch``, ``neurons``, ``seq_len``: the seed's batch sweep (24 to 384), a hidden-width
      sweep and a sequence-length sweep around the multi_layer network at 5 % activity.
    * ``full``: all of the above (real hardware: hours on 2 cores).
    * ``seed_point``: one point of the seed's multi_layer network with its hidden layers
      really active (``weight_mul = 3``; 5 % capacity; ``dense``, ``dense_xla`` and
      ``sparse_layer`` of ``impls``): seconds to a minute, so that a short report shows the
      sparse path where sparsity pays. The records carry the measured activity per layer.
    """
    impls = tuple(impls)
    if preset == "seed_point":
        keep = [i for i in impls if i in ("dense", "dense_xla", "sparse_layer")]
        return {"seed": [dataclasses.replace(c, sweep="seed", weight_mul=SEED_POINT_WEIGHT_MUL)
                         for c in _grid("seed", keep, (0.05,), **SEED_NETWORK)]}
    if preset == "tiny":  # scaling sweeps: dense vs sparse_layer only, to stay in seconds
        sweeps = _seed_sweeps(impls, n_in=64, hidden=48, layers=2, t=20, batch=8, s_in=16,
                              activities=(0.1, 0.5), sweep_activity=0.2, layer_counts=(1, 3),
                              batches=(4, 16), neurons=(24, 96), seq_lens=(10, 40))
        keep = {"dense", "sparse_layer"} | {i for i in impls if i.startswith("peer:")}
        return {name: cases if name == "activity" else [c for c in cases if c.impl in keep]
                for name, cases in sweeps.items()}
    full = _seed_sweeps(impls)
    if preset == "multi_layer":
        return {"activity": full["activity"], "layers": full["layers"]}
    if preset in ("batch", "neurons", "seq_len"):
        return {preset: full[preset]}
    if preset == "full":
        return full
    raise ValueError(f"unknown preset {preset!r}; valid choices: {', '.join(BENCH_PRESETS)}")


BENCH_PRESETS = ("tiny", "multi_layer", "batch", "neurons", "seq_len", "full", "seed_point")


def preset_cases(preset: str, impls: Sequence[str] = BENCH_IMPLS,
                 sweeps: Sequence[str] | None = None, **overrides) -> list[BenchCase]:
    """All cases of a preset (optionally only some sweeps), in sweep order.

    ``overrides`` (e.g. ``weight_mul=3.0``, ``th2=None``) replace those fields in every case.

    A network shared by two sweeps (e.g. the default one) appears once per sweep;
    :func:`run_benchmark` measures it once and records it under both sweep names.
    """
    grid = preset_sweeps(preset, impls)
    if sweeps is not None:
        unknown = sorted(set(sweeps) - set(grid))
        if unknown:
            raise ValueError(f"sweeps {unknown} are not in preset {preset!r}; valid: {sorted(grid)}")
        grid = {k: v for k, v in grid.items() if k in sweeps}
    return [dataclasses.replace(c, **overrides) for cases in grid.values() for c in cases]


# --- machine and data ----------------------------------------------------------------------

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
    import keras
    import tensorflow as tf

    from snnlib import ops

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


def bench_inputs(case: BenchCase) -> tuple[np.ndarray, np.ndarray]:
    """The case's data: ``x float32[B, T, n_in]`` 0/1 and labels ``y int32[B]``.

    Bernoulli spikes (:func:`snnlib.data.random_spikes`, seeded) with at most
    ``input_capacity`` spikes per (sample, step): extra spikes (highest indices first) are
    removed so that every implementation, dense or sparse, sees the same input.
    """
    from snnlib.data import random_spikes

    data = random_spikes(n_in=case.n_in, n_steps=case.n_steps, activity=case.activity_in,
                         n_classes=case.n_out, n_train=case.batch_size, n_test=1, seed=case.seed)
    x = data.x_train.astype(np.float32)
    over = np.cumsum(x, axis=-1) > case.input_capacity
    x[over] = 0.0
    return x, data.y_train.astype(np.int32)


def array_sha256(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' bytes, shapes and dtypes (short hex, 16 characters)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def measure_memory_bandwidth(n_bytes: int = 256 * 2**20, repeats: int = 5) -> float:
    """This machine's memory bandwidth in GB/s: a large NumPy copy (read + write bytes /
    median time)."""
    src = np.ones(n_bytes // 8, np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t0)
    return 2 * src.nbytes / statistics.median(times) / 1e9


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# --- timing ---------------------------------------------------------------------------------

def time_calls(fn, args, *, warmup: int, repeats: int, steps: int, sync) -> dict:
    """Median seconds per call of ``fn(*args)`` after ``warmup`` calls.

    ``sync(out)`` must block until the call's work is done (e.g. read a value to the host).
    Returns ``{"warmup_s", "step_s": [per-block seconds per call]}``.
    """
    t0 = time.perf_counter()
    out = None
    for _ in range(max(1, warmup)):
        out = fn(*args)
    sync(out)
    warmup_s = time.perf_counter() - t0
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            out = fn(*args)
        sync(out)
        samples.append((time.perf_counter() - t0) / steps)
    return {"warmup_s": warmup_s, "step_s": samples, "last": out}


def summarize(step_s: Sequence[float], batch_size: int) -> dict:
    """Median, quartiles, min, max (ms) and samples/s of per-step times."""
    ms = sorted(1e3 * s for s in step_s)
    q = np.percentile(ms, [25, 50, 75]) if len(ms) > 1 else [ms[0]] * 3
    med = statistics.median(ms)
    return {"step_ms_median": med, "step_ms_q1": float(q[0]), "step_ms_q3": float(q[2]),
            "step_ms_min": ms[0], "step_ms_max": ms[-1],
            "step_ms_spread": (float(q[2]) - float(q[0])) / med if med > 0 else 0.0,
            "samples_per_s": batch_size / (med / 1e3)}


def build_bench_model(case: BenchCase, lr: float = 1e-3):
    """The :class:`SNNClassifier` of a case, compiled with Adam, weights and optimizer built."""
    import keras

    from snnlib.layers.classifier import SNNClassifier

    from snnlib.functional.lif import LIFParams

    impl = "dense" if case.impl == "dense_xla" else case.impl
    params = LIFParams(th2=(case.th2,) * len(case.hidden) + (None,), weight_mul=case.weight_mul)
    model = SNNClassifier(case.sizes, params, impl=impl, max_activity=case.max_activity,
                          input_capacity=case.input_capacity if impl != "dense" else None,
                          seed=case.seed)
    model.compile(optimizer=keras.optimizers.Adam(lr), jit_compile=case.impl == "dense_xla")
    model.build((None, None, case.n_in))
    model.optimizer.build(model.trainable_variables)
    return model


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
        from snnlib.peers import run_peer_case

        return run_peer_case(case, modes=modes, warmup=warmup, repeats=repeats, steps=steps,
                             memory_method=memory_method, data=data)
    import tensorflow as tf

    x_np, y_np = bench_inputs(case) if data is None else data
    base = {**case.to_dict(), "input_sha256": array_sha256(x_np, y_np),
            "input_spikes_per_step": float(x_np.sum(-1).mean()),
            "memory_method": memory_method, "warmup": warmup, "repeats": repeats, "steps": steps}
    rss0 = _maxrss_mb()
    model = build_bench_model(case)
    base["sparse_sizes"] = model.sparse_sizes
    base["n_params"] = int(sum(int(np.prod(w.shape)) for w in model.trainable_variables))
    x, y = tf.constant(x_np), tf.constant(y_np)
    xla = case.impl == "dense_xla"
    rss_ready = _maxrss_mb()
    records = []
    if "infer" in modes:
        infer = tf.function(lambda a: model.forward(a)[0], jit_compile=xla)
        t = time_calls(infer, (x,), warmup=warmup, repeats=repeats, steps=steps,
                       sync=lambda out: out.numpy())
        records.append({**base, "mode": "infer", "warmup_s": t["warmup_s"],
                        **summarize(t["step_s"], case.batch_size),
                        "peak_rss_mb": _maxrss_mb(), "rss_delta_mb": _maxrss_mb() - rss_ready})
    if "train" in modes:
        train = tf.function(model.train_step, jit_compile=xla)
        t = time_calls(train, ((x, y),), warmup=warmup, repeats=repeats, steps=steps,
                       sync=lambda out: out["loss"].numpy())
        logs = {k: float(v) for k, v in t["last"].items()}
        n_layers = len(case.hidden) + 1
        records.append({**base, "mode": "train", "warmup_s": t["warmup_s"],
                        **summarize(t["step_s"], case.batch_size),
                        "peak_rss_mb": _maxrss_mb(), "rss_delta_mb": _maxrss_mb() - rss_ready,
                        "loss": logs.get("loss"),
                        "activity": [logs.get(f"activity_{l}") for l in range(n_layers)],
                        "overflow": [logs.get(f"overflow_{l}", 0.0) for l in range(n_layers)]})
    for r in records:
        r["setup_rss_mb"] = rss_ready - rss0
    return records


def run_case_isolated(case: BenchCase, *, modes: Sequence[str] = MODES, warmup: int = 2,
                      repeats: int = 5, steps: int = 3, timeout_s: float = 1800) -> list[dict]:
    """:func:`run_case` in a fresh ``python -m snnlib.benchmark`` subprocess (memory isolation).

    A failing or timed-out case gives one record with an ``error`` field instead of raising.
    """
    spec = json.dumps({"case": case.to_dict(), "modes": list(modes), "warmup": warmup,
                       "repeats": repeats, "steps": steps})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    try:
        proc = subprocess.run([sys.executable, "-m", "snnlib.benchmark", spec],
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
                  bandwidth: bool = True, progress=None) -> dict:
    """Run many cases; returns ``{"machine", "bandwidth_gbs", "records"}``.

    Cases sharing a data configuration share one input array (in-process runs), and every
    record carries ``input_sha256``. A case that raises is recorded with an ``error`` field.
    ``progress(i, n, case)`` is called before each case when given.
    """
    machine = machine_info()
    bw = measure_memory_bandwidth() if bandwidth else None
    data_cache: dict[tuple, tuple] = {}
    measured: dict[BenchCase, list[dict]] = {}
    records = []
    for i, case in enumerate(cases):
        same = dataclasses.replace(case, sweep="")
        if same in measured:  # shared by two sweeps: measured once, recorded under both
            records.extend({**r, "sweep": case.sweep} for r in measured[same])
            continue
        if progress is not None:
            progress(i, len(cases), case)
        if isolate or case.impl.startswith("peer:"):  # peers: torch never shares TF's process
            recs = run_case_isolated(case, modes=modes, warmup=warmup, repeats=repeats, steps=steps)
        else:
            key = case.data_key()
            if key not in data_cache:
                data_cache[key] = bench_inputs(case)
            try:
                recs = run_case(case, modes=modes, warmup=warmup, repeats=repeats, steps=steps,
                                data=data_cache[key])
            except Exception as err:  # one failing case must not lose the others
                log.warning("benchmark case %s failed: %s", case, err)
                recs = [{**case.to_dict(), "error": f"{type(err).__name__}: {err}"}]
        for r in recs:
            r.update(machine)
            r["bandwidth_gbs"] = bw
            if "error" not in r:
                r.update(roofline_fields(r, bw))
        measured[same] = recs
        records.extend(recs)
    return {"machine": machine, "bandwidth_gbs": bw, "records": records}


# --- roofline -------------------------------------------------------------------------------

def sparse_bytes_per_step(record: dict, dtype_bytes: int = 4) -> float | None:
    """Bytes the sparse kernels move in one training step (a model, not a counter).

    Per layer with ``n_out`` neurons, ``k`` real input spikes and ``c`` listed input slots
    (spikes + candidates) per (step, sample), measured activities and capacities:

    * forward gather: ``T B k n_out`` weights read;
    * backward: ``T B k n_out`` dW entries read and written (scatter-add), ``T B c n_out``
      weights read for the slot gradients;
    * state: membrane potential and current written and read once, ``4 T B n_out`` values,
      plus ids/counts (``T B (S + 2)`` int32).

    ``None`` for dense implementations and records without activities.
    """
    if record.get("mode") != "train" or record.get("impl") not in ("sparse_ops", "sparse_layer"):
        return None
    sizes = [record["n_in"], *record["hidden"], record["n_out"]]
    caps = record.get("sparse_sizes")
    acts = record.get("activity")
    if not caps or not acts or any(a is None for a in acts):
        return None
    t, b = record["n_steps"], record["batch_size"]
    k_prev = min(record.get("input_spikes_per_step", caps[0]), caps[0])
    total = 0.0
    for l in range(len(sizes) - 1):
        n_out = sizes[l + 1]
        c_prev = caps[l]  # listed slots bound (spikes + candidates)
        weights = t * b * (k_prev * n_out * 3 + c_prev * n_out)
        state = 4 * t * b * n_out
        total += dtype_bytes * (weights + state) + 4 * t * b * (caps[l + 1] + 2)
        k_prev = min(acts[l] * n_out, caps[l + 1])
    return float(total)


def roofline_fields(record: dict, bandwidth_gbs: float | None) -> dict:
    """``bytes_per_step``, ``achieved_gbs`` and ``bandwidth_fraction`` of a sparse record."""
    moved = sparse_bytes_per_step(record)
    if moved is None or not record.get("step_ms_median"):
        return {}
    gbs = moved / (record["step_ms_median"] / 1e3) / 1e9
    return {"bytes_per_step": moved, "achieved_gbs": gbs,
            "bandwidth_fraction": gbs / bandwidth_gbs if bandwidth_gbs else None}


# --- output ---------------------------------------------------------------------------------

def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "x".join("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
                        for v in value)
    return value


def records_csv(records: Sequence[dict]) -> str:
    """The records as CSV text (lists joined with ``x``; union of keys as columns)."""
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    for r in records:
        writer.writerow({k: _csv_value(r.get(k)) for k in keys})
    return buf.getvalue()


def write_results(result: dict, out_dir: str | Path, stem: str = "bench") -> dict[str, Path]:
    """Write ``<stem>.json`` and ``<stem>.csv`` atomically; returns their paths."""
    from snnlib.atomic import write_atomic

    out_dir = Path(out_dir)
    paths = {"json": out_dir / f"{stem}.json", "csv": out_dir / f"{stem}.csv"}
    write_atomic(paths["json"], json.dumps(result, indent=2, default=float))
    write_atomic(paths["csv"], records_csv(result["records"]))
    return paths


def load_results(path: str | Path) -> dict:
    """Read a ``bench.json`` written by :func:`write_results`."""
    return json.loads(Path(path).read_text())


def _worker_main(argv: Sequence[str]) -> int:
    """Entry of :func:`run_case_isolated`: one JSON spec in, one JSON line of records out."""
    spec = json.loads(argv[0])
    case = BenchCase(**spec["case"])
    records = run_case(case, modes=spec["modes"], warmup=spec["warmup"],
                       repeats=spec["repeats"], steps=spec["steps"], memory_method="subprocess")
    sys.stdout.write(json.dumps({"records": records}, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
