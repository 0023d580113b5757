"""The seed-compatible leaky integrate-and-fire (LIF) network in pure TensorFlow.

Model (DESIGN.md section 3; graphcore_snn spec sections 1.2-1.4), per layer and step t:

    I_t  = W x_t                                     W: (out, in), no bias
    V'   = V_{t-1} - sg(V_{t-1} * H(V_{t-1} - th1))  reset to zero, decided on the previous state
    V_t  = alpha * V' + (1 - alpha) * gain * I_t
    S_t  = H(V_t - th1)
    dS/dV (surrogate) = 1 / (beta*|V - th1| + 1)^2 * [V >= th2]

Because the reset term is under ``stop_gradient``, ``dV_t/dV_{t-1} = alpha`` exactly, so the
membrane recursion is, for the backward pass, a linear first-order filter. The network has
no recurrent weights, so a layer's synaptic input for all T steps is one matmul, followed by
the sequential membrane recursion (:func:`lif_membrane`), whose hand-written gradient is a
reverse-time exponential filter. Layer ``l >= 1`` reads layer ``l-1``'s spikes of step
``t-1`` when ``layer_delay`` is on (the seed's one-step delay): a shift of the input sequence.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple, Sequence

import numpy as np
import tensorflow as tf

from snnlib.functional.surrogate import spike_fn
from snnlib.spikes import SparseSpikes

IMPLS = ("dense", "sparse_ops", "sparse_layer")


@dataclasses.dataclass(frozen=True)
class LIFParams:
    """Every constant of the seed's neuron model, as a named field.

    Attributes:
        alpha: membrane decay per step, in (0, 1). Seed: 0.95.
        gain: input gain; the input enters as ``(1 - alpha) * gain * I``. Seed: 10.
        th1: spike threshold. Seed: 1.0.
        th2: second ("gradient") threshold: ``None`` (no mask), one float for every layer,
            or a sequence with one entry (float or ``None``) per layer. Must be ``<= th1``.
        beta: surrogate steepness. Seed: 10.
        layer_delay: layer ``l >= 1`` reads layer ``l-1``'s spikes of the previous step.
        weight_mul: scale of the fan-in initialisation ``U(-a, a) + 0.001``,
            ``a = sqrt(6 / fan_in) * weight_mul``.
    """

    alpha: float = 0.95
    gain: float = 10.0
    th1: float = 1.0
    th2: float | tuple[float | None, ...] | None = None
    beta: float = 10.0
    layer_delay: bool = True
    weight_mul: float = 1.0

    def __post_init__(self):
        if not (isinstance(self.alpha, (int, float)) and 0.0 < self.alpha < 1.0):
            raise ValueError(f"alpha must be a number in the open interval (0, 1); got {self.alpha!r}")
        if not (isinstance(self.gain, (int, float)) and self.gain > 0):
            raise ValueError(f"gain must be a positive number; got {self.gain!r}")
        if not (isinstance(self.beta, (int, float)) and self.beta > 0):
            raise ValueError(f"beta must be a positive number; got {self.beta!r}")
        if not (isinstance(self.th1, (int, float)) and math.isfinite(self.th1)):
            raise ValueError(f"th1 must be a finite number; got {self.th1!r}")
        if not (isinstance(self.weight_mul, (int, float)) and self.weight_mul > 0):
            raise ValueError(f"weight_mul must be a positive number; got {self.weight_mul!r}")
        if not isinstance(self.layer_delay, bool):
            raise ValueError(f"layer_delay must be True or False; got {self.layer_delay!r}")
        th2 = self.th2
        if isinstance(th2, (list, tuple)):
            object.__setattr__(self, "th2", tuple(th2))
            values = th2
        else:
            values = (th2,)
        for value in values:
            if value is None:
                continue
            if not isinstance(value, (int, float)) or math.isnan(value):
                raise ValueError(f"th2 entries must be numbers or None; got {value!r}")
            if value > self.th1:
                raise ValueError(
                    f"th2 must be <= th1 = {self.th1} (it selects gradient candidates below the "
                    f"spike threshold); got th2 = {value!r}"
                )

    def layer_th2(self, layer: int, n_layers: int) -> float | None:
        """The second threshold of layer ``layer`` (0-based) in a network of ``n_layers``."""
        if isinstance(self.th2, tuple):
            if len(self.th2) != n_layers:
                raise ValueError(
                    f"th2 has {len(self.th2)} entries but the network has {n_layers} layers; "
                    "give one entry per layer or a single number"
                )
            return self.th2[layer]
        return self.th2

    def replace(self, **changes) -> "LIFParams":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


class SNNOutput(NamedTuple):
    """What :func:`snn_forward` returns, one entry per layer.

    spikes: dense 0/1 spike trains ``float[batch, time, n_l]`` (``[time, batch, n_l]`` when
        ``time_major``).
    potentials: membrane potentials of the same shapes, or ``None`` when not requested.
    sparse: :class:`snnlib.spikes.SparseSpikes` per layer for the sparse implementations,
        else ``None``.
    overflow: int32 number of spikes dropped because the capacity was full, per layer
        (sparse implementations; ``None`` for dense).
    """

    spikes: list
    potentials: list | None = None
    sparse: list | None = None
    overflow: list | None = None


def init_weights(sizes: Sequence[int], *, weight_mul: float = 1.0, seed: int = 0,
                 dtype=np.float32) -> list[np.ndarray]:
    """The seed's fan-in initialisation for a chain of layers.

    ``W_l ~ U(-a, a) + 0.001`` with ``a = sqrt(6 / sizes[l]) * weight_mul``, shape
    ``(sizes[l+1], sizes[l])`` (out, in).

    Args:
        sizes: ``[n_in, n_1, ..., n_L]``, at least two positive integers.
        weight_mul: initialisation scale.
        seed: NumPy generator seed; the same seed gives the same weights.

    Returns:
        A list of ``L`` NumPy arrays.
    """
    sizes = validate_sizes(sizes)
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        a = math.sqrt(6.0 / n_in) * weight_mul
        weights.append((rng.uniform(-a, a, size=(n_out, n_in)) + 0.001).astype(dtype))
    return weights


def validate_sizes(sizes: Sequence[int]) -> list[int]:
    """Check ``sizes = [n_in, n_1, ..., n_L]``: at least two positive integers."""
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be a sequence of positive integers; got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(
            f"sizes must list the input width and at least one layer width, all >= 1; got {sizes}"
        )
    return sizes


def lif_step(v, i_syn, params: LIFParams, *, th2: float | None = None):
    """One step of one LIF layer.

    Args:
        v: float ``[batch, n]``, the previous membrane potential ``V_{t-1}``.
        i_syn: float ``[batch, n]``, the synaptic input ``I_t = W x_t``.
        params: neuron constants.
        th2: this layer's second threshold (gradient mask), ``None`` for none.

    Returns:
        ``(v_new, spikes)``, both ``[batch, n]``: ``V_t`` and ``S_t = H(V_t - th1)``.
    """
    v = tf.convert_to_tensor(v)
    i_syn = tf.convert_to_tensor(i_syn, dtype=v.dtype)
    reset = tf.stop_gradient(v * tf.cast(v >= params.th1, v.dtype))
    v_new = params.alpha * (v - reset) + (1.0 - params.alpha) * params.gain * i_syn
    return v_new, spike_fn(v_new, th1=params.th1, beta=params.beta, th2=th2)


def lif_membrane(i_syn, *, alpha: float, gain: float, th1: float | None):
    """Membrane potentials of one layer over a whole sequence (time-major).

    ``V_t = alpha * (V_{t-1} - sg(V_{t-1} H(V_{t-1} - th1))) + (1 - alpha) * gain * I_t``,
    ``V_{-1} = 0``. ``th1 = None`` gives a leaky integrator without reset (the readout).

    The gradient is hand-written: with the reset under stop-gradient,
    ``dL/dV_t (total) = g_t + alpha * dL/dV_{t+1} (total)`` and
    ``dL/dI_t = (1 - alpha) * gain * dL/dV_t (total)``, a reverse-time filter.

    Args:
        i_syn: float ``[time, batch, n]``.

    Returns:
        float ``[time, batch, n]``.
    """
    i_syn = tf.convert_to_tensor(i_syn)
    scale = (1.0 - alpha) * gain

    def _step_reset(v_prev, drive):
        return alpha * tf.where(v_prev >= th1, tf.zeros_like(v_prev), v_prev) + drive

    def _step_leak(v_prev, drive):
        return alpha * v_prev + drive

    step = _step_leak if th1 is None else _step_reset

    @tf.custom_gradient
    def _membrane(current):
        drive = scale * current
        v = tf.scan(step, drive, initializer=tf.zeros_like(drive[0]))

        def grad(dv):
            total = tf.scan(lambda acc, g: g + alpha * acc, dv,
                            initializer=tf.zeros_like(dv[0]), reverse=True)
            return scale * total

        return v, grad

    return _membrane(i_syn)


def shift_in_time(x):
    """Delay a time-major sequence by one step: ``y_0 = 0``, ``y_t = x_{t-1}``."""
    return tf.concat([tf.zeros_like(x[:1]), x[:-1]], axis=0)


def synaptic_input(x, weights):
    """``I = x W^T`` for a time-major sequence: ``x [T, B, in]``, ``weights (out, in)``."""
    t, b = tf.shape(x)[0], tf.shape(x)[1]
    flat = tf.reshape(x, [-1, tf.shape(x)[2]])
    current = tf.matmul(flat, weights, transpose_b=True)
    return tf.reshape(current, [t, b, tf.shape(weights)[0]])


def validate_network(weights, inputs_width, inputs_rank) -> None:
    """Check that ``weights`` chain and match the input width; raise ``ValueError`` if not."""
    if len(weights) < 1:
        raise ValueError("weights must hold at least one (out, in) matrix")
    for l, w in enumerate(weights):
        if len(w.shape) != 2:
            raise ValueError(f"weights[{l}] must be a 2-D (out, in) matrix; got shape {tuple(w.shape)}")
    if inputs_rank != 3:
        raise ValueError(f"inputs must be rank 3 [batch, time, n_in]; got rank {inputs_rank}")
    if inputs_width is not None and weights[0].shape[1] is not None and inputs_width != weights[0].shape[1]:
        raise ValueError(
            f"inputs has width {inputs_width} but weights[0] expects {weights[0].shape[1]} inputs "
            "(weights are (out, in))"
        )
    for l in range(1, len(weights)):
        n_prev, n_in = weights[l - 1].shape[0], weights[l].shape[1]
        if n_prev is not None and n_in is not None and n_prev != n_in:
            raise ValueError(
                f"sizes do not chain: weights[{l - 1}] has {n_prev} outputs but weights[{l}] "
                f"expects {n_in} inputs"
            )


def dense_forward(weights, x, params: LIFParams, *, return_potentials: bool = False) -> SNNOutput:
    """The ``dense`` implementation on a time-major input ``x [T, B, n_in]``."""
    n_layers = len(weights)
    spikes, potentials = [], []
    for l, w in enumerate(weights):
        if l > 0 and params.layer_delay:
            x = shift_in_time(x)
        v = lif_membrane(synaptic_input(x, w), alpha=params.alpha, gain=params.gain, th1=params.th1)
        x = spike_fn(v, th1=params.th1, beta=params.beta, th2=params.layer_th2(l, n_layers))
        spikes.append(x)
        potentials.append(v)
    return SNNOutput(spikes=spikes, potentials=potentials if return_potentials else None)


def snn_forward(weights, inputs, params: LIFParams | None = None, *, impl: str = "dense",
                sparse_sizes: Sequence[int] | None = None, return_potentials: bool = False,
                time_major: bool = False) -> SNNOutput:
    """Run a feed-forward LIF network over a whole sequence.

    Args:
        weights: list of ``L`` float matrices ``(n_{l+1}, n_l)`` (out, in).
        inputs: float 0/1 spikes ``[batch, time, n_0]`` (``[time, batch, n_0]`` if
            ``time_major``), or, for the sparse implementations, :class:`SparseSpikes` of
            the same layout (``ids [batch, time, S_in]``).
        params: neuron constants (default: the seed's).
        impl: ``"dense"``, ``"sparse_ops"`` or ``"sparse_layer"``.
        sparse_sizes: capacity ``S`` per layer for the sparse implementations.
        return_potentials: also return the membrane potentials.
        time_major: inputs and outputs are ``[time, batch, n]``.

    Returns:
        :class:`SNNOutput`; ``spikes[l]`` is ``float[batch, time, n_{l+1}]``. Every output is
        differentiable w.r.t. ``weights`` through the surrogate gradient.
    """
    params = params or LIFParams()
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
    weights = [tf.convert_to_tensor(w) for w in weights]
    if isinstance(inputs, SparseSpikes):
        if impl == "dense":
            raise ValueError("inputs as SparseSpikes need impl='sparse_ops' or 'sparse_layer'")
        validate_network(weights, None, len(inputs.ids.shape))
        x = inputs if time_major else SparseSpikes(
            *(None if a is None else tf.transpose(a, [1, 0, 2]) for a in inputs))
    else:
        inputs = tf.convert_to_tensor(inputs, dtype=weights[0].dtype if weights else None)
        validate_network(weights, inputs.shape[-1] if inputs.shape.rank else None,
                         inputs.shape.rank)
        x = inputs if time_major else tf.transpose(inputs, [1, 0, 2])
    if impl == "dense":
        out = dense_forward(weights, x, params, return_potentials=return_potentials)
    else:
        from snnlib.functional import sparse_network

        out = sparse_network.forward(weights, x, params, impl=impl, sparse_sizes=sparse_sizes,
                                     return_potentials=return_potentials)
    if time_major:
        return out

    def to_batch_major(seq):
        return None if seq is None else [tf.transpose(s, [1, 0, 2]) for s in seq]

    def sparse_to_batch_major(seq):
        if seq is None:
            return None
        return [type(s)(*(None if a is None else tf.transpose(a, [1, 0, 2]) for a in s))
                for s in seq]

    return out._replace(spikes=to_batch_major(out.spikes), potentials=to_batch_major(out.potentials),
                        sparse=sparse_to_batch_major(out.sparse))


def simulate_neuron(current, *, alpha: float, gain: float, th1: float | None = 1.0) -> np.ndarray:
    """Membrane potential of a single LIF neuron driven by ``current [T]`` (NumPy in, NumPy out).

    A convenience wrapper of :func:`lif_membrane` for plots: returns ``V [T]``; the spikes are
    ``V >= th1``.
    """
    current = np.asarray(current, dtype=np.float64)
    if current.ndim != 1:
        raise ValueError(f"current must be a 1-D sequence [T]; got shape {current.shape}")
    v = lif_membrane(tf.constant(current[:, None, None]), alpha=alpha, gain=gain, th1=th1)
    return v.numpy()[:, 0, 0]
