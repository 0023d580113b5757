"""Seeded calls of the raw LIF layer ops for :mod:`snnlib.ops.fuzz` (see
:mod:`snnlib.ops.fuzz_cases` for the rules of a case)."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from snnlib.ops.fuzz_cases import (BAD_FINITE, HUGE_IDS, LIF_CONSTANTS, MAX_ID, Case, Zeros,
                                   _break_sparse, _carrier, _dtype, _huge, _sparse,
                                   bad_lif_constant, draw_kind)


def _constants(rng, kind, dt):
    """``[alpha, gain, th1, th2, beta]`` with, for ``kind`` = one of them, a value outside its
    domain."""
    c = dict(alpha=0.9, gain=2.0, th1=1.0, th2=0.5 if rng.integers(0, 2) else -math.inf,
             beta=10.0)
    if kind in LIF_CONSTANTS:
        c[kind] = bad_lif_constant(rng, kind)
    return c


def _raw_layer(rng, lib, grad):
    dt = _dtype(rng)
    steps, batch = int(rng.integers(0, 3)), int(rng.integers(0, 3))
    n, n_in, s_in = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 4))
    cap = int(rng.integers(1, n + 1))
    in_ids, in_counts = _sparse(rng, batch, n_in, s_in, lead=(steps,))
    t = dict(weights=rng.normal(size=(n_in, n)).astype(dt), in_ids=in_ids, in_counts=in_counts)
    if grad:
        out_ids, out_counts = _sparse(rng, batch, n, cap, lead=(steps,))
        t.update(out_ids=out_ids, out_counts=out_counts,
                 v_listed=rng.normal(size=(steps, batch, cap)).astype(dt),
                 grad_values=rng.normal(size=(steps, batch, cap)).astype(dt),
                 grad_potentials=np.zeros((0, 0, 0), dt))
    else:
        t["in_values"] = _carrier(in_counts, s_in, dt)
    attrs = dict(capacity=cap)
    kinds = ["valid", "valid_extreme", "huge_n", "huge_in", "alpha", "gain", "th1", "th2",
             "beta", "in_sparse"]
    kinds += ["grad_potentials", "v_listed", "out_sparse"] if grad else ["capacity"]
    kind, names, expect = draw_kind(rng, kinds)
    const = _constants(rng, kind, dt)
    if kind == "valid":
        if grad and rng.integers(0, 2):
            t["grad_potentials"] = rng.normal(size=(steps, batch, n)).astype(dt)
    elif kind == "valid_extreme":  # no inputs; a layer of 2**31 - 1 neurons
        t["weights"] = Zeros((0, MAX_ID), dt)
        t["in_counts"] = np.zeros_like(in_counts)
        if grad:
            t["out_ids"], t["out_counts"] = _sparse(rng, batch, MAX_ID, cap, lead=(steps,))
    elif kind in ("huge_n", "huge_in"):
        names = ("weights",)
        h = _huge(rng, HUGE_IDS)
        t["weights"] = Zeros((0, h) if kind == "huge_n" else (h, 0), dt)
        t["in_counts"] = np.zeros_like(in_counts)
        if grad:
            t["out_counts"] = np.zeros_like(t["out_counts"])
    elif kind in ("alpha", "gain", "th1", "th2", "beta"):
        names = ("constants",)
    elif kind == "in_sparse":
        if steps * batch == 0:
            return _raw_layer(rng, lib, grad)
        t["in_ids"], t["in_counts"], which = _break_sparse(rng, in_ids, in_counts, n_in)
        names = ("in_" + which[0],)
    elif kind == "out_sparse":
        if steps * batch == 0:
            return _raw_layer(rng, lib, grad)
        t["out_ids"], t["out_counts"], which = _break_sparse(
            rng, t["out_ids"], t["out_counts"], n)
        names = ("out_" + which[0],)
    elif kind == "grad_potentials":
        names = ("grad_potentials",)
        t["grad_potentials"] = np.zeros(
            [(3, 0, 7), (0, 0), (steps, batch, n + 1), (0, 0, 0, 0)][int(rng.integers(0, 4))], dt)
    elif kind == "v_listed":
        if not (t["out_counts"][..., 1] > 0).any():
            return _raw_layer(rng, lib, grad)
        names = ("v_listed",)
        idx = np.argwhere(t["out_counts"][..., 1] > 0)[0]
        t["v_listed"][(*idx, 0)] = float(rng.choice(BAD_FINITE))
    elif kind == "capacity":
        names = ("capacity",)
        attrs["capacity"] = int(rng.choice([n + 1, _huge(rng, HUGE_IDS)]))
    order = ("alpha", "gain", "th1", "th2", "beta")

    def call(**kw):
        d = kw["weights"].dtype
        constants = tf.constant([const[k] for k in order], d)
        if grad:
            return lib.snnlib_sparse_lif_layer_grad(constants=constants, **kw)
        return lib.snnlib_sparse_lif_layer(constants=constants, capacity=attrs["capacity"],
                                           return_potentials=kind == "valid", **kw)

    return Case("SparseLifLayerGrad" if grad else "SparseLifLayer", "raw", kind, names,
                expect, t, call)


LAYER_TARGETS = {
    "SparseLifLayer": lambda rng, lib: _raw_layer(rng, lib, False),
    "SparseLifLayerGrad": lambda rng, lib: _raw_layer(rng, lib, True),
}
