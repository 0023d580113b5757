"""The real_activity benchmark: networks calibrated to fire at a target rate, the sparse paths
fed index lists built outside the timed step, records carrying target and measured activity."""

import numpy as np
import pytest

from snnlib.bench import preset_cases, run_benchmark
from snnlib.bench.calibrate import calibrate_layer_scales, calibrated
from snnlib.bench.figures import speedup_summary
from snnlib.bench.cases import REAL_ACTIVITY_TARGETS, BenchCase, bench_inputs
from snnlib.bench.runner import model_inputs

SMALL = dict(n_in=64, hidden=(48, 48), n_out=5, n_steps=20, batch_size=8, input_capacity=16)


def test_preset_pairs_each_target_with_a_capacity_of_twice_it():
    cases = preset_cases("real_activity", ["dense", "dense_xla", "sparse_layer", "peer:torch"])
    targets = sorted({c.target_activity for c in cases})
    assert targets == sorted(REAL_ACTIVITY_TARGETS)
    for case in cases:
        assert case.sizes == [1152, 980, 980, 980, 10] and case.th2 == 0.9
        if case.impl == "sparse_layer":
            assert case.max_activity == pytest.approx(2 * case.target_activity)
    assert {c.impl for c in cases} == {"dense", "dense_xla", "sparse_layer", "peer:torch"}


@pytest.mark.parametrize("target", [0.05, 0.2])
def test_calibration_makes_every_hidden_layer_fire_at_the_target(target):
    case = BenchCase(impl="dense", target_activity=target, **SMALL)
    x, _ = bench_inputs(case)
    scales, rates = calibrate_layer_scales(case, x)
    assert len(scales) == 3 and scales[-1] == 1.0
    for rate in rates[:-1]:
        assert rate == pytest.approx(target, rel=0.05)
    cache = {}
    first = calibrated(case, x, cache)
    sparse = calibrated(BenchCase(impl="sparse_layer", max_activity=2 * target,
                                  target_activity=target, **SMALL), x, cache)
    assert first.layer_scales == sparse.layer_scales == scales and len(cache) == 1


def test_unreachable_target_and_bad_scales_are_clear_errors():
    case = BenchCase(impl="dense", target_activity=0.9, **SMALL)
    with pytest.raises(ValueError, match="cannot fire at 90.00%"):
        calibrate_layer_scales(case, bench_inputs(case)[0], bounds=(0.5, 1.0))
    with pytest.raises(ValueError, match="layer_scales must hold 3 positive factors"):
        BenchCase(impl="dense", layer_scales=(1.0, 2.0), **SMALL)
    with pytest.raises(ValueError, match=r"target_activity must be in \(0, 1\)"):
        BenchCase(impl="dense", target_activity=1.5, **SMALL)


def test_sparse_cases_take_index_lists_and_dense_cases_rasters():
    case = BenchCase(impl="sparse_layer", max_activity=0.2, **SMALL)
    x, _ = bench_inputs(case)
    lists = model_inputs(case, x)
    assert set(lists) == {"ids", "counts"} and lists["ids"].shape == (8, 20, 16)
    assert int(lists["counts"].numpy()[..., 0].sum()) == int(x.sum())
    assert model_inputs(BenchCase(impl="dense", **SMALL), x).shape == (8, 20, 64)


def test_records_carry_target_scales_and_measured_activity():
    cases = [BenchCase(impl=impl, max_activity=0.2 if impl != "dense" else None,
                       target_activity=0.1, sweep="real_activity", **SMALL)
             for impl in ("dense", "sparse_layer")]
    result = run_benchmark(cases, modes=("train",), warmup=1, repeats=1, steps=1,
                           bandwidth=False)
    dense, sparse = result["records"]
    assert "error" not in dense and "error" not in sparse
    assert dense["layer_scales"] == sparse["layer_scales"] and dense["target_activity"] == 0.1
    for rec in (dense, sparse):
        assert np.mean(rec["activity"][:-1]) == pytest.approx(0.1, rel=0.3)


def test_rounds_repeat_every_case_with_one_calibration():
    cases = [BenchCase(impl=impl, max_activity=0.2 if impl != "dense" else None,
                       target_activity=0.1, sweep="real_activity", **SMALL)
             for impl in ("dense", "sparse_layer")]
    with pytest.raises(ValueError, match="rounds must be an integer >= 1"):
        run_benchmark(cases, rounds=0)
    records = run_benchmark(cases, modes=("train",), warmup=1, repeats=1, steps=1,
                            bandwidth=False, rounds=2)["records"]
    assert [(r["impl"], r["round"]) for r in records] == [
        ("dense", 0), ("sparse_layer", 0), ("dense", 1), ("sparse_layer", 1)]
    assert len({tuple(r["layer_scales"]) for r in records}) == 1
    (row,) = speedup_summary(records)
    assert row["rounds"] == 2 and row["speedup_min"] <= row["speedup"] <= row["speedup_max"]
