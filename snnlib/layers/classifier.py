"""A Keras 3 classifier around the LIF stack, trainable with ``model.fit``.

Readouts:

* ``"spikes"`` (seed default): the last LIF layer has one neuron per class; the logits are
  its spike counts ``logits[b, c] = sum_t S^L_t[b, c]``; prediction = argmax of counts.
* ``"leaky"``: the LIF layers are hidden layers; a non-spiking leaky integrator
  (:class:`LeakyReadout`) reads the last one; logits = time average of its potential.

Loss: softmax cross-entropy of the logits against integer labels, batch mean; with
``label_smoothing = eps > 0`` against the smoothed targets ``(1 - eps) onehot(y) + eps / K``
(``K`` classes), as Keras's ``CategoricalCrossentropy(label_smoothing=eps)``. Metrics:
loss, accuracy, mean spike rate per LIF layer (``activity_l``), and for the sparse
implementations the spikes dropped by full capacity per step and sample (``overflow_l``).

Learning rule (``rule``): ``"bptt"`` (default) differentiates the loss above through the whole
sequence with ``tf.GradientTape``. ``"eprop"`` and ``"decolle"`` (:mod:`snnlib.learning`) run
forward in time only and minimise a per-step loss instead (see
:mod:`snnlib.learning.losses`); they need ``impl="dense"`` and ``readout="spikes"``. The
reported ``loss``/``accuracy`` are the same count-based metrics for every rule; the online
rules also report their own objective as ``rule_loss``.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf

from snnlib.functional.params import LIFParams, validate_sizes
from snnlib.layers.network import LeakyReadout, LIFStack, conv_config, sparse_sizes_for
from snnlib.learning import fixed_matrices, online_gradients, validate_rule
from snnlib.network import IMPLS

READOUTS = ("spikes", "leaky")


def validate_options(*, impl: str, readout: str, rule: str, feedback: str,
                     conv: bool = False) -> None:
    """Check the classifier's choices (``ValueError`` naming the argument): ``impl`` one of
    :data:`snnlib.network.IMPLS`, ``readout`` one of :data:`READOUTS`, the learning rule
    with its feedback (:func:`snnlib.learning.validate_rule`), and that a convolutional layer
    (``conv``) trains with ``"bptt"``. The classifier and :class:`snnlib.train.TrainConfig`
    both call this one check."""
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}")
    validate_rule(rule, feedback, impl=impl, readout=readout)
    if conv and rule != "bptt":
        raise ValueError(f"rule={rule!r} updates [in, out] weight matrices forward in time; a "
                         "convolutional layer (conv) needs rule='bptt'")


def check_label_smoothing(eps, rule: str = "bptt") -> float:
    """``eps`` as a float if it is a number in ``[0, 1)`` (``ValueError`` otherwise): the
    smoothing of the loss's targets, shared by the classifier and
    :class:`snnlib.train.TrainConfig`. Only ``rule="bptt"`` minimises that loss: the online
    rules would ignore ``eps > 0``, so it is refused with them."""
    try:
        value = float(eps)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value < 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1) (0: plain cross-entropy, "
                         f"e.g. 0.1); got {eps!r}")
    if value and rule != "bptt":
        raise ValueError(f"label_smoothing applies to the bptt loss; rule={rule!r} minimises its "
                         "own per-step loss: use label_smoothing=0 with it")
    return value


def dense_gradients(grads) -> list:
    """``grads`` with every ``tf.IndexedSlices`` summed into a dense tensor.

    ``sparse_ops`` gives each weight matrix ``W [in, out]`` a row-sparse gradient (the rows of
    the inputs that spiked). Keras' Adam squares an ``IndexedSlices`` slice by slice, which is
    wrong when a row index repeats (the reference op gives one slice per spike; several
    replicas' slices are concatenated), so the slices are summed first. Adam's moments are
    dense ``[in, out]`` updates anyway.
    """
    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]


@keras.saving.register_keras_serializable(package="snnlib")
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
        rule: learning rule of ``train_step``: ``"bptt"``, ``"eprop"`` or ``"decolle"``.
        feedback: e-prop's hidden-layer feedback, ``"symmetric"`` or ``"random"``.
        label_smoothing: ``eps`` in ``[0, 1)`` of the loss's smoothed targets (0: plain
            cross-entropy).
        conv: convolutional first LIF layers (a dict of
            :class:`snnlib.functional.conv.ConvSpec` fields, ``in_shape`` included, or a list
            of them: :meth:`~snnlib.functional.conv.ConvSpec.stack`); then ``sizes[1:]``
            starts with their ``n_out``. ``None``: all layers dense.

    ``call(x float[batch, time, n_in])`` returns logits ``float[batch, n_classes]``.

    Registered with Keras (``"snnlib>SNNClassifier"``, as its layers): ``model.save(
    "m.keras")`` and ``keras.saving.load_model`` rebuild it from :meth:`get_config` and restore
    its weights (and the optimizer's state), whatever layout the layers keep them in.
    """

    def __init__(self, sizes, params: LIFParams | dict | None = None, impl: str = "dense",
                 readout: str = "spikes", max_activity: float | None = None,
                 input_capacity: int | None = None, sparse_sizes=None, seed: int = 0,
                 rule: str = "bptt", feedback: str = "symmetric", conv=None,
                 label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.sizes = validate_sizes(sizes)
        validate_options(impl=impl, readout=readout, rule=rule, feedback=feedback,
                         conv=bool(conv))
        self.label_smoothing = check_label_smoothing(label_smoothing, rule)
        if readout == "leaky" and len(self.sizes) < 3:
            raise ValueError("readout='leaky' needs at least one hidden layer: sizes = [n_in, n_hidden, ..., n_classes]")
        self.rule, self.feedback = rule, feedback
        self.params = LIFParams(**params) if isinstance(params, dict) else (params or LIFParams())
        self.readout_kind = readout
        self.impl = impl
        self.max_activity, self.input_capacity, self.seed = max_activity, input_capacity, int(seed)
        lif_sizes = self.sizes if readout == "spikes" else self.sizes[:-1]
        if sparse_sizes is None and impl != "dense":
            # The rule over the whole network, readout included, so a leaky readout's LIF
            # layers are all hidden layers under max_activity (only a spiking readout keeps
            # all its neurons); the leaky readout's own entry is dropped.
            sparse_sizes = sparse_sizes_for(self.sizes, max_activity if max_activity else 1.0,
                                            input_capacity)[:len(lif_sizes)]
        self.sparse_sizes = sparse_sizes
        self.stack = LIFStack(lif_sizes, self.params, impl=impl, sparse_sizes=sparse_sizes,
                              seed=self.seed, conv=conv, name="lif_stack")
        self.readout = (LeakyReadout(self.sizes[-2], self.sizes[-1], self.params, seed=self.seed,
                                     name="readout") if readout == "leaky" else None)
        n_lif = len(lif_sizes) - 1
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc_tracker = keras.metrics.Mean(name="accuracy")
        self.activity_trackers = [keras.metrics.Mean(name=f"activity_{l}") for l in range(n_lif)]
        self.overflow_trackers = ([keras.metrics.Mean(name=f"overflow_{l}") for l in range(n_lif)]
                                  if impl != "dense" else [])
        self.rule_loss_tracker = keras.metrics.Mean(name="rule_loss") if rule != "bptt" else None
        self.rule_matrices = []

    def build(self, input_shape):
        if not self.stack.built:
            self.stack.build(input_shape)
        if self.readout is not None and not self.readout.built:
            self.readout.build(None)
        if self.rule != "bptt" and not self.rule_matrices:
            fixed = fixed_matrices(self.rule, self.stack.sizes, feedback=self.feedback,
                                   seed=self.seed)
            self.rule_matrices = [
                self.add_weight(shape=m.shape, initializer=keras.initializers.Constant(m),
                                name=f"{self.rule}_fixed_{l}", trainable=False)
                for l, m in enumerate(fixed)
            ]
        self.built = True

    @property
    def metrics(self):
        rule = [self.rule_loss_tracker] if self.rule_loss_tracker is not None else []
        return [self.loss_tracker, self.acc_tracker, *self.activity_trackers, *self.overflow_trackers,
                *rule]

    def forward(self, x, return_potentials: bool = False, dense_hidden: bool = False):
        """``(logits [batch, n_classes], SNNOutput)`` with time-major per-layer outputs.

        The logits need only the last layer's spikes: with the sparse implementations the
        hidden layers' ``out.spikes[l]`` are ``None`` (their index lists are ``out.sparse[l]``)
        unless ``dense_hidden``, so the step builds no dense buffer for them."""
        out = self.stack(x, return_potentials=return_potentials, dense_hidden=dense_hidden)
        if self.readout is None:
            logits = tf.reduce_sum(out.spikes[-1], axis=0)
        else:
            logits = self.readout.mean_potential(out.spikes[-1])
        return logits, out

    def call(self, x, training=False):
        return self.forward(x)[0]

    def loss_from_logits(self, logits, y):
        """Batch-mean softmax cross-entropy of ``logits [batch, K]`` against integer labels
        ``y [batch]`` (against ``(1 - eps) onehot(y) + eps / K`` with ``label_smoothing``)."""
        y = tf.cast(tf.reshape(y, [-1]), tf.int32)
        eps = self.label_smoothing
        if not eps:
            return tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        k = tf.shape(logits)[-1]
        target = tf.one_hot(y, k, dtype=logits.dtype) * (1 - eps) + eps / tf.cast(k, logits.dtype)
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=logits))

    def _update_metrics(self, loss, logits, y, out, activities=None):
        y = tf.cast(tf.reshape(y, [-1]), tf.int64)
        correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1), y), tf.float32)
        self.loss_tracker.update_state(loss)
        self.acc_tracker.update_state(correct)
        if activities is None and out.sparse is not None:
            # From the index lists' spike counts: no dense spike tensor needed.
            activities = [tf.reduce_mean(tf.cast(sp.counts[..., 0], tf.float32)) / float(n)
                          for sp, n in zip(out.sparse, self.stack.sizes[1:])]
        elif activities is None:
            activities = [tf.reduce_mean(spikes) for spikes in out.spikes]
        for tracker, rate in zip(self.activity_trackers, activities):
            tracker.update_state(rate)
        if out is not None and out.overflow is not None:
            steps_and_samples = tf.cast(tf.reduce_prod(tf.shape(out.sparse[0].counts)[:2]), tf.float32)
            for tracker, dropped in zip(self.overflow_trackers, out.overflow):
                tracker.update_state(tf.cast(dropped, tf.float32) / steps_and_samples)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, y = data[0], data[1]
        if self.rule != "bptt":
            return self._online_train_step(x, y)
        with tf.GradientTape() as tape:
            logits, out = self.forward(x)
            loss = self.loss_from_logits(logits, y)
            scaled = self.replica_scaled(loss)
        grads = dense_gradients(tape.gradient(scaled, self.trainable_variables))
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(loss, logits, y, out)

    @staticmethod
    def replica_scaled(loss):
        """The per-replica loss divided by the number of replicas under ``tf.distribute``.

        Keras' optimizer sums the replicas' gradients, so this makes the applied gradient the
        one of the global-batch mean (equal per-replica batches). Identity on one device.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return loss if replicas == 1 else loss / replicas

    def _online_train_step(self, x, y):
        """One e-prop / DECOLLE step: gradients forward in time, no tape, nothing of size T kept."""
        weights = [tf.convert_to_tensor(k) for k in self.stack.kernels]
        fixed = [tf.convert_to_tensor(m) for m in self.rule_matrices]
        x = tf.convert_to_tensor(x, weights[0].dtype)
        result = online_gradients(self.rule, weights, x, y, self.params, fixed=fixed,
                                  feedback=self.feedback)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # as replica_scaled
        grads = result.grads if replicas == 1 else [g / replicas for g in result.grads]
        self.optimizer.apply(grads, self.stack.kernels)
        logits = result.logits
        self.rule_loss_tracker.update_state(result.loss)
        return self._update_metrics(self.loss_from_logits(logits, y), logits, y, None,
                                    activities=result.activity)

    def test_step(self, data):
        x, y = data[0], data[1]
        logits, out = self.forward(x)
        logs = self._update_metrics(self.loss_from_logits(logits, y), logits, y, out)
        logs.pop("rule_loss", None)  # the online rules' objective is a training quantity
        return logs

    def predict_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self(x)

    def get_config(self):
        return {"sizes": self.sizes, "params": dataclasses.asdict(self.params), "impl": self.impl,
                "readout": self.readout_kind, "max_activity": self.max_activity,
                "input_capacity": self.input_capacity, "sparse_sizes": self.sparse_sizes,
                "seed": self.seed, "rule": self.rule, "feedback": self.feedback,
                "conv": conv_config(self.stack.convs), "label_smoothing": self.label_smoothing,
                "name": self.name}
