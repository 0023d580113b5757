"""NIR export and import (snnlib.interop): the mapping, the round trip through a .nir file for
every implementation, graphs written by hand as other libraries write them (checked against a
NumPy Euler simulation of NIR's equations), and the errors for what we do not support."""

from types import SimpleNamespace

import nir
import numpy as np
import pytest

from snnlib.functional.params import LIFParams
from snnlib.interop import NIRError, from_nir, read_nir, to_nir, write_nir
from snnlib.interop.nir_export import alpha_from_tau, tau_from_alpha
from snnlib.layers import SNNClassifier

SIZES = [12, 16, 8]
PARAMS = LIFParams(alpha=0.9, gain=10.0, th1=1.0, weight_mul=3.0, th2=0.8)


def make_model(impl="dense", readout="spikes", sizes=SIZES, params=PARAMS, **kw):
    if impl != "dense":
        kw.setdefault("max_activity", 1.0)
    model = SNNClassifier(sizes, params, impl=impl, readout=readout, seed=3, **kw)
    model.build((None, None, sizes[0]))
    return model


def inputs(n_in=SIZES[0], batch=3, steps=25, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((batch, steps, n_in)) < 0.3).astype(np.float32)


def spikes_of(model, x):
    logits, out = model.forward(x, dense_hidden=True)
    return logits.numpy(), [np.transpose(s.numpy(), (1, 0, 2)) for s in out.spikes]  # [B, T, n]


def euler_reference(graph, x, dt):
    """NIR's equations by forward Euler in NumPy: the independent reference of the mapping."""
    successors = dict(graph.edges)
    name = next(n for n, node in graph.nodes.items() if isinstance(node, nir.Input))
    stages = []
    while not isinstance(graph.nodes[name], nir.Output):
        name = successors[name]
        stages.append(graph.nodes[name])
    batch, steps, _ = x.shape
    state = {id(s): None for s in stages}
    outputs = []
    for t in range(steps):
        signal = x[:, t].astype(np.float64)
        for s in stages:
            if isinstance(s, nir.Delay):
                previous = state[id(s)]
                state[id(s)] = signal
                signal = np.zeros_like(signal) if previous is None else previous
            elif isinstance(s, (nir.Linear, nir.Affine)):
                signal = signal @ np.asarray(s.weight, np.float64).T
                if isinstance(s, nir.Affine):
                    signal = signal + s.bias
            elif isinstance(s, (nir.LIF, nir.LI)):
                v = state[id(s)] if state[id(s)] is not None else np.zeros_like(signal)
                v = v + dt / s.tau * ((s.v_leak - v) + s.r * signal)
                if isinstance(s, nir.LIF):
                    spikes = (v >= s.v_threshold).astype(np.float64)
                    state[id(s)] = np.where(spikes > 0, s.v_reset, v)
                    signal = spikes
                else:
                    state[id(s)] = v
                    signal = v
        outputs.append(signal)
    return np.stack(outputs, axis=1)


def test_tau_alpha_mapping_is_euler_and_inverts():
    assert tau_from_alpha(0.95, 1e-3) == pytest.approx(0.02)
    for alpha in (0.5, 0.9, 0.95, 0.999):
        assert alpha_from_tau(tau_from_alpha(alpha, 1e-3), 1e-3) == pytest.approx(alpha, rel=1e-13)


@pytest.mark.parametrize("layer_delay", [True, False])
def test_graph_nodes_and_constants(layer_delay):
    model = make_model(params=PARAMS.replace(layer_delay=layer_delay))
    graph = to_nir(model, dt=2e-3)
    expected = ["input", "linear0", "lif0", "linear1", "lif1", "output"]
    if layer_delay:
        expected.insert(3, "delay1")
    assert list(graph.nodes) == expected
    assert graph.edges == list(zip(expected[:-1], expected[1:]))
    lif = graph.nodes["lif1"]
    np.testing.assert_allclose(lif.tau, 2e-3 / (1 - 0.9))
    np.testing.assert_array_equal(lif.r, 10.0)
    np.testing.assert_array_equal(lif.v_threshold, 1.0)
    np.testing.assert_array_equal(lif.v_reset, 0.0)
    np.testing.assert_array_equal(lif.v_leak, 0.0)
    np.testing.assert_array_equal(graph.nodes["linear0"].weight, model.stack.kernels[0].numpy().T)
    if layer_delay:
        np.testing.assert_array_equal(graph.nodes["delay1"].delay, 2e-3)
    assert graph.metadata["dt"] == 2e-3 and graph.metadata["source"] == "snnlib"


