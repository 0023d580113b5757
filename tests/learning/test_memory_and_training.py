import numpy as np
import pytest
import tensorflow as tf

from snnlib.learning import fixed_matrices, online_gradients
from snnlib.learning.memory import (ALLOCATOR_METHOD, RSS_METHOD, format_memory_table,
                                    measure_step_memory, probe_environment, stored_floats)

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
    from snnlib.train import TrainConfig

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


def test_probe_environment_selects_the_bfc_allocator_whatever_the_caller_set():
    env = probe_environment({"TF_CPU_ALLOCATOR_USE_BFC": "false", "TF_ENABLE_ONEDNN_OPTS": "0",
                             "KERAS_BACKEND": "jax", "PATH": "/bin"})
    assert env["TF_CPU_ALLOCATOR_USE_BFC"] == "true" and env["PATH"] == "/bin"
    assert "TF_ENABLE_ONEDNN_OPTS" not in env and "KERAS_BACKEND" not in env


def test_step_memory_is_measured_even_where_the_caller_disabled_allocator_stats(monkeypatch):
    monkeypatch.setenv("TF_CPU_ALLOCATOR_USE_BFC", "false")
    row = measure_step_memory("bptt", 20, sizes=(16, 8, 2), batch=4)
    assert row["step_peak_method"] == ALLOCATOR_METHOD and row["step_peak_mb"] > 0
    assert row["rss_peak_method"] == RSS_METHOD and row["finite"]


def test_memory_table_says_which_figure_is_missing_and_why():
    rows = [{"rule": "bptt", "steps": 10, "stored_mb": 1.0, "step_peak_mb": None,
             "step_peak_method": "unavailable: no allocator statistics", "rss_peak_mb": 2.0,
             "rss_peak_method": RSS_METHOD}]
    text = format_memory_table(rows)
    assert "allocator peak       - MB" in text and "RSS peak     2.0 MB" in text
    assert text.splitlines()[-1].startswith("measured by: ") and "unavailable" in text
