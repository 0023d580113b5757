"""Checks and shape plumbing shared by the op wrappers (package-private).

Static checks raise ``ValueError`` naming the argument; :func:`flatten` / :func:`unflatten`
merge and restore the leading axes ``...`` around the kernels' ``[M, ...]`` view.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from snnlib.spikes import SparseSpikes

FLOATS = (tf.float32, tf.float64)


MAX_NEURONS = 2**31 - 1
"""The most neurons a layer can have: ids are int32 (every op checks it)."""


def to_tensor(x, name, dtype=None):
    """``tf.convert_to_tensor`` with a ``ValueError`` naming ``name`` for ``None``, ragged
    sequences, object arrays and other values that are no rectangular array."""
    if x is None:
        raise ValueError(f"{name} must be an array or tensor; got None")
    if isinstance(x, np.ndarray) and x.dtype == object:
        raise ValueError(f"{name} must be a numeric array; got a NumPy array of dtype object")
    try:
        return tf.convert_to_tensor(x, dtype=dtype)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} must be a rectangular numeric array or tensor; got "
                         f"{type(x).__name__} ({err})") from None


def float_tensor(x, name, dtype=None):
    x = to_tensor(x, name, dtype)
    if x.dtype not in FLOATS:
        raise ValueError(f"{name} must be float32 or float64; got {x.dtype.name}")
    return x


def check_neurons(n, name):
    """A static neuron count (``None``: unknown) must fit int32 ids."""
    if n is not None and n > MAX_NEURONS:
        raise ValueError(f"{name} = {n} neurons exceed what int32 ids can address "
                         f"(at most {MAX_NEURONS})")


def check_capacity(capacity, name="capacity"):
    """A positive Python int (NumPy integers accepted) that fits int32; ``ValueError``
    otherwise."""
    if isinstance(capacity, (bool, float)) or not hasattr(capacity, "__index__") \
            or int(capacity) < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {capacity!r}")
    check_neurons(int(capacity), name)
    return int(capacity)


def check_number(x, name, allow_none=False):
    if x is None and allow_none:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
        raise ValueError(f"{name} must be a number; got {x!r}")
    return float(x)


def check_finite(x, name):
    """A finite number (a threshold)."""
    x = check_number(x, name)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite; got {x!r}")
    return x


def check_positive(x, name):
    """A finite number > 0 (beta, gain)."""
    x = check_number(x, name)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be finite and > 0; got {x!r}")
    return x


def check_th2(th2, th1):
    """``None`` (or ``-inf``, the same: no second threshold) or a finite number ``<= th1``;
    returns the value the kernels take (``-inf`` for none)."""
    th2 = check_number(th2, "th2", allow_none=True)
    if th2 is None or th2 == -math.inf:
        return -math.inf
    if not (math.isfinite(th2) and th2 <= th1):
        raise ValueError(f"th2 must be None or a finite number <= th1 = {th1}; got {th2!r}")
    return th2


def check_spikes(spikes, op):
    """Static checks of a :class:`SparseSpikes`; returns ``(ids, counts, values or None)``."""
    if not isinstance(spikes, SparseSpikes):
        raise ValueError(f"{op}: spikes must be a SparseSpikes(ids, counts, values); "
                         f"got {type(spikes).__name__}")
    ids = to_tensor(spikes.ids, f"{op}: spikes.ids")
    counts = to_tensor(spikes.counts, f"{op}: spikes.counts")
    if ids.dtype != tf.int32:
        raise ValueError(f"{op}: spikes.ids must be int32; got {ids.dtype.name}")
    if counts.dtype != tf.int32:
        raise ValueError(f"{op}: spikes.counts must be int32; got {counts.dtype.name}")
    if ids.shape.rank is None or ids.shape.rank < 2:
        raise ValueError(f"{op}: spikes.ids must have rank >= 2 [..., S]; got shape {ids.shape}")
    if counts.shape.rank != ids.shape.rank or counts.shape[-1] not in (None, 2):
        raise ValueError(f"{op}: spikes.counts must have shape [..., 2] with the leading axes of "
                         f"spikes.ids {ids.shape}; got shape {counts.shape}")
    if not ids.shape[:-1].is_compatible_with(counts.shape[:-1]):
        raise ValueError(f"{op}: spikes.ids {ids.shape} and spikes.counts {counts.shape} must "
                         "have the same batch size (leading axes)")
    values = spikes.values
    if values is not None:
        values = float_tensor(values, f"{op}: spikes.values")
        if not values.shape.is_compatible_with(ids.shape):
            raise ValueError(f"{op}: spikes.values must have the shape of spikes.ids {ids.shape}; "
                             f"got {values.shape}")
    return ids, counts, values


def shape_of(x):
    """``tf.shape`` as int64: an axis of ``2**31 - 1`` does not fit int32 shapes."""
    return tf.shape(x, out_type=tf.int64)


def flatten(x, keep: int):
    """Merge all but the last ``keep`` axes (no-op for rank ``keep + 1``)."""
    if x.shape.rank == keep + 1:
        return x
    return tf.reshape(x, tf.concat([[-1], shape_of(x)[x.shape.rank - keep:]], axis=0))


def unflatten(x, lead_shape, lead_static, rank_in):
    """Restore leading axes ``lead_shape`` on a ``[M, ...]`` result."""
    if rank_in == 2:
        return x
    tail = shape_of(x)[1:]
    out = tf.reshape(x, tf.concat([lead_shape, tail], axis=0))
    out.set_shape(lead_static.concatenate(x.shape[1:]))
    return out


def carrier_values(counts, capacity: int, dtype=tf.float32):
    """Non-differentiable ``values[..., i] = [i < counts[..., 0]]`` for spikes without values."""
    counts = tf.convert_to_tensor(counts)
    slots = tf.range(capacity, dtype=tf.int32)
    return tf.stop_gradient(tf.cast(slots < counts[..., 0:1], dtype))
