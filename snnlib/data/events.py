"""Event streams -> time bins: one binning, two views (dense rasters and sparse index lists).

An event recording is a list of ``(x, y, t, p)`` tuples (pixel, time in microseconds,
polarity). Each event is mapped to one input neuron by flattening its address,

    id = x + W * y + W * H * p        (only axes of size > 1 count; SHD: id = x),

and to one time bin: with ``t0`` the first event's timestamp and bin width ``dt``,

    bin i holds the events with  t0 + i * dt <= t < t0 + (i + 1) * dt,   i = 0 .. T - 1.

Events after the last bin are discarded. Within a bin, events of the same neuron are merged
(a neuron spikes at most once per step). The result, the *binned form*, is

* ``ids``: the distinct neuron ids of every bin, concatenated, ascending within a bin;
* ``counts``: int ``[T]``, the number of ids of each bin.

Both the dense raster ``uint8[T, N]`` and the sparse ``SparseSpikes`` of capacity ``S`` are
read from this one binned form, so they come from the same events with no offset between them
(graphcore_snn's dense path skipped the first 50 ms; its sparse path did not; spec section 3.1).
When a bin holds more than ``S`` ids, a seeded random subset of ``S`` is kept (in ascending
order) and the dropped ids are counted.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnlib.spikes import SparseSpikes


def sensor_n_in(sensor_size) -> int:
    """Number of input neurons ``N = W * H * P`` of a sensor ``(W, H, P)``."""
    return int(np.prod([int(s) for s in sensor_size]))


def flatten_events(events: np.ndarray, sensor_size) -> np.ndarray:
    """Neuron ids ``int64[n_events]`` of structured events on a sensor ``(W, H, P)``.

    ``id = x + W * y + W * H * p``; an axis of size 1 (or a field the events lack) adds nothing,
    so SHD's ``(700, 1, 1)`` gives ``id = x``.

    Raises:
        ValueError: an address lies outside the sensor.
    """
    width, height, n_pol = (int(s) for s in sensor_size)
    names = events.dtype.names or ()
    ids = np.zeros(len(events), np.int64)
    stride = 1
    for field, size in (("x", width), ("y", height), ("p", n_pol)):
        if size > 1 and field in names:
            values = np.asarray(events[field]).astype(np.int64)
            if values.size and (values.min() < 0 or values.max() >= size):
                raise ValueError(f"event field {field!r} outside [0, {size}) for sensor "
                                 f"{tuple(sensor_size)}: range [{values.min()}, {values.max()}]")
            ids += stride * values
        stride *= size
    return ids


def bin_events(t: np.ndarray, ids: np.ndarray, *, n_steps: int, dt: float = 1000.0,
               t0: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bin events into ``T`` steps of width ``dt``, merging repeats of a neuron within a bin.

    Args:
        t: event times ``[n_events]`` (microseconds).
        ids: flattened neuron ids ``int[n_events]``.
        n_steps: ``T``, the number of bins.
        dt: bin width in the unit of ``t`` (default 1000 us = 1 ms).
        t0: start of bin 0; default: the first (smallest) timestamp.

    Returns:
        ``(ids int32[m], counts int32[T])``: distinct ids of each bin, concatenated in bin
        order and ascending within a bin; ``counts[i]`` ids belong to bin ``i``.
    """
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps!r}")
    if not dt > 0:
        raise ValueError(f"dt must be positive; got {dt!r}")
    t = np.asarray(t, np.float64)
    ids = np.asarray(ids, np.int64)
    if t.shape != ids.shape or t.ndim != 1:
        raise ValueError(f"t and ids must be 1-D of equal length; got {t.shape} and {ids.shape}")
    n_steps = int(n_steps)
    if t.size == 0:
        return np.zeros(0, np.int32), np.zeros(n_steps, np.int32)
    start = float(t.min()) if t0 is None else float(t0)
    bins = np.floor((t - start) / float(dt)).astype(np.int64)
    keep = (bins >= 0) & (bins < n_steps)
    n_ids = int(ids.max()) + 1 if ids.size else 1
    keys = np.unique(bins[keep] * n_ids + ids[keep])  # sorted by bin, then id
    out_bins, out_ids = np.divmod(keys, n_ids)
    counts = np.bincount(out_bins, minlength=n_steps).astype(np.int32)
    return out_ids.astype(np.int32), counts


def binned_to_dense(ids: np.ndarray, counts: np.ndarray, n_in: int) -> np.ndarray:
    """Dense 0/1 raster ``uint8[..., T, N]`` from binned ids and ``counts int[..., T]``."""
    counts = np.asarray(counts)
    rows = np.repeat(np.arange(counts.size), counts.ravel())
    out = np.zeros((counts.size, int(n_in)), np.uint8)
    out[rows, np.asarray(ids, np.int64)] = 1
    return out.reshape(*counts.shape, int(n_in))


