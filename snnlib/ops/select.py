"""Spike selection: potentials or input data to index lists (:func:`select_spikes`,
:func:`dense_to_sparse`), and the compiled op's gradient."""

from __future__ import annotations

import tensorflow as tf

from snnlib.ops import _loader
from snnlib.ops._backend import ops_for
from snnlib.ops._checks import (MAX_NEURONS, check_capacity, check_finite, check_neurons,
                                check_positive, check_th2, flatten, float_tensor, shape_of,
                                to_tensor, unflatten)
from snnlib.spikes import SparseSpikes


def _rows_and_capacity(x, name: str, capacity) -> tuple[int, int | None]:
    """Static checks of ``x [..., N]`` and its capacity ``S``: rank >= 2, ``N`` addressable by
    int32 ids, ``1 <= S <= N`` where ``N`` is known. Returns ``(S, N or None)``."""
    if x.shape.rank is None or x.shape.rank < 2:
        raise ValueError(f"{name} must have rank >= 2 [..., N]; got shape {x.shape}")
    capacity = check_capacity(capacity)
    n = x.shape[-1]
    check_neurons(n, f"N ({name}.shape[-1])")
    if n is not None and capacity > n:
        raise ValueError(f"capacity must be <= N = {name}.shape[-1] = {n} (the number of "
                         f"neurons); got {capacity}")
    return capacity, n


def select_spikes(v, *, th1: float, th2: float | None = None, capacity: int, beta: float = 10.0,
                  backend: str | None = None):
    """Sparse spikes of membrane potentials: spikes first, then gradient candidates.

    Per sample (row of ``v``), with ``S = capacity``::

        spikes     = {j : v[j] >= th1}          ascending j
        candidates = {j : th2 <= v[j] < th1}    ascending j; th2 = None: every non-spiking j
        ids        = (spikes ++ candidates)[:S], padding id 0
        counts     = (min(|spikes|, S), min(|spikes| + |candidates|, S))
        values[i]  = [i < counts[0]]
        dropped    = |spikes| - counts[0]       spikes that did not fit (candidates not counted)

    The gradient w.r.t. ``v`` (through ``values``) is the SuperSpike surrogate on listed
    neurons: ``dv[ids[i]] = g_values[i] / (beta |v[ids[i]] - th1| + 1)^2`` for
    ``i < counts[1]``; all other entries are 0.

    Args:
        v: float32/float64 ``[..., N]`` (at least one leading axis), ``N <= 2**31 - 1``.
        th1: spike threshold, finite.
        th2: second threshold, finite and ``<= th1`` (``None``: every non-spiking neuron is a
            candidate).
        capacity: ``S``, ``1 <= S <= N``.
        beta: surrogate steepness, finite and ``> 0``.
        backend: ``None``, ``"compiled"`` or ``"reference"``.

    Returns:
        ``(SparseSpikes(ids int32[..., S], counts int32[..., 2], values float[..., S]),
        dropped int32[...])``.
    """
    v = float_tensor(v, "v")
    capacity, _ = _rows_and_capacity(v, "v", capacity)
    th1 = check_finite(th1, "th1")
    th2 = check_th2(th2, th1)
    beta = check_positive(beta, "beta")
    rank = v.shape.rank
    lead, lead_static = shape_of(v)[:-1], v.shape[:-1]
    ids, counts, values, dropped = ops_for(backend).select_spikes(
        flatten(v, 1), th1, th2, beta, capacity)
    if rank != 2:
        ids, counts, values = (unflatten(x, lead, lead_static, rank) for x in (ids, counts, values))
        dropped = tf.reshape(dropped, lead)
        dropped.set_shape(lead_static)
    return SparseSpikes(ids, counts, values), dropped


def dense_to_sparse(dense, capacity: int, *, backend: str | None = None):
    """Input data to sparse spikes: every nonzero entry is a spike; no candidates.

    Active neurons are listed in ascending index; beyond ``capacity`` the lowest-index ones
    are kept and the rest counted in ``dropped``. Not differentiable (``values`` is ``None``).

    Args:
        dense: ``[..., N]`` (at least one leading axis) of a numeric or bool dtype; nonzero
            means a spike. ``N <= 2**31 - 1``.
        capacity: ``S``, ``1 <= S <= N``.

    Returns:
        ``(SparseSpikes(ids int32[..., S], counts int32[..., 2], values=None), dropped int32[...])``.
    """
    dense = to_tensor(dense, "dense")
    dt = dense.dtype
    if not (dt.is_bool or dt.is_integer or dt.is_floating or dt.is_complex):
        raise ValueError(f"dense must have a numeric or bool dtype; got {dt.name}")
    capacity, n = _rows_and_capacity(dense, "dense", capacity)
    if n is None:  # the same checks at run time, naming dense
        n_t = tf.shape(dense, out_type=tf.int64)[-1]
        checks = [tf.debugging.assert_less_equal(
            n_t, tf.constant(MAX_NEURONS, tf.int64),
            message=f"dense_to_sparse: N = dense.shape[-1] must be <= {MAX_NEURONS} (int32 ids)")]
        with tf.control_dependencies(checks):
            checks.append(tf.debugging.assert_less_equal(
                tf.constant(capacity, tf.int64), n_t,
                message="dense_to_sparse: capacity must be <= N = dense.shape[-1]"))
        with tf.control_dependencies(checks):
            dense = tf.identity(dense)
    active = tf.cast(tf.not_equal(dense, tf.zeros([], dense.dtype)), tf.float32)
    spikes, dropped = select_spikes(tf.stop_gradient(active), th1=0.5, th2=0.5,
                                    capacity=capacity, backend=backend)
    return SparseSpikes(spikes.ids, spikes.counts), dropped


@tf.RegisterGradient("SnnlibSelectSpikes")
def _select_spikes_grad(op, _g_ids, _g_counts, g_values, _g_dropped):
    module = _loader.require_library()
    # dv[b, ids[b,i]] = g_values[b,i] / (beta |v - th1| + 1)^2 for i < counts[b,1].
    if g_values is None:
        return [None, None, None, None]
    v, th1, _, beta = op.inputs
    ids, counts = op.outputs[0], op.outputs[1]
    grad_v = module.snnlib_select_spikes_grad(v=v, ids=ids, counts=counts,
                                              grad_values=g_values, th1=th1, beta=beta)
    return [grad_v, None, None, None]
