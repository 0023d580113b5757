"""The sparse spike ops in pure TensorFlow: the specification the compiled ops match.

Every function works on 2-D tensors (one row per sample; :mod:`snnlib.ops` flattens leading
axes) and has the signature of the compiled op it specifies. Runtime checks are
``tf.debugging`` assertions, so bad input raises ``tf.errors.InvalidArgumentError`` in eager
and in graph mode, like the compiled kernels. Gradients are hand-written
(``tf.custom_gradient``) so that they state the rule, not an autodiff accident.

Sparse format (DESIGN.md section 4): ``ids int32[B, S]``, ``counts int32[B, 2] =
(n_spikes, n_spikes + n_candidates)``, ``values float[B, S]`` = 1 for slots
``i < counts[b, 0]`` else 0: the differentiable carrier of a slot's gradient. Only slots
``i < counts[b, 1]`` are read; their ids must lie in ``[0, n)``.
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_ID = 2**31 - 1  # ids are int32: at most this many neurons


def check_neurons(n, *, op: str, n_name: str) -> list:
    """``n`` neurons (a Python int or an int tensor) must fit int32 ids: a ``ValueError`` for
    a Python int, else an assertion (returned, for graph mode)."""
    if not tf.is_tensor(n):
        if int(n) > MAX_ID:
            raise ValueError(f"{op}: {n_name} = {int(n)} neurons exceed what int32 ids can "
                             f"address (at most {MAX_ID})")
        return []
    return [tf.debugging.assert_less_equal(
        tf.cast(n, tf.int64), tf.constant(MAX_ID, tf.int64),
        message=f"{op}: {n_name} neurons exceed what int32 ids can address (at most {MAX_ID})")]


def check_scalars(th1, th2, beta, *, op: str) -> list:
    """Assertions of the scalar domains: ``th1`` finite; ``th2`` ``-inf`` (no second
    threshold) or finite and ``<= th1`` (skipped when ``th2`` is ``None``: not an input);
    ``beta`` finite and ``> 0``."""
    checks = [
        tf.debugging.assert_equal(tf.math.is_finite(th1), True,
                                  message=f"{op}: th1 must be finite"),
        tf.debugging.assert_equal(tf.logical_and(tf.math.is_finite(beta), beta > 0), True,
                                  message=f"{op}: beta must be finite and > 0"),
    ]
    if th2 is not None:
        ok = tf.logical_or(tf.equal(th2, -math.inf),
                           tf.logical_and(tf.math.is_finite(th2), th2 <= th1))
        checks.append(tf.debugging.assert_equal(
            ok, True, message=f"{op}: th2 must be -inf (no second threshold) or finite and "
                              "<= th1"))
    return checks


def _slots(capacity):
    return tf.range(capacity, dtype=tf.int32)[None, :]


def check_sparse(ids, counts, n, *, op: str, n_name: str = "n") -> list:
    """Assertions (InvalidArgumentError) that ``(ids [B, S], counts [B, 2])`` is valid for
    neurons ``[0, n)``: equal batch sizes, ``0 <= counts <= S``, ``counts[:, 0] <= counts[:, 1]``,
    ``0 <= ids[b, i] < n`` for ``i < counts[b, 1]``. Returns the assert ops (graph mode)."""
    cap = tf.shape(ids)[1]
    shape_checks = check_neurons(n, op=op, n_name=n_name) + [
        tf.debugging.assert_equal(tf.shape(counts)[1], 2,
                                  message=f"{op}: counts must have shape [batch, 2]"),
        tf.debugging.assert_equal(tf.shape(ids)[0], tf.shape(counts)[0],
                                  message=f"{op}: ids and counts must have the same batch size"),
    ]
    with tf.control_dependencies(shape_checks):
        range_checks = [
            tf.debugging.assert_non_negative(counts, message=f"{op}: counts must lie in [0, S]"),
            tf.debugging.assert_less_equal(counts, cap, message=f"{op}: counts must lie in [0, S]"),
            tf.debugging.assert_less_equal(
                counts[:, 0], counts[:, 1],
                message=f"{op}: counts[:, 0] (spikes) must be <= counts[:, 1] (spikes + candidates)"),
        ]
    with tf.control_dependencies(range_checks):
        read = tf.range(cap)[None, :] < counts[:, 1:2]
        id_checks = [
            tf.debugging.assert_non_negative(tf.where(read, ids, 0),
                                             message=f"{op}: ids must lie in [0, {n_name})"),
            tf.debugging.assert_less(tf.cast(tf.where(read, ids, 0), tf.int64),
                                     tf.cast(n, tf.int64),
                                     message=f"{op}: ids must lie in [0, {n_name})"),
        ]
    return [*shape_checks, *range_checks, *id_checks]


def _check_same_batch(x, ids, *, op: str, name: str):
    return tf.debugging.assert_equal(tf.shape(x)[0], tf.shape(ids)[0],
                                     message=f"{op}: {name} and ids must have the same batch size")


def _check_same_shape(x, ids, *, op: str, name: str):
    return tf.debugging.assert_equal(tf.shape(x), tf.shape(ids),
                                     message=f"{op}: {name} must have the shape of ids")


def _checked_slots(ids, counts, values, n, *, op: str, n_name: str, dtype):
    """Validate sparse spikes ``(ids [B, S], counts [B, 2], values [B, S])`` against ``n``
    neurons (runtime checks run before ``ids`` is used) and build the slot masks.

    Returns:
        ``(ids, counts, values, mask0, mask1, safe_ids)``: ``mask0 = [i < counts[:, 0]]``,
        ``mask1 = [i < counts[:, 1]]`` in ``dtype``, and ``safe_ids`` with padding slots set to 0.
    """
    ids = tf.convert_to_tensor(ids)
    counts = tf.convert_to_tensor(counts)
    values = tf.convert_to_tensor(values)
    checks = check_sparse(ids, counts, n, op=op, n_name=n_name)
    checks.append(_check_same_shape(values, ids, op=op, name="values"))
    with tf.control_dependencies(checks):
        ids = tf.identity(ids)
    slots = _slots(tf.shape(ids)[1])
    listed = slots < counts[:, 1:2]
    return (ids, counts, values, tf.cast(slots < counts[:, 0:1], dtype), tf.cast(listed, dtype),
            tf.where(listed, ids, 0))


def _batch_indices(ids):
    """``[B, S, 2]`` scatter/gather indices ``(b, ids[b, i])``."""
    b = tf.broadcast_to(tf.range(tf.shape(ids)[0])[:, None], tf.shape(ids))
    return tf.stack([b, ids], axis=-1)


def select_spikes(v, th1, th2, beta, capacity: int):
    """Spikes then candidates of each row of ``v``, up to ``capacity`` slots.

    Forward, per row ``b`` of ``v [B, N]`` with ``S = capacity``::

        spikes     = {j : v[b, j] >= th1}              ascending j
        candidates = {j : th2 <= v[b, j] < th1}        ascending j (th2 = -inf: all others)
        ids[b]     = (spikes ++ candidates)[:S], padding id 0
        counts[b]  = (min(|spikes|, S), min(|spikes| + |candidates|, S))
        values[b, i] = [i < counts[b, 0]]
        dropped[b] = |spikes| - counts[b, 0]

    Gradient (w.r.t. ``v`` only; ``values`` is the carrier), for ``i < counts[b, 1]``::

        dv[b, ids[b, i]] += g_values[b, i] / (beta * |v[b, ids[b, i]] - th1| + 1)^2

    Args:
        v: float ``[B, N]``, ``N <= 2**31 - 1``.
        th1, th2, beta: scalars: ``th1`` finite; ``th2`` finite and ``<= th1``, or ``-inf``
            for "no second threshold"; ``beta`` finite and ``> 0``.
        capacity: ``S`` with ``1 <= S <= N``.

    Returns:
        ``(ids int32[B, S], counts int32[B, 2], values float[B, S], dropped int32[B])``.
    """
    v = tf.convert_to_tensor(v)
    op = "select_spikes"
    if v.shape.rank != 2:
        raise ValueError(f"{op}: v must be rank 2 [batch, n]; got shape {v.shape}")
    if int(capacity) < 1:
        raise ValueError(f"{op}: capacity must be >= 1; got {capacity}")
    dtype = v.dtype
    th1 = tf.cast(th1, dtype)
    th2 = tf.cast(th2, dtype)
    beta = tf.cast(beta, dtype)
    n64 = v.shape[1] if v.shape[1] is not None else tf.shape(v, out_type=tf.int64)[1]
    checks = check_neurons(n64, op=op, n_name="N (v.shape[1])")
    checks += check_scalars(th1, th2, beta, op=op)
    with tf.control_dependencies(checks):
        v = tf.identity(v)
    n = tf.shape(v)[1]
    check = tf.debugging.assert_less_equal(tf.constant(capacity, tf.int32), n,
                                           message=f"{op}: capacity must be <= N")
    with tf.control_dependencies([check]):
        v = tf.identity(v)
    spike = v >= th1
    cand = tf.logical_and(v >= th2, tf.logical_not(spike))
    n_key = tf.cast(n, tf.int64)  # keys up to 3 N - 1 do not fit int32
    idx = tf.range(n_key)[None, :]
    key = tf.where(spike, idx, tf.where(cand, n_key + idx, 2 * n_key + idx))
    order = tf.math.top_k(-key, k=capacity, sorted=True).indices
    n_spk = tf.reduce_sum(tf.cast(spike, tf.int32), axis=1)
    n_cand = tf.reduce_sum(tf.cast(cand, tf.int32), axis=1)
    c0 = tf.minimum(n_spk, capacity)
    c1 = tf.minimum(n_spk + n_cand, capacity)
    slots = _slots(capacity)
    read = slots < c1[:, None]
    ids = tf.where(read, order, 0)
    counts = tf.stack([c0, c1], axis=1)
    dropped = n_spk - c0
    mask1 = tf.cast(read, dtype)
    indices = _batch_indices(ids)

    @tf.custom_gradient
    def carrier(v_in):
        values = tf.cast(slots < c0[:, None], dtype)

        def grad(g_values):
            v_sel = tf.gather_nd(v_in, indices)
            d = tf.math.reciprocal(tf.square(beta * tf.abs(v_sel - th1) + 1.0))
            return tf.tensor_scatter_nd_add(tf.zeros_like(v_in), indices, g_values * d * mask1)

        return values, grad

    return ids, counts, carrier(v), dropped


def sparse_matmul(weights, ids, counts, values, layout: str = "in_out"):
    """``y[b, n] = sum_{i < counts[b, 0]} W[ids[b, i], n]`` with ``W [in, out]`` (the layout
    of every network here; ``layout="in_out"``). ``layout="out_in"`` is the conversion for
    weights kept as ``W^T [out, in]``: the same product, ``weights[n, ids[b, i]]``.

    Gradients (``g = dL/dy``)::

        dW[ids[b, i], n] += g[b, n]                           i < counts[b, 0]
        g_values[b, i]    = sum_n g[b, n] W[ids[b, i], n]     i < counts[b, 1], else 0

    For ``"in_out"``, ``dW`` is a ``tf.IndexedSlices`` with one row ``g[b, :]`` per real
    spike at row ``ids[b, i]`` (repeated rows are summed when densified): only the rows of
    inputs that spiked. For ``"out_in"`` it is a dense ``[out, in]`` tensor.

    Args:
        weights: float ``[in, out]`` or ``[out, in]``, see ``layout``.
        ids, counts: the sparse spikes ``[B, S]``, ``[B, 2]``.
        values: float ``[B, S]``, the gradient carrier (its entries are not read).
        layout: ``"in_out"`` (default) or ``"out_in"``.

    Returns:
        float ``[B, out]``.
    """
    op = "sparse_matmul"
    in_axis = 1 if layout == "out_in" else 0
    weights = tf.convert_to_tensor(weights)
    n_in = weights.shape[in_axis]
    ids, counts, values, mask0, mask1, safe_ids = _checked_slots(
        ids, counts, values,
        n_in if n_in is not None else tf.shape(weights, out_type=tf.int64)[in_axis], op=op,
        n_name=f"in (weights.shape[{in_axis}])", dtype=weights.dtype)

    @tf.custom_gradient
    def matmul(w, _values):
        w_rows = tf.transpose(w) if layout == "out_in" else w  # [in, out]
        rows = tf.gather(w_rows, safe_ids)  # [B, S, out]
        y = tf.einsum("bs,bso->bo", mask0, rows)

        def grad(g):
            n_in, n_out = tf.shape(w_rows)[0], tf.shape(w_rows)[1]
            contrib = tf.reshape(mask0[:, :, None] * g[:, None, :], [-1, n_out])
            flat_ids = tf.reshape(safe_ids, [-1])
            if layout == "out_in":
                grad_w = tf.transpose(tf.math.unsorted_segment_sum(contrib, flat_ids, n_in))
            else:
                grad_w = tf.IndexedSlices(contrib, flat_ids, tf.shape(w))
            return grad_w, tf.einsum("bo,bso->bs", g, rows) * mask1

        return y, grad

    return matmul(weights, values)


def sparse_to_dense(ids, counts, values, n: int):
    """``dense[b, ids[b, i]] = 1`` for ``i < counts[b, 0]``, else 0.

    Gradient: ``g_values[b, i] = g_dense[b, ids[b, i]]`` for ``i < counts[b, 1]``, else 0.

    Args:
        ids, counts: the sparse spikes ``[B, S]``, ``[B, 2]``.
        values: float ``[B, S]`` carrier; fixes the output dtype.
        n: number of neurons, ``<= 2**31 - 1``.

    Returns:
        float ``[B, n]`` of 0/1.
    """
    op = "sparse_to_dense"
    values = tf.convert_to_tensor(values)
    ids, counts, values, mask0, mask1, safe_ids = _checked_slots(
        ids, counts, values, n, op=op, n_name="n", dtype=values.dtype)
    indices = _batch_indices(safe_ids)

    @tf.custom_gradient
    def to_dense(_values):
        shape = tf.stack([tf.shape(ids)[0], n])
        dense = tf.minimum(tf.scatter_nd(indices, mask0, shape), 1.0)

        def grad(g):
            return tf.gather_nd(g, indices) * mask1

        return dense, grad

    return to_dense(values)


def membrane(current, *, alpha: float, gain: float, th1: float):
    """Membrane potentials of one layer over a time-major sequence ``current [T, B, n]``.

    ``V_t = alpha * (V_{t-1} - sg(V_{t-1} H(V_{t-1} - th1))) + (1 - alpha) * gain * I_t``,
    ``V_{-1} = 0``: the recursion of the fused layer op, written here so that the reference
    depends on nothing above :mod:`snnlib.ops`. The gradient is TensorFlow's through the scan;
    with the reset under ``stop_gradient`` it is the reverse-time filter
    ``dL/dV_t (total) = g_t + alpha * dL/dV_{t+1} (total)``, ``dL/dI_t = (1 - alpha) gain
    dL/dV_t (total)``.

    Returns:
        float ``[T, B, n]``.
    """
    drive = (1.0 - alpha) * gain * tf.convert_to_tensor(current)

    def step(v_prev, d):
        reset = tf.stop_gradient(v_prev * tf.cast(v_prev >= th1, v_prev.dtype))
        return alpha * (v_prev - reset) + d

    return tf.scan(step, drive, initializer=tf.zeros_like(drive[0]))
