"""The training loop feeds the sparse implementations index lists built per batch from the
stored data (no raster, no conversion in the step), and cross-validation over folds."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from snnlib.data import load_dataset
from snnlib.data.feed import make_feeds
from snnlib.train import TrainConfig, evaluation_stream, train_and_evaluate, training_stream
from snnlib.train.crossval import cross_validate, mean_sd
from snnlib.train.loop import build_model

NMNIST = dict(limit=40, limit_test=20, n_steps=30)
# The preset's network without its conv layer, with a spike-count readout: these tests are about
# the data pipeline and the folds, which a small MLP exercises fastest.
MLP = dict(readout="spikes", conv={})


def test_sparse_stream_yields_int_index_lists_and_dense_stream_rasters():
    ds = load_dataset("nmnist-small", index_lists=True, progress=False, **NMNIST)
    train, test = make_feeds(ds, augment={"shift": 1})
    sparse = training_stream(train, ds.y_train, 8, seed=0, epochs=2, form="sparse", capacity=40)
    x, y = next(iter(sparse))
    assert set(x) == {"ids", "counts"} and x["ids"].dtype == tf.int32
    assert x["ids"].shape == (8, 30, 40) and x["counts"].shape == (8, 30, 2) and y.shape == (8,)
    dense = evaluation_stream(test, ds.y_test, 8)
    xd, yd = next(iter(dense))
    assert xd.dtype == tf.float32 and xd.shape == (8, 30, 1152)
    np.testing.assert_array_equal(yd.numpy(), ds.y_test[:8])
    # The same batches in the same order from a given step on, augmented alike (resumption).
    later = list(training_stream(train, ds.y_train, 8, seed=0, epochs=2, form="sparse",
                                 capacity=40, first_step=6))
    every = list(sparse)
    assert len(every) == 10 and len(later) == 4
    for (a, ya), (b, yb) in zip(every[6:], later):
        np.testing.assert_array_equal(a["ids"].numpy(), b["ids"].numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_index_lists_from_the_pipeline_give_the_logits_of_rasters_converted_in_the_model():
    ds = load_dataset("nmnist-small", index_lists=True, progress=False, **NMNIST)
    config = TrainConfig.from_preset("nmnist-small", **MLP, hidden=(32,), impl="sparse_layer",
                                     max_activity=0.2, progress=False, lr_schedule="constant")
    train, _ = make_feeds(ds)
    s_in = train.max_count()
    model = build_model(config, ds.n_in, ds.n_classes, input_capacity=s_in)
    index = np.arange(6)
    ids, counts = train.inputs(index, None, "sparse", s_in)
    from_lists = model({"ids": tf.constant(ids), "counts": tf.constant(counts)})
    from_raster = model(tf.constant(train.dense(index, None)))
    np.testing.assert_allclose(from_lists.numpy(), from_raster.numpy(), rtol=1e-6, atol=1e-6)


def test_sparse_training_on_binned_data_keeps_the_dataset_as_index_lists(monkeypatch):
    from snnlib.data import events

    def no_raster(*args, **kwargs):
        raise AssertionError("a whole-split raster was built")

    monkeypatch.setattr(events.BinnedSet, "dense", no_raster)
    config = TrainConfig.from_preset("nmnist-small", **MLP, hidden=(16,), epochs=1, batch_size=10,
                                     impl="sparse_layer", max_activity=0.25, progress=False,
                                     data=NMNIST, augment={"shift": 1})
    result = train_and_evaluate(config)
    assert result["input_capacity"] >= 1 and 0.0 <= result["test_accuracy"] <= 1.0
    assert result["history"][0]["train_overflow_0"] >= 0.0


def test_cross_validation_runs_every_fold_and_summarises_mean_and_sd(tmp_path):
    config = TrainConfig.from_preset("nmnist-small", **MLP, hidden=(8,), epochs=1, batch_size=10,
                                     progress=False, data=dict(limit=30, n_steps=20),
                                     out_dir=str(tmp_path / "cv"))
    lines = []
    summary = cross_validate(config, 3, log=lines.append)
    accs = [row["test_accuracy"] for row in summary["folds"]]
    assert [row["fold"] for row in summary["folds"]] == [0, 1, 2] and len(lines) == 3
    assert summary["mean"] == pytest.approx(np.mean(accs))
    assert summary["sd"] == pytest.approx(np.std(accs, ddof=1))
    assert all(row["test_curve"] == [row["test_accuracy"]] for row in summary["folds"])
    assert (tmp_path / "cv" / "cv.json").exists() and (tmp_path / "cv" / "fold_2").is_dir()
    with pytest.raises(ValueError, match="has no cross-validation folds"):
        cross_validate(TrainConfig.from_preset("tiny"), 3)


def test_resumed_cross_validation_reads_finished_folds_back_and_trains_the_rest(tmp_path):
    from snnlib.train.crossval import finished_fold

    config = TrainConfig.from_preset("nmnist-small", **MLP, hidden=(8,), epochs=1, batch_size=10,
                                     progress=False, data=dict(limit=30, n_steps=20),
                                     out_dir=str(tmp_path / "cv"), resume=True)
    first = cross_validate(config, 2)
    assert [row["reused"] for row in first["folds"]] == [False, False]
    (tmp_path / "cv" / "fold_1" / "metrics.json").write_text('{"config": ')  # cut short
    lines = []
    again = cross_validate(dataclasses.replace(config, progress=True), 2, log=lines.append)
    assert [row["reused"] for row in again["folds"]] == [True, False]
    assert "read back from" in lines[0] and "read back" not in lines[1]
    assert again["folds"][0]["test_curve"] == first["folds"][0]["test_curve"]
    assert json.loads((tmp_path / "cv" / "fold_1" / "metrics.json").read_text())["history"]
    fold = dataclasses.replace(config, out_dir=str(tmp_path / "cv" / "fold_0"),
                               data={**config.data, "fold": 0, "n_folds": 2})
    assert finished_fold(fold) is not None
    assert finished_fold(dataclasses.replace(fold, lr=config.lr / 2)) is None  # another recipe
    assert finished_fold(dataclasses.replace(fold, epochs=2)) is None
    assert finished_fold(dataclasses.replace(fold, out_dir=str(tmp_path / "none"))) is None
    fresh = cross_validate(dataclasses.replace(config, resume=False), 2, folds=[0])
    assert [row["reused"] for row in fresh["folds"]] == [False]


def test_mean_sd_is_the_sample_standard_deviation():
    assert mean_sd([0.9, 0.95, 1.0]) == pytest.approx((0.95, 0.05))
    assert mean_sd([0.5]) == (0.5, 0.0)


def test_cosine_schedule_decays_the_learning_rate_to_zero():
    config = TrainConfig.from_preset("tiny", lr_schedule="cosine", lr=0.01)
    optimizer = build_model(config, 32, 5, total_steps=100).optimizer
    for step, lr in ((0, 0.01), (50, 0.005), (100, 0.0)):
        optimizer.iterations.assign(step)
        assert float(optimizer.learning_rate) == pytest.approx(lr, abs=1e-7)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        TrainConfig.from_preset("tiny", lr_schedule="step")
    with pytest.raises(ValueError, match="needs total_steps"):
        build_model(config, 32, 5)


def test_weight_decay_shrinks_the_weights_by_lr_times_lambda_per_step():
    """AdamW's decoupled decay: with a zero gradient Adam's step is 0, so one step multiplies
    every weight by exactly 1 - lr * lambda; weight_decay=0 keeps plain Adam."""
    import keras

    assert isinstance(build_model(TrainConfig.from_preset("tiny"), 32, 5).optimizer,
                      keras.optimizers.Adam)
    config = TrainConfig.from_preset("tiny", lr=0.01, weight_decay=0.5)
    model = build_model(config, 32, 5)
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.optimizer.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    for b, v in zip(before, model.trainable_variables):
        np.testing.assert_allclose(v.numpy(), b * (1 - 0.01 * 0.5), rtol=1e-6)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        TrainConfig.from_preset("tiny", weight_decay=-0.1)
