"""Model inputs of a batch of samples: the one place where stored data becomes input.

A :class:`Feed` answers "the inputs of samples ``index`` in epoch ``e``" in one of two forms:

* ``"dense"``: float32 0/1 rasters ``[B, T, N]`` (the dense implementation), built per batch;
* ``"sparse"``: index lists ``(ids int32[B, T, S], counts int32[B, T, 2])`` of capacity ``S``
  (the sparse implementations), built per batch straight from the stored index lists, so no
  dense ``[n, T, N]`` raster exists and the training step converts nothing.

Two stores: rasters in memory (:class:`ArrayFeed`, the synthetic sets) and the binned form of
the neuromorphic loaders (:class:`BinnedFeed`, optionally augmented per epoch with tonic's
transforms, :mod:`snnlib.data.augment`). NumPy only; the training loop wraps
:meth:`Feed.inputs` in ``tf.numpy_function``.
"""

from __future__ import annotations

import numpy as np

from snnlib.data.augment import Augmentation, augment_sample
from snnlib.data.base import SpikeDataset
from snnlib.data.events import BinnedSet, binned_to_dense, binned_to_sparse
from snnlib.spikes import dense_to_sparse_np

FORMS = ("dense", "sparse")


class Feed:
    """Inputs of batches of one split. Subclasses implement :meth:`dense` and :meth:`sparse`.

    Attributes:
        n_samples, n_steps, n_in: the split's ``n``, ``T`` and ``N``.
    """

    n_samples: int
    n_steps: int
    n_in: int

    def dense(self, index: np.ndarray, epoch: int | None) -> np.ndarray:
        """``float32[B, T, N]`` rasters of the samples ``index``."""
        raise NotImplementedError

    def sparse(self, index: np.ndarray, epoch: int | None,
               capacity: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ids int32[B, T, S], counts int32[B, T, 2])`` with ``S = capacity``; a step with
        more than ``S`` spikes keeps a seeded subset (see
        :func:`snnlib.data.events.binned_to_sparse`)."""
        raise NotImplementedError

    def inputs(self, index, epoch: int | None, form: str, capacity: int | None = None):
        """The inputs of ``index`` in ``form`` (``"dense"`` or ``"sparse"``, which needs
        ``capacity``); ``epoch`` is ``None`` for evaluation (never augmented)."""
        index = np.asarray(index, np.int64)
        if form == "dense":
            return self.dense(index, epoch)
        if form == "sparse":
            if capacity is None or int(capacity) < 1:
                raise ValueError(f"form='sparse' needs a capacity >= 1; got {capacity!r}")
            return self.sparse(index, epoch, int(capacity))
        raise ValueError(f"form must be one of {FORMS}; got {form!r}")

    def max_count(self) -> int:
        """The most spikes of any (sample, step): the input capacity that drops nothing."""
        raise NotImplementedError


class ArrayFeed(Feed):
    """Batches of uint8 rasters ``x [n, T, N]`` held in memory (never augmented)."""

    def __init__(self, x: np.ndarray):
        self.x = x
        self.n_samples, self.n_steps, self.n_in = (int(s) for s in x.shape)

    def dense(self, index, epoch):
        return self.x[index].astype(np.float32)

    def sparse(self, index, epoch, capacity):
        spikes, _ = dense_to_sparse_np(self.x[index], capacity)
        return spikes.ids.astype(np.int32), spikes.counts.astype(np.int32)

    def max_count(self) -> int:
        return int(self.x.sum(axis=-1, dtype=np.int64).max()) if self.x.size else 0


class BinnedFeed(Feed):
    """Batches from the compact binned form, augmented per training epoch when ``augment`` is
    set (sample ``i`` of epoch ``e`` with the seed ``[seed, e, i]``).

    Args:
        binned: the split.
        sensor_size: ``(W, H, P)`` that the ids address (needed by the augmentation).
        augment: an :class:`Augmentation` (or a dict of its fields), or ``None``.
        seed: seeds the augmentation and the subset kept when a step exceeds the capacity.
    """

    def __init__(self, binned: BinnedSet, sensor_size=None, augment=None, seed: int = 0):
        self.binned = binned
        self.sensor_size = None if sensor_size is None else tuple(int(s) for s in sensor_size)
        self.augment = Augmentation.from_value(augment)
        if self.augment is not None and self.sensor_size is None:
            raise ValueError("augment needs the sensor_size (W, H, P) of the binned ids")
        self.seed = int(seed)
        self.n_samples, self.n_steps, self.n_in = len(binned), binned.n_steps, int(binned.n_in)
        self._offsets = binned.offsets()

    def _binned(self, index, epoch) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, counts int32[B, T])`` of ``index``, augmented in a training epoch."""
        off, ids, counts = self._offsets, self.binned.ids, self.binned.counts
        if self.augment is None or epoch is None:
            return self.binned.gather(index, off)
        out_ids, out_counts = [], np.empty((len(index), self.n_steps), np.int32)
        for row, i in enumerate(index):
            sample_ids, out_counts[row] = augment_sample(
                ids[off[i]:off[i + 1]], counts[i], self.sensor_size, self.binned.dt,
                self.augment, [self.seed, epoch, i])
            out_ids.append(sample_ids)
        return (np.concatenate(out_ids) if out_ids else ids[:0]), out_counts

    def dense(self, index, epoch):
        ids, counts = self._binned(index, epoch)
        return binned_to_dense(ids, counts, self.n_in).astype(np.float32)

    def sparse(self, index, epoch, capacity):
        ids, counts = self._binned(index, epoch)
        # Evaluation (epoch None) and each training epoch draw from their own stream.
        seed = [self.seed, 0 if epoch is None else int(epoch) + 1,
                int(index[0]) if len(index) else 0]
        spikes, _ = binned_to_sparse(ids, counts, capacity,
                                     seed=np.random.SeedSequence(seed).generate_state(1)[0])
        return spikes.ids, spikes.counts

    def max_count(self) -> int:
        return int(self.binned.counts.max()) if self.binned.counts.size else 0


def make_feeds(dataset: SpikeDataset, *, augment=None, seed: int = 0) -> tuple[Feed, Feed]:
    """``(train feed, test feed)`` of a dataset; ``augment`` applies to the training split of a
    binned dataset only (an error for rasters, which carry no events to transform)."""
    if not dataset.is_binned:
        if Augmentation.from_value(augment) is not None:
            raise ValueError(f"augment needs a neuromorphic dataset loaded as index lists; "
                             f"{dataset.name!r} holds rasters")
        return ArrayFeed(dataset.x_train), ArrayFeed(dataset.x_test)
    sensor = dataset.info.get("sensor_size")
    return (BinnedFeed(dataset.x_train, sensor, augment, seed),
            BinnedFeed(dataset.x_test, sensor, None, seed))
