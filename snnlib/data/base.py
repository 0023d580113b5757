"""The dataset container every loader returns, and the tf.data input pipeline."""

from __future__ import annotations

import dataclasses

import numpy as np

from snnlib.data.events import BinnedSet


@dataclasses.dataclass(frozen=True)
class SpikeDataset:
    """A classification set of binned spike trains, split into train and test.

    Attributes:
        name: registry name, e.g. ``"randman"``.
        x_train, x_test: uint8 0/1 spike rasters ``[n_samples, time, n_in]``, or the compact
            binned form (:class:`~snnlib.data.events.BinnedSet`: index lists, what the
            neuromorphic loaders give with ``dense=False``; no raster is ever built whole).
        y_train, y_test: int32 labels ``[n_samples]`` in ``[0, n_classes)``.
        n_classes: number of classes.
        info: provenance and generation parameters (JSON-serialisable).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if isinstance(x, BinnedSet):
                if y.shape != (len(x),):
                    raise ValueError(f"y_{split} must have shape ({len(x)},); got {y.shape}")
                continue
            if x.ndim != 3:
                raise ValueError(f"x_{split} must be [n_samples, time, n_in]; got shape {x.shape}")
            if y.shape != (x.shape[0],):
                raise ValueError(f"y_{split} must have shape ({x.shape[0]},); got {y.shape}")
        if _steps_and_width(self.x_train) != _steps_and_width(self.x_test):
            raise ValueError("x_train and x_test must share [time, n_in]")

    @property
    def is_binned(self) -> bool:
        """True when the splits are index lists (:class:`BinnedSet`), not rasters."""
        return isinstance(self.x_train, BinnedSet)

    @property
    def n_in(self) -> int:
        """Input width ``n_in``."""
        return _steps_and_width(self.x_train)[1]

    @property
    def n_steps(self) -> int:
        """Number of time steps ``T``."""
        return _steps_and_width(self.x_train)[0]

    def summary(self) -> dict:
        """Sizes and mean input activity, for logs and reports."""
        return {
            "name": self.name, "n_train": int(len(self.y_train)), "n_test": int(len(self.y_test)),
            "n_steps": self.n_steps, "n_in": self.n_in, "n_classes": self.n_classes,
            "input_activity": _mean_activity(self.x_train),
        }


def _steps_and_width(x) -> tuple[int, int]:
    if isinstance(x, BinnedSet):
        return x.n_steps, int(x.n_in)
    return int(x.shape[1]), int(x.shape[2])


def _mean_activity(x) -> float:
    """Fraction of (sample, step, neuron) entries that hold a spike."""
    if isinstance(x, BinnedSet):
        size = x.counts.size * int(x.n_in)
        return float(x.counts.sum(dtype=np.int64) / size) if size else 0.0
    return float(x.mean()) if x.size else 0.0


def make_tf_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool, seed: int = 0,
                    drop_remainder: bool = False, dtype="float32"):
    """A ``tf.data`` pipeline of ``(x float[B, T, n_in], y int32[B])`` batches.

    Shuffling is seeded (same seed, same batch order in every run) and reshuffled each
    epoch; rasters stay uint8 in memory and are cast per batch.
    """
    import tensorflow as tf

    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size!r}")
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    ds = ds.map(lambda a, b: (tf.cast(a, dtype), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
