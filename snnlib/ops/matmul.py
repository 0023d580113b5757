"""Dense weights times sparse spikes (:func:`sparse_matmul`), both weight layouts, and the
compiled ops' gradients. Weights are stored ``[in, out]`` (``"in_out"``, the default and the
layout of every network); ``"out_in"`` converts weights kept as ``[out, in]``."""

from __future__ import annotations

import tensorflow as tf

from snnlib.ops import _loader
from snnlib.ops._backend import ops_for
from snnlib.ops._checks import (carrier_values, check_neurons, check_spikes, flatten, float_tensor,
                                shape_of, unflatten)
from snnlib.spikes import SparseSpikes


WEIGHT_LAYOUTS = ("in_out", "out_in")


def sparse_matmul(weights, spikes: SparseSpikes, *, weights_layout: str = "in_out",
                  backend: str | None = None):
    """Dense weights times binary sparse spikes: ``y[..., n] = sum_{i < counts[..., 0]}
    W[ids[..., i], n]`` (``x W`` for the dense 0/1 spikes ``x``).

    Gradients: ``dW[ids[i], n] += g[n]`` over real spikes (``i < counts[0]``);
    ``g_values[i] = sum_n g[n] W[ids[i], n]`` for ``i < counts[1]`` (candidates included,
    0 beyond). Spikes without ``values`` get no gradient.

    Args:
        weights: float ``W [in, out]`` (``weights_layout="in_out"``, the default and the
            layout of every network here: a spike reads one contiguous row, and the gradient
            is a ``tf.IndexedSlices`` holding only the rows of the input neurons that spiked,
            so neither the weights nor a dense gradient is streamed whole), or, as a
            conversion for weights kept transposed, ``W^T [out, in]`` (``"out_in"``; the op
            reads all of it and its gradient is a dense ``[out, in]`` tensor).
        spikes: :class:`SparseSpikes` with ``ids [..., S]``, ids in ``[0, in)``.
        weights_layout: ``"in_out"`` or ``"out_in"``, see ``weights``.
        backend: ``None``, ``"compiled"`` or ``"reference"``.

    Returns:
        float ``[..., out]`` in the dtype of ``weights``.
    """
    if weights_layout not in WEIGHT_LAYOUTS:
        raise ValueError(f"weights_layout must be one of {WEIGHT_LAYOUTS}; got {weights_layout!r}")
    weights = float_tensor(weights, "weights")
    if weights.shape.rank != 2:
        shape = "(out, in)" if weights_layout == "out_in" else "(in, out)"
        raise ValueError(f"weights must be rank 2 {shape}; got shape {weights.shape}")
    in_axis = 1 if weights_layout == "out_in" else 0
    check_neurons(weights.shape[in_axis], f"in (weights.shape[{in_axis}])")
    ids, counts, values = check_spikes(spikes, "sparse_matmul")
    if values is not None and values.dtype != weights.dtype:
        raise ValueError(f"spikes.values ({values.dtype.name}) must have the dtype of weights "
                         f"({weights.dtype.name})")
    rank = ids.shape.rank
    lead, lead_static = shape_of(ids)[:-1], ids.shape[:-1]
    ids, counts = flatten(ids, 1), flatten(counts, 1)
    if values is None:
        values = carrier_values(counts, tf.shape(ids)[1] if ids.shape[-1] is None
                                else ids.shape[-1], weights.dtype)
    else:
        values = flatten(values, 1)
    y = ops_for(backend).sparse_matmul(weights, ids, counts, values, weights_layout)
    return unflatten(y, lead, lead_static, rank)


@tf.RegisterGradient("SnnlibSparseMatmul")
def _sparse_matmul_grad(op, grad_y, _g_columns, _g_weights_t):
    module = _loader.require_library()
    # The forward op kept the weight columns the slots read (weights_t), so the backward
    # pass never reads W again; `weights` only gives dW its shape.
    weights, ids, counts, _ = op.inputs
    _, columns, weights_t = op.outputs
    if grad_y is None:
        grad_y = tf.zeros_like(op.outputs[0])
    inputs = dict(weights=weights, ids=ids, counts=counts, grad_y=grad_y, columns=columns,
                  weights_t=weights_t)
    # Two ops: they may run concurrently, and the unused one is pruned from the graph.
    return [module.snnlib_sparse_matmul_grad(**inputs), None, None,
            module.snnlib_sparse_matmul_slot_grad(**inputs)]


@tf.RegisterGradient("SnnlibSparseMatmulT")
def _sparse_matmul_t_grad(op, grad_y):
    module = _loader.require_library()
    # Row-sparse weight gradient: only the input neurons that spiked get a row. The two
    # gradients are separate ops: they may run concurrently, and the unused one is pruned.
    weights_t, ids, counts, _ = op.inputs
    rows, columns = module.snnlib_sparse_matmul_t_grad(
        weights_t=weights_t, ids=ids, counts=counts, grad_y=grad_y)
    grad_values = module.snnlib_sparse_matmul_t_slot_grad(
        weights_t=weights_t, ids=ids, counts=counts, grad_y=grad_y)
    grad_w = tf.IndexedSlices(rows, columns, dense_shape=tf.shape(weights_t))
    return [grad_w, None, None, grad_values]
