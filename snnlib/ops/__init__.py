"""Differentiable sparse spike ops: compiled C++ kernels with a pure-TF reference.

Public ops (leading axes ``...`` are flattened internally; the kernels see ``[M, ...]``):

* :func:`select_spikes` ``v [..., N] -> (SparseSpikes [..., S], dropped [...])``
* :func:`sparse_matmul` ``(W [out, in] or W^T [in, out], SparseSpikes [..., S]) -> y [..., out]``
* :func:`sparse_to_dense` ``SparseSpikes [..., S] -> 0/1 [..., n]``
* :func:`dense_to_sparse` ``0/1 [..., N] -> (SparseSpikes [..., S], dropped [...])`` (data)

Each takes ``backend=None`` (the compiled library if it loads, else the reference with one
warning), ``"compiled"`` (raise if unavailable) or ``"reference"``. :func:`backend` says
which one ``None`` resolves to. ``SNNLIB_PURE_PY=1`` forces the reference.

Gradients never travel on the int ids: ``SparseSpikes.values`` (1 for the first
``counts[..., 0]`` slots, else 0) carries the gradient of each slot. Spikes without
``values`` (input data) are not differentiable.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from snnlib.ops import _loader, reference
from snnlib.spikes import SparseSpikes

__all__ = ["backend", "dense_to_sparse", "select_spikes", "sparse_matmul", "sparse_to_dense",
           "SparseSpikes", "BACKENDS"]

BACKENDS = ("compiled", "reference")
_FLOATS = (tf.float32, tf.float64)
MAX_NEURONS = 2**31 - 1
"""The most neurons a layer can have: ids are int32 (every op checks it)."""


def backend() -> str:
    """``"compiled"`` when the C++ library is used by default, else ``"reference"``."""
    return _loader.backend()


class _CompiledOps:
    """The compiled kernels behind the signatures of :mod:`snnlib.ops.reference`."""

    def __init__(self, module):
        self._m = module

    def select_spikes(self, v, th1, th2, beta, capacity):
        d = v.dtype
        return tuple(self._m.snnlib_select_spikes(
            v=v, th1=tf.constant(th1, d), th2=tf.constant(th2, d), beta=tf.constant(beta, d),
            capacity=capacity))

    def sparse_matmul(self, weights, ids, counts, values, layout="out_in"):
        if layout == "in_out":
            return self._m.snnlib_sparse_matmul_t(weights_t=weights, ids=ids, counts=counts,
                                                  values=values)
        y, _columns, _weights_t = self._m.snnlib_sparse_matmul(
            weights=weights, ids=ids, counts=counts, values=values)
        return y

    def sparse_to_dense(self, ids, counts, values, n):
        return self._m.snnlib_sparse_to_dense(ids=ids, counts=counts, values=values, n=n)


def _ops(which):
    if which is None:
        module = _loader.library()
        return reference if module is None else _CompiledOps(module)
    if which == "compiled":
        return _CompiledOps(_loader.require_library())
    if which == "reference":
        return reference
    raise ValueError(f"backend must be None, 'compiled' or 'reference'; got {which!r}")


# --- validation helpers -------------------------------------------------------------------

def _to_tensor(x, name, dtype=None):
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


def _float_tensor(x, name, dtype=None):
    x = _to_tensor(x, name, dtype)
    if x.dtype not in _FLOATS:
        raise ValueError(f"{name} must be float32 or float64; got {x.dtype.name}")
    return x


def _neurons(n, name):
    """A static neuron count (``None``: unknown) must fit int32 ids."""
    if n is not None and n > MAX_NEURONS:
        raise ValueError(f"{name} = {n} neurons exceed what int32 ids can address "
                         f"(at most {MAX_NEURONS})")


def _capacity(capacity, name="capacity"):
    """A positive Python int (NumPy integers accepted) that fits int32; ``ValueError``
    otherwise."""
    if isinstance(capacity, (bool, float)) or not hasattr(capacity, "__index__") \
            or int(capacity) < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {capacity!r}")
    _neurons(int(capacity), name)
    return int(capacity)


def _number(x, name, allow_none=False):
    if x is None and allow_none:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
        raise ValueError(f"{name} must be a number; got {x!r}")
    return float(x)


def _finite(x, name):
    """A finite number (a threshold)."""
    x = _number(x, name)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite; got {x!r}")
    return x


def _positive(x, name):
    """A finite number > 0 (beta, gain)."""
    x = _number(x, name)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be finite and > 0; got {x!r}")
    return x


def _th2(th2, th1):
    """``None`` (or ``-inf``, the same: no second threshold) or a finite number ``<= th1``;
    returns the value the kernels take (``-inf`` for none)."""
    th2 = _number(th2, "th2", allow_none=True)
    if th2 is None or th2 == -math.inf:
        return -math.inf
    if not (math.isfinite(th2) and th2 <= th1):
        raise ValueError(f"th2 must be None or a finite number <= th1 = {th1}; got {th2!r}")
    return th2


def _check_spikes(spikes, op):
    """Static checks of a :class:`SparseSpikes`; returns ``(ids, counts, values or None)``."""
    if not isinstance(spikes, SparseSpikes):
        raise ValueError(f"{op}: spikes must be a SparseSpikes(ids, counts, values); "
                         f"got {type(spikes).__name__}")
    ids = _to_tensor(spikes.ids, f"{op}: spikes.ids")
    counts = _to_tensor(spikes.counts, f"{op}: spikes.counts")
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
        values = _float_tensor(values, f"{op}: spikes.values")
        if not values.shape.is_compatible_with(ids.shape):
            raise ValueError(f"{op}: spikes.values must have the shape of spikes.ids {ids.shape}; "
                             f"got {values.shape}")
    return ids, counts, values


def _shape(x):
    """``tf.shape`` as int64: an axis of ``2**31 - 1`` does not fit int32 shapes."""
    return tf.shape(x, out_type=tf.int64)


def _flatten(x, keep: int):
    """Merge all but the last ``keep`` axes (no-op for rank ``keep + 1``)."""
    if x.shape.rank == keep + 1:
        return x
    return tf.reshape(x, tf.concat([[-1], _shape(x)[x.shape.rank - keep:]], axis=0))


def _unflatten(x, lead_shape, lead_static, rank_in):
    """Restore leading axes ``lead_shape`` on a ``[M, ...]`` result."""
    if rank_in == 2:
        return x
    tail = _shape(x)[1:]
    out = tf.reshape(x, tf.concat([lead_shape, tail], axis=0))
    out.set_shape(lead_static.concatenate(x.shape[1:]))
    return out


def carrier_values(counts, capacity: int, dtype=tf.float32):
    """Non-differentiable ``values[..., i] = [i < counts[..., 0]]`` for spikes without values."""
    counts = tf.convert_to_tensor(counts)
    slots = tf.range(capacity, dtype=tf.int32)
    return tf.stop_gradient(tf.cast(slots < counts[..., 0:1], dtype))


# --- public ops ---------------------------------------------------------------------------

def select_spikes(v, *, th1: float, th2: float | None = None, capacity: int, beta: float = 10.0,
                  backend: str | None = None):
    """Sparse spikes of membrane potentials: spikes first, then gradient candidates.

    Per sample (row of ``v``), with ``S = capacity``::

        spikes     = {j : v[j] >= th1}          ascending j
        candidates = {j : th2 <= v[j] < th1}    ascending j; th2 = None: every non-spiking j
        ids        = (spikes ++ candidates)[:S], padding id 0
        counts     = (min(|spikes|, S), min(|spikes| + |candidates|, S))
        values[i]  = [i < counts[0]]
        dropped    = |spikes| - counts[0]       spikes that did not fit (candidates not counted)

    The gradient w.r.t. ``v`` (through ``values``) is the SuperSpike surrogate on listed
    neurons: ``dv[ids[i]] = g_values[i] / (beta |v[ids[i]] - th1| + 1)^2`` for
    ``i < counts[1]``; all other entries are 0.

    Args:
        v: float32/float64 ``[..., N]`` (at least one leading axis), ``N <= 2**31 - 1``.
        th1: spike threshold, finite.
        th2: second threshold, finite and ``<= th1`` (``None``: every non-spiking neuron is a
            candidate).
        capacity: ``S``, ``1 <= S <= N``.
        beta: surrogate steepness, finite and ``> 0``.
        backend: ``None``, ``"compiled"`` or ``"reference"``.

    Returns:
        ``(SparseSpikes(ids int32[..., S], counts int32[..., 2], values float[..., S]),
        dropped int32[...])``.
    """
    v = _float_tensor(v, "v")
    if v.shape.rank is None or v.shape.rank < 2:
        raise ValueError(f"v must have rank >= 2 [..., N]; got shape {v.shape}")
    capacity = _capacity(capacity)
    n = v.shape[-1]
    _neurons(n, "N (v.shape[-1])")
    if n is not None and capacity > n:
        raise ValueError(f"capacity must be <= N = {n} (the number of neurons); got {capacity}")
    th1 = _finite(th1, "th1")
    th2 = _th2(th2, th1)
    beta = _positive(beta, "beta")
    rank = v.shape.rank
    lead, lead_static = _shape(v)[:-1], v.shape[:-1]
    ids, counts, values, dropped = _ops(backend).select_spikes(
        _flatten(v, 1), th1, th2, beta, capacity)
    if rank != 2:
        ids, counts, values = (_unflatten(x, lead, lead_static, rank) for x in (ids, counts, values))
        dropped = tf.reshape(dropped, lead)
        dropped.set_shape(lead_static)
    return SparseSpikes(ids, counts, values), dropped


WEIGHT_LAYOUTS = ("out_in", "in_out")


def sparse_matmul(weights, spikes: SparseSpikes, *, weights_layout: str = "out_in",
                  backend: str | None = None):
    """Dense weights times binary sparse spikes: ``y[..., n] = sum_{i < counts[..., 0]}
    W[n, ids[..., i]]``.

    Gradients: ``dW[n, ids[i]] += g[n]`` over real spikes (``i < counts[0]``);
    ``g_values[i] = sum_n g[n] W[n, ids[i]]`` for ``i < counts[1]`` (candidates included,
    0 beyond). Spikes without ``values`` get no gradient.

    Args:
        weights: float ``W [out, in]`` (``weights_layout="out_in"``, the layout of every
            network here; its gradient is a dense ``[out, in]`` tensor), or ``W^T [in, out]``
            (``"in_out"``; its gradient is a ``tf.IndexedSlices`` holding only the rows of the
            input neurons that spiked, so neither the weights nor a dense gradient is streamed
            whole: the fast layout at low activity).
        spikes: :class:`SparseSpikes` with ``ids [..., S]``, ids in ``[0, in)``.
        weights_layout: ``"out_in"`` or ``"in_out"``, see ``weights``.
        backend: ``None``, ``"compiled"`` or ``"reference"``.

    Returns:
        float ``[..., out]`` in the dtype of ``weights``.
    """
    if weights_layout not in WEIGHT_LAYOUTS:
        raise ValueError(f"weights_layout must be one of {WEIGHT_LAYOUTS}; got {weights_layout!r}")
    weights = _float_tensor(weights, "weights")
    if weights.shape.rank != 2:
        shape = "(out, in)" if weights_layout == "out_in" else "(in, out)"
        raise ValueError(f"weights must be rank 2 {shape}; got shape {weights.shape}")
    in_axis = 1 if weights_layout == "out_in" else 0
    _neurons(weights.shape[in_axis], f"in (weights.shape[{in_axis}])")
    ids, counts, values = _check_spikes(spikes, "sparse_matmul")
    if values is not None and values.dtype != weights.dtype:
        raise ValueError(f"spikes.values ({values.dtype.name}) must have the dtype of weights "
                         f"({weights.dtype.name})")
    rank = ids.shape.rank
    lead, lead_static = _shape(ids)[:-1], ids.shape[:-1]
    ids, counts = _flatten(ids, 1), _flatten(counts, 1)
    if values is None:
        values = carrier_values(counts, tf.shape(ids)[1] if ids.shape[-1] is None
                                else ids.shape[-1], weights.dtype)
    else:
        values = _flatten(values, 1)
    y = _ops(backend).sparse_matmul(weights, ids, counts, values, weights_layout)
    return _unflatten(y, lead, lead_static, rank)


def sparse_to_dense(spikes: SparseSpikes, n: int, *, dtype=None, backend: str | None = None):
    """Dense 0/1 spikes: ``dense[..., ids[..., i]] = 1`` for ``i < counts[..., 0]``.

    Gradient (to ``spikes.values``): ``g_values[i] = g_dense[ids[i]]`` for ``i < counts[1]``,
    else 0.

    Args:
        spikes: :class:`SparseSpikes` ``[..., S]`` with ids in ``[0, n)``.
        n: number of neurons, ``1 <= n <= 2**31 - 1``.
        dtype: output dtype when ``spikes.values`` is ``None`` (default float32); otherwise
            the dtype of ``values``.
        backend: ``None``, ``"compiled"`` or ``"reference"``.

    Returns:
        float ``[..., n]``.
    """
    n = _capacity(n, "n")
    ids, counts, values = _check_spikes(spikes, "sparse_to_dense")
    rank = ids.shape.rank
    lead, lead_static = _shape(ids)[:-1], ids.shape[:-1]
    ids, counts = _flatten(ids, 1), _flatten(counts, 1)
    if values is None:
        dtype = tf.as_dtype(dtype or tf.float32)
        if dtype not in _FLOATS:
            raise ValueError(f"dtype must be float32 or float64; got {dtype.name}")
        values = carrier_values(counts, tf.shape(ids)[1] if ids.shape[-1] is None
                                else ids.shape[-1], dtype)
    else:
        values = _flatten(values, 1)
    dense = _ops(backend).sparse_to_dense(ids, counts, values, n)
    return _unflatten(dense, lead, lead_static, rank)


def dense_to_sparse(dense, capacity: int, *, backend: str | None = None):
    """Input data to sparse spikes: every nonzero entry is a spike; no candidates.

    Active neurons are listed in ascending index; beyond ``capacity`` the lowest-index ones
    are kept and the rest counted in ``dropped``. Not differentiable (``values`` is ``None``).

    Args:
        dense: ``[..., N]`` (at least one leading axis) of a numeric or bool dtype; nonzero
            means a spike. ``N <= 2**31 - 1``.
        capacity: ``S``, ``1 <= S <= N``.

    Returns:
        ``(SparseSpikes(ids int32[..., S], counts int32[..., 2], values=None), dropped int32[...])``.
    """
    dense = _to_tensor(dense, "dense")
    dt = dense.dtype
    if not (dt.is_bool or dt.is_integer or dt.is_floating or dt.is_complex):
        raise ValueError(f"dense must have a numeric or bool dtype; got {dt.name}")
    if dense.shape.rank is None or dense.shape.rank < 2:
        raise ValueError(f"dense must have rank >= 2 [..., N]; got shape {dense.shape}")
    capacity = _capacity(capacity)
    n = dense.shape[-1]
    _neurons(n, "N (dense.shape[-1])")
    if n is not None and capacity > n:
        raise ValueError(f"capacity must be <= N = dense.shape[-1] = {n}; got {capacity}")
    if n is None:  # the same checks at run time, naming dense
        n_t = tf.shape(dense, out_type=tf.int64)[-1]
        checks = [tf.debugging.assert_less_equal(
            n_t, tf.constant(MAX_NEURONS, tf.int64),
            message=f"dense_to_sparse: N = dense.shape[-1] must be <= {MAX_NEURONS} (int32 ids)")]
        with tf.control_dependencies(checks):
            checks.append(tf.debugging.assert_less_equal(
                tf.constant(capacity, tf.int64), n_t,
                message="dense_to_sparse: capacity must be <= N = dense.shape[-1]"))
        with tf.control_dependencies(checks):
            dense = tf.identity(dense)
    active = tf.cast(tf.not_equal(dense, tf.zeros([], dense.dtype)), tf.float32)
    spikes, dropped = select_spikes(tf.stop_gradient(active), th1=0.5, th2=0.5,
                                    capacity=capacity, backend=backend)
    return SparseSpikes(spikes.ids, spikes.counts), dropped
