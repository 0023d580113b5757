import numpy as np
import pytest
import tensorflow as tf

from snnlib.learning import fixed_matrices, online_gradients
from snnlib.learning.memory import stored_floats

from .conftest import make_batch, make_weights


@pytest.mark.parametrize("rule", ["eprop", "decolle"])
def test_stored_state_has_no_time_axis(rng, params, rule):
    sizes = [6, 7, 9, 3]
    weights = make_weights(sizes)
    fixed = fixed_matrices(rule, sizes, dtype="float64")
    run = tf.function(lambda x, y: online_gradients(rule, weights, x, y, params, fixed=fixed).state)
    shapes = {}
    for steps in (50, 400):
        x, y = make_batch(rng, sizes, batch=2, steps=steps)
        state = run(tf.constant(x), tf.constant(y))
        shapes[steps] = [tuple(t.shape) for t in tf.nest.flatten(state)]
        assert all(steps not in shape for shape in shapes[steps])
    assert shapes[50] == shapes[400]
    n_floats = sum(int(np.prod(s)) for s in shapes[400])
    assert n_floats == stored_floats(rule, sizes, 2, 400)
    assert stored_floats("bptt", sizes, 2, 400) == 8 * stored_floats("bptt", sizes, 2, 50) - 7 * sum(
        int(np.prod(w.shape)) for w in weights)


def test_stored_floats_validation():
    with pytest.raises(ValueError, match="rule"):
        stored_floats("rtrl", [4, 3], 2, 10)


@pytest.mark.parametrize("rule", ["eprop", "decolle"])
def test_classifier_fit_with_online_rule(rng, rule):
    import keras

    from snnlib import LIFParams
    from snnlib.layers import SNNClassifier

    x = (rng.random((16, 20, 12)) < 0.2).astype(np.float32)
    y = rng.integers(0, 3, 16).astype(np.int32)
    model = SNNClassifier([12, 16, 3], LIFParams(alpha=0.9), rule=rule)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.build((None, None, 12))
    before = [w.numpy().copy() for w in model.trainable_variables]
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert {"loss", "accuracy", "activity_0", "rule_loss"} <= set(hist.history)
    assert any(np.any(a != w.numpy()) for a, w in zip(before, model.trainable_variables))
    assert len(model.non_trainable_variables) == (1 if rule == "decolle" else 0)
    assert "rule_loss" not in model.evaluate(x, y, verbose=0, return_dict=True)
    assert model.get_config()["rule"] == rule


def test_online_rule_validation():
    from snnlib.layers import SNNClassifier
    from snnlib.training import TrainConfig

    with pytest.raises(ValueError, match="rule"):
        SNNClassifier([12, 16, 3], rule="hebb")
    with pytest.raises(ValueError, match="impl='dense'"):
        SNNClassifier([12, 16, 3], rule="eprop", impl="sparse_ops", max_activity=0.5)
    with pytest.raises(ValueError, match="rule"):
        TrainConfig(rule="hebb")
    with pytest.raises(ValueError, match="readout='spikes'"):
        TrainConfig(rule="decolle", readout="leaky")
    with pytest.raises(ValueError, match="feedback"):
        TrainConfig(rule="eprop", feedback="mirror")
    with pytest.raises(ValueError, match="rule"):
        online_gradients("bptt", [], None, None, None)


def test_cli_trains_with_eprop(tmp_path):
    import json

    from tests.test_cli import run_cli

    proc = run_cli("train", "--preset", "tiny", "--rule", "eprop", "--epochs", "1", "--no-progress",
                   "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["config"]["rule"] == "eprop"
