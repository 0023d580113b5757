"""The fused sparse LIF layer op (the seed's ``sparse_layer``, fused per layer).

One call runs a whole LIF layer over a whole time-major sequence of sparse input spikes,
forward and backward (DESIGN.md sections 3-5; spec section 1.6):

    I_t  = sum_{i < counts_in[t, 0]} W[ids_in[t, i], :]        W: [in, out]
    V_t  = alpha * (V_{t-1} - sg(V_{t-1} H(V_{t-1} - th1))) + (1 - alpha) * gain * I_t
    out  = select_spikes(V_t; th1, th2, capacity)      spikes, then candidates, <= S slots

Backward (BPTT through the layer): a gradient reaches only the listed neurons (spikes and
candidates) through the SuperSpike surrogate, is filtered backwards in time with ``alpha``
(the reset is under stop-gradient), the weight gradient accumulates from real input spikes
only (``dW[ids_in[t, i], :] += dI_t``: nonzero only on the rows of inputs that spiked), and
the input slots ``i < counts_in[t, 1]`` receive a slot gradient. The compiled op
stores for the backward pass only the index lists and the potentials at the listed neurons,
``O(T * B * S)``; the dense potentials exist only inside each call.

The pure-TF reference composes :func:`snnlib.ops.reference.sparse_matmul`,
:func:`snnlib.ops.reference.membrane` and :func:`snnlib.ops.reference.select_spikes` (the
``sparse_ops`` layer), which is the specification the compiled op is tested against. The
gradient of the compiled op is registered at the end of this module.
"""

from __future__ import annotations

import tensorflow as tf

from snnlib.ops import _loader
from snnlib.ops import reference as _reference
from snnlib.ops._backend import ops_for
from snnlib.ops._checks import (carrier_values, check_capacity, check_finite, check_neurons,
                                check_number, check_positive, check_spikes, check_th2,
                                float_tensor)
from snnlib.spikes import SparseSpikes


def _delayed(x):
    """``x [T, ...]`` one step late: zeros at step 0, ``x[t - 1]`` at step t."""
    return tf.concat([tf.zeros_like(x[:1]), x[:-1]], axis=0)


def _reference_layer(weights, ids, counts, values, alpha, gain, th1, th2, beta, capacity,
                     input_delay):
    if input_delay:
        ids, counts, values = _delayed(ids), _delayed(counts), _delayed(values)
    t, b = tf.shape(ids)[0], tf.shape(ids)[1]
    flat = lambda x: tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], axis=0))  # noqa: E731
    current = _reference.sparse_matmul(weights, flat(ids), flat(counts), flat(values))
    current = tf.reshape(current, [t, b, tf.shape(weights)[1]])
    v = _reference.membrane(current, alpha=alpha, gain=gain, th1=th1)
    out_ids, out_counts, out_values, dropped = _reference.select_spikes(
        flat(v), th1, th2, beta, capacity)
    unflat = lambda x: tf.reshape(x, tf.concat([[t, b], tf.shape(x)[1:]], axis=0))  # noqa: E731
    return (unflat(out_ids), unflat(out_counts), unflat(out_values), tf.reshape(dropped, [t, b]), v)


