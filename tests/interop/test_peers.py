"""Cross-library NIR check: a network exported by snnlib runs in snnTorch (``import_from_nir``)
and Norse (``from_nir``) on the same input spikes, and their output spikes agree with ours;
a network defined in snnTorch and exported with its ``export_to_nir`` runs here (dense and
sparse_layer) and agrees likewise. snnTorch 1.0's importer fixes ``dt = 1e-4`` and adds the
input unscaled, so its graph is exported with ``unit_input=True`` at that ``dt``.

Needs the optional ``[peers]`` extra (torch, snntorch, norse); skipped with the reason where
they are missing. Both importers run the graph one step per call with every layer reading the
same step (they implement no ``Delay`` node), so the network is built with
``layer_delay=False``. Norse ignores NIR's ``r`` (it warns unless ``r = 1``), so its graph
is exported with ``fold_gain=True``; snnTorch divides the threshold by ``r dt / tau``. Both
compare with ``>`` where we use ``>=``, and compute in float32 in another order, so a spike
may flip where the potential lands on the threshold to the last bit: the test reports the
agreement (``record_property``) and requires at least 99 % of the output spike entries equal.
"""

import numpy as np
import pytest

from snnlib.functional.params import LIFParams
from snnlib.interop import to_nir
from snnlib.layers import SNNClassifier

REASON = "{} is not installed (pip install -e .[peers]): the cross-library NIR check needs it"
DT = 1e-3
SNNTORCH_DT = 1e-4
MIN_AGREEMENT = 0.99


def our_network():
    params = LIFParams(alpha=0.9, gain=10.0, th1=1.0, weight_mul=3.0, layer_delay=False)
    model = SNNClassifier([20, 24, 6], params, seed=5)
    model.build((None, None, 20))
    x = (np.random.default_rng(2).random((4, 50, 20)) < 0.3).astype(np.float32)
    _, out = model.forward(x, dense_hidden=True)
    ours = np.transpose(out.spikes[-1].numpy(), (1, 0, 2))  # [B, T, n]
    assert ours.sum() > 0
    return model, x, ours


def run_steps(torch, net, x):
    """Run a step-by-step torch network over ``x [B, T, n]``; output spikes ``[B, T, n_out]``."""
    outputs, state = [], None
    with torch.no_grad():
        for t in range(x.shape[1]):
            step = torch.from_numpy(np.ascontiguousarray(x[:, t]))
            result = net(step) if state is None else net(step, state)
            if isinstance(result, tuple):
                result, state = result[0], result[1]
            outputs.append(np.asarray(result.detach().cpu().numpy(), dtype=np.float32))
    return np.stack(outputs, axis=1)


def agreement(ours, theirs, record_property, name):
    assert theirs.shape == ours.shape
    share = float(np.mean(ours == theirs))
    record_property(f"{name}_spike_agreement", share)
    print(f"{name}: {share:.4%} of output spike entries equal to snnlib's "
          f"({int(ours.sum())} spikes here, {int(theirs.sum())} there)")
    assert share >= MIN_AGREEMENT


def test_snntorch_runs_our_graph(record_property):
    torch = pytest.importorskip("torch", reason=REASON.format("torch"))
    pytest.importorskip("snntorch", reason=REASON.format("snntorch"))
    from snntorch import utils
    from snntorch.import_nir import import_from_nir

    model, x, ours = our_network()
    # snnTorch 1.0's importer fixes dt = 1e-4 and wants (dt / tau) r = 1 (its Leaky adds the
    # input unscaled): the same network, exported in that form.
    net = import_from_nir(to_nir(model, dt=SNNTORCH_DT, unit_input=True))
    utils.reset(net)
    agreement(ours, run_steps(torch, net, x), record_property, "snntorch")


def test_norse_runs_our_graph(record_property):
    torch = pytest.importorskip("torch", reason=REASON.format("torch"))
    norse_torch = pytest.importorskip("norse.torch", reason=REASON.format("norse"))

    model, x, ours = our_network()
    net = norse_torch.from_nir(to_nir(model, dt=DT, fold_gain=True), dt=DT)
    agreement(ours, run_steps(torch, net, x), record_property, "norse")


def test_a_snntorch_network_runs_here(record_property):
    torch = pytest.importorskip("torch", reason=REASON.format("torch"))
    snn = pytest.importorskip("snntorch", reason=REASON.format("snntorch"))
    from snntorch.export_nir import export_to_nir

    from snnlib.interop import from_nir

    torch.manual_seed(0)
    # Per-neuron constants: snnTorch exports scalar ones as a shapeless node that NIR's type
    # check refuses.
    lif1 = snn.Leaky(beta=torch.full((24,), 0.9), threshold=torch.ones(24),
                     reset_mechanism="zero", init_hidden=True)
    lif2 = snn.Leaky(beta=torch.full((6,), 0.9), threshold=torch.ones(6),
                     reset_mechanism="zero", init_hidden=True, output=True)
    net = torch.nn.Sequential(torch.nn.Linear(20, 24, bias=False), lif1,
                              torch.nn.Linear(24, 6, bias=False), lif2)
    with torch.no_grad():
        for lin in (net[0], net[2]):
            lin.weight.mul_(3.0)
    graph = export_to_nir(net, torch.zeros(20), model_name="snntorch")
    x = (np.random.default_rng(3).random((4, 50, 20)) < 0.3).astype(np.float32)
    for layer in (lif1, lif2):
        layer.reset_hidden()
    theirs = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            spk, _ = net(torch.from_numpy(np.ascontiguousarray(x[:, t])))
            theirs.append(spk.numpy())
    theirs = np.stack(theirs, axis=1)
    assert theirs.sum() > 0
    for impl in ("dense", "sparse_layer"):
        model = from_nir(graph, impl=impl, dt=SNNTORCH_DT)  # snnTorch exports with dt = 1e-4
        _, out = model.forward(x, dense_hidden=True)
        ours = np.transpose(out.spikes[-1].numpy(), (1, 0, 2))
        agreement(ours, theirs, record_property, f"snntorch_to_snnlib_{impl}")
