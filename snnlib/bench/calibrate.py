"""Calibrate a benchmark network so that its hidden layers really fire at a target rate.

A random network's activity depends on its initialisation: with the seed's scale the
multi_layer network's hidden layers fire at 0.06 %, 0 %, 0 %, and a sparse speed-up measured
on it is the fixed cost of the sparse path, not the cost of spikes. :func:`calibrate_layer_scales`
finds one factor ``c_l`` per hidden layer such that, with the initial weights ``c_l W_l`` and
the benchmark's own input, the mean firing rate of layer ``l``

    a_l(c_1, ..., c_l) = (1 / (B T N_l)) sum_{b, t, n} z^l_{b, t, n}

is within ``rel_tol`` of the target. Layer ``l``'s rate depends only on layers ``1 .. l``, so
the factors are found in order, each by bisection on ``log c_l`` (the rate grows with the
weight scale). The output layer keeps factor 1. The benchmark then reports the activity it
measured during the timed steps, which training moves a little from the calibrated one.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from snnlib.bench.cases import BenchCase
from snnlib.functional.params import LIFParams, init_weights
from snnlib.network import snn_forward


def layer_activities(weights, x: np.ndarray, params: LIFParams) -> list[float]:
    """Mean firing rate of every layer of the dense network ``weights`` on ``x [B, T, N]``."""
    out = snn_forward([tf.constant(w) for w in weights], tf.constant(x, tf.float32), params,
                      impl="dense")
    return [float(tf.reduce_mean(s)) for s in out.spikes]


def calibrate_layer_scales(case: BenchCase, x: np.ndarray, *, rel_tol: float = 0.05,
                           max_iter: int = 24, bounds=(1e-2, 1e2)) -> tuple[tuple, list]:
    """Per-LIF-layer weight factors that make each hidden layer of ``case`` fire at
    ``case.target_activity`` on the input ``x [B, T, n_in]`` (see the module docstring).

    Returns:
        ``(layer_scales, activities)``: the factors (output layer 1.0) and the rates of every
        layer they give.

    Raises:
        ValueError: no target, or a layer that cannot reach the target within ``bounds``.
    """
    target = case.target_activity
    if target is None:
        raise ValueError("calibrate_layer_scales needs case.target_activity")
    params = LIFParams(th2=None, weight_mul=case.weight_mul)
    base = init_weights(case.sizes, weight_mul=case.weight_mul, seed=case.seed)
    scales = [1.0] * len(base)
    for layer in range(len(case.hidden)):
        def rate(scale):
            weights = [w * s for w, s in zip(base[:layer + 1], scales[:layer] + [scale])]
            return layer_activities(weights, x, params)[layer]

        lo, hi = math.log(bounds[0]), math.log(bounds[1])
        if rate(math.exp(hi)) < target or rate(math.exp(lo)) > target:
            raise ValueError(f"layer {layer} of {case.sizes} cannot fire at {target:.2%} with a "
                             f"weight factor in {bounds}: change weight_mul or the input rate")
        mid = 0.5 * (lo + hi)
        for _ in range(max_iter):
            mid = 0.5 * (lo + hi)
            got = rate(math.exp(mid))
            if abs(got - target) <= rel_tol * target:
                break
            lo, hi = (mid, hi) if got < target else (lo, mid)
        scales[layer] = math.exp(mid)
    weights = [w * s for w, s in zip(base, scales)]
    return tuple(scales), layer_activities(weights, x, params)


def calibrated(case: BenchCase, x: np.ndarray, cache: dict) -> BenchCase:
    """``case`` with its ``layer_scales`` filled in (calibrated once per network, kept in
    ``cache``); a case without ``target_activity`` or with scales already is returned as is."""
    if case.target_activity is None or case.layer_scales is not None:
        return case
    key = case.network_key()
    if key not in cache:
        cache[key] = calibrate_layer_scales(case, x)[0]
    return dataclasses.replace(case, layer_scales=cache[key])
