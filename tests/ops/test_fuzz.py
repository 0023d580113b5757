"""Seeded invalid calls of every compiled op and public wrapper, eager and graph, in a child
process (snnlib.ops.fuzz): no crash, no hang, no silent acceptance, only named
InvalidArgumentError / ResourceExhaustedError / ValueError. A longer run:
``python -m snnlib.ops.fuzz --calls 100000``."""

import pytest

from snnlib.ops import fuzz
from tests.ops import require_compiled

CALLS = 2500


def _report(summary):
    lines = [f"{f.get('target')} {f.get('mutation')} {f.get('mode')}: {f['verdict']} "
             f"{f.get('error', '')} {f.get('message', '')[:200]}" for f in summary["failures"]]
    return "\n".join(lines[:20]) + "\n" + summary["stderr_tail"]


def test_fuzz_calls_never_crash_hang_or_pass_silently():
    require_compiled()
    summary = fuzz.run(CALLS, seed=14, call_timeout=60.0, total_timeout=240.0)
    assert summary["complete"], _report(summary)
    assert summary["n_failures"] == 0, _report(summary)
    targets = summary["counts"]["target"]
    raw, wrappers = fuzz.targets()
    assert set(targets) == set(raw) | set(wrappers)
    assert len(raw) == 12  # every op of the compiled library
    modes = summary["counts"]["mode"]
    assert set(modes) == set(fuzz.MODES)
    assert sum(c["calls"] for c in targets.values()) == CALLS


def test_a_crash_or_hang_in_the_child_is_a_failure_not_the_end_of_the_run(monkeypatch):
    # Calls 0 and 1 are replaced by an abort and a sleep before TensorFlow is imported.
    monkeypatch.setattr(fuzz, "make_call", lambda seed, i, lib: (_Stub(), "eager"))
    summary = fuzz.run(2, seed=0, call_timeout=5.0, inject={"crash": 0, "hang": 1})
    assert summary["complete"]
    assert summary["total"] == {"crash": 1, "hang": 1}
    assert [f["verdict"] for f in summary["failures"]] == ["crash", "hang"]


class _Stub:
    target, family, mutation = "stub", "raw", "injected"


@pytest.mark.parametrize("message, names, ok", [
    ("SnnlibSparseMatmul: in (weights.shape[1]) = 5 neurons", ("weights",), True),
    ("SnnlibSparseMatmulT: weights_t must be rank 2", ("weights",), False),
    ("in user code:\n  File \"x.py\", line 3\n    f(weights=w)\nValueError: th1 bad",
     ("weights",), False),
])
def test_messages_must_name_the_argument_outside_tracebacks(message, names, ok):
    assert fuzz._names_in(fuzz._message(ValueError(message)), names) is ok
