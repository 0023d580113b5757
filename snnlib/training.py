"""One training loop, ``train_and_evaluate(config)``, used by the CLI, notebooks and tests.

The loop is Keras ``model.fit`` on :class:`snnlib.layers.SNNClassifier` with a seeded
``tf.data`` pipeline, a tqdm progress bar, per-epoch train/test loss, accuracy, activity and
overflow, and a CSV + JSON log written atomically to ``config.out_dir``. Same config and
seed, same numbers.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import time
from pathlib import Path
from typing import Any

from snnlib.atomic import write_atomic
from snnlib.functional.lif import IMPLS, LIFParams

# Named configurations; a preset fills every field the user did not set.
PRESETS: dict[str, dict[str, Any]] = {
    # The seed's randman task (10 classes, 128 units, 100 steps, 1000 samples per class) with
    # one hidden layer; tests/test_training.py checks >= 85% test accuracy.
    "randman": dict(dataset="randman", hidden=(128,), readout="spikes", epochs=5, batch_size=48,
                    lr=3e-3, alpha=0.9, data={}),
    # The embedded 1,000 real N-MNIST recordings (900 train / 100 held out), 24x24x2 inputs,
    # T = 300 steps of 1 ms: 96% held-out accuracy in about 50 s on 2 cores (issue 5 note).
    "nmnist-small": dict(dataset="nmnist-small", hidden=(512,), readout="leaky", epochs=10,
                         batch_size=32, lr=2e-3, alpha=0.95, data={}),
    # Seconds on 2 cores: notebooks' tiny preset and smoke tests.
    "tiny": dict(dataset="randman", hidden=(32,), readout="spikes", epochs=3, batch_size=32,
                 lr=1e-2, alpha=0.9,
                 data=dict(n_classes=5, n_samples_per_class=100, n_steps=50, n_units=32)),
}


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on.

    The network is ``[n_in, *hidden, n_classes]``; ``n_in``/``n_classes`` come from the data.
    Neuron constants default to the seed's (``LIFParams``). ``rule`` picks the learning rule
    (``"bptt"``, ``"eprop"``, ``"decolle"``; the online rules need ``impl="dense"`` and
    ``readout="spikes"``); ``feedback`` is e-prop's hidden-layer feedback
    (``"symmetric"`` or ``"random"``).
    """

    dataset: str = "randman"
    impl: str = "dense"
    hidden: tuple[int, ...] = (128,)
    readout: str = "spikes"
    epochs: int = 10
    batch_size: int = 48
    lr: float = 1e-3
    seed: int = 0
    alpha: float = 0.95
    gain: float = 10.0
    th1: float = 1.0
    th2: float | tuple | None = None
    beta: float = 10.0
    layer_delay: bool = True
    weight_mul: float = 1.0
    max_activity: float | None = None
    input_capacity: int | None = None
    data: dict = dataclasses.field(default_factory=dict)
    out_dir: str | None = None
    progress: bool = True
    jit_compile: bool = False
    strategy: str | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int | None = None
    keep_checkpoints: int = 3
    resume: bool = False
    tensorboard_dir: str | None = None
    rule: str = "bptt"
    feedback: str = "symmetric"

    def __post_init__(self):
        from snnlib.learning import RULES

        if self.impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}; got {self.impl!r}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}; got {self.rule!r}")
        if self.feedback not in ("symmetric", "random"):
            raise ValueError(f"feedback must be 'symmetric' or 'random'; got {self.feedback!r}")
        if self.rule != "bptt" and (self.impl != "dense" or self.readout != "spikes"):
            raise ValueError(f"rule={self.rule!r} needs impl='dense' and readout='spikes'; got "
                             f"impl={self.impl!r}, readout={self.readout!r}")
        self.hidden = tuple(int(h) for h in self.hidden)
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number; got {self.lr!r}")
        self.lif_params()  # validates the neuron constants early
        from snnlib.distribute import STRATEGIES

        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be None or one of {STRATEGIES}; got {self.strategy!r}")
        if self.checkpoint_every is not None and int(self.checkpoint_every) < 1:
            raise ValueError(f"checkpoint_every must be >= 1 step; got {self.checkpoint_every!r}")
        if int(self.keep_checkpoints) < 1:
            raise ValueError(f"keep_checkpoints must be >= 1; got {self.keep_checkpoints!r}")
        if (self.resume or self.checkpoint_every) and self.checkpoint_directory() is None:
            raise ValueError("checkpoint_every/resume need checkpoint_dir or out_dir")

    def checkpoint_directory(self) -> Path | None:
        """Where checkpoints go: ``checkpoint_dir``, else ``<out_dir>/checkpoints``."""
        if self.checkpoint_dir:
            return Path(self.checkpoint_dir)
        return Path(self.out_dir) / "checkpoints" if self.out_dir else None

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> "TrainConfig":
        """A config from a named preset with some fields overridden."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; valid choices: {', '.join(PRESETS)}")
        fields = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**fields)

    def lif_params(self) -> LIFParams:
        """The neuron constants of this run.

        ``th2`` (a number) masks the gradients of the hidden LIF layers; a spiking output layer
        (``readout="spikes"``) is never masked, as in the seed (th2 = -100 on the output). A
        tuple is passed through unchanged (one entry per LIF layer).
        """
        th2 = self.th2
        if isinstance(th2, (int, float)) and self.readout == "spikes":
            th2 = (float(th2),) * len(self.hidden) + (None,)
        return LIFParams(alpha=self.alpha, gain=self.gain, th1=self.th1, th2=th2,
                         beta=self.beta, layer_delay=self.layer_delay, weight_mul=self.weight_mul)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _history_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    keys = sorted({k for row in rows for k in row}, key=lambda k: (k != "epoch", k))
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def build_model(config: TrainConfig, n_in: int, n_classes: int):
    """The :class:`SNNClassifier` of a config, compiled with Adam."""
    import keras

    from snnlib.layers.classifier import SNNClassifier

    sizes = [n_in, *config.hidden, n_classes]
    model = SNNClassifier(sizes, config.lif_params(), impl=config.impl, readout=config.readout,
                          max_activity=config.max_activity, input_capacity=config.input_capacity,
                          seed=config.seed, rule=config.rule, feedback=config.feedback)
    model.compile(optimizer=keras.optimizers.Adam(config.lr), jit_compile=config.jit_compile)
    model.build((None, None, n_in))
    model.optimizer.build(model.trainable_variables)  # optimizer state exists for checkpoints
    return model


def _epoch_logger(history: list, t0: float, config: TrainConfig, progress_total: int):
    import keras
    from tqdm.auto import tqdm

    class EpochLogger(keras.callbacks.Callback):
        """Collects per-epoch metrics, drives a progress bar, rewrites the logs each epoch."""

        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=progress_total, disable=not config.progress, unit="step",
                            desc="train", leave=True)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)
            if logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}",
                                     acc=f"{float(logs.get('accuracy', 0.0)):.3f}")

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "epoch_time_s": time.perf_counter() - self.epoch_start,
                   "elapsed_s": time.perf_counter() - t0}
            for key, value in (logs or {}).items():
                name = key[4:] if key.startswith("val_") else key
                row[("test_" if key.startswith("val_") else "train_") + name] = float(value)
            history.append(row)
            if config.out_dir:
                write_atomic(Path(config.out_dir) / "history.csv", _history_csv(history))

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochLogger()


def training_stream(x, y, batch_size: int, *, seed: int, epochs: int,
                    drop_remainder: bool = False, first_step: int = 0, dtype="float32"):
    """The training batches of a whole run as one ``tf.data`` stream, from global step
    ``first_step`` on.

    Epoch ``e`` visits the samples in the order ``np.random.default_rng([seed, e])
    .permutation(n)``, in batches of ``batch_size`` (the last one partial unless
    ``drop_remainder``). The order is a pure function of ``(seed, e)``: it does not depend on
    how often a dataset was iterated before (a reshuffling ``tf.data`` shuffle does, and
    Keras peeks at datasets under ``tf.distribute``), so the ``k``-th batch is the same in an
    uninterrupted run, a resumed run and a distributed run. Skipping costs only indices.
    """
    import numpy as np
    import tensorflow as tf

    n = len(y)
    perms = np.stack([np.random.default_rng([seed, e]).permutation(n) for e in range(epochs)])
    x_all, y_all = tf.constant(x), tf.constant(np.asarray(y, np.int32))
    ds = tf.data.Dataset.from_tensor_slices(perms.astype(np.int64)).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(
            int(batch_size), drop_remainder=drop_remainder))
    ds = ds.skip(int(first_step))
    ds = ds.map(lambda idx: (tf.cast(tf.gather(x_all, idx), dtype), tf.gather(y_all, idx)),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def train_and_evaluate(config: TrainConfig, dataset=None) -> dict:
    """Train the configured network and evaluate it on the test split after every epoch.

    Args:
        config: the run's :class:`TrainConfig`.
        dataset: an already loaded :class:`SpikeDataset` (else ``load_dataset(config.dataset,
            seed=config.seed, **config.data)``, with no progress bar unless ``config.progress``).

    The training data is one seeded stream of batches (:func:`training_stream`, reshuffled
    every epoch); global step ``k`` always sees the stream's ``k``-th batch, which is what
    makes a resumed or distributed run equal an uninterrupted single-device one.

    Returns:
        ``{"config", "dataset", "history" (one dict per epoch), "test_accuracy",
        "test_loss", "wall_time_s", "model"}`` (+ ``"resumed_from_step"`` when resuming).
        With ``out_dir`` set, ``history.csv`` and ``metrics.json`` are written there
        (atomically, after every epoch / at the end).
    """
    import contextlib

    import keras

    from snnlib.data import load_dataset, make_tf_dataset
    from snnlib.distribute import (adapt_for_multiworker, distribute_options, is_chief,
                                   make_strategy)

    keras.utils.set_random_seed(config.seed)
    t0 = time.perf_counter()
    if dataset is None:
        options = dict(config.data)  # a "progress" option of the data can only turn bars off
        progress = bool(options.pop("progress", True)) and config.progress
        dataset = load_dataset(config.dataset, seed=config.seed, progress=progress, **options)
    strategy = make_strategy(config.strategy)
    equal_shares = strategy is not None

    def train_stream(first_step: int):
        ds = training_stream(dataset.x_train, dataset.y_train, config.batch_size,
                             seed=config.seed, epochs=config.epochs,
                             drop_remainder=equal_shares, first_step=first_step)
        return ds if strategy is None else distribute_options(ds)

    test = make_tf_dataset(dataset.x_test, dataset.y_test, config.batch_size, shuffle=False)
    if strategy is not None:
        test = distribute_options(test)
    n_train = len(dataset.y_train)
    steps = n_train // config.batch_size if equal_shares else math.ceil(n_train / config.batch_size)
    if steps < 1:
        raise ValueError(f"batch_size {config.batch_size} exceeds the {n_train} training samples")
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(config, dataset.n_in, dataset.n_classes)
    if config.strategy == "multiworker":
        adapt_for_multiworker(model)
    history: list[dict] = []
    start_step, extra = 0, {}
    callbacks = [_epoch_logger(history, t0, config, steps * config.epochs)]
    ckpt_dir = config.checkpoint_directory()
    if config.resume or config.checkpoint_every:
        from snnlib.checkpoint import checkpoint_callback, fingerprint, restore_latest

        tag = fingerprint(config.to_dict())
        if config.resume:
            manifest = restore_latest(ckpt_dir, model, config_fingerprint=tag)
            if manifest is not None:
                start_step = int(manifest["step"])
                history.extend(manifest["history"])
                extra["resumed_from_step"] = start_step
        callbacks.append(checkpoint_callback(
            ckpt_dir, every=config.checkpoint_every or 0, start_step=start_step,
            steps_per_epoch=steps, history=history, config_fingerprint=tag,
            keep=config.keep_checkpoints, is_chief=is_chief()))
    if config.tensorboard_dir:
        from snnlib.tensorboard_log import tensorboard_callback

        callbacks.append(tensorboard_callback(config.tensorboard_dir, start_step=start_step))

    def fit(first_epoch, last_epoch, first_step, steps_per_epoch):
        model.fit(train_stream(first_step), validation_data=test, initial_epoch=first_epoch, epochs=last_epoch,
                  steps_per_epoch=steps_per_epoch, verbose=0, shuffle=False, callbacks=callbacks)

    epoch, done_in_epoch = divmod(start_step, steps)
    if epoch < config.epochs and done_in_epoch:  # finish the interrupted epoch first
        fit(epoch, epoch + 1, start_step, steps - done_in_epoch)
        epoch += 1
    if epoch < config.epochs:
        fit(epoch, config.epochs, epoch * steps, steps)
    wall = time.perf_counter() - t0
    last = history[-1]
    result = {
        "config": config.to_dict(), "dataset": dataset.summary(), "history": history,
        "test_accuracy": last.get("test_accuracy"), "test_loss": last.get("test_loss"),
        "wall_time_s": wall, **extra,
    }
    if config.out_dir:
        write_atomic(Path(config.out_dir) / "metrics.json", json.dumps(result, indent=2))
    result["model"] = model
    return result
