"""Training: the run's configuration (:mod:`.config`, presets as code), the one loop
``train_and_evaluate`` (:mod:`.loop`), run directories (:mod:`.run`: the trained model as an
artifact), K-fold cross-validation (:mod:`.crossval`), checkpoints, ``tf.distribute`` and
TensorBoard."""

from snnlib.train.config import LIF_FIELDS, PRESETS, TrainConfig, load_config_dataset
from snnlib.train.crossval import cross_validate
from snnlib.train.loop import build_model, train_and_evaluate
from snnlib.train.run import Run, evaluate_run, load_run
from snnlib.train.stream import evaluation_stream, training_stream

__all__ = ["LIF_FIELDS", "PRESETS", "Run", "TrainConfig", "build_model", "cross_validate",
           "evaluate_run",
           "evaluation_stream", "load_config_dataset", "load_run", "train_and_evaluate",
           "training_stream"]
