"""A Keras 3 classifier around the LIF stack, trainable with ``model.fit``.

Readouts:

* ``"spikes"`` (seed default): the last LIF layer has one neuron per class; the logits are
  its spike counts ``logits[b, c] = sum_t S^L_t[b, c]``; prediction = argmax of counts.
* ``"leaky"``: the LIF layers are hidden layers; a non-spiking leaky integrator
  (:class:`LeakyReadout`) reads the last one; logits = time average of its potential.

Loss: softmax cross-entropy of the logits against integer labels, batch mean. Metrics:
loss, accuracy, mean spike rate per LIF layer (``activity_l``), and for the sparse
implementations the spikes dropped by full capacity per step and sample (``overflow_l``).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from snnlib.functional.lif import LIFParams, validate_sizes
from snnlib.layers.network import LeakyReadout, LIFStack, sparse_sizes_for

READOUTS = ("spikes", "leaky")


class SNNClassifier(keras.Model):
    """The seed network as a Keras model.

    Args:
        sizes: ``[n_in, n_1, ..., n_classes]``; with ``readout="leaky"`` the last entry is the
            readout width and the LIF layers are ``sizes[:-1]``.
        params: neuron constants.
        impl: ``"dense"``, ``"sparse_ops"`` or ``"sparse_layer"``.
        readout: ``"spikes"`` or ``"leaky"``.
        max_activity: capacity rule of the sparse implementations (see ``sparse_sizes_for``).
        input_capacity: ``S`` of the input spikes (sparse implementations).
        sparse_sizes: explicit ``[S_in, S_1, ...]`` (overrides ``max_activity``).
        seed: weight initialisation seed.

    ``call(x float[batch, time, n_in])`` returns logits ``float[batch, n_classes]``.
    """

    def __init__(self, sizes, params: LIFParams | dict | None = None, impl: str = "dense",
                 readout: str = "spikes", max_activity: float | None = None,
                 input_capacity: int | None = None, sparse_sizes=None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.sizes = validate_sizes(sizes)
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}")
        if readout == "leaky" and len(self.sizes) < 3:
            raise ValueError("readout='leaky' needs at least one hidden layer: sizes = [n_in, n_hidden, ..., n_classes]")
        self.params = LIFParams(**params) if isinstance(params, dict) else (params or LIFParams())
        self.readout_kind = readout
        self.impl = impl
        self.max_activity, self.input_capacity, self.seed = max_activity, input_capacity, int(seed)
        lif_sizes = self.sizes if readout == "spikes" else self.sizes[:-1]
        if sparse_sizes is None and impl != "dense":
            sparse_sizes = sparse_sizes_for(lif_sizes, max_activity if max_activity else 1.0,
                                            input_capacity)
        self.sparse_sizes = sparse_sizes
        self.stack = LIFStack(lif_sizes, self.params, impl=impl, sparse_sizes=sparse_sizes,
                              seed=self.seed, name="lif_stack")
        self.readout = (LeakyReadout(self.sizes[-2], self.sizes[-1], self.params, seed=self.seed,
                                     name="readout") if readout == "leaky" else None)
        n_lif = len(lif_sizes) - 1
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc_tracker = keras.metrics.Mean(name="accuracy")
        self.activity_trackers = [keras.metrics.Mean(name=f"activity_{l}") for l in range(n_lif)]
        self.overflow_trackers = ([keras.metrics.Mean(name=f"overflow_{l}") for l in range(n_lif)]
                                  if impl != "dense" else [])

    def build(self, input_shape):
        if not self.stack.built:
            self.stack.build(input_shape)
        if self.readout is not None and not self.readout.built:
            self.readout.build(None)
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc_tracker, *self.activity_trackers, *self.overflow_trackers]

    def forward(self, x, return_potentials: bool = False):
        """``(logits [batch, n_classes], SNNOutput)`` with time-major per-layer outputs."""
        out = self.stack(x, return_potentials=return_potentials)
        if self.readout is None:
            logits = tf.reduce_sum(out.spikes[-1], axis=0)
        else:
            logits = tf.reduce_mean(self.readout(out.spikes[-1]), axis=0)
        return logits, out

    def call(self, x, training=False):
        return self.forward(x)[0]

    @staticmethod
    def loss_from_logits(logits, y):
        """Batch-mean softmax cross-entropy against integer labels ``y [batch]``."""
        y = tf.cast(tf.reshape(y, [-1]), tf.int32)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

    def _update_metrics(self, loss, logits, y, out):
        y = tf.cast(tf.reshape(y, [-1]), tf.int64)
        correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1), y), tf.float32)
        self.loss_tracker.update_state(loss)
        self.acc_tracker.update_state(correct)
        for tracker, spikes in zip(self.activity_trackers, out.spikes):
            tracker.update_state(tf.reduce_mean(spikes))
        if out.overflow is not None:
            steps_and_samples = tf.cast(tf.reduce_prod(tf.shape(out.spikes[0])[:2]), tf.float32)
            for tracker, dropped in zip(self.overflow_trackers, out.overflow):
                tracker.update_state(tf.cast(dropped, tf.float32) / steps_and_samples)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            logits, out = self.forward(x)
            loss = self.loss_from_logits(logits, y)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(loss, logits, y, out)

    def test_step(self, data):
        x, y = data[0], data[1]
        logits, out = self.forward(x)
        return self._update_metrics(self.loss_from_logits(logits, y), logits, y, out)

    def predict_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self(x)

    def get_config(self):
        return {"sizes": self.sizes, "params": dataclasses.asdict(self.params), "impl": self.impl,
                "readout": self.readout_kind, "max_activity": self.max_activity,
                "input_capacity": self.input_capacity, "sparse_sizes": self.sparse_sizes,
                "seed": self.seed, "name": self.name}
