"""Timing and memory primitives shared by the TensorFlow runner and the peer workers.

Each measurement runs ``warmup`` untimed calls (tracing, compilation, allocator warm-up), then
``repeats`` timed blocks of ``steps`` calls each; a block ends with ``sync`` (reading the loss
back to the host), so queued work is included. :func:`summarize` reports the median time per
step over the blocks, its quartiles, min and max, and ``samples_per_s = batch_size / median``.
Memory: :func:`with_peak_rss` runs the timed calls with the resident-set high-water mark reset
first (Linux ``/proc/self/clear_refs``), so ``peak_rss_mb - rss before`` is what those calls
needed, even after an earlier, larger measurement in the same process. Standard library and
NumPy only: nothing here imports TensorFlow.
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Sequence

import numpy as np


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


def _status_mb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` in MB (``None`` where there is none)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def maxrss_mb() -> float:
    """This process's resident-set high-water mark in MB: ``VmHWM`` of ``/proc/self/status``
    (Linux), else ``getrusage``'s ``ru_maxrss``. Not ``ru_maxrss`` first: Linux carries it
    over ``fork`` + ``exec``, so a subprocess started by a large parent reads the parent's
    size until it outgrows it."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> bool:
    """Set the high-water mark of :func:`maxrss_mb` to the current resident size (Linux:
    ``5`` written to ``/proc/self/clear_refs``). False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return _status_mb("VmRSS") is not None


def with_peak_rss(fn):
    """``(fn(), memory)``: ``memory = {"peak_rss_mb", "rss_delta_mb", "rss_method"}``, the
    high-water mark during ``fn`` and its rise above the resident size before it. Where the
    mark cannot be reset, the rise is measured from the earlier high-water mark: a lower bound
    (0 once an earlier call used more), said by ``rss_method``."""
    reset = reset_peak_rss()
    before = _status_mb("VmRSS") if reset else maxrss_mb()
    result = fn()
    peak = maxrss_mb()
    method = ("high-water mark reset before the calls (/proc/self/clear_refs)" if reset
              else "high-water mark of the process (a lower bound)")
    return result, {"peak_rss_mb": peak, "rss_delta_mb": max(peak - before, 0.0),
                    "rss_method": method}


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