def binned_to_sparse(ids: np.ndarray, counts: np.ndarray, capacity: int, *,
                     seed: int = 0) -> tuple[SparseSpikes, np.ndarray]:
    """Index lists of capacity ``S`` from binned ids and ``counts int[..., T]``.

    A bin with more than ``S`` ids keeps a random subset of ``S`` of them (drawn with
    ``numpy.random.default_rng(seed)``, so the same seed keeps the same subset), listed in
    ascending order; the rest are dropped and counted.

    Returns:
        ``(SparseSpikes(ids int32[..., T, S], counts int32[..., T, 2]), dropped int64[...])``
        where ``dropped`` sums the dropped input events over the time axis.
    """
    capacity = int(capacity)
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1; got {capacity!r}")
    counts = np.asarray(counts, np.int64)
    ids = np.asarray(ids, np.int64)
    n_rows = counts.size
    flat_counts = counts.ravel()
    rows = np.repeat(np.arange(n_rows), flat_counts)
    starts = np.concatenate([[0], np.cumsum(flat_counts)[:-1]]).astype(np.int64)
    pos = np.arange(ids.size) - starts[rows]  # position within its bin
    keep = np.ones(ids.size, bool)
    if (flat_counts > capacity).any():
        rng = np.random.default_rng(seed)
        order = np.lexsort((rng.random(ids.size), rows))  # random order within each bin
        rank = np.empty(ids.size, np.int64)
        rank[order] = np.arange(ids.size) - starts[rows[order]]
        keep = rank < capacity
        pos = np.cumsum(keep) - 1
        pos = pos - np.concatenate([[0], np.cumsum(keep)])[starts][rows]
    kept = np.minimum(flat_counts, capacity)
    out = np.zeros((n_rows, capacity), np.int32)
    out[rows[keep], pos[keep]] = ids[keep]
    cnt = np.stack([kept, kept], axis=-1).astype(np.int32)
    dropped = (flat_counts - kept).reshape(counts.shape)
    dropped = dropped.sum(axis=-1) if counts.ndim else dropped
    return (SparseSpikes(out.reshape(*counts.shape, capacity), cnt.reshape(*counts.shape, 2)),
            dropped.astype(np.int64))


@dataclasses.dataclass(frozen=True)
class BinnedSet:
    """A set of binned recordings in compact form (what the cache stores).

    Attributes:
        ids: distinct neuron ids of every (sample, bin), concatenated in sample-major, bin-major
            order, ascending within a bin: ``uint16/int32[m]``.
        counts: ids per bin, ``int32[n_samples, T]``.
        labels: ``int32[n_samples]``.
        n_events: events per sample after transforms, before binning: ``int64[n_samples]``.
        n_in: ``N``, the flattened input width.
        dt: bin width (microseconds).
        sample_ids: an identifier per sample (e.g. its relative file path), ``str[n_samples]``.
    """

    ids: np.ndarray
    counts: np.ndarray
    labels: np.ndarray
    n_events: np.ndarray
    n_in: int
    dt: float
    sample_ids: np.ndarray

    def __len__(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_steps(self) -> int:
        """``T``, the number of bins per sample."""
        return int(self.counts.shape[1])

    def offsets(self) -> np.ndarray:
        """Where each sample's ids start in :attr:`ids`: ``int64[n_samples + 1]``."""
        return np.concatenate([[0], np.cumsum(self.counts.sum(axis=1, dtype=np.int64))])

    def gather(self, index, offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, counts)`` of the samples ``index`` (an int array), in that order: their ids
        concatenated and ``counts[index]``. ``offsets``: :meth:`offsets`, if the caller keeps
        it (it costs a pass over ``counts``)."""
        index = np.asarray(index, np.int64)
        off = self.offsets() if offsets is None else offsets
        pieces = [self.ids[off[i]:off[i + 1]] for i in index]
        return (np.concatenate(pieces) if pieces else self.ids[:0]), self.counts[index]

    def subset(self, index) -> "BinnedSet":
        """The samples ``index`` (an int array), in that order."""
        index = np.asarray(index, np.int64)
        ids, counts = self.gather(index)
        return BinnedSet(ids, counts, self.labels[index], self.n_events[index], self.n_in,
                         self.dt, self.sample_ids[index])

    def dense(self) -> np.ndarray:
        """All samples as 0/1 rasters ``uint8[n_samples, T, N]``."""
        return binned_to_dense(self.ids, self.counts, self.n_in)

    def sparse(self, capacity: int, *, seed: int = 0) -> tuple[SparseSpikes, np.ndarray]:
        """All samples as ``SparseSpikes`` of capacity ``S`` (see :func:`binned_to_sparse`).

        Returns:
            ``(SparseSpikes(ids int32[n, T, S], counts int32[n, T, 2]), dropped int64[n])``.
        """
        return binned_to_sparse(self.ids, self.counts, capacity, seed=seed)
