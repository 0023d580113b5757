"""Index lists back to dense 0/1 spikes (:func:`sparse_to_dense`), and the compiled op's
gradient."""

from __future__ import annotations

import tensorflow as tf

from snnlib.ops import _loader
from snnlib.ops._backend import ops_for
from snnlib.ops._checks import (FLOATS, carrier_values, check_capacity, check_spikes, flatten,
                                shape_of, unflatten)
from snnlib.spikes import SparseSpikes


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
    n = check_capacity(n, "n")
    ids, counts, values = check_spikes(spikes, "sparse_to_dense")
    rank = ids.shape.rank
    lead, lead_static = shape_of(ids)[:-1], ids.shape[:-1]
    ids, counts = flatten(ids, 1), flatten(counts, 1)
    if values is None:
        dtype = tf.as_dtype(dtype or tf.float32)
        if dtype not in FLOATS:
            raise ValueError(f"dtype must be float32 or float64; got {dtype.name}")
        values = carrier_values(counts, tf.shape(ids)[1] if ids.shape[-1] is None
                                else ids.shape[-1], dtype)
    else:
        values = flatten(values, 1)
    dense = ops_for(backend).sparse_to_dense(ids, counts, values, n)
    return unflatten(dense, lead, lead_static, rank)


@tf.RegisterGradient("SnnlibSparseToDense")
def _sparse_to_dense_grad(op, grad_dense):
    module = _loader.require_library()
    ids, counts, _ = op.inputs
    grad_values = module.snnlib_sparse_to_dense_grad(ids=ids, counts=counts,
                                                     grad_dense=grad_dense)
    return [None, None, grad_values]
