"""Differentiable sparse spike ops: compiled C++ kernels with a pure-TF reference.

Public ops (leading axes ``...`` are flattened internally; the kernels see ``[M, ...]``):

* :func:`select_spikes` ``v [..., N] -> (SparseSpikes [..., S], dropped [...])``
* :func:`sparse_matmul` ``(W [in, out], SparseSpikes [..., S]) -> y [..., out]`` (``W^T
  [out, in]`` as a conversion: ``weights_layout="out_in"``)
* :func:`sparse_to_dense` ``SparseSpikes [..., S] -> 0/1 [..., n]``
* :func:`dense_to_sparse` ``0/1 [..., N] -> (SparseSpikes [..., S], dropped [...])`` (data)
* :func:`sparse_lif_layer`: one LIF layer over a whole sequence of sparse spikes (fused)

Each takes ``backend=None`` (the compiled library if it loads, else the reference with one
warning), ``"compiled"`` (raise if unavailable) or ``"reference"``. :func:`backend` says
which one ``None`` resolves to. ``SNNLIB_PURE_PY=1`` forces the reference.

Gradients never travel on the int ids: ``SparseSpikes.values`` (1 for the first
``counts[..., 0]`` slots, else 0) carries the gradient of each slot. Spikes without
``values`` (input data) are not differentiable.

Layout: one module per op with the gradient of its compiled kernel beside the wrapper
(:mod:`.select`, :mod:`.matmul`, :mod:`.to_dense`, :mod:`.layer`), the specification
(:mod:`.reference`), the lazy loader (:mod:`._loader`), the choice of backend
(:mod:`._backend`) and the shared argument checks (:mod:`._checks`). Nothing here imports
from above ``snnlib.ops``.
"""

from snnlib.ops import reference
from snnlib.ops._backend import BACKENDS, backend
from snnlib.ops._checks import MAX_NEURONS, carrier_values
from snnlib.ops.layer import sparse_lif_layer
from snnlib.ops.matmul import WEIGHT_LAYOUTS, sparse_matmul
from snnlib.ops.select import dense_to_sparse, select_spikes
from snnlib.ops.to_dense import sparse_to_dense
from snnlib.spikes import SparseSpikes

__all__ = ["BACKENDS", "MAX_NEURONS", "WEIGHT_LAYOUTS", "SparseSpikes", "backend",
           "carrier_values", "dense_to_sparse", "select_spikes", "sparse_lif_layer",
           "sparse_matmul", "sparse_to_dense"]
