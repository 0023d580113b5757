"""Measurements of activation sparsity: activity, capacity, storage and overflow.

These are the numbers behind the sparse implementations: how many neurons are active per
step, how large the capacity ``S`` of an index list must be, what the index-list format
saves in memory, and what a too-small ``S`` does to accuracy and gradients.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from snnlib.functional.lif import LIFParams, snn_forward


def activity_by_layer(spikes_time_major) -> dict:
    """Mean firing rate per layer and per time step.

    Args:
        spikes_time_major: list of 0/1 ``[T, B, n_l]`` arrays or tensors (one per layer).

    Returns:
        ``{"mean": [rate per layer], "per_step": [float[T] per layer],
        "max_per_step": [largest fraction of active neurons in any (t, b), per layer]}``.
    """
    mean, per_step, peak = [], [], []
    for s in spikes_time_major:
        s = np.asarray(s)
        mean.append(float(s.mean()))
        per_step.append(s.mean(axis=(1, 2)))
        peak.append(float(s.mean(axis=2).max()))
    return {"mean": mean, "per_step": per_step, "max_per_step": peak}


def capacity_for_quantile(spikes_time_major, quantile: float = 0.99) -> int:
    """Smallest ``S`` such that a fraction ``quantile`` of (step, sample) rows fit in ``S`` slots.

    Args:
        spikes_time_major: 0/1 ``[T, B, N]``.
        quantile: in (0, 1].
    """
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be in (0, 1]; got {quantile!r}")
    counts = np.asarray(spikes_time_major).sum(axis=-1).ravel()
    return int(np.ceil(np.quantile(counts, quantile, method="higher"))) if counts.size else 0


def storage_bytes(n_steps: int, batch: int, n: int, capacity: int, float_bytes: int = 4) -> dict:
    """Bytes to hold one layer's spikes for a sequence, per representation.

    * ``dense_float``: ``T*B*N`` floats (what autodiff of the dense path keeps per tensor);
    * ``dense_bits``: ``T*B*N`` bits (the lower bound of a dense 0/1 tensor);
    * ``index_list``: ``T*B*(S int32 ids + 2 int32 counts + S float values)``.
    """
    rows = n_steps * batch
    return {"dense_float": rows * n * float_bytes, "dense_bits": rows * n // 8,
            "index_list": rows * (capacity * 4 + 2 * 4 + capacity * float_bytes)}


def _loss_and_grads(weights, x, y, params, impl, sparse_sizes):
    ws = [tf.Variable(w) for w in weights]
    with tf.GradientTape() as tape:
        out = snn_forward(ws, x, params, impl=impl, sparse_sizes=sparse_sizes)
        logits = tf.reduce_sum(out.spikes[-1], axis=1)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    grads = tape.gradient(loss, ws)
    accuracy = float(np.mean(np.argmax(logits.numpy(), axis=-1) == np.asarray(y)))
    dropped = [int(o) for o in out.overflow] if out.overflow is not None else None
    return float(loss), grads, accuracy, dropped


def capacity_sweep(weights, x, y, params: LIFParams, capacities, input_capacity: int | None = None):
    """Effect of the hidden capacity ``S`` on accuracy, dropped spikes and gradients.

    The reference is the dense implementation (with the same ``th2`` mask). For each ``S`` in
    ``capacities`` (applied to every hidden layer; the output layer keeps all its neurons) the
    ``sparse_ops`` network is run on the same batch.

    Args:
        weights: list of ``(out, in)`` arrays of a network ``[n_0, ..., n_L]``.
        x: float 0/1 ``[B, T, n_0]``; y: int labels ``[B]``.
        params: neuron constants.
        capacities: hidden capacities to try.
        input_capacity: ``S_in`` (default: ``n_0``, no input dropped).

    Returns:
        A list of dicts ``{"capacity", "accuracy", "loss", "dropped_fraction",
        "grad_cosine"}`` (cosine similarity of the flattened weight gradients with the
        dense ones), preceded by the dense reference (``capacity = None``).
    """
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    loss_d, grads_d, acc_d, _ = _loss_and_grads(weights, x, y, params, "dense", None)
    flat_d = np.concatenate([g.numpy().ravel() for g in grads_d])
    total_spikes = None
    rows = [{"capacity": None, "accuracy": acc_d, "loss": loss_d, "dropped_fraction": 0.0,
             "grad_cosine": 1.0}]
    dense_out = snn_forward(weights, x, params)
    total_spikes = sum(float(tf.reduce_sum(s)) for s in dense_out.spikes)
    for cap in capacities:
        sparse_sizes = [input_capacity or sizes[0]] + [min(int(cap), n) for n in sizes[1:-1]] + [sizes[-1]]
        loss_s, grads_s, acc_s, dropped = _loss_and_grads(weights, x, y, params, "sparse_ops",
                                                          sparse_sizes)
        flat_s = np.concatenate([g.numpy().ravel() for g in grads_s])
        denom = np.linalg.norm(flat_d) * np.linalg.norm(flat_s)
        rows.append({"capacity": int(cap), "accuracy": acc_s, "loss": loss_s,
                     "dropped_fraction": sum(dropped) / max(total_spikes, 1.0),
                     "grad_cosine": float(flat_d @ flat_s / denom) if denom > 0 else 0.0})
    return rows
