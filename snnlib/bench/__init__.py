"""The benchmark harness: what is measured (:mod:`.cases`), how it is timed (:mod:`.timing`),
the runner (:mod:`.runner`, TensorFlow) and its worker process (:mod:`.worker`), the roofline
model (:mod:`.roofline`), records on disk (:mod:`.records`), figures (:mod:`.figures`), the
op benchmark (:mod:`.opbench`), the peer libraries (:mod:`.peers`) and the options of the
``bench`` command (:mod:`.command`).

The names of the TensorFlow modules (runner, op benchmark) are resolved on first use (PEP
562): a peer worker imports this package without ever loading TensorFlow.
"""

from __future__ import annotations

from snnlib.bench.cases import (ACTIVITIES, BENCH_IMPLS, BENCH_PRESETS, MODES, BenchCase,
                                array_sha256, bench_inputs, preset_cases, preset_sweeps)
from snnlib.bench.peers import PEERS, peer_status
from snnlib.bench.records import records_csv, write_results
from snnlib.bench.roofline import roofline_fields, sparse_bytes_per_step
from snnlib.bench.timing import maxrss_mb, measure_memory_bandwidth, summarize, time_calls
from snnlib.runtime import lazy_attributes

_LAZY = {
    "build_bench_model": "snnlib.bench.runner", "cpu_model": "snnlib.bench.runner",
    "machine_info": "snnlib.bench.runner", "run_benchmark": "snnlib.bench.runner",
    "run_case": "snnlib.bench.runner", "run_case_isolated": "snnlib.bench.runner",
    "time_against_fastest_dense": "snnlib.bench.opbench",
    "time_sparse_matmul_vs_dense": "snnlib.bench.opbench",
}
__getattr__ = lazy_attributes("snnlib.bench", _LAZY)


__all__ = ["ACTIVITIES", "BENCH_IMPLS", "BENCH_PRESETS", "MODES", "PEERS", "BenchCase",
           "array_sha256", "bench_inputs", "maxrss_mb", "measure_memory_bandwidth",
           "peer_status", "preset_cases", "preset_sweeps", "records_csv", "roofline_fields",
           "sparse_bytes_per_step", "summarize", "time_calls", "write_results", *_LAZY]
