"""The neuron model in pure TensorFlow: the specification every other implementation matches.

:class:`LIFParams` and :func:`init_weights` (NumPy only) are imported at once; the TensorFlow
functions (``lif_step``, ``lif_membrane``, the surrogate) on first use (PEP 562), so that a
process that needs only the constants, a peer benchmark worker, never imports TensorFlow.
"""

from __future__ import annotations

from snnlib.functional.params import LIFParams, init_weights, validate_sizes
from snnlib.runtime import lazy_attributes

_LAZY = {
    "lif_step": "snnlib.functional.lif", "lif_membrane": "snnlib.functional.lif",
    "shift_in_time": "snnlib.functional.lif", "synaptic_input": "snnlib.functional.lif",
    "simulate_neuron": "snnlib.functional.lif",
    "heaviside": "snnlib.functional.surrogate", "spike_fn": "snnlib.functional.surrogate",
    "superspike_derivative": "snnlib.functional.surrogate",
}
__getattr__ = lazy_attributes("snnlib.functional", _LAZY)


__all__ = ["LIFParams", "init_weights", "validate_sizes", *_LAZY]
