import json

import numpy as np
import pytest

from snnlib import LIFParams
from snnlib.train import PRESETS, TrainConfig, train_and_evaluate


def test_randman_default_preset_reaches_85_percent(capsys):
    result = train_and_evaluate(TrainConfig.from_preset("randman", progress=False))
    with capsys.disabled():
        print(f"\n[randman preset] test accuracy {result['test_accuracy']:.4f} "
              f"in {result['wall_time_s']:.1f} s")
    assert result["test_accuracy"] >= 0.85
    losses = [row["train_loss"] for row in result["history"]]
    assert losses[-1] < losses[0]


def test_same_seed_reproduces_the_loss_curve():
    runs = [train_and_evaluate(TrainConfig.from_preset("tiny", progress=False, seed=5))
            for _ in range(2)]
    curves = [[(r["train_loss"], r["test_loss"]) for r in run["history"]] for run in runs]
    assert curves[0] == curves[1]
    other = train_and_evaluate(TrainConfig.from_preset("tiny", progress=False, seed=6))
    assert [(r["train_loss"], r["test_loss"]) for r in other["history"]] != curves[0]


def test_logs_are_written(tmp_path):
    out = tmp_path / "run"
    result = train_and_evaluate(TrainConfig.from_preset("tiny", progress=False, out_dir=str(out),
                                                        readout="leaky"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] == pytest.approx(result["test_accuracy"])
    lines = (out / "history.csv").read_text().strip().splitlines()
    assert lines[0].startswith("epoch,") and len(lines) == 1 + result["config"]["epochs"]
    assert "train_activity_0" in lines[0]
    assert not list(out.glob("*.tmp"))


@pytest.mark.parametrize("fields,name", [({"impl": "gpu"}, "impl"), ({"epochs": 0}, "epochs"),
                                         ({"lr": -1.0}, "lr"), ({"lif": {"alpha": 1.5}}, "alpha"),
                                         ({"batch_size": 0}, "batch_size")])
def test_invalid_config_raises(fields, name):
    with pytest.raises(ValueError, match=name):
        TrainConfig(**fields)


def test_sparse_impl_needs_max_activity():
    with pytest.raises(ValueError, match="max_activity"):
        TrainConfig(impl="sparse_layer")
    assert TrainConfig(impl="sparse_layer", max_activity=1.0).max_activity == 1.0


def test_presets_nest_lif_params_and_take_neuron_overrides():
    config = TrainConfig.from_preset("tiny", th2=0.9, alpha=0.8, epochs=1)
    assert config.lif == LIFParams(alpha=0.8, th2=0.9) and config.epochs == 1
    assert config.lif_params().th2 == (0.9, None)  # the spiking output layer is never masked
    assert PRESETS["tiny"].lif.th2 is None  # the preset itself is unchanged


def test_unknown_preset_and_dataset():
    with pytest.raises(ValueError, match="valid choices"):
        TrainConfig.from_preset("huge")
    with pytest.raises(ValueError, match="valid choices"):
        train_and_evaluate(TrainConfig(dataset="mnist-video", progress=False))


def test_sparse_layer_at_5_percent_matches_dense_accuracy(capsys):
    """Issue 4: randman, max activity 5%, same seed and epochs: within 2 points of dense."""
    runs = {}
    for impl, extra in (("dense", {}), ("sparse_layer", {"max_activity": 0.05})):
        runs[impl] = train_and_evaluate(TrainConfig.from_preset(
            "randman", impl=impl, th2=0.9, progress=False, **extra))
    dense, sparse = runs["dense"]["test_accuracy"], runs["sparse_layer"]["test_accuracy"]
    with capsys.disabled():
        print(f"\n[randman th2=0.9] dense {dense:.4f} ({runs['dense']['wall_time_s']:.1f} s), "
              f"sparse_layer 5% {sparse:.4f} ({runs['sparse_layer']['wall_time_s']:.1f} s), "
              f"overflow {runs['sparse_layer']['history'][-1].get('train_overflow_0')}")
    assert sparse >= dense - 0.02


class _Loaded(Exception):
    pass


@pytest.mark.parametrize("config_progress, data, expected", [
    (True, {}, True), (False, {}, False), (True, {"progress": False}, False),
    (False, {"progress": True}, False)])
def test_the_data_progress_bar_follows_the_run_and_the_data_option(monkeypatch, config_progress,
                                                                  data, expected):
    import snnlib.train.config

    seen = {}

    def fake_load(name, **kwargs):
        seen.update(kwargs)
        raise _Loaded

    monkeypatch.setattr(snnlib.train.config, "load_dataset", fake_load)
    config = TrainConfig.from_preset("tiny", progress=config_progress, data=data)
    with pytest.raises(_Loaded):
        train_and_evaluate(config)
    assert seen["progress"] is expected and list(seen).count("progress") == 1
