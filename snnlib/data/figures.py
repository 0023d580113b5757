"""Figures of event recordings and their binning. Every function returns a matplotlib
``Figure``; nothing is shown or saved here."""

from __future__ import annotations

import numpy as np

from snnlib.data import stats
from snnlib.figure import figure


def frame_counts(events: np.ndarray, sensor_size, *, frame_us: float, n_frames: int,
                 t0: float | None = None) -> np.ndarray:
    """Event counts per pixel and polarity in consecutive windows: ``int64[n_frames, P, H, W]``.

    Window ``k`` holds the events with ``t0 + k*frame_us <= t < t0 + (k+1)*frame_us``
    (``t0`` defaults to the first event).
    """
    width, height, n_pol = (int(s) for s in sensor_size)
    start = float(events["t"].min()) if t0 is None else float(t0)
    k = np.floor((events["t"] - start) / float(frame_us)).astype(np.int64)
    keep = (k >= 0) & (k < int(n_frames))
    p = np.asarray(events["p"]).astype(np.int64) if n_pol > 1 else np.zeros(len(events), np.int64)
    out = np.zeros((int(n_frames), n_pol, height, width), np.int64)
    np.add.at(out, (k[keep], p[keep], np.asarray(events["y"])[keep].astype(np.int64),
                    np.asarray(events["x"])[keep].astype(np.int64)), 1)
    return out


def event_scatter(events: np.ndarray, *, title: str = "event recording", bin_us: float = 1000.0):
    """An event stream in time: x and y of every event against t (ON red, OFF blue), and the
    number of events per bin of ``bin_us`` below.

    Args:
        events: structured array with fields ``x, y, t, p`` (``t`` in microseconds).
    """
    fig, axes = figure(1, 3, width=9.0, height=2.0, sharex=True,
                          gridspec_kw={"height_ratios": [2, 2, 1.2]})
    t_ms = (events["t"] - events["t"].min()) / 1000.0
    on = np.asarray(events["p"]) > 0
    for ax, field in zip(axes[:2, 0], ("x", "y")):
        ax.scatter(t_ms[on], events[field][on], s=0.5, color="C3", label="ON (p=1)")
        ax.scatter(t_ms[~on], events[field][~on], s=0.5, color="C0", label="OFF (p=0)")
        ax.set_ylabel(f"{field} (pixel)")
    axes[0, 0].legend(loc="upper right", markerscale=8, fontsize=8)
    axes[0, 0].set_title(title)
    width_ms = bin_us / 1000.0
    edges = np.arange(0.0, t_ms.max() + width_ms, width_ms)
    axes[2, 0].hist(t_ms, bins=edges, color="0.3")
    axes[2, 0].set_ylabel(f"events / {width_ms:g} ms")
    axes[2, 0].set_xlabel("time since first event (ms)")
    fig.tight_layout()
    return fig


def _draw_frame(ax, counts: np.ndarray, scale: int) -> None:
    """One event frame ``counts [P, H, W]``: ON events red, OFF events blue, white background."""
    rgb = np.ones(counts.shape[1:] + (3,))
    on = counts[-1] / scale
    off = counts[0] / scale if counts.shape[0] > 1 else np.zeros_like(on)
    rgb[..., 1] -= np.clip(2 * (on + off), 0, 1)
    rgb[..., 0] -= np.clip(2 * off, 0, 1)
    rgb[..., 2] -= np.clip(2 * on, 0, 1)
    ax.imshow(np.clip(rgb, 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def event_frames(events: np.ndarray, sensor_size, *, frame_ms: float = 30.0, n_frames: int = 10,
                 title: str | None = None):
    """Event frames: events accumulated over windows of ``frame_ms``, ON in red, OFF in blue.

    For N-MNIST the three saccades of the camera show as the digit's edges sweeping across.
    """
    counts = frame_counts(events, sensor_size, frame_us=frame_ms * 1000.0, n_frames=n_frames)
    ncols = min(int(n_frames), 5)
    nrows = int(np.ceil(n_frames / ncols))
    fig, axes = figure(ncols, nrows, width=2.0, height=2.2 + 0.4 / nrows)
    scale = max(int(counts.max()), 1)
    for k, ax in enumerate(axes.ravel()):
        if k >= n_frames:
            ax.axis("off")
            continue
        _draw_frame(ax, counts[k], scale)
        ax.set_title(f"{k * frame_ms:g}-{(k + 1) * frame_ms:g} ms", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def variant_frames(variants: dict, sensor_size, *, frame_ms: float = 50.0, n_frames: int = 6,
                   title: str | None = None):
    """One row of event frames per variant of a recording (e.g. before and after each
    augmentation): ``variants`` maps a row label to its events (times from 0); all rows share
    one colour scale, so dropped events show as a paler frame."""
    frames = {name: frame_counts(ev, sensor_size, frame_us=frame_ms * 1000.0, n_frames=n_frames,
                                 t0=0.0)
              for name, ev in variants.items()}
    scale = max(max(int(c.max()) for c in frames.values()), 1)
    fig, axes = figure(int(n_frames), len(frames), width=1.5, height=1.6)
    axes = np.asarray(axes).reshape(len(frames), int(n_frames))
    for row, (name, counts) in zip(axes, frames.items()):
        for k, ax in enumerate(row):
            _draw_frame(ax, counts[k], scale)
            if k == 0:
                ax.set_ylabel(name, fontsize=8)
            if row is axes[0]:
                ax.set_title(f"{k * frame_ms:g}-{(k + 1) * frame_ms:g} ms", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def events_per_bin(data, *, capacities: dict | None = None, title: str = "events per time bin"):
    """Histogram of distinct events per bin (left) and the fraction of events kept by a
    capacity ``S`` (right), with the 99% capacity and any ``capacities`` marked.

    Args:
        data: a BinnedSet, counts ``int[n, T]`` or dense rasters ``[n, T, N]``.
        capacities: optional ``{label: S}`` to mark, e.g. ``{"seed input S": 64}``.
    """
    flat = stats.as_counts(data).ravel()
    marks = {"99% of events": stats.capacity_for(flat, 0.99), **(capacities or {})}
    fig, axes = figure(2, 1, width=5.0, height=3.4)
    ax = axes[0, 0]
    ax.hist(flat, bins=np.arange(flat.max() + 2) - 0.5, color="0.35")
    ax.set_xlabel("distinct events in a bin")
    ax.set_ylabel("bins")
    ax.set_title(title)
    caps = np.arange(1, max(int(flat.max()), max(marks.values())) + 1)
    ax2 = axes[0, 1]
    ax2.plot(caps, stats.kept_fraction(flat, caps), color="k", lw=1.5)
    ax2.set_xlabel("input capacity S")
    ax2.set_ylabel("fraction of events kept")
    for i, (label, cap) in enumerate(marks.items()):
        for a in (ax, ax2):
            a.axvline(cap, color=f"C{i + 1}", ls="--", lw=1,
                      label=f"{label}: S={cap}" if a is ax2 else None)
    ax2.legend(fontsize=8, loc="lower right")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig
