"""Shared helpers: tiny float64 networks and the BPTT references the online rules are tested against."""

import numpy as np
import pytest
import tensorflow as tf

from snnlib import LIFParams, init_weights, snn_forward
from snnlib.learning.losses import step_cross_entropy

PARAMS = LIFParams(alpha=0.9, weight_mul=3.0)


def make_batch(rng, sizes, batch=4, steps=30, rate=0.2):
    x = (rng.random((batch, steps, sizes[0])) < rate).astype(np.float64)
    y = rng.integers(0, sizes[-1], batch).astype(np.int32)
    return x, y


def make_weights(sizes, seed=1, weight_mul=3.0):
    return [tf.constant(w) for w in init_weights(sizes, weight_mul=weight_mul, seed=seed,
                                                 dtype=np.float64)]


def bptt_step_loss_grads(weights, x, y, params=PARAMS):
    """BPTT (tape through snn_forward) of the per-step loss on the last layer's spikes."""
    weights = [tf.Variable(w) for w in weights]
    with tf.GradientTape() as tape:
        out = snn_forward(weights, x, params, time_major=False)
        loss = step_cross_entropy(tf.transpose(out.spikes[-1], [1, 0, 2]), y)
    return [g.numpy() for g in tape.gradient(loss, weights)], float(loss)


def rel_err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


def flat(grads):
    return np.concatenate([np.asarray(g).ravel() for g in grads])


@pytest.fixture
def params():
    return PARAMS
