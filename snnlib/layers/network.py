"""Keras 3 layers wrapping :mod:`snnlib.network`: a LIF layer stack and a leaky readout."""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from snnlib import ops
from snnlib.functional.conv import ConvKernel, ConvSpec
from snnlib.functional.lif import lif_membrane, shift_in_time, synaptic_input
from snnlib.functional.params import LIFParams, init_weights, validate_sizes
from snnlib.network import IMPLS, SNNOutput, snn_forward
from snnlib.spikes import SparseSpikes


def conv_config(convs) -> dict | list | None:
    """The JSON-able ``conv`` of a layer config: ``None`` (no conv layer), one spec's fields
    (one layer: the format of configs saved before conv layers could be stacked), or a list
    of them."""
    if not convs:
        return None
    return convs[0].params() if len(convs) == 1 else [c.params() for c in convs]


def sparse_sizes_for(sizes, max_activity: float | None, input_capacity: int | None) -> list[int] | None:
    """The seed's capacity rule for hidden layers: ``S = max(2 * floor(max_activity * N / 2), 2)``.

    The last layer keeps all its neurons (``S = N``): it is the readout, and the seed's
    ``S = 2`` for 10 output neurons (spec section 5, defect 11) would cap the spike counts
    that are the logits.

    Args:
        sizes: ``[n_in, n_1, ..., n_L]``.
        max_activity: fraction of neurons that may be listed per step, in (0, 1]; ``None``
            means no sparse sizes (dense implementation).
        input_capacity: ``S`` of the input layer; ``None`` uses ``n_in`` (nothing dropped).

    Returns:
        ``[S_in, S_1, ..., S_L]`` (each ``<= N``) or ``None``.
    """
    if max_activity is None:
        return None
    if not 0.0 < max_activity <= 1.0:
        raise ValueError(f"max_activity must be in (0, 1]; got {max_activity!r}")
    sizes = validate_sizes(sizes)
    s_in = sizes[0] if input_capacity is None else int(input_capacity)
    if not 1 <= s_in <= sizes[0]:
        raise ValueError(f"input_capacity must be in [1, {sizes[0]}]; got {input_capacity!r}")
    hidden = [min(n, max(2 * int(max_activity * n / 2), 2)) for n in sizes[1:-1]]
    return [s_in, *hidden, sizes[-1]]


@keras.saving.register_keras_serializable(package="snnlib")
class LIFStack(keras.layers.Layer):
    """A feed-forward stack of LIF layers (no biases), the seed's network.

    ``call(x [batch, time, n_in])`` returns an :class:`SNNOutput` whose spikes are time-major
    ``[time, batch, n_l]`` (the model reduces over time without transposing back).

    Args:
        sizes: ``[n_in, n_1, ..., n_L]``.
        params: :class:`LIFParams` (or a dict of its fields).
        impl: ``"dense"``, ``"sparse_ops"`` or ``"sparse_layer"``.
        sparse_sizes: ``[S_in, S_1, ..., S_L]`` for the sparse implementations.
        seed: weight initialisation seed (``init_weights``).
        conv: convolutional first layers (anything :meth:`snnlib.functional.conv.ConvSpec.stack`
            takes: a spec, a dict of its fields, or a list of them, one per layer): layer
            ``l``'s kernel ``[k, k, C, C_out]`` replaces ``W_l``, and ``sizes`` starts
            ``[n_in, n_out_0, n_out_1, ...]`` of those specs. ``None``: every layer is dense.
    """

    def __init__(self, sizes, params: LIFParams | dict | None = None, impl: str = "dense",
                 sparse_sizes=None, seed: int = 0, conv=None, **kwargs):
        super().__init__(**kwargs)
        self.sizes = validate_sizes(sizes)
        self.params = LIFParams(**params) if isinstance(params, dict) else (params or LIFParams())
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
        if impl != "dense" and sparse_sizes is None:
            raise ValueError(f"impl={impl!r} needs sparse_sizes (or max_activity in the model)")
        self.impl = impl
        self.sparse_sizes = None if sparse_sizes is None else [int(s) for s in sparse_sizes]
        self.seed = int(seed)
        self.convs = ConvSpec.stack(conv)
        want = [self.convs[0].n_in, *(c.n_out for c in self.convs)] if self.convs else []
        if self.sizes[:len(want)] != want:
            raise ValueError(f"sizes must start [n_in, n_out, ...] = {want} of the conv layers "
                             f"{[c.params() for c in self.convs]}; got {self.sizes}")

    @property
    def conv(self) -> ConvSpec | None:
        """The first convolutional layer's spec (``None``: no conv layer); all: ``convs``."""
        return self.convs[0] if self.convs else None

    def build(self, input_shape):
        init = init_weights(self.sizes, weight_mul=self.params.weight_mul, seed=self.seed)
        for l, spec in enumerate(self.convs):
            init[l] = spec.init_kernel(weight_mul=self.params.weight_mul, seed=self.seed + l)
        self.kernels = [
            self.add_weight(shape=w.shape, initializer=keras.initializers.Constant(w),
                            name=f"w{l}", trainable=True)
            for l, w in enumerate(init)
        ]

    def call(self, x, return_potentials: bool = False, dense_hidden: bool = True) -> SNNOutput:
        """``x``: rasters ``[batch, time, n_in]``, or (sparse implementations) index lists
        ``SparseSpikes(ids [batch, time, S_in], counts [batch, time, 2])`` (or the dict
        ``{"ids", "counts"}`` of the data pipeline), used as they are. ``dense_hidden``: see
        :func:`snnlib.network.snn_forward`."""
        if isinstance(x, dict):
            x = SparseSpikes(x["ids"], x["counts"])
        if isinstance(x, SparseSpikes):
            if self.impl == "dense":
                raise ValueError("impl='dense' takes rasters x [batch, time, n_in], not "
                                 "SparseSpikes: densify them (snnlib.ops.sparse_to_dense) first")
            spikes = x
        elif self.impl == "dense":
            x = tf.transpose(tf.convert_to_tensor(x, self.compute_dtype), [1, 0, 2])
        else:
            spikes, _ = ops.dense_to_sparse(tf.convert_to_tensor(x, self.compute_dtype),
                                            self.sparse_sizes[0])
        if self.impl != "dense":
            # Transpose the (small) index lists to time-major, never a dense input.
            x = SparseSpikes(tf.transpose(spikes.ids, [1, 0, 2]),
                             tf.transpose(spikes.counts, [1, 0, 2]))
        return snn_forward(self.layer_weights(), x, self.params, impl=self.impl,
                           sparse_sizes=self.sparse_sizes, return_potentials=return_potentials,
                           time_major=True, dense_hidden=dense_hidden)

    def layer_weights(self) -> list:
        """The weights :func:`snnlib.network.snn_forward` takes: one tensor ``[in, out]`` per
        layer, a :class:`snnlib.functional.conv.ConvKernel` for each conv layer."""
        weights = [tf.convert_to_tensor(k) for k in self.kernels]
        for l, spec in enumerate(self.convs):
            weights[l] = ConvKernel(weights[l], spec)
        return weights

    def weight_matrices(self) -> list:
        """Every layer's weights as an ``[in, out]`` matrix (a conv layer's ``M(K)``,
        :func:`snnlib.functional.conv.conv_matrix`), as tensors."""
        return [w.matrix() if isinstance(w, ConvKernel) else w for w in self.layer_weights()]

    def get_config(self):
        return {**super().get_config(), "sizes": self.sizes,
                "params": dataclasses.asdict(self.params), "impl": self.impl,
                "sparse_sizes": self.sparse_sizes, "seed": self.seed,
                "conv": conv_config(self.convs)}


