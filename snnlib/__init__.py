"""snnlib: sparse spiking neural network training on TensorFlow 2.21 / Keras 3.

Layers of the package (data flows one way; ``tests/test_layering.py`` enforces it)::

    runtime, atomic, spikes, figure          the bottom: utilities, the sparse format
    functional | ops | data                  neuron model, sparse ops, datasets
    network                                  snn_forward: the one place using functional + ops
    learning                                 BPTT helpers, e-prop, DECOLLE
    layers                                   Keras layers and the classifier
    train                                    config, presets, the loop, checkpoints
    interop                                  NIR export and import
    bench                                    benchmark harness, op benchmark, peers
    plotting, reporting, __main__            notebooks' helpers and the command line

TensorFlow is imported first through :mod:`snnlib.runtime`, which keeps its start-up noise
off standard error; the public names below are resolved on first use (PEP 562). A peer
benchmark worker (environment ``SNNLIB_PEER_WORKER=1``, set only by the benchmark runner for
that subprocess) skips the TensorFlow import: it must not load TensorFlow next to torch.
"""

from __future__ import annotations

from snnlib.runtime import import_tensorflow as _import_tensorflow
from snnlib.runtime import lazy_attributes as _lazy_attributes
from snnlib.runtime import tensorflow_wanted as _tensorflow_wanted

if _tensorflow_wanted():
    _import_tensorflow()

_PUBLIC = {
    "LIFParams": "snnlib.functional.params", "init_weights": "snnlib.functional.params",
    "lif_step": "snnlib.functional.lif", "IMPLS": "snnlib.network.output",
    "SNNOutput": "snnlib.network.output", "snn_forward": "snnlib.network.forward",
    "SparseSpikes": "snnlib.spikes", "load_run": "snnlib.train.run",
}
__getattr__ = _lazy_attributes("snnlib", _PUBLIC)


def __dir__():
    return sorted([*globals(), *_PUBLIC])


__all__ = ["IMPLS", "LIFParams", "SNNOutput", "SparseSpikes", "init_weights", "lif_step",
           "load_run", "snn_forward"]
__version__ = "0.1.0"
