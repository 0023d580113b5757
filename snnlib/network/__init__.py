"""The LIF network and its three implementations (DESIGN.md section 5).

``snn_forward(weights, inputs, params, impl=...)`` runs ``dense`` (:mod:`.dense`),
``sparse_ops`` or ``sparse_layer`` (:mod:`.sparse`). This is the one package that imports both
the neuron model (:mod:`snnlib.functional`) and the sparse ops (:mod:`snnlib.ops`).
:mod:`.sparsity` measures what the sparse implementations depend on: activity, capacity,
storage, and what a too-small capacity does to accuracy and gradients.
"""

from snnlib.network.dense import dense_forward
from snnlib.network.forward import snn_forward
from snnlib.network.output import IMPLS, SNNOutput, validate_network
from snnlib.network.sparse import validate_sparse_sizes
from snnlib.network.sparsity import (accuracy_conclusions, activity_by_layer,
                                     backward_storage_bytes, capacity_for_quantile,
                                     capacity_sweep, compare_implementations, gradient_cosine,
                                     storage_bytes)

__all__ = ["IMPLS", "SNNOutput", "accuracy_conclusions", "activity_by_layer",
           "backward_storage_bytes", "capacity_for_quantile", "capacity_sweep",
           "compare_implementations", "dense_forward", "gradient_cosine", "snn_forward",
           "storage_bytes", "validate_network", "validate_sparse_sizes"]
