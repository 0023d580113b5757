"""Adam whose update of each weight is one fused TensorFlow kernel.

The algorithm is :class:`keras.optimizers.Adam`'s, unchanged: at step ``t``, with gradient ``g``,

    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m <- m + (g - m) (1 - beta_1)
    v <- v + (g**2 - v) (1 - beta_2)
    w <- w - alpha m / (sqrt(v) + epsilon)

Keras evaluates it as separate element-wise passes over ``w``, ``m`` and ``v``; TensorFlow's
``ResourceApplyAdam`` does it in one multi-threaded pass, in place (the seed's network, 3.3 M
weights, 2 cores: 7 -> 3.5 ms per step). The results agree to float rounding, not bit for bit.
Weight decay (the base optimizer's decoupled decay, i.e. AdamW) is applied as Keras does;
``amsgrad``, other backends, sparse (``IndexedSlices``) gradients and weights other than
float32 take Keras's own update.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="snnlib")
class FusedAdam(keras.optimizers.Adam):
    """:class:`keras.optimizers.Adam` (same arguments, slots and checkpoints) with each dense
    float32 weight updated by ``tf.raw_ops.ResourceApplyAdam``."""

    def update_step(self, gradient, variable, learning_rate):
        # float32 only: for float64 weights Keras computes the bias correction with beta rounded
        # to float32 (and the moments with the exact beta), which one kernel taking one beta
        # cannot reproduce, so float64 keeps Keras's update.
        if (self.amsgrad or keras.backend.backend() != "tensorflow"
                or isinstance(gradient, tf.IndexedSlices) or variable.dtype != "float32"):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, dtype)
        # Python floats become constants of the weight's dtype directly (tf.cast would round
        # them to float32 first).
        beta_1, beta_2 = tf.constant(self.beta_1, dtype), tf.constant(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle,
            v=self._velocities[index].handle, beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype), beta1=beta_1,
            beta2=beta_2, epsilon=tf.constant(self.epsilon, dtype), grad=tf.cast(gradient, dtype),
            use_locking=False)
