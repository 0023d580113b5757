"""Scale-out with ``tf.distribute`` (DESIGN.md section 6): data-parallel training.

``TrainConfig.strategy`` names the strategy:

* ``None``: the default (one device);
* ``"mirrored"``: ``tf.distribute.MirroredStrategy`` over every local GPU, or, without GPUs,
  over every logical CPU device (``tf.config.set_logical_device_configuration`` splits one
  CPU into several before TensorFlow initialises its devices);
* ``"multiworker"``: ``tf.distribute.MultiWorkerMirroredStrategy``; the cluster comes from
  the ``TF_CONFIG`` environment variable, one process per worker, all running the same
  configuration.

Each replica computes the loss of its share of the global batch; the classifier scales it by
``1 / num_replicas`` and Keras' optimizer sums the replicas' gradients, so the update equals
single-device training on the same global batch (equal shares: the training stream drops a
last partial batch under a strategy). The compiled ops run inside every replica unchanged.
"""

from __future__ import annotations

import json
import os

STRATEGIES = ("mirrored", "multiworker")


def make_strategy(name: str | None):
    """The ``tf.distribute`` strategy named ``name`` (``None`` -> ``None``)."""
    if name is None:
        return None
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be None or one of {STRATEGIES}; got {name!r}")
    import tensorflow as tf

    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if "TF_CONFIG" not in os.environ:
        raise ValueError("strategy='multiworker' needs the TF_CONFIG environment variable "
                         "(cluster and task of this worker)")
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief() -> bool:
    """True unless ``TF_CONFIG`` names this process a worker other than worker 0 (or a
    non-chief task): the chief alone writes checkpoints."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    task = json.loads(raw).get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    return kind == "chief" or (kind == "worker" and index == 0 and
                               "chief" not in json.loads(raw).get("cluster", {}))


def distribute_options(dataset):
    """Shard a dataset by data (not files) across workers; returns the dataset."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def adapt_for_multiworker(model) -> None:
    """Work around two Keras 3.15 gaps with ``MultiWorkerMirroredStrategy`` (in place).

    1. ``fit`` peeks at the first distributed batch and averages it with
       ``strategy.reduce`` to build unbuilt state, which fails in eager mode under this
       strategy; :func:`snnlib.train.build_model` has built the model and optimizer, so
       the peek is skipped.
    2. ``fit`` reduces the step's logs with ``strategy.reduce("MEAN", v, axis=0)``, which
       needs a batch axis; the logs (already synchronised metric results, equal on every
       replica) get a leading axis of length 1, so the mean is the value itself.
    """
    import tensorflow as tf

    model._maybe_symbolic_build = lambda *args, **kwargs: None
    for name in ("train_step", "test_step"):
        step = getattr(model, name)

        def with_axis(data, _step=step):
            return {k: tf.reshape(v, [1]) for k, v in _step(data).items()}

        setattr(model, name, with_axis)
