"""Heaviside spike nonlinearity with the SuperSpike surrogate gradient.

The forward pass is the step function ``S = H(V - th1)`` with ``H(0) = 1`` (a neuron
spikes when its potential reaches the threshold; one rule everywhere in the package).
The backward pass replaces the Dirac delta by the "fast sigmoid squared" of
Zenke & Ganguli (2018, SuperSpike), optionally masked by a second threshold:

    dS/dV = 1 / (beta * |V - th1| + 1)^2 * [V >= th2]

``th2 = None`` means no mask. The mask is what the sparse implementations compute
implicitly: only neurons listed in the sparse spike format (spikes and candidates,
``V >= th2``) receive a gradient.
"""

from __future__ import annotations

import tensorflow as tf


def superspike_derivative(v, *, th1: float, beta: float, th2: float | None = None):
    """Surrogate derivative ``1 / (beta*|v - th1| + 1)^2 * [v >= th2]``.

    Args:
        v: float tensor of any shape, membrane potentials.
        th1: spike threshold.
        beta: steepness of the surrogate (seed: 10).
        th2: second ("gradient") threshold; ``None`` disables the mask.

    Returns:
        Tensor of the shape and dtype of ``v``.
    """
    v = tf.convert_to_tensor(v)
    d = tf.math.reciprocal(tf.square(beta * tf.abs(v - th1) + 1.0))
    if th2 is not None:
        d = d * tf.cast(v >= th2, v.dtype)
    return d


def heaviside(v, *, th1: float):
    """``H(v - th1)`` as 0/1 in the dtype of ``v`` (no gradient)."""
    v = tf.convert_to_tensor(v)
    return tf.cast(v >= th1, v.dtype)


def spike_fn(v, *, th1: float, beta: float, th2: float | None = None):
    """Spikes ``H(v - th1)`` whose gradient is :func:`superspike_derivative`.

    Args:
        v: float tensor ``[...]``, membrane potentials.
        th1, beta, th2: see :func:`superspike_derivative`.

    Returns:
        0/1 tensor of the shape and dtype of ``v``.
    """

    @tf.custom_gradient
    def _spike(x):
        def grad(dy):
            return dy * superspike_derivative(x, th1=th1, beta=beta, th2=th2)

        return heaviside(x, th1=th1), grad

    return _spike(tf.convert_to_tensor(v))
