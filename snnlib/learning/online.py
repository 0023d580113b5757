"""The forward-in-time machinery shared by the online learning rules (e-prop, DECOLLE).

Both rules run the LIF network of :mod:`snnlib.functional.lif` step by step and update weight
gradients on the fly, so nothing they keep has a time axis. Per layer ``l`` (input width
``M_l``, ``N_l`` neurons) and step ``t`` the carried state is

    V^l_t     = alpha * (V^l_{t-1} - sg(V^l_{t-1} H(V^l_{t-1} - th1))) + c * W^l x^l_t,
                c = (1 - alpha) * gain                                  [batch, N_l]
    S^l_t     = H(V^l_t - th1)                                         [batch, N_l]
    xbar^l_t  = alpha * xbar^l_{t-1} + c * x^l_t                       [batch, M_l]
    psi^l_t   = 1 / (beta |V^l_t - th1| + 1)^2 * [V^l_t >= th2_l]      [batch, N_l]
    G^l      += h^l_t^T xbar^l_t      (summed over the batch)          [N_l, M_l]

where ``x^0_t`` is the input and ``x^l_t = S^{l-1}_{t-1}`` (``S^{l-1}_t`` without
``layer_delay``). Because the reset is under stop-gradient, ``dV_t/dV_{t-1} = alpha`` and
``dV^l_t[n] / dW^l[n, m] = xbar^l_t[m]`` exactly: the *eligibility vector* of every synapse
onto a neuron is the filtered presynaptic input, and ``e_t[n, m] = psi_t[n] xbar_t[m]`` is the
eligibility trace (Bellec et al. 2020, eq. 13 for a LIF neuron). The rules differ only in the
postsynaptic factor ``h^l_t = (learning signal) * psi^l_t``.

The learning objective of both rules is a *per-step* loss (:mod:`snnlib.learning.losses`), so a
learning signal is known at the step it refers to and ``G`` is complete when the loop ends.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import tensorflow as tf

from snnlib.functional.lif import lif_membrane
from snnlib.functional.params import LIFParams
from snnlib.network import snn_forward, validate_network
from snnlib.functional.surrogate import superspike_derivative


class OnlineState(NamedTuple):
    """Everything an online rule keeps between steps (no tensor has a time axis).

    v, spikes: per layer ``[batch, N_l]``: ``V^l_{t}`` and ``S^l_{t}``.
    trace: per layer ``[batch, M_l]``: the eligibility vector ``xbar^l_t``.
    grads: per layer ``[N_l, M_l]``: the accumulated weight gradient.
    counts: ``[batch, N_L]``: spike counts of the last layer (the classifier's logits).
    loss: scalar, the accumulated per-step loss.
    activity: per layer, scalar sum of spikes (for the mean firing rate).
    pending: per layer, a tuple of ``(psi [batch, N_l], trace [batch, M_l])`` of the last few
        steps that still wait for their learning signal (e-prop with ``layer_delay``: layer
        ``l`` waits ``L - 1 - l`` steps); empty for DECOLLE.
    """

    v: tuple
    spikes: tuple
    trace: tuple
    grads: tuple
    counts: tf.Tensor
    loss: tf.Tensor
    activity: tuple
    pending: tuple


class OnlineResult(NamedTuple):
    """What an online rule returns.

    grads: list of ``[M_l, N_l]`` (in, out) gradients of the rule's objective (mean over batch
        and time), in the order and layout of ``weights`` (ready for ``optimizer.apply``).
    loss: scalar, the rule's objective on this batch.
    logits: ``[batch, N_L]`` spike counts of the last layer.
    activity: list of scalar mean firing rates per layer.
    state: the final :class:`OnlineState` (for inspection and the memory tests).
    """

    grads: list
    loss: tf.Tensor
    logits: tf.Tensor
    activity: list
    state: OnlineState


def prepare(weights, inputs, labels):
    """Convert and validate; returns ``(weights, inputs, labels int32 [B])``.

    The input is *not* transposed: a time-major copy would be a tensor of size ``T``;
    :func:`run` reads one step at a time from either layout instead.
    """
    weights = [tf.convert_to_tensor(w) for w in weights]
    inputs = tf.convert_to_tensor(inputs, dtype=weights[0].dtype if weights else None)
    validate_network(weights, inputs.shape[-1] if inputs.shape.rank else None, inputs.shape.rank)
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    return weights, inputs, labels


def initial_state(weights, batch, dtype, pending_depths: Sequence[int]) -> OnlineState:
    """Zero state for ``weights`` (list of ``[M_l, N_l]``, in, out) and a (possibly symbolic)
    batch size."""
    def zeros(n):
        return tf.zeros(tf.stack([batch, n]), dtype)

    sizes = [(tf.shape(w)[1], tf.shape(w)[0]) for w in weights]  # (N_l out, M_l in)
    return OnlineState(
        v=tuple(zeros(n) for n, _ in sizes),
        spikes=tuple(zeros(n) for n, _ in sizes),
        trace=tuple(zeros(m) for _, m in sizes),
        grads=tuple(tf.zeros_like(w) for w in weights),
        counts=zeros(sizes[-1][0]),
        loss=tf.zeros([], dtype),
        activity=tuple(tf.zeros([], dtype) for _ in weights),
        pending=tuple(tuple((zeros(n), zeros(m)) for _ in range(depth))
                      for (n, m), depth in zip(sizes, pending_depths)),
    )


def forward_step(weights, x_t, state: OnlineState, params: LIFParams):
    """One step of every layer; returns lists ``(v, spikes, trace, psi)`` of the new values."""
    n_layers = len(weights)
    c = (1.0 - params.alpha) * params.gain
    vs, ss, traces, psis = [], [], [], []
    inp = x_t
    for l, w in enumerate(weights):
        if l > 0:
            inp = state.spikes[l - 1] if params.layer_delay else ss[l - 1]
        v_prev = state.v[l]
        v = (params.alpha * tf.where(v_prev >= params.th1, tf.zeros_like(v_prev), v_prev)
             + c * tf.matmul(inp, w))
        vs.append(v)
        ss.append(tf.cast(v >= params.th1, v.dtype))
        traces.append(params.alpha * state.trace[l] + c * inp)
        psis.append(superspike_derivative(v, th1=params.th1, beta=params.beta,
                                          th2=params.layer_th2(l, n_layers)))
    return vs, ss, traces, psis


UpdateFn = Callable[..., tuple]


def run(weights, x, labels, params: LIFParams, update: UpdateFn, *,
        pending_depths: Sequence[int], time_major: bool = False) -> OnlineResult:
    """Drive the online loop over ``x [B, T, n_0]`` (``[T, B, n_0]`` if ``time_major``).

    ``update(vs, ss, traces, psis, state, onehot, scale)`` returns ``(grad_increments,
    loss_t, pending)``: per-layer ``[M_l, N_l]`` (in, out) increments, the step's summed loss,
    the new pending buffers. ``scale = 1 / (T * B)`` turns sums into the mean over batch and time.
    """
    n_classes = weights[-1].shape[1]
    if n_classes is None:
        n_classes = tf.shape(weights[-1])[1]
    dtype = weights[0].dtype
    time_axis = 0 if time_major else 1
    n_steps, batch = tf.shape(x)[time_axis], tf.shape(x)[1 - time_axis]
    onehot = tf.one_hot(labels, n_classes, dtype=dtype)
    scale = 1.0 / tf.cast(n_steps * batch, dtype)
    state0 = initial_state(weights, batch, dtype, pending_depths)

    def body(t, state):
        x_t = x[t] if time_major else x[:, t]
        vs, ss, traces, psis = forward_step(weights, x_t, state, params)
        increments, loss_t, pending = update(vs, ss, traces, psis, state, onehot, scale)
        new = OnlineState(
            v=tuple(vs), spikes=tuple(ss), trace=tuple(traces),
            grads=tuple(g + d for g, d in zip(state.grads, increments)),
            counts=state.counts + ss[-1], loss=state.loss + loss_t,
            activity=tuple(a + tf.reduce_sum(s) for a, s in zip(state.activity, ss)),
            pending=tuple(pending))
        return t + 1, new

    _, final = tf.while_loop(lambda t, _: t < n_steps, body, (tf.constant(0), state0))
    rates = [a * scale / tf.cast(tf.shape(w)[0], dtype) for a, w in zip(final.activity, weights)]
    return OnlineResult(grads=list(final.grads), loss=final.loss * scale, logits=final.counts,
                        activity=rates, state=final)


def step_cross_entropy_signal(logits_t, onehot, logit_scale: float):
    """Per-step softmax cross-entropy and its gradient w.r.t. the logits.

    Args:
        logits_t: ``[batch, K]`` per-step logits (before ``logit_scale``).
        onehot: ``[batch, K]`` targets.

    Returns:
        ``(loss summed over the batch, dloss/dlogits_t [batch, K])``.
    """
    z = logit_scale * logits_t
    log_p = tf.nn.log_softmax(z, axis=-1)
    loss = -tf.reduce_sum(onehot * log_p)
    return loss, logit_scale * (tf.exp(log_p) - onehot)


def record_traces(weights, inputs, params: LIFParams | None = None, *, layer: int = 0):
    """The per-step quantities of one layer over a whole sequence, for figures.

    This *does* store the sequence (it exists to plot it); the rules themselves never do.

    Args:
        weights: list of ``(N_l, M_l)`` matrices.
        inputs: float ``[batch, time, n_0]``.
        layer: which layer to record.

    Returns:
        dict of NumPy arrays, each ``[batch, time, .]``: ``x`` (the layer's input), ``xbar``
        (eligibility vector ``[.., M]``), ``v``, ``spikes`` and ``psi`` (``[.., N]``).
        The eligibility trace of synapse ``(n, m)`` is ``psi[..., n] * xbar[..., m]``.
    """
    params = params or LIFParams()
    weights = [tf.convert_to_tensor(w) for w in weights]
    inputs = tf.convert_to_tensor(inputs, weights[0].dtype)
    out = snn_forward(weights, inputs, params, return_potentials=True)
    x = inputs if layer == 0 else out.spikes[layer - 1]
    if layer > 0 and params.layer_delay:
        x = tf.concat([tf.zeros_like(x[:, :1]), x[:, :-1]], axis=1)
    xbar = lif_membrane(tf.transpose(x, [1, 0, 2]), alpha=params.alpha, gain=params.gain, th1=None)
    v = out.potentials[layer]
    psi = superspike_derivative(v, th1=params.th1, beta=params.beta,
                                th2=params.layer_th2(layer, len(weights)))
    return {"x": x.numpy(), "xbar": tf.transpose(xbar, [1, 0, 2]).numpy(), "v": v.numpy(),
            "spikes": out.spikes[layer].numpy(), "psi": psi.numpy()}
