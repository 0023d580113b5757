"""The op-level benchmark returns what it measured, for both timing modes."""

import pytest

from snnlib.ops import opbench


def test_both_timings_are_reported_for_each_activity():
    rows = opbench.time_sparse_matmul_vs_dense(activities=(0.1, 0.5), batch=3, n_in=40, n_out=24,
                                               repeats=1, inner=1, steps=2, sets=2)
    assert [r["capacity"] for r in rows] == [4, 20]
    for r in rows:
        for key in ("sparse_ms", "sparse_t_ms", "dense_ms", "sparse_graph_ms", "sparse_t_graph_ms",
                    "dense_graph_ms"):
            assert r[key] > 0.0
        assert r["speedup"] == pytest.approx(r["dense_ms"] / r["sparse_ms"])
        assert r["speedup_graph"] == pytest.approx(r["dense_graph_ms"] / r["sparse_graph_ms"])
        assert r["speedup_t"] == pytest.approx(r["dense_ms"] / r["sparse_t_ms"])
        assert r["speedup_t_graph"] == pytest.approx(r["dense_graph_ms"] / r["sparse_t_graph_ms"])


def test_bad_loop_sizes_are_refused():
    with pytest.raises(ValueError, match="steps"):
        opbench.time_sparse_matmul_vs_dense(activities=(0.1,), batch=2, n_in=8, n_out=8, steps=0)