@pytest.mark.parametrize("readout", ["spikes", "leaky"])
@pytest.mark.parametrize("layer_delay", [True, False])
def test_graph_matches_euler_simulation_of_nir(readout, layer_delay):
    model = make_model(readout=readout, sizes=[12, 16, 10, 8],
                       params=PARAMS.replace(layer_delay=layer_delay))
    graph = to_nir(model)
    x = inputs()
    reference = euler_reference(graph, x, dt=1e-3)
    logits, spikes = spikes_of(model, x)
    if readout == "spikes":
        assert spikes[-1].sum() > 0
        np.testing.assert_array_equal(spikes[-1], reference)
    else:
        np.testing.assert_allclose(logits, reference.mean(axis=1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("impl", ["dense", "sparse_ops", "sparse_layer"])
@pytest.mark.parametrize("readout", ["spikes", "leaky"])
def test_round_trip_through_a_file_gives_identical_spikes(tmp_path, impl, readout):
    sizes = [12, 16, 10, 8]
    model = make_model(impl, readout, sizes=sizes)
    path = tmp_path / "net.nir"
    write_nir(model, path)
    back = from_nir(read_nir(path), impl=impl)
    assert back.impl == impl and back.readout_kind == readout
    assert back.sizes == sizes and back.params == model.params  # th2, beta from the metadata
    x = inputs()
    logits, spikes = spikes_of(model, x)
    logits2, spikes2 = spikes_of(back, x)
    assert sum(s.sum() for s in spikes) > 0
    for a, b in zip(spikes, spikes2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(logits, logits2)


def test_import_into_another_implementation_and_from_a_path(tmp_path):
    model = make_model("dense")
    write_nir(model, tmp_path / "net.nir")
    sparse = from_nir(tmp_path / "net.nir", impl="sparse_layer")
    x = inputs()
    for a, b in zip(spikes_of(model, x)[1], spikes_of(sparse, x)[1]):
        np.testing.assert_array_equal(a, b)


def test_a_run_is_accepted_by_its_model_attribute():
    model = make_model()
    run = SimpleNamespace(model=model, config={})
    assert list(to_nir(run).nodes) == list(to_nir(model).nodes)
    with pytest.raises(TypeError, match="SNNClassifier"):
        to_nir(object())


def test_unbuilt_model_and_bad_dt_are_refused():
    with pytest.raises(ValueError, match="build it first"):
        to_nir(SNNClassifier(SIZES, PARAMS))
    with pytest.raises(ValueError, match="dt must be"):
        to_nir(make_model(), dt=0.0)


def test_sparse_capacity_below_width_is_refused_unless_allowed():
    model = make_model("sparse_layer", max_activity=0.25)
    with pytest.raises(NIRError, match="LIF layer 0 .* S = 4 of its 16 neurons"):
        to_nir(model)
    graph = to_nir(model, allow_capacity=True)
    assert "lif1" in graph.nodes


def test_fold_gain_exports_r_one():
    model = make_model()
    graph = to_nir(model, fold_gain=True)
    np.testing.assert_array_equal(graph.nodes["lif0"].r, 1.0)
    np.testing.assert_allclose(graph.nodes["linear0"].weight,
                               10.0 * model.stack.kernels[0].numpy().T, rtol=1e-6)
    assert from_nir(graph).params.gain == 1.0


def foreign_graph(dt=1e-4, bias=0.0, delay=False, **lif_changes):
    """A graph as snnTorch writes one: Affine with a bias, r = tau / dt, numbered nodes."""
    rng = np.random.default_rng(1)
    w0, w1 = rng.normal(0, 0.8, (6, 5)), rng.normal(0, 0.8, (3, 6))
    tau = dt / (1 - 0.8)

    def lif(n):
        fields = dict(tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=np.zeros(n),
                      v_threshold=np.full(n, 1.0), v_reset=np.zeros(n))
        fields.update({k: v(n) for k, v in lif_changes.items()})
        return nir.LIF(**fields)

    nodes = {"input": nir.Input(np.array([5])), "0": nir.Affine(w0, np.full(6, bias)),
             "1": lif(6), "2": nir.Affine(w1, np.zeros(3)), "3": lif(3),
             "output": nir.Output(np.array([3]))}
    order = ["input", "0", "1", "2", "3", "output"]
    if delay:
        nodes["d"] = nir.Delay(np.full(6, dt))
        order.insert(3, "d")
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])), metadata={})


@pytest.mark.parametrize("delay", [False, True])
def test_foreign_graph_runs_as_nir_defines_it(delay):
    graph = foreign_graph(delay=delay)
    model = from_nir(graph, dt=1e-4)
    assert model.params.alpha == pytest.approx(0.8) and model.params.layer_delay == delay
    x = inputs(n_in=5, steps=40)
    spikes = spikes_of(model, x)[1][-1]
    assert spikes.sum() > 0
    np.testing.assert_array_equal(spikes, euler_reference(graph, x, dt=1e-4))


