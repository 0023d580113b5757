"""Seeded calls of every compiled op and every public wrapper for :mod:`snnlib.ops.fuzz`.

:func:`make_case` turns ``(seed, index)`` into one call: a target (a raw op of the compiled
library, or a public function), a small valid baseline of its arguments, and one mutation
that breaks exactly one documented rule (or none, for the few valid calls). Each mutation
records the argument names that an error must name and whether the call must fail.

Mutations are the ones the issue-14 audit found crashing plus the ordinary ones: tensors
with no elements but a huge dimension (beyond int32 ids, or an output beyond what can be
allocated), scalars outside their domain, optional tensors in the wrong empty shape,
non-finite saved potentials, ids / counts / shapes / ranks that break the format, and
(wrappers) ``None``, ragged, object and string arguments. Huge tensors are never built:
a huge dimension always comes with a zero one (``Zeros``), and a valid call never asks for
an output of more than a few elements per huge dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import tensorflow as tf

MAX_ID = 2**31 - 1
HUGE_IDS = (2**31, 2**32 + 5, 2**40, 2**62, 2**63 - 1)  # beyond int32 ids
HUGE_OUT = (2**40, 2**50, 2**62, 2**63 - 1)  # outputs that cannot be allocated
BAD_POSITIVE = (0.0, -1.0, math.nan, math.inf, -math.inf)
BAD_FINITE = (math.nan, math.inf, -math.inf)
LIF_CONSTANTS = ("alpha", "gain", "beta", "th1", "th2")


def bad_lif_constant(rng: np.random.Generator, name: str) -> float:
    """A value outside the domain of the LIF constant ``name`` (one of :data:`LIF_CONSTANTS`):
    ``0 < alpha < 1``, ``gain, beta > 0`` finite, ``th1`` finite, ``th2`` finite and ``<= th1``."""
    if name == "alpha":
        return float(rng.choice([0.0, 1.0, 1.5, -0.1, math.nan, math.inf]))
    if name in ("gain", "beta"):
        return float(rng.choice(BAD_POSITIVE))
    if name == "th1":
        return float(rng.choice(BAD_FINITE))
    if name == "th2":
        return float(rng.choice([math.nan, math.inf, 1.5]))
    raise ValueError(f"name must be one of {LIF_CONSTANTS}; got {name!r}")


@dataclass(frozen=True)
class Zeros:
    """A tensor of zeros of ``shape`` (at least one dimension 0), made by ``tf.zeros``."""

    shape: tuple
    dtype: str = "float32"


@dataclass
class Case:
    """One call: ``call(**tensors)``; ``names``: one of them must appear in the error."""

    target: str
    family: str  # "raw" or "wrapper"
    mutation: str
    names: tuple
    expect: str  # "error" or "ok"
    tensors: dict
    call: Callable
    dynamic: bool = True  # every argument is an array (no None, ragged, object or string)
    modes: tuple = ("eager", "graph", "graph_dynamic", "function")
    extra: dict = field(default_factory=dict)


def draw_kind(rng, kinds) -> tuple[str, tuple, str]:
    """``(kind, names, expect)`` of a case: a kind drawn uniformly from ``kinds``, no names yet,
    and ``expect = "ok"`` for the valid kinds (``"valid"``, ``"valid_extreme"``), else
    ``"error"``."""
    kind = str(rng.choice(kinds))
    return kind, (), "ok" if kind in ("valid", "valid_extreme") else "error"


def _sparse(rng, batch, n, cap, lead=()):
    """Valid ``(ids, counts)`` ``[*lead, batch, cap]`` with ids in ``[0, n)``, garbage padding."""
    shape = (*lead, batch)
    ids = np.zeros((*shape, cap), np.int32)
    counts = np.zeros((*shape, 2), np.int32)
    for idx in np.ndindex(*shape):
        c1 = int(rng.integers(0, min(cap, n) + 1)) if n > 0 else 0
        if n <= 10**6:
            chosen = rng.choice(n, size=c1, replace=False)
        else:  # distinct ids of a huge range, without a permutation of it
            chosen = np.unique(rng.integers(0, n, size=c1))
            c1 = len(chosen)
        c0 = int(rng.integers(0, c1 + 1))
        ids[idx][:c1] = chosen
        ids[idx][c1:] = rng.choice([-7, n, 10**6], size=cap - c1)
        counts[idx] = (c0, c1)
    return ids, counts


def _carrier(counts, cap, dtype):
    return (np.arange(cap) < counts[..., :1]).astype(dtype)


def _break_sparse(rng, ids, counts, n):
    """An invalid copy of (ids, counts) and the argument it breaks."""
    ids, counts = ids.copy(), counts.copy()
    flat_ids, flat_counts = ids.reshape(-1, ids.shape[-1]), counts.reshape(-1, 2)
    cap = ids.shape[-1]
    r = int(rng.integers(0, len(flat_counts)))
    kind = int(rng.integers(0, 4))
    if kind == 0 and cap > 0:
        flat_counts[r] = (flat_counts[r, 0], max(flat_counts[r, 1], 1))
        flat_ids[r, int(rng.integers(0, flat_counts[r, 1]))] = int(
            rng.choice([-1, n, n + 1000, -10**9]))
        return ids, counts, ("ids",)
    if kind == 1:
        flat_counts[r, 1] = cap + int(rng.integers(1, 5))
    elif kind == 2:
        flat_counts[r, 0] = -int(rng.integers(1, 5))
    else:
        flat_counts[r] = (flat_counts[r, 1] + 1, flat_counts[r, 1])
    return ids, counts, ("counts",)


def _dtype(rng):
    return str(rng.choice(["float32", "float64"]))


def _huge(rng, pool):
    return int(rng.choice(pool))


# --- raw ops ---------------------------------------------------------------------------------

def _raw_select(rng, lib, grad):
    dt = _dtype(rng)
    batch, n = int(rng.integers(0, 4)), int(rng.integers(1, 9))
    cap = int(rng.integers(1, n + 1))
    v = rng.uniform(-0.5, 1.5, size=(batch, n)).astype(dt)
    th1, th2, beta = 1.0, 0.9, 10.0
    t = dict(v=v)
    attrs = dict(capacity=cap)
    if grad:
        ids, counts = _sparse(rng, batch, n, cap)
        t.update(ids=ids, counts=counts, grad_values=rng.normal(size=(batch, cap)).astype(dt))
    scal = dict(th1=th1, th2=th2, beta=beta)
    kinds = ["valid", "valid_extreme", "v_huge_n", "v_rank", "th1", "beta", "th1_rank"]
    kinds += ["capacity_above_n", "capacity_huge", "th2"] if not grad else \
        ["sparse", "grad_values_shape", "batch"]
    kind, names, expect = draw_kind(rng, kinds)
    if kind == "valid_extreme":
        t["v"] = Zeros((0, MAX_ID), dt)
        if grad:
            t.update(ids=np.zeros((0, cap), np.int32), counts=np.zeros((0, 2), np.int32),
                     grad_values=np.zeros((0, cap), dt))
    elif kind == "v_huge_n":
        names = ("v",)
        t["v"] = Zeros((0, _huge(rng, HUGE_IDS)), dt)
        if grad:
            t.update(ids=np.zeros((0, cap), np.int32), counts=np.zeros((0, 2), np.int32),
                     grad_values=np.zeros((0, cap), dt))
    elif kind == "v_rank":
        names = ("v",)
        t["v"] = v.reshape(-1) if rng.integers(0, 2) else v[None]
    elif kind in ("th1", "beta"):
        names = (kind,)
        scal[kind] = float(rng.choice(BAD_FINITE if kind == "th1" else BAD_POSITIVE))
    elif kind == "th2":
        names = ("th2",)
        scal["th2"] = float(rng.choice([math.nan, math.inf, th1 + 0.5]))
    elif kind == "th1_rank":
        names = ("th1",)
        scal["th1"] = [th1, th1]
    elif kind == "capacity_above_n":
        names = ("capacity",)
        attrs["capacity"] = n + int(rng.integers(1, 4))
    elif kind == "capacity_huge":
        names = ("capacity",)
        attrs["capacity"] = _huge(rng, HUGE_IDS)
    elif kind == "sparse":
        if batch == 0:
            return _raw_select(rng, lib, grad)
        t["ids"], t["counts"], names = _break_sparse(rng, t["ids"], t["counts"], n)
    elif kind == "grad_values_shape":
        names = ("grad_values",)
        t["grad_values"] = np.zeros((batch, cap + 1), dt)
    elif kind == "batch":
        names = ("v",)
        t["v"] = rng.normal(size=(batch + 1, n)).astype(dt)

    def call(v, ids=None, counts=None, grad_values=None):
        d = v.dtype if hasattr(v, "dtype") else tf.float32
        s = {k: tf.constant(x, tf.as_dtype(d)) for k, x in scal.items()}
        if grad:
            return lib.snnlib_select_spikes_grad(v=v, ids=ids, counts=counts,
                                                 grad_values=grad_values, th1=s["th1"],
                                                 beta=s["beta"])
        return lib.snnlib_select_spikes(v=v, th1=s["th1"], th2=s["th2"], beta=s["beta"],
                                        capacity=attrs["capacity"])

    name = "SelectSpikesGrad" if grad else "SelectSpikes"
    return Case(name, "raw", kind, names, expect, t, call)


def _raw_to_dense(rng, lib, grad):
    dt = _dtype(rng)
    batch, n, cap = int(rng.integers(0, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 5))
    ids, counts = _sparse(rng, batch, n, cap)
    t = dict(ids=ids, counts=counts)
    if grad:
        t["grad_dense"] = rng.normal(size=(batch, n)).astype(dt)
    else:
        t["values"] = _carrier(counts, cap, dt)
    attrs = dict(n=n)
    kinds = ["valid", "valid_extreme", "sparse", "huge_n", "batch"]
    kind, names, expect = draw_kind(rng, kinds)
    if kind == "valid_extreme":
        t.update(ids=np.zeros((0, cap), np.int32), counts=np.zeros((0, 2), np.int32))
        if grad:
            t["grad_dense"] = Zeros((0, MAX_ID), dt)
        else:
            t["values"], attrs["n"] = np.zeros((0, cap), dt), MAX_ID
    elif kind == "sparse":
        if batch == 0:
            return _raw_to_dense(rng, lib, grad)
        t["ids"], t["counts"], names = _break_sparse(rng, ids, counts, n)
    elif kind == "huge_n":
        if grad:
            names = ("grad_dense",)
            t.update(ids=np.zeros((0, cap), np.int32), counts=np.zeros((0, 2), np.int32),
                     grad_dense=Zeros((0, _huge(rng, HUGE_IDS)), dt))
        else:
            names = ("n",)
            attrs["n"] = _huge(rng, HUGE_IDS)
    elif kind == "batch":
        key = "grad_dense" if grad else "values"
        names = (key,)
        t[key] = np.zeros((batch + 1, n if grad else cap), dt)

    def call(ids, counts, values=None, grad_dense=None):
        if grad:
            return lib.snnlib_sparse_to_dense_grad(ids=ids, counts=counts, grad_dense=grad_dense)
        return lib.snnlib_sparse_to_dense(ids=ids, counts=counts, values=values, n=attrs["n"])

    return Case("SparseToDenseGrad" if grad else "SparseToDense", "raw", kind, names, expect,
                t, call)


MATMUL_OPS = {
    "SparseMatmul": ("snnlib_sparse_matmul", "weights", 1, "fwd"),
    "SparseMatmulGrad": ("snnlib_sparse_matmul_grad", "weights", 1, "grad_cols"),
    "SparseMatmulSlotGrad": ("snnlib_sparse_matmul_slot_grad", "weights", 1, "grad_cols"),
    "SparseMatmulT": ("snnlib_sparse_matmul_t", "weights_t", 0, "fwd"),
    "SparseMatmulTGrad": ("snnlib_sparse_matmul_t_grad", "weights_t", 0, "grad"),
    "SparseMatmulTSlotGrad": ("snnlib_sparse_matmul_t_slot_grad", "weights_t", 0, "grad"),
}


def _columns(ids, counts):
    read = [ids[b, :counts[b, 1]] for b in range(len(ids))]
    return np.unique(np.concatenate(read)).astype(np.int32) if read else np.zeros(0, np.int32)


def _raw_matmul(rng, lib, op):
    fn_name, w_name, in_axis, kind_of = MATMUL_OPS[op]
    dt = _dtype(rng)
    batch, n_in, n_out = int(rng.integers(0, 4)), int(rng.integers(1, 9)), int(rng.integers(0, 6))
    cap = int(rng.integers(1, 5))
    w = rng.normal(size=(n_out, n_in)).astype(dt)
    ids, counts = _sparse(rng, batch, n_in, cap)
    t = dict(ids=ids, counts=counts)

    def set_w(w_out_in):
        t[w_name] = w_out_in if in_axis == 1 else (
            w_out_in.T if isinstance(w_out_in, np.ndarray) else Zeros(w_out_in.shape[::-1], dt))

    def set_second(out_width):
        if kind_of == "fwd":
            t["values"] = _carrier(t["counts"], t["ids"].shape[1], dt)
        else:
            t["grad_y"] = np.ones((len(t["ids"]), out_width), dt)
        if kind_of == "grad_cols":
            cols = _columns(t["ids"], t["counts"])
            t["columns"] = cols
            src = t[w_name]
            t["weights_t"] = src[:, cols].T.copy() if isinstance(src, np.ndarray) else \
                np.zeros((len(cols), out_width), dt)

    set_w(w)
    set_second(n_out)
    kinds = ["valid", "valid_extreme", "sparse", "huge_in", "huge_out", "w_rank", "second"]
    if kind_of == "grad_cols":
        kinds += ["columns_order", "columns_missing", "weights_t_shape"]
    kind, names, expect = draw_kind(rng, kinds)
    if kind == "valid_extreme":  # no weights, but an input width of 2**31 - 1 (or 2**31 - 1 outputs)
        if rng.integers(0, 2) or kind_of == "grad_cols":
            t["ids"], t["counts"] = _sparse(rng, batch, MAX_ID, cap)
            set_w(Zeros((0, MAX_ID), dt))
            set_second(0)
        else:
            t["ids"], t["counts"] = np.zeros((0, cap), np.int32), np.zeros((0, 2), np.int32)
            set_w(Zeros((MAX_ID, 0), dt))
            set_second(MAX_ID)
            if kind_of != "fwd":
                t["grad_y"] = Zeros((0, MAX_ID), dt)
    elif kind == "sparse":
        if batch == 0:
            return _raw_matmul(rng, lib, op)
        t["ids"], t["counts"], names = _break_sparse(rng, ids, counts, n_in)
    elif kind == "huge_in":
        names = (w_name,)
        t["counts"] = np.zeros_like(counts)
        set_w(Zeros((0, _huge(rng, HUGE_IDS)), dt))
        set_second(0)
    elif kind == "huge_out":
        names = (w_name,)
        b = max(batch, 1)
        t["ids"], t["counts"] = np.zeros((b, cap), np.int32), np.zeros((b, 2), np.int32)
        out = _huge(rng, HUGE_OUT)
        set_w(Zeros((out, 0), dt))
        if kind_of == "fwd":
            set_second(0)
        else:  # grad_y [batch, out] would be huge: the gradients see it through weights only
            names = (w_name, "grad_y")
            set_second(0)
    elif kind == "w_rank":
        names = (w_name,)
        t[w_name] = np.ones(n_in, dt)
    elif kind == "second":
        key = "values" if kind_of == "fwd" else "grad_y"
        names = (key,)
        t[key] = np.zeros((batch + 1, cap if kind_of == "fwd" else n_out), dt)
    elif kind == "columns_order":
        cols = t["columns"]
        if len(cols) < 2:
            return _raw_matmul(rng, lib, op)
        names = ("columns",)
        t["columns"] = cols[::-1].copy()
    elif kind == "columns_missing":
        cols = t["columns"]
        if len(cols) == 0:
            return _raw_matmul(rng, lib, op)
        names = ("columns",)
        t["columns"] = cols[1:].copy()
        t["weights_t"] = t["weights_t"][1:].copy()
    elif kind == "weights_t_shape":
        names = ("weights_t",)
        t["weights_t"] = np.zeros((len(t["columns"]) + 1, n_out), dt)

    return Case(op, "raw", kind, names, expect, t, lambda **kw: getattr(lib, fn_name)(**kw))


RAW_TARGETS = {
    "SelectSpikes": lambda rng, lib: _raw_select(rng, lib, False),
    "SelectSpikesGrad": lambda rng, lib: _raw_select(rng, lib, True),
    "SparseToDense": lambda rng, lib: _raw_to_dense(rng, lib, False),
    "SparseToDenseGrad": lambda rng, lib: _raw_to_dense(rng, lib, True),
    **{op: (lambda op: lambda rng, lib: _raw_matmul(rng, lib, op))(op) for op in MATMUL_OPS},
}
"""The raw ops but the LIF layer's (:mod:`snnlib.ops.fuzz_layer_cases`)."""
