"""SpikingJelly peer: ``activation_based.neuron.LIFNode`` in multi-step mode (``step_mode="m"``,
the plain PyTorch implementation; the CuPy/Triton backends are GPU-only).

Settings: ``tau = 1 / (1 - alpha)`` with ``decay_input=True`` so the charge
``H = V + (X - V) / tau`` is ``alpha V + (1 - alpha) X``; input current scaled by ``gain``;
``v_threshold = th1``, ``v_reset = 0`` (hard reset), ``detach_reset=True`` (the seed's
stop-gradient reset). The surrogate is the seed's SuperSpike ``1 / (beta |x| + 1)^2``
(SpikingJelly's own ``surrogate.SuperSpike`` is ``alpha / (|x| + 1)^2``, a different
shape, so the shared :class:`snnlib.bench.peers._torch_common.SuperSpike` is passed instead).

Differences to the seed model: none in the forward dynamics (reset of the potential after
the spike, before the next charge, is the seed's reset of the previous state).
"""

from __future__ import annotations

import torch

from snnlib.bench.peers._torch_common import LayerwiseSNN, SuperSpike
from snnlib.functional.params import LIFParams


def library_version() -> str:
    from importlib.metadata import version

    from spikingjelly.activation_based import neuron  # noqa: F401 - availability check

    return version("spikingjelly")


class _SeedSurrogate(torch.nn.Module):
    def __init__(self, beta: float):
        super().__init__()
        self.beta = beta
        self.spiking = True

    def forward(self, x):
        return SuperSpike.apply(x, 0.0, self.beta)


def build_network(sizes, *, seed: int = 0, params: LIFParams | None = None) -> torch.nn.Module:
    """The benchmark network with SpikingJelly ``LIFNode`` neurons (multi-step)."""
    from spikingjelly.activation_based import functional, neuron

    p = params or LIFParams()
    nodes = torch.nn.ModuleList(
        neuron.LIFNode(tau=1.0 / (1.0 - p.alpha), decay_input=True, v_threshold=p.th1,
                       v_reset=0.0, surrogate_function=_SeedSurrogate(p.beta),
                       detach_reset=True, step_mode="m")
        for _ in sizes[1:])

    def run_layer(l, current):
        if l == 0:
            functional.reset_net(nodes)
        return nodes[l](p.gain * current)

    net = LayerwiseSNN(sizes, run_layer, seed=seed, params=p)
    net.nodes = nodes
    return net
