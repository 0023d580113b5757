"""Reference gradients for judging the online rules: BPTT of the same per-step loss."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from snnlib.functional.lif import LIFParams, snn_forward
from snnlib.learning.losses import step_cross_entropy


def bptt_step_gradients(weights, x, y, params: LIFParams) -> list[np.ndarray]:
    """``dE/dW`` by ``tf.GradientTape`` through :func:`snn_forward` of the per-step loss ``E``
    of the online rules (:func:`snnlib.learning.losses.step_cross_entropy` of the last layer).

    Args:
        weights: list of ``(out, in)`` matrices; x: ``[B, T, n_in]``; y: int labels ``[B]``.
    """
    variables = [tf.Variable(w) for w in weights]
    with tf.GradientTape() as tape:
        out = snn_forward(variables, x, params)
        loss = step_cross_entropy(tf.transpose(out.spikes[-1], [1, 0, 2]), y)
    return [g.numpy() for g in tape.gradient(loss, variables)]


def gradient_cosine(a, b) -> float:
    """Cosine similarity of two gradients given as lists of arrays (flattened and joined); 0
    when either gradient is all zeros."""
    a = np.concatenate([np.ravel(g) for g in a])
    b = np.concatenate([np.ravel(g) for g in b])
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denom) if denom > 0 else 0.0