def test_time_step_must_be_known():
    with pytest.raises(NIRError, match="pass dt"):
        from_nir(foreign_graph())
    assert from_nir(foreign_graph(delay=True)).params.layer_delay  # dt from the Delay node


@pytest.mark.parametrize("graph, match", [
    (lambda: foreign_graph(bias=0.5), "node '0' .* field 'bias' must be 0"),
    (lambda: foreign_graph(v_reset=lambda n: np.full(n, 0.2)), "field 'v_reset' must be 0"),
    (lambda: foreign_graph(v_leak=lambda n: np.full(n, 0.1)), "field 'v_leak' must be 0"),
    (lambda: foreign_graph(tau=lambda n: np.linspace(1e-3, 2e-3, n)),
     "node '1' .* field 'tau' differs between neurons"),
    (lambda: foreign_graph(v_threshold=lambda n: np.full(n, float(n))),
     "node '3' field 'v_threshold' = 3.0 differs from node '1'"),
    (lambda: foreign_graph(tau=lambda n: np.full(n, 5e-5)), "'tau' = 5e-05 must exceed dt"),
])
def test_unsupported_constants_name_node_and_field(graph, match):
    with pytest.raises(NIRError, match=match):
        from_nir(graph(), dt=1e-4)


def test_unsupported_node_type_is_named():
    graph = foreign_graph()
    graph.nodes["3"] = nir.CubaLIF(tau_syn=np.ones(3), tau_mem=np.ones(3), r=np.ones(3),
                                   v_leak=np.zeros(3), v_threshold=np.ones(3))
    with pytest.raises(NIRError, match="node '3' has type CubaLIF"):
        from_nir(graph, dt=1e-4)


def test_inconsistent_shapes_are_named():
    graph = foreign_graph()
    graph.nodes["2"] = nir.Affine(np.zeros((3, 7)), np.zeros(3))
    with pytest.raises(NIRError, match="node '2' field 'weight' has shape \\(3, 7\\)"):
        from_nir(graph, dt=1e-4)
    graph = foreign_graph()
    graph.nodes["3"] = foreign_graph().nodes["1"]  # 6 neurons after a 3-output Affine
    with pytest.raises(NIRError, match="node '3' field 'tau' has shape \\(6,\\)"):
        from_nir(graph, dt=1e-4)


def test_branches_and_mixed_delays_are_refused():
    graph = foreign_graph()
    graph.edges.append(("1", "output"))
    with pytest.raises(NIRError, match="node '1' has 2 outgoing edges"):
        from_nir(graph, dt=1e-4)
    model = make_model(sizes=[12, 16, 10, 8])
    graph = to_nir(model)
    graph.edges = [e for e in graph.edges if "delay2" not in e] + [("lif1", "linear2")]
    del graph.nodes["delay2"]
    with pytest.raises(NIRError, match="Delay nodes on some layer edges"):
        from_nir(graph)
    graph = to_nir(model)
    graph.nodes["delay1"] = nir.Delay(np.full(16, 2e-3))
    with pytest.raises(NIRError, match="node 'delay1' field 'delay' is 0.002, not one step"):
        from_nir(graph)


def test_files_that_are_not_nir(tmp_path):
    text = tmp_path / "notes.nir"
    text.write_text("not a graph")
    with pytest.raises(NIRError, match="notes.nir is not a NIR file"):
        read_nir(text)
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(NIRError, match="other.h5 is an HDF5 file but not a NIR graph"):
        from_nir(tmp_path / "other.h5")
    with pytest.raises(FileNotFoundError, match="no NIR file"):
        read_nir(tmp_path / "missing.nir")
    with pytest.raises(NIRError, match="expects a nir.NIRGraph"):
        from_nir(42)


def test_unit_input_form_is_the_same_network_with_the_input_factor_in_the_weights():
    model = make_model()
    graph = to_nir(model, dt=1e-4, unit_input=True)
    lif = graph.nodes["lif0"]
    np.testing.assert_allclose(lif.r * 1e-4 / lif.tau, 1.0, rtol=1e-6)
    scale = model.params.gain * (1 - model.params.alpha)
    np.testing.assert_allclose(graph.nodes["linear0"].weight,
                               model.stack.kernels[0].numpy().T * scale, rtol=1e-6)
    x = inputs()
    _, ours = spikes_of(model, x)
    _, back = spikes_of(from_nir(graph), x)
    agree = np.mean([np.mean(a == b) for a, b in zip(ours, back)])
    assert agree > 0.999  # the same dynamics; rounding may move a tie at the threshold
    with pytest.raises(ValueError, match="choose one"):
        to_nir(model, fold_gain=True, unit_input=True)
