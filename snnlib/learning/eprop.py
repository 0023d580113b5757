"""e-prop (Bellec et al. 2020, "A solution to the learning dilemma for recurrent networks of
spiking neurons", Nat. Commun. 11:3625) for the seed LIF network.

Gradient factorisation. For any loss ``E`` of the spikes, BPTT computes
``dE/dW[m, n] = sum_t dE/dS_t[n] (total) * psi_t[n] * dV_t[n]/dW[m, n]`` (``W [in, out]``,
``I_t = x_t W``). e-prop makes two
choices:

1. **Eligibility trace (exact here).** ``dV_t/dW`` through the neuron's *own* state only. With
   the reset under stop-gradient (``dV_t/dV_{t-1} = alpha``) and no recurrent weights this is
   the whole dependence, ``dV_t[n]/dW[m, n] = xbar_t[m]`` with the filtered input
   ``xbar_t = alpha xbar_{t-1} + (1 - alpha) gain x_t``, so the eligibility trace is
   ``e_t[m, n] = xbar_t[m] psi_t[n]``.
2. **Learning signal (approximate for hidden layers).** ``dE/dS_t`` (total) is replaced by a
   signal ``L_t`` computable at step ``t``:

   * last layer: ``L^L_t = dE_t/dS^L_t`` of the per-step loss (:mod:`snnlib.learning.losses`),
     exact;
   * hidden layer ``l`` (symmetric feedback):
     ``L^l_t = (1 - alpha) gain B^l (psi^{l+1}_{t+d} * L^{l+1}_{t+d})`` with ``B^l = W^{l+1}``
     (``[n_{l+1}, n_{l+2}]``, in, out)
     and ``d = 1`` with ``layer_delay`` (``0`` without). This is the one-step path
     ``S^l_t -> V^{l+1}_{t+d} -> S^{l+1}_{t+d}``. It **drops** the paths through the
     downstream membrane's memory (``V^{l+1}_{t+d} -> V^{l+1}_{t+d+k}``, weight ``alpha^k``)
     and hence through every *later* spike of the downstream layers; BPTT keeps them.
   * random feedback (``feedback="random"``): ``B^l`` is a fixed random matrix instead of
     ``W^{l+1}`` (feedback alignment; no weight transport).

   The update is ``dW^l = sum_t xbar^l_t^T (L^l_t * psi^l_t)`` (``[in, out]``, the layout of
   ``W^l``), accumulated as one outer product per step, summed over the batch. With
   ``layer_delay`` the signal of layer ``l`` arrives ``L - 1 - l`` steps after its spike, so layer ``l`` keeps a buffer of its last
   ``L - 1 - l`` ``(psi, xbar)`` pairs: memory ``O(B (N + M) L^2 + sum N M)``, independent of
   ``T``.

Consequences: for one LIF layer read out directly (the classifier with no hidden layer), e-prop
equals BPTT of the same per-step loss to float precision (tested to 1e-9 in float64). With
hidden layers it is a biased estimate; its cosine similarity with BPTT is measured in the tests
and notebook 06. Objective: the per-step cross-entropy of :func:`losses.step_cross_entropy` on
the last layer's spikes (not the count cross-entropy BPTT trains, which is not online).
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from snnlib.functional.params import LIFParams, init_weights
from snnlib.learning import online
from snnlib.learning.losses import STEP_LOGIT_SCALE
from snnlib.learning.online import OnlineResult

FEEDBACKS = ("symmetric", "random")


def random_feedback(sizes: Sequence[int], *, seed: int = 0, dtype="float32") -> list:
    """Fixed random feedback matrices ``B^l`` for feedback alignment.

    Args:
        sizes: ``[n_in, n_1, ..., n_L]`` of the LIF stack.

    Returns:
        ``L - 1`` arrays; entry ``l`` has the shape of ``W^{l+1}``, ``[n_{l+1}, n_{l+2}]``
        (in, out), drawn like the weights (fan-in uniform) from an independent seed; the
        signal is sent back through its transpose, as through ``W^{l+1}`` for symmetric
        feedback.
    """
    import numpy as np

    sizes = list(sizes)
    mats = init_weights(sizes[1:], seed=seed + 104729, dtype=np.dtype(dtype)) if len(sizes) > 2 else []
    return mats


def eprop_gradients(weights, inputs, labels, params: LIFParams | None = None, *,
                    feedback: str = "symmetric", feedback_weights=None,
                    logit_scale: float = STEP_LOGIT_SCALE, time_major: bool = False) -> OnlineResult:
    """e-prop gradients of the per-step loss for one batch, forward in time only.

    Args:
        weights: list of ``L`` matrices ``[M_l, N_l]`` (in, out); the last layer has one
            neuron per class.
        inputs: float 0/1 spikes ``[batch, time, n_0]`` (``[time, batch, n_0]`` if
            ``time_major``).
        labels: int ``[batch]``.
        params: neuron constants.
        feedback: ``"symmetric"`` (``B^l = W^{l+1}``) or ``"random"``.
        feedback_weights: for ``"random"``, ``L - 1`` fixed matrices shaped like
            ``weights[1:]`` (see :func:`random_feedback`).
        logit_scale: ``lambda`` of the per-step loss.

    Returns:
        :class:`snnlib.learning.online.OnlineResult`; ``grads[l]`` approximates
        ``dE/dW^l`` of ``E = losses.step_cross_entropy(S^L, labels)`` (exact for ``l = L-1``).
    """
    params = params or LIFParams()
    if feedback not in FEEDBACKS:
        raise ValueError(f"feedback must be one of {FEEDBACKS}; got {feedback!r}")
    weights, x, labels = online.prepare(weights, inputs, labels)
    n_layers = len(weights)
    if feedback == "random":
        if feedback_weights is None or len(feedback_weights) != n_layers - 1:
            raise ValueError("feedback_weights must hold one fixed matrix per hidden layer "
                             f"({n_layers - 1}) when feedback='random'")
        back = [tf.convert_to_tensor(b, weights[0].dtype) for b in feedback_weights]
    else:
        back = weights[1:]
    c = (1.0 - params.alpha) * params.gain
    depths = [(n_layers - 1 - l) if params.layer_delay else 0 for l in range(n_layers)]

    def update(vs, ss, traces, psis, state, onehot, scale):
        loss_t, d_logits = online.step_cross_entropy_signal(ss[-1], onehot, logit_scale)
        increments = [None] * n_layers
        pending = [()] * n_layers
        h = d_logits * scale * psis[-1]                     # dE/dV^L_t, [B, N_L]
        increments[-1] = tf.matmul(traces[-1], h, transpose_a=True)  # [M_L, N_L]
        for l in reversed(range(n_layers - 1)):
            buffer = state.pending[l] + ((psis[l], traces[l]),)
            (psi_old, trace_old), pending[l] = buffer[0], buffer[1:]
            # L^l * psi^l at step t - depth_l; back[l] is [N_l, N_{l+1}] like W^{l+1}
            h = c * tf.matmul(h, back[l], transpose_b=True) * psi_old
            increments[l] = tf.matmul(trace_old, h, transpose_a=True)
        return increments, loss_t, pending

    return online.run(weights, x, labels, params, update, pending_depths=depths,
                      time_major=time_major)
