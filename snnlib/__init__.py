"""snnlib: sparse spiking neural network training on TensorFlow 2.21 / Keras 3.

Layers of the package (data flows one way):
``data -> functional / ops -> layers -> training -> benchmark / reporting -> notebooks``.

TensorFlow is imported first through :mod:`snnlib.runtime`, which keeps its start-up noise
off standard error.
"""

from snnlib.runtime import import_tensorflow as _import_tensorflow

_import_tensorflow()

from snnlib.functional.lif import (  # noqa: E402
    IMPLS, LIFParams, SNNOutput, init_weights, lif_step, snn_forward)
from snnlib.spikes import SparseSpikes  # noqa: E402

__all__ = ["IMPLS", "LIFParams", "SNNOutput", "SparseSpikes", "init_weights", "lif_step", "snn_forward"]
__version__ = "0.1.0"
