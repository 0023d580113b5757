"""Run directories (issue 16, item 5): a trained model is an artifact. ``load_run`` gives it
back and ``evaluate_run`` reproduces the run's final test numbers exactly, without training."""

import json

import pytest

import snnlib
from snnlib.train import Run, TrainConfig, evaluate_run, load_run, train_and_evaluate
from snnlib.train.run import config_json

RUNS = {"dense": {}, "sparse_layer": {"impl": "sparse_layer", "max_activity": 0.25, "th2": 0.9}}


@pytest.fixture(scope="module", params=sorted(RUNS))
def trained(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"run_{request.param}")
    config = TrainConfig.from_preset("tiny", epochs=1, progress=False, out_dir=str(out),
                                     **RUNS[request.param])
    result = train_and_evaluate(config)
    return out, config, result


def test_a_finished_run_holds_its_model_and_config(trained):
    out, config, _ = trained
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.json", "history.csv", "metrics.json", "model.keras"]
    assert TrainConfig.from_dict(json.loads((out / "config.json").read_text())) == config


def test_evaluate_reproduces_the_runs_final_test_numbers_exactly(trained):
    out, config, result = trained
    run = snnlib.load_run(out)
    assert isinstance(run, Run) and run.config == config and run.path == out
    assert run.metrics["test_accuracy"] == result["test_accuracy"]
    assert [row["epoch"] for row in run.history] == [1.0]
    before = [w.numpy().copy() for w in run.model.weights]
    numbers = evaluate_run(run)
    last = result["history"][-1]
    assert numbers["accuracy"] == result["test_accuracy"]
    assert numbers["loss"] == result["test_loss"]
    assert numbers["activity"] == [last["test_activity_0"], last["test_activity_1"]]
    if config.impl == "dense":
        assert numbers["overflow"] == [0.0, 0.0]
    else:
        assert numbers["overflow"] == [last["test_overflow_0"], last["test_overflow_1"]]
    assert (numbers["dataset"], numbers["split"], numbers["n_samples"]) == ("randman", "test", 100)
    assert all((w.numpy() == b).all() for w, b in zip(run.model.weights, before))


def test_other_splits_and_batch_sizes(trained):
    out, _, result = trained
    run = load_run(out)
    train = evaluate_run(run, split="train", batch_size=50)
    assert train["n_samples"] == 400 and train["batch_size"] == 50
    # Accuracy is a per-sample mean: the batch size does not change it.
    assert evaluate_run(run, batch_size=100)["accuracy"] == pytest.approx(
        result["test_accuracy"], abs=1e-6)


def test_a_dataset_of_another_shape_is_refused(trained):
    run = load_run(trained[0])
    with pytest.raises(ValueError, match="takes 32 inputs"):
        evaluate_run(run, data={"n_units": 16})
    with pytest.raises(ValueError, match="split"):
        evaluate_run(run, split="validation")


def test_not_a_finished_run(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        load_run(tmp_path / "nowhere")
    old = tmp_path / "old"  # what an older snnlib left: logs, no model
    old.mkdir()
    (old / "metrics.json").write_text("{}")
    (old / "history.csv").write_text("epoch\n1\n")
    with pytest.raises(ValueError, match=r"old is not a finished training run: it has no "
                                         r"config\.json.*older snnlib.*--out"):
        load_run(old)
    (old / "config.json").write_text(config_json(TrainConfig.from_preset("tiny")))
    with pytest.raises(ValueError, match=r"no model\.keras"):
        load_run(old)


def test_config_json_round_trips_and_names_bad_fields(tmp_path):
    config = TrainConfig.from_preset("tiny", th2=0.5, alpha=0.8, hidden=(8, 4),
                                     data={"n_steps": 20})
    assert TrainConfig.from_dict(json.loads(config_json(config))) == config
    with pytest.raises(ValueError, match=r"unknown TrainConfig fields \['colour'\]"):
        TrainConfig.from_dict({**config.to_dict(), "colour": "red"})
    with_path = TrainConfig.from_preset("tiny", data={"root": tmp_path})
    assert TrainConfig.from_dict(json.loads(config_json(with_path))).data == {
        "root": str(tmp_path)}
    with pytest.raises(ValueError, match="field data="):
        config_json(TrainConfig.from_preset("tiny", data={"transform": object()}))
