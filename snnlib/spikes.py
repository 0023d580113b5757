"""The sparse spike format: fixed-capacity index lists (DESIGN.md section 4).

``SparseSpikes(ids, counts)``:

* ``ids``: int32 ``[..., S]``, neuron indices; ``S`` is the capacity of the layer.
* ``counts``: int32 ``[..., 2]`` = ``(n_spikes, n_spikes + n_candidates)``. Slots at or beyond
  ``counts[..., 1]`` are padding (their value is irrelevant; conversions write 0).

Spikes come first in ascending neuron index, then gradient candidates in ascending index.
The forward pass reads the first ``counts[..., 0]`` entries; gradients flow to the first
``counts[..., 1]`` entries, carried by the optional float ``values`` field.

This module holds the container and NumPy conversions for data pipelines; the differentiable
TensorFlow ops live in :mod:`snnlib.ops`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SparseSpikes(NamedTuple):
    """Spikes as index lists: ``ids int32[..., S]``, ``counts int32[..., 2]``, and an optional
    ``values float[..., S]``.

    ``values`` is the differentiable carrier of the slots' gradients (1.0 for slots
    ``i < counts[..., 0]``, 0.0 elsewhere); gradients never travel on the int ``ids``.
    ``None`` (input data) means "not differentiable".
    """

    ids: object
    counts: object
    values: object = None

    @property
    def capacity(self) -> int:
        """``S``, the number of slots per list."""
        return int(self.ids.shape[-1])


def dense_to_sparse_np(dense: np.ndarray, capacity: int) -> tuple[SparseSpikes, np.ndarray]:
    """Convert 0/1 spikes ``[..., N]`` to index lists of capacity ``S`` (NumPy).

    Active neurons are listed in ascending index; when more than ``S`` are active, the
    lowest-index ``S`` are kept and the rest are counted as dropped. Inputs carry no
    candidates, so ``counts[..., 0] == counts[..., 1]``.

    Args:
        dense: array ``[..., N]``; nonzero means a spike.
        capacity: ``S >= 1``.

    Returns:
        ``(SparseSpikes(ids int32[..., S], counts int32[..., 2]), dropped int64[...])``.
    """
    dense = np.asarray(dense)
    if dense.ndim < 1:
        raise ValueError(f"dense must have at least one axis [..., N]; got shape {dense.shape}")
    if int(capacity) < 1:
        raise ValueError(f"capacity must be >= 1; got {capacity!r}")
    capacity = int(capacity)
    lead, n = dense.shape[:-1], dense.shape[-1]
    flat = dense.reshape(-1, n) != 0
    active = flat.sum(axis=1)
    # Stable sort of "not active" puts active indices first, in ascending order.
    order = np.argsort(~flat, axis=1, kind="stable")[:, :capacity].astype(np.int32)
    if order.shape[1] < capacity:
        order = np.pad(order, ((0, 0), (0, capacity - order.shape[1])))
    kept = np.minimum(active, capacity)
    slot = np.arange(capacity)[None, :]
    ids = np.where(slot < kept[:, None], order, 0).astype(np.int32)
    counts = np.stack([kept, kept], axis=1).astype(np.int32)
    dropped = (active - kept).astype(np.int64)
    return (SparseSpikes(ids.reshape(*lead, capacity), counts.reshape(*lead, 2)),
            dropped.reshape(lead))


def sparse_to_dense_np(spikes: SparseSpikes, n: int) -> np.ndarray:
    """Dense float32 0/1 ``[..., n]`` from the first ``counts[..., 0]`` ids (NumPy)."""
    ids = np.asarray(spikes.ids)
    counts = np.asarray(spikes.counts)
    lead, s = ids.shape[:-1], ids.shape[-1]
    flat_ids = ids.reshape(-1, s)
    n_spk = counts.reshape(-1, 2)[:, 0]
    out = np.zeros((flat_ids.shape[0], n), np.float32)
    rows, cols = np.nonzero(np.arange(s)[None, :] < n_spk[:, None])
    out[rows, flat_ids[rows, cols]] = 1.0
    return out.reshape(*lead, n)
