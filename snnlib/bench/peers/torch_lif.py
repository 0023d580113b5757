"""Plain PyTorch baseline: the seed LIF model exactly, as a Python loop over time.

Per layer ``V_t = alpha (V_{t-1} - sg(V_{t-1} H(V_{t-1} - th1))) + (1 - alpha) gain I_t``,
``S_t = H(V_t - th1)`` with the SuperSpike surrogate (beta = 10), reset under
``detach`` (the seed's stop-gradient). No differences to ``snnlib``'s dense path.
"""

from __future__ import annotations

import torch

from snnlib.bench.peers._torch_common import LayerwiseSNN, SuperSpike
from snnlib.functional.params import LIFParams


def library_version() -> str:
    return torch.__version__


def build_network(sizes, *, seed: int = 0, params: LIFParams | None = None) -> torch.nn.Module:
    """The seed network in plain PyTorch."""
    p = params or LIFParams()
    scale = (1.0 - p.alpha) * p.gain

    def run_layer(l, current):
        v = torch.zeros_like(current[0])
        out = []
        for t in range(current.shape[0]):
            reset = (v * (v >= p.th1)).detach()
            v = p.alpha * (v - reset) + scale * current[t]
            out.append(SuperSpike.apply(v, p.th1, p.beta))
        return torch.stack(out)

    return LayerwiseSNN(sizes, run_layer, seed=seed, params=p)
