"""FusedAdam is Keras's Adam: same weights and slots after several steps (with and without the
decoupled weight decay, eager, graph and XLA; float32 fused, float64 Keras's own update), and it
serializes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from snnlib.layers.optimizer import FusedAdam


def _run(optimizer, init, grads, wrap):
    weights = [keras.Variable(x) for x in init]
    optimizer.build(weights)

    def step(g):
        optimizer.apply(g, weights)

    step = wrap(step)
    for g in grads:
        step(g)
    return [w.numpy() for w in weights], [v.numpy() for v in optimizer.variables]


@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 0.0)])
@pytest.mark.parametrize("decay", [None, 0.3])
@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_fused_adam_equals_keras_adam(rng, dtype, rtol, decay, mode):
    wrap = {"eager": lambda f: f, "graph": tf.function,
            "xla": lambda f: tf.function(f, jit_compile=True)}[mode]
    init = [rng.normal(size=(40, 30)).astype(dtype), rng.normal(size=(30,)).astype(dtype)]
    grads = [[tf.constant(rng.normal(size=x.shape).astype(dtype)) for x in init] for _ in range(6)]
    kwargs = {"weight_decay": decay} if decay else {}
    ref_w, ref_slots = _run(keras.optimizers.Adam(0.01, **kwargs), init, grads, wrap)
    got_w, got_slots = _run(FusedAdam(0.01, **kwargs), init, grads, wrap)
    for ref, got in zip(ref_w + ref_slots, got_w + got_slots):
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol)
    # The steps moved the weights: the comparison is not of two untouched copies.
    assert np.abs(got_w[0] - init[0]).max() > 0.01


def test_fused_adam_round_trips_through_keras_serialization():
    optimizer = FusedAdam(0.003, weight_decay=0.1, beta_2=0.99)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is FusedAdam
    assert restored.get_config() == optimizer.get_config()


def test_amsgrad_takes_keras_update(rng):
    init = [rng.normal(size=(8, 4)).astype("float32")]
    grads = [[tf.constant(rng.normal(size=(8, 4)).astype("float32"))] for _ in range(3)]
    ref, _ = _run(keras.optimizers.Adam(0.01, amsgrad=True), init, grads, lambda f: f)
    got, _ = _run(FusedAdam(0.01, amsgrad=True), init, grads, lambda f: f)
    np.testing.assert_array_equal(got[0], ref[0])


@pytest.mark.parametrize("dtype,fused", [("float32", True), ("float64", False)])
def test_float32_weights_take_the_fused_kernel(dtype, fused):
    weights = [keras.Variable(np.ones((4, 3), dtype))]
    optimizer = FusedAdam(0.01)
    optimizer.build(weights)
    apply = tf.function(lambda g: optimizer.apply(g, weights))
    graph = apply.get_concrete_function([tf.TensorSpec((4, 3), dtype)]).graph
    kinds = {op.type for op in graph.get_operations()}
    for fn in graph._functions.values():  # the update runs in nested functions
        kinds |= {node.op for node in fn.definition.node_def}
    assert ("ResourceApplyAdam" in kinds) is fused
