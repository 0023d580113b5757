"""Norse peer: ``norse.torch.LIFBoxCell`` (LIF without a synaptic-current state) per layer.

Settings: ``dt = 1 ms``, ``tau_mem_inv = (1 - alpha) / dt`` so that the Euler step
``v <- v + dt tau_mem_inv (v_leak - v + i)`` is ``alpha v + (1 - alpha) i``; input current
scaled by ``gain``; ``v_th = th1``, ``v_reset = 0``, ``method="super"`` with
``alpha = beta`` (Norse's SuperSpike ``1 / (alpha |v - th| + 1)^2``, the seed's surrogate).

Differences to the seed model: Norse resets in the same step the spike is emitted
(``v <- (1 - z) v + z v_reset``) and the reset is not detached, so the gradient also flows
through the reset; the forward dynamics are the same as the seed's reset of the previous
state.
"""

from __future__ import annotations

import torch

from snnlib.bench.peers._torch_common import LayerwiseSNN
from snnlib.functional.params import LIFParams

DT = 1e-3


def library_version() -> str:
    from importlib.metadata import version

    import norse.torch  # noqa: F401 - the import is the availability check

    return version("norse")


def build_network(sizes, *, seed: int = 0, params: LIFParams | None = None) -> torch.nn.Module:
    """The benchmark network with Norse ``LIFBoxCell`` neurons."""
    from norse.torch import LIFBoxCell, LIFBoxParameters

    p = params or LIFParams()
    lif_p = LIFBoxParameters(tau_mem_inv=torch.tensor((1.0 - p.alpha) / DT),
                             v_th=torch.tensor(p.th1), v_reset=torch.tensor(0.0),
                             method="super", alpha=torch.tensor(p.beta))
    cells = torch.nn.ModuleList(LIFBoxCell(lif_p, dt=DT) for _ in sizes[1:])

    def run_layer(l, current):
        state = None
        out = []
        for t in range(current.shape[0]):
            z, state = cells[l](p.gain * current[t], state)
            out.append(z)
        return torch.stack(out)

    net = LayerwiseSNN(sizes, run_layer, seed=seed, params=p)
    net.cells = cells
    return net
