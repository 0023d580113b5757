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

MAX_NEURONS = 2**31 - 1  # ids are int32


def _array(x, name: str) -> np.ndarray:
    """``np.asarray`` with a ``ValueError`` naming ``name`` for ``None``, ragged sequences and
    non-numeric (object, string) arrays."""
    if x is None:
        raise ValueError(f"{name} must be an array; got None")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} must be a rectangular numeric array; got {type(x).__name__} "
                         f"({err})") from None
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"{name} must be a numeric or bool array; got dtype {arr.dtype}")
    return arr


def _count(x, name: str) -> int:
    """An integer in ``[1, 2**31 - 1]`` (NumPy integers accepted)."""
    if isinstance(x, (bool, float)) or not hasattr(x, "__index__") or not \
            1 <= int(x) <= MAX_NEURONS:
        raise ValueError(f"{name} must be an integer in [1, {MAX_NEURONS}]; got {x!r}")
    return int(x)


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
        dense: numeric or bool array ``[..., N]``; nonzero means a spike.
        capacity: ``S``, ``1 <= S <= 2**31 - 1``.

    Returns:
        ``(SparseSpikes(ids int32[..., S], counts int32[..., 2]), dropped int64[...])``.
    """
    dense = _array(dense, "dense")
    if dense.ndim < 1:
        raise ValueError(f"dense must have at least one axis [..., N]; got shape {dense.shape}")
    capacity = _count(capacity, "capacity")
    lead, n = dense.shape[:-1], dense.shape[-1]
    if n > MAX_NEURONS:
        raise ValueError(f"N = dense.shape[-1] = {n} neurons exceed what int32 ids can address "
                         f"(at most {MAX_NEURONS})")
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
    """Dense float32 0/1 ``[..., n]`` from the first ``counts[..., 0]`` ids (NumPy); ids in
    ``[0, n)``, ``1 <= n <= 2**31 - 1``."""
    if not isinstance(spikes, SparseSpikes):
        raise ValueError(f"spikes must be a SparseSpikes; got {type(spikes).__name__}")
    ids = _array(spikes.ids, "spikes.ids")
    counts = _array(spikes.counts, "spikes.counts")
    n = _count(n, "n")
    if ids.dtype.kind not in "iu" or counts.dtype.kind not in "iu":
        raise ValueError(f"spikes.ids and spikes.counts must be integer arrays; got "
                         f"{ids.dtype} and {counts.dtype}")
    if ids.ndim < 1 or counts.shape != ids.shape[:-1] + (2,):
        raise ValueError(f"spikes.counts must have shape [..., 2] with the leading axes of "
                         f"spikes.ids {ids.shape}; got {counts.shape}")
    lead, s = ids.shape[:-1], ids.shape[-1]
    flat_ids = ids.reshape(-1, s)
    n_spk = counts.reshape(-1, 2)[:, 0]
    out = np.zeros((flat_ids.shape[0], n), np.float32)
    n_listed = counts.reshape(-1, 2)[:, 1]
    if ((n_spk < 0) | (n_spk > n_listed) | (n_listed > s)).any():
        raise ValueError(f"spikes.counts must satisfy 0 <= counts[..., 0] <= counts[..., 1] "
                         f"<= S = {s}")
    rows, cols = np.nonzero(np.arange(s)[None, :] < n_listed[:, None])
    listed = flat_ids[rows, cols]
    if ((listed < 0) | (listed >= n)).any():
        raise ValueError(f"spikes.ids must lie in [0, n = {n}) in the listed slots")
    spike = cols < n_spk[rows]
    out[rows[spike], listed[spike]] = 1.0
    return out.reshape(*lead, n)
