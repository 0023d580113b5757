"""Training: the run's configuration (:mod:`.config`, presets as code), the one loop
``train_and_evaluate`` (:mod:`.loop`), checkpoints, ``tf.distribute`` and TensorBoard."""

from snnlib.train.config import LIF_FIELDS, PRESETS, TrainConfig
from snnlib.train.loop import build_model, train_and_evaluate
from snnlib.train.stream import evaluation_stream, training_stream

__all__ = ["LIF_FIELDS", "PRESETS", "TrainConfig", "build_model", "evaluation_stream",
           "train_and_evaluate", "training_stream"]
