"""Statistics of binned spike inputs: events per bin, activity, and the input capacity ``S``.

The sparse input format holds at most ``S`` events per time bin (DESIGN.md section 4); bins
with more lose the excess. With ``c`` the number of distinct events of a bin, a capacity ``S``
keeps ``sum(min(c, S)) / sum(c)`` of all events. :func:`capacity_for` finds the smallest ``S``
that keeps a chosen fraction (99% by default).

Functions accept a :class:`~snnlib.data.events.BinnedSet`, its ``counts int[n, T]``, or dense
rasters ``[n, T, N]``.
"""

from __future__ import annotations

import numpy as np

from snnlib.data.events import BinnedSet


def events_per_bin(data) -> np.ndarray:
    """Distinct events per bin ``int64[n, T]`` of a BinnedSet or of dense rasters ``[n, T, N]``."""
    if isinstance(data, BinnedSet):
        return data.counts.astype(np.int64)
    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(f"expected a BinnedSet or rasters [n, T, N]; got shape {data.shape}")
    return (data != 0).sum(axis=-1, dtype=np.int64)


def sample_activity(data, n_in: int | None = None) -> np.ndarray:
    """Mean fraction of active inputs per step, per sample: ``float64[n]``.

    ``n_in`` is needed only with a plain ``counts`` array ``[n, T]``.
    """
    if isinstance(data, BinnedSet):
        return data.counts.mean(axis=1) / data.n_in
    data = np.asarray(data)
    if data.ndim == 2:
        if n_in is None:
            raise ValueError("n_in is required when data is a counts array [n, T]")
        return data.mean(axis=1) / int(n_in)
    return events_per_bin(data).mean(axis=1) / data.shape[-1]


def as_counts(data) -> np.ndarray:
    """Events per bin ``[n, T]`` of a BinnedSet or dense rasters; a counts array passes through."""
    data = data if isinstance(data, BinnedSet) else np.asarray(data)
    return events_per_bin(data) if isinstance(data, BinnedSet) or data.ndim == 3 else data


def kept_fraction(data, capacity) -> np.ndarray:
    """Fraction of all events kept by each capacity in ``capacity`` (scalar or 1-D)."""
    counts = as_counts(data).ravel()
    caps = np.atleast_1d(np.asarray(capacity, np.int64))
    total = counts.sum()
    hist = np.bincount(counts) if counts.size else np.zeros(1, np.int64)
    levels = np.arange(len(hist))
    kept = np.array([(np.minimum(levels, s) * hist).sum() for s in caps]) / max(total, 1)
    kept = np.where(total == 0, 1.0, kept)
    return kept if np.ndim(capacity) else float(kept[0])


def capacity_for(data, keep: float = 0.99) -> int:
    """The smallest capacity ``S`` that keeps at least ``keep`` of all events."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1]; got {keep!r}")
    counts = as_counts(data).ravel()
    if counts.sum() == 0:
        return 1
    caps = np.arange(1, int(counts.max()) + 1)
    kept = kept_fraction(counts, caps)
    return int(caps[np.argmax(kept >= keep - 1e-12)])


def capacity_table(data, keeps=(0.9, 0.95, 0.99, 0.999, 1.0)) -> list[dict]:
    """Rows ``{"keep", "capacity", "bins_over"}``: the capacity for each kept fraction and the
    fraction of bins that overflow it."""
    counts = as_counts(data).ravel()
    rows = []
    for keep in keeps:
        cap = capacity_for(counts, keep)
        rows.append({"keep": float(keep), "capacity": cap,
                     "bins_over": float((counts > cap).mean()) if counts.size else 0.0})
    return rows


def summarize(data) -> dict:
    """Events per bin (mean, median, p99, max), activity, and the 99% capacity, as a dict."""
    counts = as_counts(data)
    flat = counts.ravel()
    out = {"bins": int(flat.size), "events_per_bin_mean": float(flat.mean()),
           "events_per_bin_median": float(np.median(flat)),
           "events_per_bin_p99": float(np.percentile(flat, 99)),
           "events_per_bin_max": int(flat.max()),
           "events_per_sample_mean": float(counts.sum(-1).mean()),
           "capacity_99": capacity_for(flat, 0.99)}
    if isinstance(data, BinnedSet):
        out["activity_mean"] = float(sample_activity(data).mean())
    return out
