"""``snn_forward``: one entry point to the three implementations of the LIF network."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from snnlib.functional.conv import ConvKernel
from snnlib.functional.params import LIFParams
from snnlib.network.dense import dense_forward
from snnlib.network.output import IMPLS, SNNOutput, validate_network
from snnlib.network.sparse import forward as sparse_forward
from snnlib.spikes import SparseSpikes


def snn_forward(weights, inputs, params: LIFParams | None = None, *, impl: str = "dense",
                sparse_sizes: Sequence[int] | None = None, return_potentials: bool = False,
                time_major: bool = False, dense_hidden: bool = True) -> SNNOutput:
    """Run a feed-forward LIF network over a whole sequence.

    Args:
        weights: list of ``L`` float matrices ``[n_l, n_{l+1}]`` (in, out: the Keras kernel
            layout, ``I = x W``), or :class:`snnlib.functional.conv.ConvKernel` for a
            convolutional layer (its ``M(K)`` has that shape).
        inputs: float 0/1 spikes ``[batch, time, n_0]`` (``[time, batch, n_0]`` if
            ``time_major``), or, for the sparse implementations, :class:`SparseSpikes` of
            the same layout (``ids [batch, time, S_in]``).
        params: neuron constants (default: the seed's).
        impl: ``"dense"``, ``"sparse_ops"`` or ``"sparse_layer"``.
        sparse_sizes: capacity ``S`` per layer for the sparse implementations.
        return_potentials: also return the membrane potentials.
        time_major: inputs and outputs are ``[time, batch, n]``.
        dense_hidden: the sparse implementations also return the hidden layers' spikes as
            dense tensors; ``False`` leaves ``spikes[l]`` of the hidden layers ``None`` (their
            index lists are in ``sparse[l]``) and densifies only the last layer, so no dense
            ``[T, B, n_l]`` buffer is built for them (the training step's setting).

    Returns:
        :class:`SNNOutput`; ``spikes[l]`` is ``float[batch, time, n_{l+1}]``. Every output is
        differentiable w.r.t. ``weights`` through the surrogate gradient.
    """
    params = params or LIFParams()
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
    weights = [w if isinstance(w, ConvKernel) else tf.convert_to_tensor(w) for w in weights]
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
        out = sparse_forward(weights, x, params, impl=impl, sparse_sizes=sparse_sizes,
                             return_potentials=return_potentials, dense_hidden=dense_hidden)
    if time_major:
        return out

    def to_batch_major(seq):
        return None if seq is None else [None if s is None else tf.transpose(s, [1, 0, 2])
                                         for s in seq]

    def sparse_to_batch_major(seq):
        if seq is None:
            return None
        return [type(s)(*(None if a is None else tf.transpose(a, [1, 0, 2]) for a in s))
                for s in seq]

    return out._replace(spikes=to_batch_major(out.spikes), potentials=to_batch_major(out.potentials),
                        sparse=sparse_to_batch_major(out.sparse))
