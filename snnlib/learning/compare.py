"""Reference gradients for judging the online rules: BPTT of the same per-step loss, and
:func:`gradient_cosine` (from :mod:`snnlib.network.sparsity`) to compare them."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from snnlib.functional.params import LIFParams
from snnlib.learning.losses import step_cross_entropy
from snnlib.network import snn_forward
from snnlib.network.sparsity import gradient_cosine


def bptt_step_gradients(weights, x, y, params: LIFParams) -> list[np.ndarray]:
    """``dE/dW`` by ``tf.GradientTape`` through :func:`snn_forward` of the per-step loss ``E``
    of the online rules (:func:`snnlib.learning.losses.step_cross_entropy` of the last layer).

    Args:
        weights: list of ``[in, out]`` matrices; x: ``[B, T, n_in]``; y: int labels ``[B]``.
    """
    variables = [tf.Variable(w) for w in weights]
    with tf.GradientTape() as tape:
        out = snn_forward(variables, x, params)
        loss = step_cross_entropy(tf.transpose(out.spikes[-1], [1, 0, 2]), y)
    # sparse_ops weight gradients are tf.IndexedSlices (the rows of the inputs that spiked)
    return [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, variables)]


__all__ = ["bptt_step_gradients", "gradient_cosine"]
