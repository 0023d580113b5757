"""The benchmark harness: CLI smoke run, metadata on every record, identical data across
implementations, roofline fields, peers reported (not fatal) when missing."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from snnlib import bench

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
METADATA = ("cpu_model", "cpu_cores", "gpu", "tf_version", "keras_version", "ops_backend",
            "impl", "n_in", "hidden", "n_out", "n_steps", "batch_size", "max_activity",
            "input_capacity", "input_sha256", "memory_method", "peak_rss_mb", "mode",
            "step_ms_median", "step_ms_q1", "step_ms_q3", "samples_per_s", "bandwidth_gbs")


def test_cli_bench_tiny_smoke(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snnlib", "bench", "--preset", "tiny",
                           "--repeats", "1", "--steps", "1", "--warmup", "1",
                           "--out", str(tmp_path)], env=ENV, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["errors"] == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    records = result["records"]
    assert {r["impl"] for r in records} == set(bench.BENCH_IMPLS)
    assert {r["mode"] for r in records} == {"train", "infer"}
    for r in records:
        missing = [k for k in METADATA if k not in r]
        assert not missing, f"record of {r['impl']} lacks {missing}"
        assert r["ops_backend"] in ("compiled", "reference") and r["step_ms_median"] > 0
    # identical data across implementations: one input hash per data configuration
    by_data = {}
    for r in records:
        key = (r["n_in"], r["n_steps"], r["batch_size"], r["input_capacity"], r["seed"])
        by_data.setdefault(key, set()).add(r["input_sha256"])
    assert all(len(h) == 1 for h in by_data.values()), by_data
    activity = [r for r in records if r["sweep"] == "activity"]
    assert len({r["input_sha256"] for r in activity}) == 1
    assert any(r.get("bandwidth_fraction") for r in records if r["impl"] == "sparse_layer")
    rows = list(csv.DictReader((tmp_path / "bench.csv").open()))
    assert len(rows) == len(records) and "input_sha256" in rows[0]


def test_inputs_are_capped_to_the_input_capacity_and_reproducible():
    case = bench.BenchCase(impl="dense", n_in=40, hidden=(8,), n_steps=6, batch_size=5,
                           input_capacity=3, input_activity=0.3)
    x, y = bench.bench_inputs(case)
    assert x.shape == (5, 6, 40) and x.sum(-1).max() <= 3
    x2, y2 = bench.bench_inputs(bench.BenchCase(**{**case.to_dict(), "impl": "sparse_layer",
                                                   "max_activity": 0.5}))
    assert bench.array_sha256(x, y) == bench.array_sha256(x2, y2)


def test_run_case_records_train_and_infer_in_process():
    case = bench.BenchCase(impl="sparse_ops", n_in=16, hidden=(8,), n_out=4, n_steps=5,
                           batch_size=3, input_capacity=4, max_activity=0.5)
    recs = bench.run_case(case, warmup=1, repeats=2, steps=1)
    assert [r["mode"] for r in recs] == ["infer", "train"]
    train = recs[1]
    assert train["sparse_sizes"][:2] == [4, 4] and len(train["activity"]) == 2
    assert np.isfinite(train["loss"]) and train["samples_per_s"] > 0
    assert bench.sparse_bytes_per_step(train) > 0


def test_summarize_and_presets():
    s = bench.summarize([0.001, 0.002, 0.003], batch_size=10)
    assert s["step_ms_median"] == pytest.approx(2.0) and s["samples_per_s"] == pytest.approx(5000)
    cases = bench.preset_cases("multi_layer")
    act = [c for c in cases if c.sweep == "activity" and c.impl == "sparse_layer"]
    assert sorted(c.max_activity for c in act) == list(bench.ACTIVITIES)
    assert all(c.sizes == [1152, 980, 980, 980, 10] and c.n_steps == 100 and c.batch_size == 48
               and c.input_capacity == 32 for c in act)
    assert {len(c.hidden) for c in cases if c.sweep == "layers"} == {2, 3, 4, 5}
    assert {c.batch_size for c in bench.preset_cases("batch")} == {24, 48, 96, 192, 384}
    with pytest.raises(ValueError, match="valid choices"):
        bench.preset_cases("huge")
    with pytest.raises(ValueError, match="max_activity"):
        bench.BenchCase(impl="sparse_layer")


def test_missing_peer_is_reported_not_raised(monkeypatch):
    from snnlib.bench import peers

    monkeypatch.setitem(peers.PEERS, "ghost", "snnlib.bench.peers.no_such_module")
    status = peers.peer_status(["ghost"])
    assert status["ghost"]["available"] is False
    assert "ModuleNotFoundError" in status["ghost"]["reason"]


def test_failing_isolated_case_becomes_an_error_record(monkeypatch):
    case = bench.BenchCase(impl="peer:ghost", n_in=8, hidden=(4,), n_steps=2, batch_size=2,
                           input_capacity=2)
    recs = bench.run_benchmark([case], warmup=1, repeats=1, steps=1, bandwidth=False)["records"]
    assert len(recs) == 1 and "error" in recs[0] and recs[0]["cpu_model"]


def test_peak_rss_of_a_call_is_its_own_even_after_a_larger_one():
    from snnlib.bench.timing import maxrss_mb, with_peak_rss

    big = np.ones(400 * 2**20 // 8)  # raise the process's high-water mark first
    del big
    kept, memory = with_peak_rss(lambda: np.ones(150 * 2**20 // 8))
    if "reset" not in memory["rss_method"]:
        pytest.skip(f"the high-water mark cannot be reset here: {memory['rss_method']}")
    assert 120 < memory["rss_delta_mb"] < 250, memory
    assert memory["peak_rss_mb"] <= maxrss_mb() + 1e-6 and kept.nbytes == 150 * 2**20


def test_a_subprocess_does_not_inherit_the_parents_high_water_mark():
    ballast = np.ones(300 * 2**20 // 8)  # this process is large; its child must not say so
    code = "from snnlib.bench.timing import maxrss_mb; print(maxrss_mb())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "SNNLIB_PEER_WORKER": "1"})
    assert float(out.stdout.strip().splitlines()[-1]) < ballast.nbytes / 2**20
