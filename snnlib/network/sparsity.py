"""Measurements of activation sparsity: activity, capacity, storage and overflow.

These are the numbers behind the sparse implementations: how many neurons are active per
step, how large the capacity ``S`` of an index list must be, what the index-list format
saves in memory, and what a too-small ``S`` does to accuracy and gradients.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from snnlib.functional.params import LIFParams
from snnlib.network.forward import snn_forward


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


def gradient_cosine(a, b) -> float:
    """Cosine similarity of two gradients given as lists of arrays (flattened and joined); 0
    when either gradient is all zeros."""
    a = np.concatenate([np.ravel(g) for g in a])
    b = np.concatenate([np.ravel(g) for g in b])
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denom) if denom > 0 else 0.0


def _dense_numpy(grads) -> list[np.ndarray]:
    """Gradients as dense NumPy arrays (``sparse_ops`` gives ``tf.IndexedSlices``: the rows of
    the inputs that spiked)."""
    return [tf.convert_to_tensor(g).numpy() for g in grads]


def _forward_loss_grads(weights, x, y, params, impl, sparse_sizes):
    """One batch through ``impl`` with the spike-count cross-entropy.

    Returns ``(SNNOutput, loss, logits [B, C], weight gradients as NumPy arrays)``.
    """
    ws = [tf.Variable(w) for w in weights]
    with tf.GradientTape() as tape:
        out = snn_forward(ws, x, params, impl=impl,
                          sparse_sizes=None if impl == "dense" else sparse_sizes)
        logits = tf.reduce_sum(out.spikes[-1], axis=1)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return out, float(loss), logits.numpy(), _dense_numpy(tape.gradient(loss, ws))


def capacity_sweep(weights, x, y, params: LIFParams, capacities, input_capacity: int | None = None):
    """Effect of the hidden capacity ``S`` on accuracy, dropped spikes and gradients.

    The reference is the dense implementation (with the same ``th2`` mask). For each ``S`` in
    ``capacities`` (applied to every hidden layer; the output layer keeps all its neurons) the
    ``sparse_ops`` network is run on the same batch.

    Args:
        weights: list of ``[in, out]`` arrays of a network ``[n_0, ..., n_L]``.
        x: float 0/1 ``[B, T, n_0]``; y: int labels ``[B]``.
        params: neuron constants.
        capacities: hidden capacities to try.
        input_capacity: ``S_in`` (default: ``n_0``, no input dropped).

    Returns:
        A list of dicts ``{"capacity", "accuracy", "loss", "dropped_fraction",
        "grad_cosine"}`` (cosine similarity of the flattened weight gradients with the
        dense ones), preceded by the dense reference (``capacity = None``).
    """
    sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]

    def accuracy(logits):
        return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))

    dense_out, loss_d, logits_d, grads_d = _forward_loss_grads(weights, x, y, params, "dense", None)
    total_spikes = sum(float(tf.reduce_sum(s)) for s in dense_out.spikes)
    rows = [{"capacity": None, "accuracy": accuracy(logits_d), "loss": loss_d,
             "dropped_fraction": 0.0, "grad_cosine": 1.0}]
    for cap in capacities:
        sparse_sizes = [input_capacity or sizes[0]] + [min(int(cap), n) for n in sizes[1:-1]] + [sizes[-1]]
        out, loss_s, logits_s, grads_s = _forward_loss_grads(weights, x, y, params, "sparse_ops",
                                                             sparse_sizes)
        dropped = sum(int(o) for o in out.overflow)
        rows.append({"capacity": int(cap), "accuracy": accuracy(logits_s), "loss": loss_s,
                     "dropped_fraction": dropped / max(total_spikes, 1.0),
                     "grad_cosine": gradient_cosine(grads_d, grads_s)})
    return rows


def compare_implementations(weights, x, y, params: LIFParams, sparse_sizes,
                            impls=("dense", "sparse_ops", "sparse_layer")) -> list[dict]:
    """Run the same network and batch through each implementation and compare with dense.

    Returns one dict per implementation: ``impl``, ``loss``, ``spikes_equal`` (every layer's
    spikes identical to dense), ``max_grad_rel_diff`` (largest ``|g - g_dense| / max|g_dense|``
    over the layers) and ``overflow`` (dropped spikes, sparse implementations).
    """
    ref = None
    rows = []
    for impl in impls:
        out, loss, _, grads = _forward_loss_grads(weights, x, y, params, impl, sparse_sizes)
        spikes = [s.numpy() for s in out.spikes]
        if ref is None:
            ref = (spikes, grads)
        rel = max(float(np.abs(g - r).max() / max(np.abs(r).max(), 1e-30)) for g, r in zip(grads, ref[1]))
        rows.append({"impl": impl, "loss": float(loss),
                     "spikes_equal": all(np.array_equal(a, b) for a, b in zip(spikes, ref[0])),
                     "max_grad_rel_diff": rel,
                     "overflow": None if out.overflow is None else [int(o) for o in out.overflow]})
    return rows


def backward_storage_bytes(sizes, capacities, n_steps: int, batch: int, float_bytes: int = 4) -> dict:
    """What each implementation keeps for the backward pass, per training step (analytic).

    * ``dense``: per layer the input sequence ``[T, B, n_in]`` (for dW), the potentials and
      the spikes ``[T, B, n]`` (surrogate, reset) - ``O(T B N)``;
    * ``sparse_layer``: per layer the input index lists (ids, counts) and the output lists
      with the potentials at the listed neurons - ``O(T B S)``.
    """
    rows = n_steps * batch
    dense = sum(rows * (n_in + 2 * n) * float_bytes for n_in, n in zip(sizes[:-1], sizes[1:]))
    sparse = sum(rows * (s_in * 4 + 8 + s * (4 + 4 + 2 * float_bytes))
                 for s_in, s in zip(capacities[:-1], capacities[1:]))
    return {"dense": dense, "sparse_layer": sparse}



def accuracy_conclusions(runs: dict, reference: str = "dense", tolerance: float = 0.02) -> list[str]:
    """Sentences comparing training runs with a reference run, from their own numbers.

    Args:
        runs: ``{name: train_and_evaluate result}``; each has ``test_accuracy`` and a
            ``history`` whose last row has ``train_activity_0`` (and ``train_overflow_0``).
        reference: the name of the run the others are compared with.
        tolerance: accuracy difference (fraction) that still counts as "comparable".

    Returns:
        One sentence per run other than ``reference``, and a last one naming the runs that
        came within ``tolerance`` of the reference.
    """
    ref = float(runs[reference]["test_accuracy"])
    lines, close = [], []
    for name, run in runs.items():
        if name == reference:
            continue
        acc, last = float(run["test_accuracy"]), run["history"][-1]
        gap = acc - ref
        if abs(gap) <= tolerance:
            close.append(name)
        lines.append(f"{name}: test accuracy {acc:.1%} vs {reference} {ref:.1%} "
                     f"({100 * gap:+.1f} points); hidden activity {last['train_activity_0']:.2%}, "
                     f"{last.get('train_overflow_0', 0.0):.2f} spikes dropped per step and sample.")
    lines.append(f"Within {100 * tolerance:.0f} points of {reference}: "
                 + (", ".join(close) if close else "none of the runs") + ".")
    return lines
