"""snnTorch peer: ``snntorch.Leaky`` per layer, stepped in a Python loop over time.

Settings: ``beta = alpha`` (0.95), ``threshold = th1``, ``reset_mechanism="zero"``,
``spike_grad = surrogate.fast_sigmoid(slope=beta_sg)`` (``1 / (slope |U - th| + 1)^2``: the
SuperSpike surrogate of the seed), input current scaled by ``(1 - alpha) gain``.

Differences to the seed model: snnTorch's zero reset is applied by its own rule
(``U_t = (beta U_{t-1} + I_t) - R_t (beta U_{t-1} + I_t)`` with ``R_t`` the detached spike
of the previous step), so the input of the step after a spike is dropped as well, whereas the
seed resets only the old potential. No ``th2`` mask (not used by the benchmark).
"""

from __future__ import annotations

import torch

from snnlib.bench.peers._torch_common import LayerwiseSNN
from snnlib.functional.params import LIFParams


def library_version() -> str:
    import snntorch

    return snntorch.__version__


def build_network(sizes, *, seed: int = 0, params: LIFParams | None = None) -> torch.nn.Module:
    """The benchmark network with ``snntorch.Leaky`` neurons."""
    import snntorch
    from snntorch import surrogate

    p = params or LIFParams()
    scale = (1.0 - p.alpha) * p.gain
    neurons = torch.nn.ModuleList(
        snntorch.Leaky(beta=p.alpha, threshold=p.th1, reset_mechanism="zero",
                       spike_grad=surrogate.fast_sigmoid(slope=p.beta))
        for _ in sizes[1:])

    def run_layer(l, current):
        mem = torch.zeros_like(current[0])
        out = []
        for t in range(current.shape[0]):
            spk, mem = neurons[l](scale * current[t], mem)
            out.append(spk)
        return torch.stack(out)

    net = LayerwiseSNN(sizes, run_layer, seed=seed, params=p)
    net.neurons = neurons
    return net
