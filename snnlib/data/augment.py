"""Event augmentation with tonic's transforms, applied per epoch to binned recordings.

A binned sample (ids and counts per bin, :mod:`snnlib.data.events`) is turned back into
events, transformed by tonic, and binned again:

1. every listed id of bin ``i`` becomes one event at ``t = (i + 1/2) dt`` with the address
   that ``id = x + W y + W H p`` encodes;
2. the tonic transforms of :class:`Augmentation`, in this order:

   * ``shift = s``: a random translation by ``(dx, dy)``, each uniform in ``{-s, ..., s}``,
     as ``tonic.transforms.RandomCrop`` of a padded sensor back to ``(W, H)``. The events are
     moved by ``(s, s)`` onto a ``(W + 2s + 1, H + 2s + 1)`` sensor first, because
     RandomCrop draws its offset as ``int(U * (W_pad - W))``, i.e. ``0 .. 2s``; events
     shifted out of the frame are lost, as they would be on the sensor;
   * ``spatial_jitter = sigma``: ``tonic.transforms.SpatialJitter`` (independent Gaussian
     per event, variance ``sigma^2`` in x and y, events leaving the sensor dropped);
   * ``time_jitter_us = sigma_t``: ``tonic.transforms.TimeJitter`` (Gaussian per event);
   * ``drop_event = p``: ``tonic.transforms.DropEvent`` (a fraction ``p`` of the events);

3. binned again from ``t = 0`` with the same ``dt`` (events of one neuron in one bin merge;
   events moved before 0 or past ``T dt`` are dropped).

tonic draws from NumPy's global random state; every sample is transformed under a lock with
that state seeded from ``(seed, epoch, sample)`` and restored afterwards, so an augmented
epoch is a pure function of the seed, whatever the thread or the order of the batches.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np

from snnlib.data.events import bin_events, flatten_events

_RANDOM_LOCK = threading.Lock()
EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.float64), ("p", np.int64)])


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Which tonic transforms to apply per epoch, and how strongly (all off by default).

    Attributes:
        shift: maximal translation in pixels (``dx, dy`` uniform in ``{-shift .. shift}``).
        spatial_jitter: standard deviation of tonic's per-event spatial jitter, in pixels.
        time_jitter_us: standard deviation of tonic's per-event time jitter, in microseconds.
        drop_event: fraction of events tonic drops, in ``[0, 1)``.
    """

    shift: int = 0
    spatial_jitter: float = 0.0
    time_jitter_us: float = 0.0
    drop_event: float = 0.0

    def __post_init__(self):
        if isinstance(self.shift, bool) or int(self.shift) != self.shift or self.shift < 0:
            raise ValueError(f"shift must be an integer >= 0 (pixels); got {self.shift!r}")
        for name in ("spatial_jitter", "time_jitter_us"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
        if not 0.0 <= self.drop_event < 1.0:
            raise ValueError(f"drop_event must be in [0, 1); got {self.drop_event!r}")

    @classmethod
    def from_value(cls, value) -> "Augmentation | None":
        """``None``/``{}`` -> ``None`` (no augmentation); a dict of fields or an instance -> an
        instance (``None`` too when every transform is off)."""
        if value is None or isinstance(value, cls):
            aug = value
        elif isinstance(value, dict):
            unknown = sorted(set(value) - {f.name for f in dataclasses.fields(cls)})
            if unknown:
                raise ValueError(f"unknown augmentation options {unknown}; valid: "
                                 f"{[f.name for f in dataclasses.fields(cls)]}")
            aug = cls(**value)
        else:
            raise ValueError(f"augment must be None, a dict of Augmentation fields or an "
                             f"Augmentation; got {value!r}")
        return aug if aug is not None and aug.active else None

    @property
    def active(self) -> bool:
        """True when at least one transform is on."""
        return bool(self.shift or self.spatial_jitter or self.time_jitter_us or self.drop_event)

    def params(self) -> dict:
        """JSON form, for logs and run configs."""
        return dataclasses.asdict(self)


def binned_to_events(ids: np.ndarray, counts: np.ndarray, sensor_size, dt: float) -> np.ndarray:
    """Events (fields ``x, y, t, p``) of one binned sample: one per listed id, at the middle
    of its bin, ``t = (i + 1/2) dt``; ``id = x + W y + W H p`` (axes of size 1 add nothing)."""
    width, height, _ = (int(s) for s in sensor_size)
    ids = np.asarray(ids, np.int64)
    bins = np.repeat(np.arange(len(counts)), np.asarray(counts, np.int64))
    events = np.empty(ids.size, EVENT_DTYPE)
    rest = ids
    for field, size in (("x", width), ("y", height)):
        if size > 1:
            rest, events[field] = np.divmod(rest, size)
        else:
            events[field] = 0
    events["p"] = rest
    events["t"] = (bins + 0.5) * float(dt)
    return events


def _transformed(events: np.ndarray, sensor_size, aug: Augmentation) -> np.ndarray:
    from tonic import transforms

    width, height, n_pol = (int(s) for s in sensor_size)
    if aug.shift:
        s = int(aug.shift)
        events = events.copy()
        events["x"] += s
        events["y"] += s
        padded = (width + 2 * s + 1, height + 2 * s + 1, n_pol)
        events = transforms.RandomCrop(sensor_size=padded, target_size=(width, height))(events)
    if aug.spatial_jitter:
        var = float(aug.spatial_jitter) ** 2
        events = transforms.SpatialJitter(sensor_size=(width, height, n_pol), var_x=var,
                                          var_y=var, clip_outliers=True)(events)
    if aug.time_jitter_us:
        events = transforms.TimeJitter(std=float(aug.time_jitter_us), clip_negative=True)(events)
    if aug.drop_event:
        events = transforms.DropEvent(p=float(aug.drop_event))(events)
    return events


def augment_sample(ids: np.ndarray, counts: np.ndarray, sensor_size, dt: float,
                   aug: Augmentation, seed) -> tuple[np.ndarray, np.ndarray]:
    """One binned sample, augmented: ``(ids int32[m'], counts int32[T])`` as
    :func:`snnlib.data.events.bin_events` returns them.

    Args:
        ids, counts: the sample's binned form (``counts int[T]``).
        sensor_size: ``(W, H, P)`` that the ids address.
        dt: bin width (microseconds).
        aug: the transforms.
        seed: anything ``numpy.random.SeedSequence`` takes, e.g. ``[seed, epoch, sample]``.
    """
    events = binned_to_events(ids, counts, sensor_size, dt)
    with _RANDOM_LOCK:
        saved = np.random.get_state()
        np.random.seed(np.random.SeedSequence(seed).generate_state(1)[0])
        try:
            events = _transformed(events, sensor_size, aug)
        finally:
            np.random.set_state(saved)
    flat = flatten_events(events, sensor_size)
    return bin_events(events["t"], flat, n_steps=len(counts), dt=dt, t0=0.0)
