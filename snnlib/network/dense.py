"""The ``dense`` implementation: plain TensorFlow over dense 0/1 spike tensors.

Per layer over the whole time-major sequence (DESIGN.md section 5): the synaptic input of all
``T`` steps is one matmul (no recurrent weights), then the membrane recursion
(:func:`snnlib.functional.lif_membrane`, whose gradient is a reverse-time filter), then the
spike function with the layer's ``th2`` mask. Layer ``l >= 1`` reads layer ``l-1``'s spikes
of step ``t-1`` when ``layer_delay`` is on: a shift of the input sequence.
"""

from __future__ import annotations

from snnlib.functional.conv import ConvKernel
from snnlib.functional.lif import lif_membrane, shift_in_time, synaptic_input
from snnlib.functional.params import LIFParams
from snnlib.functional.surrogate import spike_fn
from snnlib.network.output import SNNOutput


def dense_forward(weights, x, params: LIFParams, *, return_potentials: bool = False) -> SNNOutput:
    """The ``dense`` implementation on a time-major input ``x [T, B, n_in]``; a
    :class:`ConvKernel` in ``weights`` is convolved (``I = conv(x, K)``), not unfolded."""
    n_layers = len(weights)
    spikes, potentials = [], []
    for l, w in enumerate(weights):
        if l > 0 and params.layer_delay:
            x = shift_in_time(x)
        current = w.currents(x) if isinstance(w, ConvKernel) else synaptic_input(x, w)
        v = lif_membrane(current, alpha=params.alpha, gain=params.gain, th1=params.th1)
        x = spike_fn(v, th1=params.th1, beta=params.beta, th2=params.layer_th2(l, n_layers))
        spikes.append(x)
        potentials.append(v)
    return SNNOutput(spikes=spikes, potentials=potentials if return_potentials else None)
