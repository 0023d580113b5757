"""The ``sparse_ops`` implementation of the LIF network (DESIGN.md section 5).

The same model as :func:`snnlib.network.dense.dense_forward`, but the spikes of every layer
are :class:`snnlib.spikes.SparseSpikes` of a fixed capacity ``S_l`` and the synaptic input
is a compiled sparse matmul (:mod:`snnlib.ops`). Layer-wise over the whole sequence::

    x [T, B, n_0] --dense_to_sparse(S_0)--> spikes_0 [T, B, S_0]
    for l = 0 .. L-1:
        in_l  = shift_in_time(spikes_l) if l > 0 and layer_delay else spikes_l
        I     = sparse_matmul(W_l, in_l)                        [T, B, n_{l+1}]
        V     = lif_membrane(I, alpha, gain, th1)               [T, B, n_{l+1}]
        spikes_{l+1}, dropped = select_spikes(V, th1, th2_l, capacity=S_{l+1}, beta)

The ``sparse_layer`` implementation runs each layer as one fused op (:mod:`snnlib.ops.layer`)
that takes the layer delay itself (``input_delay``: it reads the input lists one step late)
instead of shifting the lists.

Gradients flow through ``SparseSpikes.values``: ``sparse_to_dense`` and the next layer's
``sparse_matmul`` give each listed slot (spike or candidate, ``V >= th2``) its gradient, and
``select_spikes`` turns it into ``dL/dV`` with the SuperSpike surrogate. With ``S_l >= n_l``
nothing overflows and the result equals the dense implementation with the ``th2`` mask.
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from snnlib import ops
from snnlib.functional.conv import ConvKernel
from snnlib.functional.lif import lif_membrane, shift_in_time
from snnlib.functional.params import LIFParams
from snnlib.network.output import SNNOutput
from snnlib.ops.layer import sparse_lif_layer
from snnlib.spikes import SparseSpikes


def validate_sparse_sizes(sparse_sizes, sizes: Sequence[int | None]) -> list[int]:
    """Check ``sparse_sizes = [S_in, S_1, ..., S_L]`` against ``sizes = [n_0, ..., n_L]``.

    One positive integer per entry of ``sizes`` with ``S_l <= n_l`` (where ``n_l`` is known).
    Raises ``ValueError`` naming ``sparse_sizes`` otherwise.
    """
    if sparse_sizes is None:
        raise ValueError("sparse_sizes is required for the sparse implementations: give the "
                         "capacity [S_in, S_1, ..., S_L] of the input and of every layer")
    try:
        values = list(sparse_sizes)
    except TypeError:
        raise ValueError(f"sparse_sizes must be a sequence of positive integers; "
                         f"got {sparse_sizes!r}") from None
    if len(values) != len(sizes):
        raise ValueError(f"sparse_sizes must have {len(sizes)} entries [S_in, S_1, ..., S_L] "
                         f"(input + {len(sizes) - 1} layers); got {len(values)}")
    out = []
    for l, (s, n) in enumerate(zip(values, sizes)):
        if isinstance(s, (bool, float)) or not hasattr(s, "__index__") or int(s) < 1:
            raise ValueError(f"sparse_sizes[{l}] must be a positive integer; got {s!r}")
        if n is not None and int(s) > n:
            raise ValueError(f"sparse_sizes[{l}] = {int(s)} exceeds the layer width {n}: a "
                             "capacity above the number of neurons is never needed")
        out.append(int(s))
    return out


def shift_sparse_in_time(spikes: SparseSpikes) -> SparseSpikes:
    """Delay time-major sparse spikes ``[T, B, S]`` by one step; step 0 gets zero counts."""

    return SparseSpikes(*(None if a is None else shift_in_time(a) for a in spikes))


def _merge_time_batch(x):
    return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], axis=0))


def _split_time_batch(x, t, b):
    out = tf.reshape(x, tf.concat([[t, b], tf.shape(x)[1:]], axis=0))
    out.set_shape([None, None] + x.shape[1:].as_list())
    return out


def forward(weights, x, params: LIFParams, *, impl: str = "sparse_ops",
            sparse_sizes: Sequence[int] | None = None,
            return_potentials: bool = False, dense_hidden: bool = True) -> SNNOutput:
    """Run the network with sparse spikes on a time-major input.

    Args:
        weights: list of ``L`` float tensors ``[n_l, n_{l+1}]`` (in, out); a
            :class:`ConvKernel` is used as its matrix ``M(K)``.
        x: dense 0/1 input spikes, float ``[T, B, n_0]`` (time-major), or input
            :class:`SparseSpikes` ``[T, B, S_in]`` already in index-list form.
        params: neuron constants.
        impl: ``"sparse_ops"`` (per layer: sparse matmul, TF membrane recursion, spike
            selection) or ``"sparse_layer"`` (per layer: one fused op, :mod:`snnlib.ops.layer`).
        sparse_sizes: ``[S_in, S_1, ..., S_L]``, capacities with ``1 <= S_l <= n_l``.
        return_potentials: also return the membrane potentials.
        dense_hidden: densify the hidden layers' spikes too (``False``: ``spikes[l]`` is
            ``None`` for every layer but the last; the index lists are in ``sparse[l]``).

    Returns:
        :class:`SNNOutput`, all time-major: ``spikes[l]`` dense ``[T, B, n_{l+1}]``,
        ``potentials[l]`` ``[T, B, n_{l+1}]`` (or ``None``), ``sparse[l]``
        :class:`SparseSpikes` ``[T, B, S_{l+1}]`` and ``overflow[l]`` the int32 total of
        spikes of layer ``l`` dropped because ``S_{l+1}`` was full. (Input spikes dropped by
        the capacity ``S_in`` are not part of ``overflow``.)
    """
    if impl not in ("sparse_ops", "sparse_layer"):
        raise ValueError(f"impl must be 'sparse_ops' or 'sparse_layer' here; got {impl!r}")
    weights = [w.matrix() if isinstance(w, ConvKernel) else w for w in weights]
    n_layers = len(weights)
    sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]
    capacities = validate_sparse_sizes(sparse_sizes, sizes)
    if isinstance(x, SparseSpikes):
        inp = SparseSpikes(tf.convert_to_tensor(x.ids), tf.convert_to_tensor(x.counts), None)
        if inp.ids.shape.rank != 3:
            raise ValueError(f"sparse inputs must be time-major [T, B, S_in]; got ids of shape "
                             f"{inp.ids.shape}")
        t_len, batch = tf.shape(inp.ids)[0], tf.shape(inp.ids)[1]
    else:
        x = tf.convert_to_tensor(x, dtype=weights[0].dtype)
        t_len, batch = tf.shape(x)[0], tf.shape(x)[1]
        flat_in, _ = ops.dense_to_sparse(_merge_time_batch(x), capacities[0])
        inp = SparseSpikes(*(None if a is None else _split_time_batch(a, t_len, batch)
                             for a in flat_in))
    spikes, potentials, sparse, overflow = [], [], [], []
    for l, w in enumerate(weights):
        delay = l > 0 and bool(params.layer_delay)
        th2 = params.layer_th2(l, n_layers)
        if impl == "sparse_layer":
            out, dropped, v = sparse_lif_layer(
                w, inp, alpha=params.alpha, gain=params.gain, th1=params.th1, th2=th2,
                beta=params.beta, capacity=capacities[l + 1], return_potentials=return_potentials,
                input_delay=delay)
            out = SparseSpikes(*(_merge_time_batch(a) for a in out))
        else:
            if delay:
                inp = shift_sparse_in_time(inp)
            flat = SparseSpikes(*(None if a is None else _merge_time_batch(a) for a in inp))
            current = _split_time_batch(ops.sparse_matmul(w, flat), t_len, batch)
            v = lif_membrane(current, alpha=params.alpha, gain=params.gain, th1=params.th1)
            out, dropped = ops.select_spikes(
                _merge_time_batch(v), th1=params.th1, th2=th2, capacity=capacities[l + 1],
                beta=params.beta)
        inp = SparseSpikes(*(_split_time_batch(a, t_len, batch) for a in out))
        if dense_hidden or l == n_layers - 1:
            dense = ops.sparse_to_dense(out, int(w.shape[1]))
            spikes.append(_split_time_batch(dense, t_len, batch))
        else:
            spikes.append(None)
        potentials.append(v)
        sparse.append(inp)
        overflow.append(tf.reduce_sum(dropped))
    return SNNOutput(spikes=spikes, potentials=potentials if return_potentials else None,
                     sparse=sparse, overflow=overflow)

