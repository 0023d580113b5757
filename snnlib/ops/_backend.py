"""Which implementation runs an op: the compiled kernels or the pure-TF reference."""

from __future__ import annotations

import tensorflow as tf

from snnlib.ops import _loader, reference


BACKENDS = ("compiled", "reference")


def backend() -> str:
    """``"compiled"`` when the C++ library is used by default, else ``"reference"``."""
    return _loader.backend()


class CompiledOps:
    """The compiled kernels behind the signatures of :mod:`snnlib.ops.reference`."""

    def __init__(self, module):
        self._m = module

    def select_spikes(self, v, th1, th2, beta, capacity):
        d = v.dtype
        return tuple(self._m.snnlib_select_spikes(
            v=v, th1=tf.constant(th1, d), th2=tf.constant(th2, d), beta=tf.constant(beta, d),
            capacity=capacity))

    def sparse_matmul(self, weights, ids, counts, values, layout="in_out"):
        if layout == "in_out":
            return self._m.snnlib_sparse_matmul_t(weights_t=weights, ids=ids, counts=counts,
                                                  values=values)
        y, _columns, _weights_t = self._m.snnlib_sparse_matmul(
            weights=weights, ids=ids, counts=counts, values=values)
        return y

    def sparse_to_dense(self, ids, counts, values, n):
        return self._m.snnlib_sparse_to_dense(ids=ids, counts=counts, values=values, n=n)


def ops_for(which):
    if which is None:
        module = _loader.library()
        return reference if module is None else CompiledOps(module)
    if which == "compiled":
        return CompiledOps(_loader.require_library())
    if which == "reference":
        return reference
    raise ValueError(f"backend must be None, 'compiled' or 'reference'; got {which!r}")
