"""The op-level benchmark returns what it measured, for both timing modes."""

import pytest

from snnlib.bench import opbench


def test_both_timings_are_reported_for_each_activity():
    rows = opbench.time_sparse_matmul_vs_dense(activities=(0.1, 0.5), batch=3, n_in=40, n_out=24,
                                               repeats=1, inner=1, steps=2, sets=2)
    assert [r["capacity"] for r in rows] == [4, 20]
    for r in rows:
        for key in ("sparse_ms", "sparse_oi_ms", "dense_ms", "sparse_graph_ms",
                    "sparse_oi_graph_ms", "dense_graph_ms"):
            assert r[key] > 0.0
        assert r["speedup"] == pytest.approx(r["dense_ms"] / r["sparse_ms"])
        assert r["speedup_graph"] == pytest.approx(r["dense_graph_ms"] / r["sparse_graph_ms"])
        assert r["speedup_oi"] == pytest.approx(r["dense_ms"] / r["sparse_oi_ms"])
        assert r["speedup_oi_graph"] == pytest.approx(r["dense_graph_ms"] / r["sparse_oi_graph_ms"])


def test_bad_loop_sizes_are_refused():
    with pytest.raises(ValueError, match="steps"):
        opbench.time_sparse_matmul_vs_dense(activities=(0.1,), batch=2, n_in=8, n_out=8, steps=0)


TINY = dict(activities=[0.1], batch=3, n_in=40, n_out=24, repeats=1, inner=1, steps=2, sets=2)


def test_fastest_dense_run_is_chosen_among_fresh_processes():
    timing = opbench.time_against_fastest_dense(thread_options=(None, 1), **TINY)
    assert set(timing["runs"]) == {None, 1}
    assert timing["runs"][1][0]["intra_op_threads"] == 1
    assert timing["runs"][None][0]["intra_op_threads"] == 0  # TensorFlow's default
    fastest = min(timing["runs"], key=lambda k: timing["runs"][k][0]["dense_graph_ms"])
    assert timing["chosen"] == fastest and timing["rows"] == timing["runs"][fastest]
    row = timing["rows"][0]
    assert row["call_ms"] > 0.0 and row["loop_ms"] > 0.0


def test_a_failing_benchmark_process_reports_its_error():
    with pytest.raises(RuntimeError, match="steps"):
        opbench.run_isolated(1, **{**TINY, "steps": 0})
    with pytest.raises(ValueError, match="intra_op_threads"):
        opbench.run_isolated(0)
