"""TensorBoard logging of a training run (``TrainConfig.tensorboard_dir``).

Scalars written with ``tf.summary`` (view with ``tensorboard --logdir <dir>``):

* ``train/<metric>`` per step: loss, accuracy, ``activity_<l>`` (mean spike rate of LIF
  layer ``l``), ``overflow_<l>`` (spikes dropped per step and sample, sparse implementations)
  as running means over the epoch, exactly as Keras reports them; and ``train/step_time_ms``,
  the host wall time of each training step (includes the first step's tracing);
* ``epoch/<metric>`` per epoch: the same train metrics and the ``test_`` metrics.
"""

from __future__ import annotations

import time


def tensorboard_callback(log_dir, *, start_step: int = 0, every: int = 1):
    """A Keras callback writing the scalars above under ``log_dir`` (every ``every`` steps)."""
    import keras
    import tensorflow as tf

    class TensorBoardLogger(keras.callbacks.Callback):
        """Writes per-step and per-epoch scalars with ``tf.summary``."""

        def __init__(self):
            super().__init__()
            self.writer = tf.summary.create_file_writer(str(log_dir))
            self.step = int(start_step)
            self.t0 = None

        def on_train_batch_begin(self, batch, logs=None):
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % every:
                return
            elapsed_ms = 1e3 * (time.perf_counter() - self.t0)
            with self.writer.as_default(step=self.step):
                tf.summary.scalar("train/step_time_ms", elapsed_ms)
                for key, value in (logs or {}).items():
                    tf.summary.scalar(f"train/{key}", float(value))

        def on_epoch_end(self, epoch, logs=None):
            with self.writer.as_default(step=epoch + 1):
                for key, value in (logs or {}).items():
                    name = f"test_{key[4:]}" if key.startswith("val_") else key
                    tf.summary.scalar(f"epoch/{name}", float(value))
            self.writer.flush()

        def on_train_end(self, logs=None):
            self.writer.flush()

    return TensorBoardLogger()
