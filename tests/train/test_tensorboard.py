"""TensorBoard logging: loss, accuracy, per-layer activity and overflow, step time."""

from snnlib.train import TrainConfig, train_and_evaluate


def _tags(log_dir):
    import tensorflow as tf

    tags = set()
    for path in log_dir.rglob("events.out.tfevents*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(v.tag for v in event.summary.value)
    return tags


def test_tensorboard_scalars_are_written(tmp_path):
    config = TrainConfig.from_preset("tiny", epochs=1, impl="sparse_ops", max_activity=0.5,
                                     progress=False, tensorboard_dir=str(tmp_path / "tb"))
    train_and_evaluate(config)
    tags = _tags(tmp_path / "tb")
    for tag in ("train/loss", "train/accuracy", "train/activity_0", "train/overflow_0",
                "train/step_time_ms", "epoch/loss", "epoch/test_accuracy", "epoch/activity_1"):
        assert tag in tags, f"{tag} missing from {sorted(tags)}"
