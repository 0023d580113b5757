"""``python -m snnlib export --run DIR --format nir`` and ``train --init-from FILE.nir``, run
in-process. Most tests replace ``snnlib.train.run.load_run`` by a stand-in that returns a
given model (no training needed); one exports a real run directory of ``train --out``."""

import json
import types

import numpy as np
import pytest

import snnlib.train
from snnlib.__main__ import main
from snnlib.functional.params import LIFParams
from snnlib.interop import read_nir, to_nir, write_nir
from snnlib.layers import SNNClassifier

TINY = [32, 32, 5]  # the tiny preset: randman with 32 units and 5 classes, one hidden layer


def model_of(sizes=TINY, **kw):
    model = SNNClassifier(sizes, LIFParams(alpha=0.9, weight_mul=2.0), seed=4, **kw)
    model.build((None, None, sizes[0]))
    return model


@pytest.fixture
def fake_runs(monkeypatch):
    import snnlib.train.run

    runs = {}
    monkeypatch.setattr(snnlib.train.run, "load_run",
                        lambda path: types.SimpleNamespace(model=runs[str(path)], config={}))
    return runs


def test_export_of_a_real_run_directory(tmp_path, capsys):
    from snnlib.train import TrainConfig, load_run, train_and_evaluate

    run_dir = tmp_path / "run"
    train_and_evaluate(TrainConfig.from_preset("tiny", epochs=1, progress=False,
                                               out_dir=str(run_dir)))
    out = tmp_path / "net.nir"
    assert main(["export", "--run", str(run_dir), "--out", str(out)]) == 0
    model = load_run(run_dir).model
    np.testing.assert_array_equal(read_nir(out).nodes["linear0"].weight,
                                  model.stack.kernels[0].numpy().T)


def test_export_writes_the_runs_graph(tmp_path, fake_runs, capsys):
    model = model_of()
    fake_runs[str(tmp_path / "run")] = model
    out = tmp_path / "net.nir"
    assert main(["export", "--run", str(tmp_path / "run"), "--format", "nir", "--out", str(out),
                 "--dt", "0.002"]) == 0
    assert json.loads(capsys.readouterr().out.strip()) == {"format": "nir", "out": str(out)}
    graph = read_nir(out)
    assert graph.metadata["dt"] == 0.002
    np.testing.assert_array_equal(graph.nodes["linear0"].weight, model.stack.kernels[0].numpy().T)


def test_export_refusal_is_one_error_line(tmp_path, fake_runs, capsys):
    fake_runs["capped"] = model_of(impl="sparse_layer", max_activity=0.1)
    assert main(["export", "--run", "capped", "--out", str(tmp_path / "x.nir")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: LIF layer 0 of this sparse_layer model") and "allow_capacity" in err
    assert main(["export", "--run", "capped", "--out", str(tmp_path / "x.nir"),
                 "--allow-capacity"]) == 0


def test_train_init_from_starts_with_the_graphs_weights(tmp_path, monkeypatch, capsys):
    source = model_of()
    path = tmp_path / "start.nir"
    write_nir(source, path)
    seen = {}
    real = snnlib.train.train_and_evaluate

    def spy(config, dataset=None, *, initialize):
        def initialize_and_look(model):
            initialize(model)
            seen["kernels"] = [k.numpy() for k in model.stack.kernels]

        seen["config"] = config
        return real(config, dataset, initialize=initialize_and_look)

    monkeypatch.setattr(snnlib.train, "train_and_evaluate", spy)
    assert main(["train", "--preset", "tiny", "--epochs", "1", "--no-progress",
                 "--init-from", str(path)]) == 0
    assert seen["config"].hidden == (32,) and seen["config"].lif.alpha == pytest.approx(0.9)
    assert seen["config"].lif.weight_mul == 2.0  # a training detail, from our metadata
    for a, b in zip(seen["kernels"], source.stack.kernels):
        np.testing.assert_array_equal(a, b.numpy())
    assert "test_accuracy" in capsys.readouterr().out


def test_train_init_from_errors(tmp_path, capsys):
    path = tmp_path / "small.nir"
    write_nir(model_of([12, 16, 8]), path)
    assert main(["train", "--preset", "tiny", "--epochs", "1", "--no-progress",
                 "--init-from", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the graph is a spikes-readout network [12, 16, 8]" in err and "[32, 16, 5]" in err
    assert main(["train", "--preset", "tiny", "--hidden", "8", "--init-from", str(path)]) == 2
    assert "--hidden: the network comes from --init-from" in capsys.readouterr().err
    (tmp_path / "bad.nir").write_text("text")
    assert main(["train", "--preset", "tiny", "--init-from", str(tmp_path / "bad.nir")]) == 2
    assert "bad.nir is not a NIR file" in capsys.readouterr().err


def test_graph_of_to_nir_is_what_export_writes(tmp_path, fake_runs):
    model = model_of()
    fake_runs["r"] = model
    main(["export", "--run", "r", "--out", str(tmp_path / "a.nir")])
    assert sorted(read_nir(tmp_path / "a.nir").nodes) == sorted(to_nir(model).nodes)
