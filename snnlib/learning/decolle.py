"""DECOLLE: deep continuous local learning (Kaiser, Mostafa & Neftci 2020, Front. Neurosci.
14:424) for the seed LIF network.

Every LIF layer ``l`` has a *fixed random* readout ``R^l`` ``[N_l, K]`` (in, out, like the
weights) and its own loss at every step,

    E^l = 1/(T B) sum_t sum_b CE(softmax(lambda S^l_t[b] R^l), y[b]),

(the last layer, which has one neuron per class, uses the identity readout: its loss is the
same per-step loss e-prop trains). Training minimises ``sum_l E^l`` with **no gradient between
layers**: each layer's input is treated as a constant (``stop_gradient``), so layer ``l`` only
needs its own state. With the reset under stop-gradient, the gradient of ``E^l`` w.r.t. ``W^l``
given the input is, exactly,

    dE^l/dW^l = sum_t xbar^l_t^T ((dE^l_t/dz^l_t R^{l T}) * psi^l_t)       [M_l, N_l],
    xbar^l_t  = alpha xbar^l_{t-1} + (1 - alpha) gain x^l_t,

the local eligibility trace (the paper's presynaptic trace ``P``) times a local error: one
outer product per step, forward in time. What DECOLLE drops relative to BPTT of the final
layer's loss is every path *between* layers: hidden layers learn only to make their own
random readout predict the label, never to help the layers above. Memory is
``O(B sum_l (N_l + M_l) + sum_l N_l M_l)``, independent of ``T``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from snnlib.functional.params import LIFParams, init_weights
from snnlib.learning import online
from snnlib.learning.losses import STEP_LOGIT_SCALE
from snnlib.learning.online import OnlineResult


def random_readouts(sizes: Sequence[int], *, seed: int = 0, dtype="float32") -> list:
    """Fixed random local readouts ``R^l`` ``[N_l, K]`` (in, out) for the hidden layers.

    Args:
        sizes: ``[n_in, n_1, ..., n_L]`` with ``n_L = K`` classes.

    Returns:
        ``L - 1`` arrays (the last layer reads itself out), fan-in uniform like the weights,
        from an independent seed.
    """
    sizes = list(sizes)
    n_classes = sizes[-1]
    return [init_weights([n, n_classes], seed=seed + 15485863 + l, dtype=np.dtype(dtype))[0]
            for l, n in enumerate(sizes[1:-1])]


def decolle_gradients(weights, inputs, labels, params: LIFParams | None = None, *,
                      readouts=None, logit_scale: float = STEP_LOGIT_SCALE,
                      time_major: bool = False) -> OnlineResult:
    """DECOLLE gradients for one batch, forward in time only.

    Args:
        weights: list of ``L`` matrices ``[M_l, N_l]`` (in, out); the last layer has ``K``
            neurons.
        inputs: float 0/1 spikes ``[batch, time, n_0]`` (``[time, batch, n_0]`` if
            ``time_major``).
        labels: int ``[batch]``.
        params: neuron constants.
        readouts: ``L - 1`` fixed matrices ``[N_l, K]`` for the hidden layers
            (:func:`random_readouts`).
        logit_scale: ``lambda`` of the local losses.

    Returns:
        :class:`snnlib.learning.online.OnlineResult`; ``grads[l] = dE^l/dW^l`` with the
        layer's input held constant; ``loss = sum_l E^l``.
    """
    params = params or LIFParams()
    weights, x, labels = online.prepare(weights, inputs, labels)
    n_layers = len(weights)
    readouts = [] if readouts is None else list(readouts)
    if len(readouts) != n_layers - 1:
        raise ValueError(f"readouts must hold one [N_l, K] matrix per hidden layer "
                         f"({n_layers - 1}); got {len(readouts)}")
    mats = [tf.convert_to_tensor(r, weights[0].dtype) for r in readouts] + [None]

    def update(vs, ss, traces, psis, state, onehot, scale):
        increments, loss_t = [], 0.0
        for l in range(n_layers):
            r = mats[l]
            z = ss[l] if r is None else tf.matmul(ss[l], r)
            loss_l, d_z = online.step_cross_entropy_signal(z, onehot, logit_scale)
            d_s = d_z if r is None else tf.matmul(d_z, r, transpose_b=True)
            h = d_s * scale * psis[l]
            increments.append(tf.matmul(traces[l], h, transpose_a=True))  # [M_l, N_l]
            loss_t = loss_t + loss_l
        return increments, loss_t, [()] * n_layers

    return online.run(weights, x, labels, params, update, pending_depths=[0] * n_layers,
                      time_major=time_major)
