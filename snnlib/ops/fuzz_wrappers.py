"""Seeded calls of the public wrappers for :mod:`snnlib.ops.fuzz` (see
:mod:`snnlib.ops.fuzz_cases` for the raw ops and the rules of a case)."""

from __future__ import annotations

import numpy as np

from snnlib import ops, spikes as sp
from snnlib.ops.fuzz_cases import (HUGE_IDS, HUGE_OUT, LIF_CONSTANTS, MAX_ID, Case, Zeros,
                                   _break_sparse, _carrier, _dtype, _huge, _sparse,
                                   bad_lif_constant)
from snnlib.ops.layer import sparse_lif_layer

BAD_CAPACITY = (0, -3, 2.5, True, None, 2**31, 2**40)


def _bad_objects():
    """Values that are no rectangular numeric array: None, ragged, object and string arrays."""
    return [None, [[1.0, 2.0], [3.0]], np.array([1.0, "a"], dtype=object),
            np.array([["a", "b"], ["c", "d"]])]


def _pick(rng, values):
    return values[int(rng.integers(0, len(values)))]


def _case(target, kind, names, expect, t, call, rng, *, dynamic=True, reference_ok=True):
    """A wrapper case on the compiled backend (or, for kinds the reference handles alike,
    sometimes the reference)."""
    backend = "compiled"
    if reference_ok and not kind.startswith("huge") and "extreme" not in kind \
            and rng.uniform() < 0.15:
        backend = "reference"
    return Case(target, "wrapper", kind, names, expect, t,
                lambda **kw: call(backend=backend, **kw), dynamic=dynamic,
                extra=dict(backend=backend))


def _select(rng):
    dt = _dtype(rng)
    lead = (int(rng.integers(0, 3)),) * int(rng.integers(1, 3))
    n = int(rng.integers(1, 9))
    t = dict(v=rng.uniform(-0.5, 1.5, size=(*lead, n)).astype(dt))
    kw = dict(th1=1.0, th2=_pick(rng, [0.9, None]), beta=10.0, capacity=int(rng.integers(1, n + 1)))
    kind = str(rng.choice(["valid", "valid_extreme", "v_object", "huge_v", "v_rank", "th1",
                           "th2", "beta", "capacity"]))
    names, expect, dynamic = (), "error", True
    if kind.startswith("valid"):
        expect = "ok"
        if kind == "valid_extreme":
            t["v"] = Zeros((0, MAX_ID), dt)
    elif kind == "v_object":
        names, dynamic = ("v",), False
        t["v"] = _pick(rng, _bad_objects())
    elif kind == "huge_v":
        names = ("v",)
        t["v"] = Zeros((0, _huge(rng, HUGE_IDS)), dt)
    elif kind == "v_rank":
        names = ("v",)
        t["v"] = np.ones(n, dt)
    elif kind == "th1":
        names = ("th1",)
        kw["th1"] = bad_lif_constant(rng, "th1")
    elif kind == "th2":
        names = ("th2",)
        kw["th2"] = bad_lif_constant(rng, "th2")
    elif kind == "beta":
        names = ("beta",)
        kw["beta"] = bad_lif_constant(rng, "beta")
    elif kind == "capacity":
        names = ("capacity",)
        kw["capacity"] = _pick(rng, list(BAD_CAPACITY) + [n + 1])
    return _case("select_spikes", kind, names, expect, t,
                 lambda v, backend: ops.select_spikes(v, backend=backend, **kw), rng,
                 dynamic=dynamic)


def _spikes_of(t):
    return sp.SparseSpikes(t["ids"], t["counts"], t.get("values"))


def _matmul(rng, layout):
    dt = _dtype(rng)
    batch, n_in, n_out, cap = (int(rng.integers(0, 4)), int(rng.integers(1, 9)),
                               int(rng.integers(0, 6)), int(rng.integers(1, 5)))
    ids, counts = _sparse(rng, batch, n_in, cap)
    t = dict(ids=ids, counts=counts)
    if rng.integers(0, 2):
        t["values"] = _carrier(counts, cap, dt)

    def weights(shape_out_in, zeros=False):
        shape = shape_out_in if layout == "out_in" else shape_out_in[::-1]
        return Zeros(shape, dt) if zeros else rng.normal(size=shape).astype(dt)

    t["weights"] = weights((n_out, n_in))
    extra = {}
    kind = str(rng.choice(["valid", "valid_extreme", "weights_object", "ids_object",
                           "huge_in", "huge_out", "sparse", "values", "weights_rank",
                           "layout"]))
    names, expect, dynamic = (), "error", True
    if kind.startswith("valid"):
        expect = "ok"
        if kind == "valid_extreme":
            t["ids"], t["counts"] = _sparse(rng, batch, MAX_ID, cap)
            t["weights"] = weights((0, MAX_ID), zeros=True)
            t.pop("values", None)
    elif kind in ("weights_object", "ids_object"):
        key = kind.split("_")[0]
        names, dynamic = (key,), False
        t[key] = _pick(rng, _bad_objects())
    elif kind == "huge_in":
        names = ("weights", "weights_t")
        t["counts"] = np.zeros_like(counts)
        t["weights"] = weights((0, _huge(rng, HUGE_IDS)), zeros=True)
    elif kind == "huge_out":  # the in_out kernel calls the weights weights_t
        names = ("weights", "weights_t")
        b = max(batch, 1)
        t.update(ids=np.zeros((b, cap), np.int32), counts=np.zeros((b, 2), np.int32))
        t.pop("values", None)
        t["weights"] = weights((_huge(rng, HUGE_OUT), 0), zeros=True)
    elif kind == "sparse":
        if batch == 0:
            return _matmul(rng, layout)
        t["ids"], t["counts"], names = _break_sparse(rng, ids, counts, n_in)
    elif kind == "values":
        names = ("values",)
        t["values"] = np.zeros((batch, cap + 1), dt)
    elif kind == "weights_rank":
        names = ("weights",)
        t["weights"] = np.ones(n_in, dt)
    elif kind == "layout":
        names = ("weights_layout",)
        extra["weights_layout"] = _pick(rng, ["in,out", None, "OUT_IN"])

    def call(weights, ids, counts, backend, values=None):
        spikes = sp.SparseSpikes(ids, counts, values)
        return ops.sparse_matmul(weights, spikes, weights_layout=extra.get("weights_layout",
                                                                            layout),
                                 backend=backend)

    target = "sparse_matmul" if layout == "in_out" else "sparse_matmul(out_in)"
    return _case(target, kind, names, expect, t, call, rng, dynamic=dynamic)


