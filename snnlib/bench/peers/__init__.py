"""Peer libraries timed side by side with ``snnlib`` (optional extra ``snnlib[peers]``).

Each peer builds the benchmark network ``[n_in, *hidden, n_out]`` (no biases, the seed's
weight initialisation with the same seed, one-step inter-layer delay, spike-count readout,
softmax cross-entropy, Adam) in its own library and times its PyTorch training step on CPU
with the same data as the TensorFlow implementations
(:func:`snnlib.bench.cases.bench_inputs`):

* ``torch``: a plain PyTorch LIF loop, the seed model exactly
  (:mod:`snnlib.bench.peers.torch_lif`);
* ``snntorch``: ``snntorch.Leaky`` (:mod:`snnlib.bench.peers.snntorch_peer`);
* ``norse``: ``norse.torch.LIFBoxCell`` (:mod:`snnlib.bench.peers.norse_peer`);
* ``spikingjelly``: ``activation_based.neuron.LIFNode``, multi-step, torch backend
  (:mod:`snnlib.bench.peers.spikingjelly_peer`).

Where a library's neuron differs from the seed model, the peer module's docstring says how.
A peer that cannot be imported is reported by :func:`peer_status`, never raised.

Every peer is timed in a worker process of its own (:mod:`snnlib.bench.worker`) that never
imports TensorFlow: these modules import only the NumPy parts of ``snnlib``
(:mod:`snnlib.bench.cases`, :mod:`snnlib.bench.timing`, :mod:`snnlib.functional.params`) and
torch (``tests/bench/test_peer_worker.py`` checks it).
"""

from __future__ import annotations

import importlib
from typing import Sequence

PEERS: dict[str, str] = {
    "torch": "snnlib.bench.peers.torch_lif",
    "snntorch": "snnlib.bench.peers.snntorch_peer",
    "norse": "snnlib.bench.peers.norse_peer",
    "spikingjelly": "snnlib.bench.peers.spikingjelly_peer",
}


def peer_module(name: str):
    """The module of peer ``name`` (raises ``ValueError`` for an unknown name)."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; valid choices: {', '.join(PEERS)}")
    return importlib.import_module(PEERS[name])


def peer_status(names: Sequence[str] | None = None) -> dict[str, dict]:
    """``{name: {"available": bool, "version": str | None, "reason": str | None}}``.

    Importing a peer library can fail in many ways (missing, broken wheel, ABI clash), so
    every exception is caught and reported as the reason.
    """
    status = {}
    for name in names or list(PEERS):
        try:
            version = peer_module(name).library_version()
            status[name] = {"available": True, "version": version, "reason": None}
        except Exception as err:  # noqa: BLE001 - report any import failure
            status[name] = {"available": False, "version": None,
                            "reason": f"{type(err).__name__}: {err}"}
    return status


def run_peer_case(case, *, modes, warmup, repeats, steps, memory_method, data=None) -> list[dict]:
    """Time a ``peer:<name>`` :class:`snnlib.bench.cases.BenchCase`; records as the TF ones."""
    from snnlib.bench.peers._torch_common import time_torch_case

    name = case.impl.split(":", 1)[1]
    module = peer_module(name)
    return time_torch_case(case, module.build_network, peer=name,
                           version=module.library_version(), modes=modes, warmup=warmup,
                           repeats=repeats, steps=steps, memory_method=memory_method, data=data)
