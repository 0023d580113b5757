"""Fuzzing of the compiled ops and the public wrappers: no input may crash or hang the process.

Calls come from :mod:`snnlib.ops.fuzz_cases` and :mod:`snnlib.ops.fuzz_layer_cases` (every
raw op of the compiled library) and :mod:`snnlib.ops.fuzz_wrappers` (every public wrapper and
the NumPy conversions of :mod:`snnlib.spikes`), one seeded call per index, each in one
of four modes: ``eager``, ``graph`` (a TF1-style graph and session: the shape functions see
every shape), ``graph_dynamic`` (the same with every tensor behind a placeholder of unknown
shape: only the kernels can check) and ``function`` (a ``tf.function`` over the arguments;
fewer of these, they cost about five graphs). They run in a CHILD process, so that
a crash (a signal) or a hang (no result within the per-call timeout) is recorded and the run
goes on in a fresh child from the next call, instead of killing the caller.

A call passes when it breaks a rule and raises ``InvalidArgumentError``,
``ResourceExhaustedError`` or ``ValueError`` whose message names the argument, or when it
is valid and returns. Anything else is a failure: ``crash``, ``hang``, ``silent`` (an
invalid call accepted), ``wrong_error`` (another exception type), ``unnamed`` (a message
that does not name the argument) or ``rejected_valid``.

Usage (the test suite runs a short one)::

    python -m snnlib.ops.fuzz --calls 100000 [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import selectors
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2

from snnlib.ops import _loader
from snnlib.ops.fuzz_cases import RAW_TARGETS, Zeros
from snnlib.ops.fuzz_layer_cases import LAYER_TARGETS
from snnlib.ops.fuzz_wrappers import WRAPPER_TARGETS

ALLOWED = ("InvalidArgumentError", "ResourceExhaustedError", "ValueError")
MODES = ("eager", "graph", "graph_dynamic", "function")
MODE_WEIGHTS = (0.4, 0.26, 0.26, 0.08)  # tf.function calls cost ~5x a TF1-style graph
FAILURES = ("crash", "hang", "silent", "wrong_error", "unnamed", "rejected_valid")


# --- the child: runs calls, one JSON line per call -------------------------------------------

def _message(err) -> str:
    """The error text without traceback lines (source lines would name arguments too)."""
    text = getattr(err, "message", None) or str(err)
    lines, skip = [], False
    for line in text.splitlines():
        if re.match(r'\s*File "', line):
            skip = True  # the next line is the source line of that frame
            continue
        if skip:
            skip = False
            continue
        lines.append(line)
    return "\n".join(lines)


def _names_in(message: str, names) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message)
               for n in names)


def _materialize(x, dynamic=False):
    """A case's argument as the call sees it: ``Zeros`` become a ``Fill`` of their shape
    (never a NumPy array: most have more than 2**63 bytes' worth of dimensions); with
    ``dynamic``, tensors are hidden behind a placeholder of unknown shape."""
    if isinstance(x, Zeros):
        x = tf.fill(tf.constant(x.shape, tf.int64), tf.zeros([], x.dtype))
    if dynamic:
        x = tf.convert_to_tensor(x) if isinstance(x, np.ndarray) else x
        x = tf.compat.v1.placeholder_with_default(x, [None] * x.shape.rank)
    return x


def _session_config():
    """Grappler without constant folding: it folds a zero-element ``Fill`` with a huge
    dimension (``[0, 2**50]``) into a ``[0, 0]`` constant (TF 2.21), so the op would be
    called with other arguments than the case's."""
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.constant_folding = rewriter_config_pb2.RewriterConfig.OFF
    return config


def _invoke(case, mode):
    """Eager; ``graph`` / ``graph_dynamic``: a TF1-style graph run by a session (static or
    unknown shapes; fast to build); ``function``: a ``tf.function`` over the arguments."""

    if mode in ("graph", "graph_dynamic"):
        with tf.Graph().as_default() as graph:
            args = {k: _materialize(v, mode == "graph_dynamic") for k, v in case.tensors.items()}
            fetch = [t for t in tf.nest.flatten(case.call(**args)) if tf.is_tensor(t)]
            with tf.compat.v1.Session(graph=graph, config=_session_config()) as session:
                session.run(fetch)
        return
    args = {k: _materialize(v) for k, v in case.tensors.items()}
    if mode == "eager":
        out = case.call(**args)
    elif case.dynamic:  # arguments: static shapes, not captured by value
        out = tf.function(lambda **kw: case.call(**kw))(**args)
    else:  # None, ragged, object or string arguments: captured
        out = tf.function(lambda: case.call(**args))()
    for t in tf.nest.flatten(out):
        if hasattr(t, "numpy"):
            t.numpy()
        elif t is not None and not isinstance(t, (np.ndarray, np.generic)):
            raise TypeError(f"unexpected output {type(t).__name__}")


def targets():
    """``(raw, wrappers)``: the case builders by target name (``raw[name](rng, lib)``,
    ``wrappers[name](rng)``)."""
    return {**RAW_TARGETS, **LAYER_TARGETS}, WRAPPER_TARGETS


def make_call(seed: int, index: int, lib):
    """``(case, mode)`` of call ``index``: the target is drawn uniformly from every raw op and
    every wrapper, then a mutation of its arguments, then a mode."""

    raw, wrappers = targets()
    rng = np.random.default_rng([seed, index])
    names = sorted(raw) + sorted(wrappers)
    name = names[int(rng.integers(0, len(names)))]
    case = raw[name](rng, lib) if name in raw else wrappers[name](rng)
    modes = [m for m in case.modes if case.dynamic or m != "graph_dynamic"]
    weights = np.array([MODE_WEIGHTS[MODES.index(m)] for m in modes])
    return case, modes[int(rng.choice(len(modes), p=weights / weights.sum()))]


def run_call(case, mode) -> dict:
    """One call and its verdict."""

    result = dict(target=case.target, family=case.family, mutation=case.mutation, mode=mode,
                  expect=case.expect)
    try:
        _invoke(case, mode)
    except (tf.errors.InvalidArgumentError, tf.errors.ResourceExhaustedError, ValueError) as err:
        message = _message(err)
        result.update(error=type(err).__name__, message=message[:300])
        if case.expect == "ok":
            result["verdict"] = "rejected_valid"
        elif not _names_in(message, case.names):
            result["verdict"] = "unnamed"
        else:
            result["verdict"] = "pass"
        return result
    except Exception as err:  # noqa: BLE001 - any other type is the finding
        result.update(error=type(err).__name__, message=_message(err)[:300],
                      verdict="wrong_error")
        return result
    result["verdict"] = "silent" if case.expect == "error" else "pass"
    return result


def _worker(seed: int, start: int, stop: int, inject: dict) -> None:
    out = sys.stdout
    lib = None
    for i in range(start, stop):
        out.write(json.dumps({"start": i}) + "\n")
        out.flush()
        if inject.get("crash") == i:
            os.abort()
        if inject.get("hang") == i:
            time.sleep(10**6)
        if lib is None:
            lib = _loader.require_library()
        case, mode = make_call(seed, i, lib)
        result = run_call(case, mode)
        result["i"] = i
        out.write(json.dumps(result) + "\n")
        out.flush()


# --- the parent: children, timeouts, the summary ------------------------------------------

def _child_limits(gib: float | None):
    """No core files (crashes are expected findings); the address space capped at ``gib``."""
    def apply():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if gib:
            limit = int(gib * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def _spawn(seed, start, stop, inject, memory_gib, stderr):
    cmd = [sys.executable, "-m", "snnlib.ops.fuzz", "--worker", "--seed", str(seed),
           "--start", str(start), "--calls", str(stop), "--inject", json.dumps(inject)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, env=env, text=True,
                            preexec_fn=_child_limits(memory_gib))


def run(calls: int = 2000, seed: int = 0, *, call_timeout: float = 30.0,
        startup_timeout: float = 180.0, total_timeout: float | None = None,
        memory_gib: float | None = 16.0, inject: dict | None = None) -> dict:
    """Run calls ``0 .. calls - 1`` in child processes; returns the summary: ``counts`` per
    target, family and mode (``calls`` and every verdict), ``failures`` (the details of the
    first 50), ``complete`` (every call has a verdict) and ``seconds``.

    A child that dies (signal or exit) records a ``crash`` for the call it was running and
    one that gives no result within ``call_timeout`` (``startup_timeout`` for its first call,
    which imports TensorFlow) a ``hang``; the next child starts at the following call.
    ``memory_gib`` caps each child's address space (``None``: no cap), so that an oversized
    allocation fails instead of swapping. ``inject`` (tests of this runner):
    ``{"crash": i, "hang": j}``.
    """
    t0 = time.monotonic()
    inject = inject or {}
    results: dict[int, dict] = {}
    next_call, complete = 0, True
    with tempfile.TemporaryFile("w+") as stderr:
        while next_call < calls:
            if total_timeout is not None and time.monotonic() - t0 > total_timeout:
                complete = False
                break
            child = _spawn(seed, next_call, calls, inject, memory_gib, stderr)
            sel = selectors.DefaultSelector()
            sel.register(child.stdout, selectors.EVENT_READ)
            running, first = None, True
            while True:
                timeout = startup_timeout if first else call_timeout
                left = None if total_timeout is None else total_timeout - (time.monotonic() - t0)
                overall = left is not None and left < timeout
                if not sel.select(max(0.1, left) if overall else timeout):
                    child.kill()
                    child.wait()
                    if overall:  # out of time overall: not the call's fault
                        complete, next_call = False, calls
                    elif running is not None:
                        results[running] = dict(verdict="hang", i=running)
                        next_call = running + 1
                    else:
                        complete = False
                        next_call = calls
                    break
                line = child.stdout.readline()
                if not line:
                    code = child.wait()
                    if running is not None:
                        results[running] = dict(verdict="crash", i=running, returncode=code)
                        next_call = running + 1
                    elif code != 0:  # died outside a call (e.g. at import): give up
                        complete, next_call = False, calls
                    break
                msg = json.loads(line)
                if "start" in msg:
                    running, first = msg["start"], False
                else:
                    results[msg["i"]] = msg
                    running, next_call = None, msg["i"] + 1
            sel.close()
            child.stdout.close()
        stderr.seek(0)
        stderr_tail = stderr.read()[-2000:]
    return _summary(results, calls, seed, complete and len(results) == calls,
                    time.monotonic() - t0, stderr_tail)


def _summary(results, calls, seed, complete, seconds, stderr_tail) -> dict:
    counts = {"target": defaultdict(Counter), "family": defaultdict(Counter),
              "mode": defaultdict(Counter), "mutation": defaultdict(Counter)}
    failures = []
    for i in sorted(results):
        r = results[i]
        if r["verdict"] in ("crash", "hang"):  # describe the call (no op runs: lib unused)
            case, mode = make_call(seed, i, None)
            r.update(target=case.target, family=case.family, mutation=case.mutation,
                     mode=mode)
        for key in counts:
            group = counts[key][r.get(key, "?")]
            group["calls"] += 1
            group[r["verdict"]] += 1
        if r["verdict"] != "pass":
            failures.append(r)
    return dict(calls=calls, seed=seed, complete=complete, seconds=round(seconds, 1),
                total=Counter(r["verdict"] for r in results.values()),
                counts={k: {g: dict(c) for g, c in sorted(v.items())} for k, v in counts.items()},
                failures=failures[:50], n_failures=len(failures),
                stderr_tail=stderr_tail if failures or not complete else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnlib.ops.fuzz",
                                     description="Seeded invalid calls of every compiled op "
                                                 "and wrapper, in child processes.")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--call-timeout", type=float, default=30.0)
    parser.add_argument("--memory-gib", type=float, default=16.0,
                        help="address-space cap of a child in GiB (0: none)")
    parser.add_argument("--out", default=None, help="write the summary here as JSON")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--inject", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.seed, args.start, args.calls, json.loads(args.inject))
        return 0
    summary = run(args.calls, args.seed, call_timeout=args.call_timeout,
                  memory_gib=args.memory_gib or None)
    text = json.dumps(summary, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    sys.stdout.write(json.dumps({k: summary[k] for k in ("calls", "complete", "seconds",
                                                         "total", "n_failures")}) + "\n")
    for key in ("family", "target"):
        for group, c in summary["counts"][key].items():
            sys.stdout.write(f"{key:6s} {group:24s} " + " ".join(
                f"{v}={c[v]}" for v in ("calls", "pass", *FAILURES) if c.get(v)) + "\n")
    for f in summary["failures"][:20]:
        sys.stdout.write(json.dumps(f) + "\n")
    return 0 if summary["complete"] and not summary["n_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
