"""snnlib: sparse spiking neural network training on TensorFlow 2.21 / Keras 3.

Layers of the package (data flows one way):
``data -> functional / ops -> layers -> training -> benchmark / reporting -> notebooks``.
"""

from snnlib.functional.lif import IMPLS, LIFParams, SNNOutput, init_weights, lif_step, snn_forward
from snnlib.spikes import SparseSpikes

__all__ = ["IMPLS", "LIFParams", "SNNOutput", "SparseSpikes", "init_weights", "lif_step", "snn_forward"]
__version__ = "0.1.0"
