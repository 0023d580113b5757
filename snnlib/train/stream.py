"""The ``tf.data`` streams of a run: seeded training batches and evaluation batches, built per
batch by a :class:`snnlib.data.feed.Feed` in the form the implementation takes.

* ``impl="dense"``: ``x float32[B, T, N]``, rasters built per batch;
* the sparse implementations: ``x = {"ids": int32[B, T, S_in], "counts": int32[B, T, 2]}``,
  the fields of a :class:`~snnlib.spikes.SparseSpikes` (a dict, because ``tf.distribute``
  cannot split a named tuple with an empty field), built per batch from the stored index
  lists; the training step takes them as they are and converts nothing.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from snnlib.data.feed import Feed


def input_form(impl: str) -> str:
    """``"dense"`` for the dense implementation, ``"sparse"`` for the others."""
    return "dense" if impl == "dense" else "sparse"


def input_capacity(feeds, requested: int | None, n_in: int) -> int:
    """``S_in`` of the sparse inputs: ``requested`` if given, else the most spikes of any
    (sample, step) of the ``feeds`` (nothing dropped), at least 1 and at most ``n_in``."""
    if requested is not None:
        return int(requested)
    return int(min(max(max(f.max_count() for f in feeds), 1), n_in))


def _batches(feed: Feed, y: np.ndarray, index_batches: tf.data.Dataset, *, form: str,
             capacity: int | None) -> tf.data.Dataset:
    """Map ``(index int64[B], epoch int64)`` (epoch -1: evaluation) to ``(x, y[index])``, the
    inputs built by ``feed.inputs``."""
    labels = tf.constant(np.asarray(y, np.int32))
    if form == "dense":
        def make(index, epoch):
            ep = None if int(epoch) < 0 else int(epoch)
            return feed.inputs(index, ep, "dense").astype(np.float32)

        def to_inputs(index, epoch):
            x = tf.numpy_function(make, [index, epoch], tf.float32, stateful=False)
            x.set_shape([None, feed.n_steps, feed.n_in])
            return x, tf.gather(labels, index)
    else:
        def make(index, epoch):
            ep = None if int(epoch) < 0 else int(epoch)
            ids, counts = feed.inputs(index, ep, "sparse", capacity)
            return ids.astype(np.int32), counts.astype(np.int32)

        def to_inputs(index, epoch):
            ids, counts = tf.numpy_function(make, [index, epoch], [tf.int32, tf.int32],
                                            stateful=False)
            ids.set_shape([None, feed.n_steps, capacity])
            counts.set_shape([None, feed.n_steps, 2])
            return {"ids": ids, "counts": counts}, tf.gather(labels, index)
    return index_batches.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def training_stream(feed: Feed, y, batch_size: int, *, seed: int, epochs: int, form: str = "dense",
                    capacity: int | None = None, drop_remainder: bool = False,
                    first_step: int = 0) -> tf.data.Dataset:
    """The training batches ``(x, y int32[B])`` of a whole run as one stream, from global step
    ``first_step`` on.

    Epoch ``e`` visits the samples in the order ``np.random.default_rng([seed, e])
    .permutation(n)``, in batches of ``batch_size`` (the last one partial unless
    ``drop_remainder``), and the feed builds (and augments) each batch as a function of
    ``(samples, e)``. The stream is therefore a pure function of ``seed``: it does not depend
    on how often a dataset was iterated before (a reshuffling ``tf.data`` shuffle does, and
    Keras peeks at datasets under ``tf.distribute``), so the ``k``-th batch is the same in an
    uninterrupted run, a resumed run and a distributed run. Skipping costs only indices.
    """
    y = np.asarray(y, np.int32)
    n = len(y)
    perms = np.stack([np.random.default_rng([seed, e]).permutation(n) for e in range(epochs)])
    epoch_ids = tf.data.Dataset.range(int(epochs))
    index = tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices(perms.astype(np.int64)),
                                epoch_ids).flat_map(
        lambda order, e: tf.data.Dataset.zip(
            tf.data.Dataset.from_tensor_slices(order).batch(int(batch_size),
                                                            drop_remainder=drop_remainder),
            tf.data.Dataset.from_tensors(e).repeat()))
    index = index.skip(int(first_step))
    return _batches(feed, y, index, form=form, capacity=capacity).prefetch(tf.data.AUTOTUNE)


def evaluation_stream(feed: Feed, y, batch_size: int, *, form: str = "dense",
                      capacity: int | None = None) -> tf.data.Dataset:
    """The batches ``(x, y int32[B])`` of a split in order, never augmented."""
    y = np.asarray(y, np.int32)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size!r}")
    index = tf.data.Dataset.range(len(y)).batch(int(batch_size))
    index = index.map(lambda idx: (idx, tf.constant(-1, tf.int64)))
    return _batches(feed, y, index, form=form, capacity=capacity).prefetch(tf.data.AUTOTUNE)