def _to_dense(rng):
    dt = _dtype(rng)
    batch, n, cap = int(rng.integers(0, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 5))
    ids, counts = _sparse(rng, batch, n, cap)
    t = dict(ids=ids, counts=counts)
    if rng.integers(0, 2):
        t["values"] = _carrier(counts, cap, dt)
    arg = dict(n=n, as_tuple=False)
    kind = str(rng.choice(["valid", "valid_extreme", "n", "ids_object", "sparse", "spikes"]))
    names, expect, dynamic = (), "error", True
    if kind.startswith("valid"):
        expect = "ok"
        if kind == "valid_extreme":
            t.update(ids=np.zeros((0, cap), np.int32), counts=np.zeros((0, 2), np.int32))
            t.pop("values", None)
            arg["n"] = MAX_ID
    elif kind == "n":
        names = ("n",)
        arg["n"] = _pick(rng, [0, -3, 2.5, None, *HUGE_IDS])
    elif kind == "ids_object":
        names, dynamic = ("ids",), False
        t["ids"] = _pick(rng, _bad_objects())
    elif kind == "sparse":
        if batch == 0:
            return _to_dense(rng)
        t["ids"], t["counts"], names = _break_sparse(rng, ids, counts, n)
    elif kind == "spikes":
        names = ("spikes",)
        arg["as_tuple"] = True

    def call(ids, counts, backend, values=None):
        spikes = (ids, counts) if arg["as_tuple"] else sp.SparseSpikes(ids, counts, values)
        return ops.sparse_to_dense(spikes, arg["n"], backend=backend)

    return _case("sparse_to_dense", kind, names, expect, t, call, rng, dynamic=dynamic)


def _dense_to_sparse(rng):
    lead, n = (int(rng.integers(0, 3)),), int(rng.integers(1, 9))
    dense = (rng.uniform(size=(*lead, n)) < 0.4).astype(_pick(rng, ["float32", "int32", "bool"]))
    t = dict(dense=dense)
    arg = dict(capacity=int(rng.integers(1, n + 1)))
    kind = str(rng.choice(["valid", "valid_extreme", "dense_object", "dense_rank", "huge_dense",
                           "capacity"]))
    names, expect, dynamic = (), "error", True
    if kind.startswith("valid"):
        expect = "ok"
        if kind == "valid_extreme":
            t["dense"] = Zeros((0, MAX_ID), "float32")
    elif kind == "dense_object":
        names, dynamic = ("dense",), False
        t["dense"] = _pick(rng, _bad_objects())
    elif kind == "dense_rank":
        names = ("dense",)
        t["dense"] = dense.reshape(-1)
    elif kind == "huge_dense":
        names = ("dense",)
        t["dense"] = Zeros((0, _huge(rng, HUGE_IDS)), "float32")
    elif kind == "capacity":
        names = ("capacity",)
        arg["capacity"] = _pick(rng, list(BAD_CAPACITY) + [n + 1])
    return _case("dense_to_sparse", kind, names, expect, t,
                 lambda dense, backend: ops.dense_to_sparse(dense, arg["capacity"],
                                                            backend=backend),
                 rng, dynamic=dynamic)


