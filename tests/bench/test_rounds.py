"""Benchmark rounds: the whole case list run several times, each sparse record compared with
the dense records of its own round, the speed-ups summarised over the rounds."""

import pytest

from snnlib.bench.figures import conclusions, measured_speedups, speedup_summary

HIDDEN = [48, 48]


def record(impl, ms, rnd, target=0.05, activity=(0.05, 0.05, 0.01)):
    return {"impl": impl, "mode": "train", "sweep": "real_activity", "target_activity": target,
            "hidden": HIDDEN, "n_in": 64, "n_out": 5, "n_steps": 20, "batch_size": 8,
            "max_activity": None if impl.startswith("dense") else 2 * target,
            "activity": list(activity), "overflow": [0.0, 0.0, 0.0], "step_ms_median": ms,
            "round": rnd}


def two_rounds():
    """Round 0 on a fast machine, round 1 on a slow one: 10x, then 5x within each round (taken
    across rounds instead, the fastest dense over the slow sparse would give 2.5x)."""
    return [record("dense", 100.0, 0), record("dense_xla", 120.0, 0),
            record("sparse_layer", 10.0, 0), record("dense", 200.0, 1),
            record("dense_xla", 240.0, 1), record("sparse_layer", 40.0, 1)]


def test_each_sparse_record_is_compared_with_the_dense_records_of_its_round():
    rows = sorted(measured_speedups(two_rounds()), key=lambda row: row["round"])
    assert [row["round"] for row in rows] == [0, 1]
    assert [row["speedup"] for row in rows] == pytest.approx([10.0, 5.0])
    assert [row["dense_ms"] for row in rows] == [100.0, 200.0]


def test_summary_is_the_median_over_rounds_with_its_range():
    (row,) = speedup_summary(two_rounds())
    assert row["impl"] == "sparse_layer" and row["target"] == 0.05 and row["rounds"] == 2
    assert row["speedup"] == pytest.approx(7.5)
    assert (row["speedup_min"], row["speedup_max"]) == pytest.approx((5.0, 10.0))
    assert row["measured"] == pytest.approx(0.05) and row["ms"] == pytest.approx(25.0)


def test_one_round_and_records_without_a_round_read_as_before():
    plain = [dict(r) for r in two_rounds()[:3]]
    for r in plain:
        del r["round"]
    (row,) = speedup_summary(plain)
    assert row["rounds"] == 1 and row["speedup"] == row["speedup_min"] == row["speedup_max"] == 10.0


def test_conclusions_state_the_median_and_range_of_several_rounds():
    lines = [line for line in conclusions(two_rounds()) if "rounds" in line]
    assert len(lines) == 1 and "median over 2 rounds 7.50x" in lines[0]
    assert "from 5.00x to 10.00x" in lines[0]
