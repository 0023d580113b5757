"""Training with a convolutional first layer (``TrainConfig.conv``) on real N-MNIST recordings:
dense and sparse_layer train through the same loop, a run directory gives the model back
exactly, NIR exports the layer as its matrix, and bad combinations are clear errors."""

import numpy as np
import pytest

import snnlib
from snnlib.functional.conv import ConvSpec, conv_matrix
from snnlib.interop import to_nir
from snnlib.train import TrainConfig, evaluate_run, train_and_evaluate
from snnlib.train.config import parse_th2

CONV = {"channels": 2, "kernel": 3, "stride": 4}
DATA = dict(limit=40, limit_test=20, n_steps=20)  # at the default 24 x 24 x 2
SPEC = ConvSpec((24, 24, 2), **CONV)


def spiking_preset(**overrides) -> TrainConfig:
    """The nmnist-small preset with a spike-count readout, the output these tests count on."""
    return TrainConfig.from_preset("nmnist-small", readout="spikes", **overrides)


@pytest.fixture(scope="module", params=["dense", "sparse_layer"])
def conv_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"conv_{request.param}")
    sparse = {"impl": "sparse_layer", "max_activity": 0.25} if request.param != "dense" else {}
    config = spiking_preset(hidden=(8,), epochs=1, batch_size=10, progress=False, data=DATA,
                            conv=CONV, out_dir=str(out), **sparse)
    return out, config, train_and_evaluate(config)


def test_the_network_starts_with_the_conv_layer_and_every_layer_is_measured(conv_run):
    _, config, result = conv_run
    model = result["model"]
    assert model.sizes == [24 * 24 * 2, SPEC.n_out, 8, 10] and SPEC.n_out == 6 * 6 * 2
    assert tuple(model.stack.kernels[0].shape) == (3, 3, 2, 2)
    history = result["history"][0]
    assert {f"train_activity_{l}" for l in range(3)} <= set(history)
    if config.impl != "dense":
        assert {f"train_overflow_{l}" for l in range(3)} <= set(history)


def test_a_conv_run_directory_evaluates_to_the_runs_final_accuracy(conv_run):
    out, config, result = conv_run
    run = snnlib.load_run(out)
    assert run.config == config and run.model.stack.conv == SPEC
    np.testing.assert_array_equal(run.model.stack.kernels[0].numpy(),
                                  result["model"].stack.kernels[0].numpy())
    numbers = evaluate_run(run)
    assert numbers["accuracy"] == result["test_accuracy"]
    assert numbers["loss"] == result["test_loss"]


def test_nir_exports_the_conv_layer_as_its_matrix(conv_run):
    model = conv_run[2]["model"]
    graph = to_nir(model, allow_capacity=True)  # default: weights exported unscaled
    want = conv_matrix(model.stack.kernels[0], model.stack.conv).numpy().T
    np.testing.assert_allclose(graph.nodes["linear0"].weight, want, rtol=1e-6)


def test_conv_options_are_checked():
    assert spiking_preset(conv=CONV, th2=0.9).lif_params().th2 == (0.9, 0.9, None)
    per_layer = spiking_preset(conv=CONV, th2=parse_th2("0.5,0.9"))
    assert per_layer.lif_params().th2 == (0.5, 0.9, None)  # conv, hidden; the output unmasked
    assert TrainConfig.from_dict(per_layer.to_dict()).lif_params().th2 == (0.5, 0.9, None)
    assert parse_th2("0.9") == 0.9 and parse_th2("none") is None
    with pytest.raises(ValueError, match="one per hidden layer"):
        parse_th2("0.5,x")
    with pytest.raises(ValueError, match="th2 has 3 values; this network has 2 hidden"):
        TrainConfig.from_preset("nmnist-small", conv=CONV, th2=(0.5, 0.9, 0.9), readout="leaky")
    with pytest.raises(ValueError, match="needs rule='bptt'"):
        spiking_preset(conv=CONV, rule="eprop")
    with pytest.raises(ValueError, match="in_shape is the dataset's sensor layout"):
        spiking_preset(conv={**CONV, "in_shape": [34, 34, 2]})
    with pytest.raises(ValueError, match="unknown conv fields"):
        spiking_preset(conv={"filters": 8})
    with pytest.raises(ValueError, match="sensor layout"):
        train_and_evaluate(TrainConfig.from_preset("tiny", conv=CONV, progress=False))


def test_two_stacked_conv_layers_train_save_and_export(tmp_path):
    """``conv`` with per-layer lists: two conv layers, the second on the first's feature maps;
    the run directory gives them back and NIR exports each as its matrix."""
    conv = {"channels": [2, 3], "kernel": [3, 3], "stride": 2}
    config = spiking_preset(hidden=(8,), epochs=1, batch_size=10, progress=False, data=DATA,
                            conv=conv, th2=(0.5, 0.9, 0.9), impl="sparse_layer",
                            max_activity=0.25, out_dir=str(tmp_path))
    specs = ConvSpec.stack(conv, in_shape=(24, 24, 2))
    assert config.conv_layers() == 2 and config.lif_params().th2 == (0.5, 0.9, 0.9, None)
    result = train_and_evaluate(config)
    model = result["model"]
    assert model.sizes == [24 * 24 * 2, 12 * 12 * 2, 6 * 6 * 3, 8, 10]
    assert model.stack.convs == specs
    assert [tuple(k.shape) for k in model.stack.kernels[:2]] == [(3, 3, 2, 2), (3, 3, 2, 3)]
    assert {f"train_activity_{l}" for l in range(4)} <= set(result["history"][0])
    run = snnlib.load_run(tmp_path)
    assert run.config == config and run.model.stack.convs == specs
    assert evaluate_run(run)["accuracy"] == result["test_accuracy"]
    graph = to_nir(model, allow_capacity=True)
    for l, spec in enumerate(specs):
        want = conv_matrix(model.stack.kernels[l], spec).numpy().T
        np.testing.assert_allclose(graph.nodes[f"linear{l}"].weight, want, rtol=1e-6)
    with pytest.raises(ValueError, match="th2 has 2 values; this network has 3 hidden"):
        spiking_preset(conv=conv, th2=(0.5, 0.9))