def _layer(rng):
    dt = _dtype(rng)
    # At least one step: the reference (lif_membrane's tf.scan) cannot run zero steps in a
    # graph; the raw op cases cover zero steps.
    steps, batch = int(rng.integers(1, 3)), int(rng.integers(0, 3))
    n, n_in, s_in = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 4))
    ids, counts = _sparse(rng, batch, n_in, s_in, lead=(steps,))
    t = dict(weights=rng.normal(size=(n_in, n)).astype(dt), ids=ids, counts=counts)
    if rng.integers(0, 2):
        t["values"] = _carrier(counts, s_in, dt)
    kw = dict(alpha=0.9, gain=2.0, th1=1.0, th2=_pick(rng, [0.5, None]), beta=10.0,
              capacity=int(rng.integers(1, n + 1)))
    kind = str(rng.choice(["valid", "valid_extreme", "alpha", "gain", "th1", "th2", "beta",
                           "capacity", "huge_weights", "ids_rank", "sparse", "weights_object"]))
    names, expect, dynamic = (), "error", True
    if kind.startswith("valid"):
        expect = "ok"
        if kind == "valid_extreme":
            t["weights"] = Zeros((0, MAX_ID), dt)
            t["counts"] = np.zeros_like(counts)
    elif kind in LIF_CONSTANTS:
        kw[kind] = bad_lif_constant(rng, kind)
    elif kind == "capacity":
        kw["capacity"] = _pick(rng, list(BAD_CAPACITY) + [n + 1])
    elif kind == "huge_weights":
        h = _huge(rng, HUGE_IDS)
        t["weights"] = Zeros(_pick(rng, [(h, 0), (0, h)]), dt)
        t["counts"] = np.zeros_like(counts)
    elif kind == "ids_rank":
        t.update(ids=ids.reshape(-1, s_in), counts=counts.reshape(-1, 2))
        t.pop("values", None)
    elif kind == "sparse":
        if steps * batch == 0:
            return _layer(rng)
        t["ids"], t["counts"], which = _break_sparse(rng, ids, counts, n_in)
    elif kind == "weights_object":
        dynamic = False
        t["weights"] = _pick(rng, _bad_objects())
    names = {"huge_weights": ("weights",), "weights_object": ("weights",),
             "ids_rank": ("ids", "spikes"), "sparse": ("ids", "in_ids", "counts", "in_counts"),
             }.get(kind, (kind,) if expect == "error" else ())

    def call(weights, ids, counts, backend, values=None):
        out = sparse_lif_layer(weights, sp.SparseSpikes(ids, counts, values), backend=backend,
                               **kw)
        return out[0], out[1]

    return _case("sparse_lif_layer", kind, names, expect, t, call, rng, dynamic=dynamic)


def _numpy_case(rng, to_sparse: bool):
    """The NumPy conversions of :mod:`snnlib.spikes` (eager only: no TensorFlow)."""
    n, cap = int(rng.integers(1, 9)), int(rng.integers(1, 5))
    if to_sparse:
        dense = (rng.uniform(size=(int(rng.integers(0, 3)), n)) < 0.4).astype(np.float32)
        arg = dict(dense=dense, capacity=cap)
        kind = str(rng.choice(["valid", "dense_object", "huge_dense", "capacity"]))
        names = () if kind == "valid" else ("capacity",) if kind == "capacity" else ("dense",)
        if kind == "dense_object":
            arg["dense"] = _pick(rng, _bad_objects())
        elif kind == "huge_dense":
            arg["dense"] = np.zeros((0, 2**31), np.int8)
        elif kind == "capacity":
            arg["capacity"] = _pick(rng, [0, -3, 2.5, None, 2**31])
        call = lambda: sp.dense_to_sparse_np(arg["dense"], arg["capacity"])  # noqa: E731
        target = "dense_to_sparse_np"
    else:
        ids, counts = _sparse(rng, int(rng.integers(1, 4)), n, cap)
        arg = dict(spikes=sp.SparseSpikes(ids, counts), n=n)
        kind = str(rng.choice(["valid", "n", "sparse", "ids_object", "spikes"]))
        names = {"valid": (), "n": ("n",), "ids_object": ("ids",), "spikes": ("spikes",)}.get(
            kind, ())
        if kind == "n":
            arg["n"] = _pick(rng, [0, -3, 2.5, None, 2**31])
        elif kind == "sparse":
            bad_ids, bad_counts, names = _break_sparse(rng, ids, counts, n)
            arg["spikes"] = sp.SparseSpikes(bad_ids, bad_counts)
        elif kind == "ids_object":
            arg["spikes"] = sp.SparseSpikes(_pick(rng, _bad_objects()), counts)
        elif kind == "spikes":
            arg["spikes"] = (ids, counts)
        call = lambda: sp.sparse_to_dense_np(arg["spikes"], arg["n"])  # noqa: E731
        target = "sparse_to_dense_np"
    return Case(target, "wrapper", kind, names, "ok" if kind == "valid" else "error", {},
                lambda: call(), dynamic=False, modes=("eager",))


WRAPPER_TARGETS = {
    "select_spikes": _select,
    "sparse_matmul": lambda rng: _matmul(rng, "in_out"),
    "sparse_matmul(out_in)": lambda rng: _matmul(rng, "out_in"),
    "sparse_to_dense": _to_dense,
    "dense_to_sparse": _dense_to_sparse,
    "sparse_lif_layer": _layer,
    "dense_to_sparse_np": lambda rng: _numpy_case(rng, True),
    "sparse_to_dense_np": lambda rng: _numpy_case(rng, False),
}