def sparse_lif_layer(weights, spikes: SparseSpikes, *, alpha: float, gain: float, th1: float,
                     th2: float | None, beta: float, capacity: int, return_potentials: bool = False,
                     input_delay: bool = False, backend: str | None = None):
    """One LIF layer over a whole time-major sequence of sparse spikes.

    Args:
        weights: float32/float64 ``[in, out]`` (a spike of input ``j`` reads the row
            ``weights[j]``), both at most ``2**31 - 1`` (int32 ids).
        spikes: time-major :class:`SparseSpikes` ``ids [T, B, S_in]`` (ids in ``[0, in)``);
            ``values`` carries the gradient to a previous layer (``None`` for input data).
        alpha, gain, th1, beta: neuron constants (see :class:`snnlib.LIFParams`):
            ``0 < alpha < 1``; ``gain``, ``beta`` finite and ``> 0``; ``th1`` finite.
        th2: second threshold of this layer, finite and ``<= th1`` (``None``: every
            non-spiking neuron is a candidate).
        capacity: output slots ``S``, ``1 <= S <= out``.
        return_potentials: also return the dense potentials ``[T, B, out]`` (for plots;
            differentiable).
        input_delay: read the input one step late (``I_t`` from the input spikes of step
            ``t - 1``, none at ``t = 0``): the delay between the layers of the seed's network
            (``LIFParams.layer_delay``), taken inside the op instead of by shifting the lists
            (a copy of ``[T, B, S_in]`` forward and of its gradient backward).
        backend: ``None``, ``"compiled"`` or ``"reference"``.

    Returns:
        ``(SparseSpikes(ids int32[T, B, S], counts int32[T, B, 2], values float[T, B, S]),
        dropped int32[T, B], potentials float[T, B, out] or None)``.
    """
    weights = float_tensor(weights, "weights")
    if weights.shape.rank != 2:
        raise ValueError(f"weights must be rank 2 [in, out]; got shape {weights.shape}")
    check_neurons(weights.shape[1], "N (weights.shape[1])")
    check_neurons(weights.shape[0], "in (weights.shape[0])")
    ids, counts, values = check_spikes(spikes, "sparse_lif_layer")
    if ids.shape.rank != 3:
        raise ValueError(f"sparse_lif_layer: spikes must be time-major [time, batch, S]; got ids "
                         f"of shape {ids.shape}")
    capacity = check_capacity(capacity)
    if weights.shape[1] is not None and capacity > weights.shape[1]:
        raise ValueError(f"capacity must be <= the layer width N (weights.shape[1]) = "
                         f"{weights.shape[1]}; got {capacity}")
    alpha = check_number(alpha, "alpha")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    gain, beta = check_positive(gain, "gain"), check_positive(beta, "beta")
    th1 = check_finite(th1, "th1")
    th2_value = check_th2(th2, th1)
    if not isinstance(input_delay, bool):
        raise ValueError(f"input_delay must be True or False; got {input_delay!r}")
    input_grad = values is not None
    if values is not None and values.dtype != weights.dtype:
        raise ValueError(f"spikes.values ({values.dtype.name}) must have the dtype of weights "
                         f"({weights.dtype.name})")
    ops = ops_for(backend)
    if ops is _reference:
        if values is None:
            values = carrier_values(counts, ids.shape[-1] if ids.shape[-1] is not None
                                    else tf.shape(ids)[-1], weights.dtype)
        out_ids, out_counts, out_values, dropped, v = _reference_layer(
            weights, ids, counts, values, alpha, gain, th1, th2_value, beta, capacity,
            input_delay)
        return SparseSpikes(out_ids, out_counts, out_values), dropped, (v if return_potentials else None)
    module = _loader.require_library()
    constants = tf.constant([alpha, gain, th1, th2_value, beta], weights.dtype)
    if values is None:  # input data: the op reads no values (and computes no input gradient)
        values = tf.zeros([0, 0, 0], weights.dtype)
    out_ids, out_counts, out_values, dropped, _, potentials = module.snnlib_sparse_lif_layer(
        weights=weights, in_ids=ids, in_counts=counts, in_values=values, constants=constants,
        capacity=capacity, return_potentials=return_potentials, input_grad=input_grad,
        input_delay=input_delay)
    return (SparseSpikes(out_ids, out_counts, out_values), dropped,
            potentials if return_potentials else None)


@tf.RegisterGradient("SnnlibSparseLifLayer")
def _sparse_lif_layer_grad(op, _g_ids, _g_counts, g_values, _g_dropped, _g_v_listed, g_potentials):
    module = _loader.require_library()
    # BPTT through the layer (see codelets/sparse_spikes/sparse_lif_layer.cc).
    weights, in_ids, in_counts, _, constants = op.inputs
    out_ids, out_counts, out_values, _, v_listed, _ = op.outputs
    if g_values is None:
        g_values = tf.zeros_like(out_values)
    if g_potentials is None or not op.get_attr("return_potentials"):
        g_potentials = tf.zeros([0, 0, 0], weights.dtype)
    input_grad = op.get_attr("input_grad")
    grad_w, grad_in = module.snnlib_sparse_lif_layer_grad(
        weights=weights, in_ids=in_ids, in_counts=in_counts, out_ids=out_ids,
        out_counts=out_counts, v_listed=v_listed, grad_values=g_values,
        grad_potentials=g_potentials, constants=constants, input_grad=input_grad,
        input_delay=op.get_attr("input_delay"))
    return [grad_w, None, None, grad_in if input_grad else None, None]
