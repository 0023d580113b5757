"""Pure-TensorFlow neuron model: the specification every other implementation matches."""

from snnlib.functional.lif import (
    IMPLS,
    LIFParams,
    SNNOutput,
    init_weights,
    lif_membrane,
    lif_step,
    snn_forward,
)
from snnlib.functional.surrogate import heaviside, spike_fn, superspike_derivative

__all__ = [
    "IMPLS", "LIFParams", "SNNOutput", "heaviside", "init_weights", "lif_membrane", "lif_step",
    "snn_forward", "spike_fn", "superspike_derivative",
]