@keras.saving.register_keras_serializable(package="snnlib")
class LeakyReadout(keras.layers.Layer):
    """Non-spiking leaky-integrator readout: ``V_t = alpha V_{t-1} + (1 - alpha) gain x_t W``
    (``W [n_in, n_out]``, the Keras kernel layout).

    ``call(x [time, batch, n_in])`` (time-major spikes) returns ``V [time, batch, n_out]``;
    with ``delay`` the input is shifted one step first (the seed's inter-layer delay).
    Logits are the time average of ``V``.
    """

    def __init__(self, n_in: int, n_out: int, params: LIFParams | dict | None = None,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.n_in, self.n_out, self.seed = int(n_in), int(n_out), int(seed)
        self.params = LIFParams(**params) if isinstance(params, dict) else (params or LIFParams())

    def build(self, input_shape):
        w = init_weights([self.n_in, self.n_out], weight_mul=self.params.weight_mul,
                         seed=self.seed + 7919)[0]
        self.kernel = self.add_weight(shape=w.shape, initializer=keras.initializers.Constant(w),
                                      name="w_readout", trainable=True)

    def call(self, x_time_major):
        x = shift_in_time(x_time_major) if self.params.layer_delay else x_time_major
        current = synaptic_input(x, tf.convert_to_tensor(self.kernel))
        return lif_membrane(current, alpha=self.params.alpha, gain=self.params.gain, th1=None)

    def mean_potential(self, x_time_major):
        """``mean_t V_t [batch, n_out]`` (the logits) without stepping through time.

        With no reset, ``V_t = sum_{s <= t} alpha^(t - s) c I_s`` (``c = (1 - alpha) gain``), so
        ``(1/T) sum_t V_t = sum_s w_s I_s = (sum_s w_s x_s) W`` with
        ``w_s = c (1 - alpha^(T - s)) / ((1 - alpha) T)``: one weighted sum over time and one
        matmul, instead of a scan over ``T`` steps forward and backward. Equal to
        ``tf.reduce_mean(self(x), axis=0)`` up to rounding.
        """
        if not self.built:
            self.build(None)
            self.built = True
        x = shift_in_time(x_time_major) if self.params.layer_delay else x_time_major
        x = tf.convert_to_tensor(x, self.compute_dtype)
        alpha, gain = self.params.alpha, self.params.gain
        n_steps = tf.cast(tf.shape(x)[0], x.dtype)
        remaining = n_steps - tf.range(n_steps, dtype=x.dtype)  # T - s, for s = 0 .. T-1
        w = (1.0 - alpha) * gain * (1.0 - tf.pow(tf.cast(alpha, x.dtype), remaining)) / (
            (1.0 - alpha) * n_steps)
        return tf.matmul(tf.tensordot(w, x, axes=[[0], [0]]), tf.convert_to_tensor(self.kernel))

    def get_config(self):
        return {**super().get_config(), "n_in": self.n_in, "n_out": self.n_out,
                "params": dataclasses.asdict(self.params), "seed": self.seed}

