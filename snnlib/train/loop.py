"""The one training loop, ``train_and_evaluate(config)``, used by the CLI, notebooks and tests.

The loop is Keras ``model.fit`` on :class:`snnlib.layers.SNNClassifier` with a seeded
``tf.data`` pipeline (:mod:`snnlib.train.stream`: rasters for the dense implementation, index
lists for the sparse ones, each built per batch from the stored data), a tqdm progress bar, per-epoch train/test loss, accuracy, activity and
overflow, and a CSV + JSON log written atomically to ``config.out_dir``. Same config and
seed, same numbers.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import time
from pathlib import Path

import keras
from tqdm.auto import tqdm

from snnlib.atomic import write_atomic
from snnlib.data.feed import make_feeds
from snnlib.functional.conv import ConvSpec
from snnlib.layers.classifier import SNNClassifier
from snnlib.layers.optimizer import FusedAdam
from snnlib.train.checkpoint import checkpoint_callback, fingerprint, restore_latest
from snnlib.train.config import TrainConfig, load_config_dataset
from snnlib.train.distribute import (adapt_for_multiworker, distribute_options, is_chief,
                                     make_strategy)
from snnlib.train.run import save_model, write_config
from snnlib.train.stream import evaluation_stream, input_capacity, input_form, training_stream
from snnlib.train.tensorboard import tensorboard_callback


def _history_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    keys = sorted({k for row in rows for k in row}, key=lambda k: (k != "epoch", k))
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def build_model(config: TrainConfig, n_in: int, n_classes: int,
                input_capacity: int | None = None, total_steps: int | None = None,
                sensor_size=None):
    """The :class:`SNNClassifier` of a config, compiled with Adam (:class:`FusedAdam`: Keras's
    algorithm, one fused update per weight), with AdamW's decoupled decay when
    ``config.weight_decay > 0`` (``input_capacity``: ``S_in``
    of the sparse implementations, default ``config.input_capacity``; ``total_steps``: the
    run's length, needed by ``lr_schedule="cosine"``; ``sensor_size``: ``(W, H, C)`` of the
    inputs, needed by ``config.conv``)."""
    convs = ConvSpec.stack(config.conv, in_shape=sensor_size)
    if convs and convs[0].n_in != n_in:
        raise ValueError(f"sensor_size {tuple(sensor_size)} has {convs[0].n_in} inputs but the "
                         f"data has n_in = {n_in}")
    sizes = [n_in, *(c.n_out for c in convs), *config.hidden, n_classes]
    s_in = config.input_capacity if input_capacity is None else input_capacity
    model = SNNClassifier(sizes, config.lif_params(), impl=config.impl, readout=config.readout,
                          max_activity=config.max_activity, input_capacity=s_in,
                          seed=config.seed, rule=config.rule, feedback=config.feedback,
                          conv=[c.params() for c in convs] or None,
                          label_smoothing=config.label_smoothing)
    lr = config.lr
    if config.lr_schedule == "cosine":
        if not total_steps:
            raise ValueError("lr_schedule='cosine' needs total_steps (the run's training steps)")
        lr = keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=int(total_steps))
    decay = {"weight_decay": config.weight_decay} if config.weight_decay > 0 else {}
    model.compile(optimizer=FusedAdam(lr, **decay), jit_compile=config.jit_compile)
    model.build((None, None, n_in))
    model.optimizer.build(model.trainable_variables)  # optimizer state exists for checkpoints
    return model


def _epoch_logger(history: list, t0: float, config: TrainConfig, progress_total: int):
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


def train_and_evaluate(config: TrainConfig, dataset=None, *, initialize=None) -> dict:
    """Train the configured network and evaluate it on the test split after every epoch.

    Args:
        config: the run's :class:`TrainConfig`.
        dataset: an already loaded :class:`SpikeDataset` (else ``load_dataset(config.dataset,
            seed=config.seed, **config.data)``, with no progress bar unless ``config.progress``).
        initialize: called with the built model before training (and before a checkpoint is
            restored), e.g. to start from imported weights (``train --init-from FILE.nir``).

    The training data is one seeded stream of batches (:func:`training_stream`, reshuffled
    every epoch); global step ``k`` always sees the stream's ``k``-th batch, which is what
    makes a resumed or distributed run equal an uninterrupted single-device one.

    Returns:
        ``{"config", "dataset", "history" (one dict per epoch), "test_accuracy",
        "test_loss", "wall_time_s", "model"}`` (+ ``"resumed_from_step"`` when resuming).
        With ``out_dir`` set, the run directory is written there (:mod:`snnlib.train.run`,
        atomically): ``config.json`` at the start, ``history.csv`` after every epoch,
        ``model.keras`` and ``metrics.json`` at the end; :func:`snnlib.load_run` reads it.
    """
    keras.utils.set_random_seed(config.seed)
    t0 = time.perf_counter()
    if config.out_dir and is_chief():
        write_config(config.out_dir, config)
    if dataset is None:
        dataset = load_config_dataset(config)
    strategy = make_strategy(config.strategy)
    equal_shares = strategy is not None
    train_feed, test_feed = make_feeds(dataset, augment=config.augment, seed=config.seed)
    form = input_form(config.impl)
    s_in = (input_capacity((train_feed, test_feed), config.input_capacity, dataset.n_in)
            if form == "sparse" else config.input_capacity)

    def train_stream(first_step: int):
        ds = training_stream(train_feed, dataset.y_train, config.batch_size, seed=config.seed,
                             epochs=config.epochs, form=form, capacity=s_in,
                             drop_remainder=equal_shares, first_step=first_step)
        return ds if strategy is None else distribute_options(ds)

    test = evaluation_stream(test_feed, dataset.y_test, config.batch_size, form=form,
                             capacity=s_in)
    if strategy is not None:
        test = distribute_options(test)
    n_train = len(dataset.y_train)
    steps = n_train // config.batch_size if equal_shares else math.ceil(n_train / config.batch_size)
    if steps < 1:
        raise ValueError(f"batch_size {config.batch_size} exceeds the {n_train} training samples")
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(config, dataset.n_in, dataset.n_classes, input_capacity=s_in,
                            total_steps=steps * config.epochs,
                            sensor_size=dataset.info.get("sensor_size"))
    if initialize is not None:
        initialize(model)
    if config.strategy == "multiworker":
        adapt_for_multiworker(model)
    history: list[dict] = []
    start_step, extra = 0, {}
    callbacks = [_epoch_logger(history, t0, config, steps * config.epochs)]
    ckpt_dir = config.checkpoint_directory()
    if config.resume or config.checkpoint_every:
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
        "wall_time_s": wall, "input_capacity": s_in, **extra,
    }
    if config.out_dir:
        if is_chief():  # the other workers hold the same weights
            save_model(config.out_dir, model)
        write_atomic(Path(config.out_dir) / "metrics.json", json.dumps(result, indent=2))
    result["model"] = model
    return result
