import warnings

import numpy as np
import pytest
import tensorflow as tf

from snnlib import LIFParams, init_weights, snn_forward
from snnlib.layers import SNNClassifier, sparse_sizes_for


def _data(rng, n=16, t=20, n_in=12, classes=3):
    x = (rng.random((n, t, n_in)) < 0.2).astype(np.float32)
    return x, rng.integers(0, classes, n).astype(np.int32)


def test_spike_count_logits_equal_functional_forward(rng):
    x, _ = _data(rng)
    params = LIFParams(alpha=0.9, weight_mul=2.0)
    model = SNNClassifier([12, 16, 3], params, seed=4)
    logits = model(x).numpy()
    out = snn_forward(init_weights([12, 16, 3], weight_mul=2.0, seed=4), x, params)
    np.testing.assert_allclose(logits, out.spikes[-1].numpy().sum(axis=1))


@pytest.mark.parametrize("readout", ["spikes", "leaky"])
def test_fit_and_evaluate(rng, readout):
    import keras

    x, y = _data(rng)
    model = SNNClassifier([12, 16, 3], LIFParams(alpha=0.9), readout=readout)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    before = [w.numpy().copy() for w in model.trainable_variables] if model.built else None
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert {"loss", "accuracy", "activity_0"} <= set(hist.history)
    assert np.isfinite(hist.history["loss"]).all()
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    assert 0.0 <= res["accuracy"] <= 1.0
    assert model.predict(x, verbose=0).shape == (16, 3)
    if before is not None:
        assert any(np.any(a != w.numpy()) for a, w in zip(before, model.trainable_variables))


def test_max_activity_caps_every_lif_layer_before_a_leaky_readout():
    """Only a spiking readout keeps all its neurons; with a leaky readout the last LIF layer is
    a hidden layer and gets the capacity rule like the others."""
    spikes = SNNClassifier([40, 100, 60, 10], impl="sparse_layer", max_activity=0.1)
    leaky = SNNClassifier([40, 100, 60, 10], impl="sparse_layer", max_activity=0.1,
                          readout="leaky")
    assert spikes.sparse_sizes == [40, 10, 6, 10]
    assert leaky.sparse_sizes == [40, 10, 6] and leaky.stack.sizes == [40, 100, 60]


def test_symbolic_build_with_unknown_batch():
    model = SNNClassifier([12, 16, 3])
    fn = tf.function(model.call, input_signature=[tf.TensorSpec([None, None, 12], tf.float32)])
    concrete = fn.get_concrete_function()
    assert concrete.structured_outputs.shape.as_list() == [None, 3]


def test_config_round_trip():
    model = SNNClassifier([12, 16, 3], LIFParams(th2=0.9), readout="leaky", seed=2)
    clone = SNNClassifier(**{k: v for k, v in model.get_config().items()})
    assert clone.params == model.params and clone.readout_kind == "leaky"


def test_label_smoothing_loss_equals_keras_and_round_trips(rng):
    """eps = 0 is the plain cross-entropy; eps > 0 equals Keras's smoothed categorical
    cross-entropy, and gives a different loss (a smoothing that did nothing would pass the
    first check alone)."""
    import keras

    logits = tf.constant(rng.normal(size=(6, 4)) * 3, tf.float32)
    y = tf.constant([0, 3, 1, 2, 2, 0])
    plain = SNNClassifier([5, 7, 4]).loss_from_logits(logits, y)
    keras_plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    np.testing.assert_allclose(plain.numpy(), keras_plain.numpy(), rtol=1e-6)
    model = SNNClassifier([5, 7, 4], label_smoothing=0.2)
    smoothed = model.loss_from_logits(logits, y)
    expected = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)(
        tf.one_hot(y, 4), logits)
    np.testing.assert_allclose(smoothed.numpy(), expected.numpy(), rtol=1e-6)
    assert abs(float(smoothed) - float(plain)) > 1e-3
    clone = SNNClassifier(**model.get_config())
    assert clone.label_smoothing == 0.2
    np.testing.assert_allclose(clone.loss_from_logits(logits, y).numpy(), smoothed.numpy())


@pytest.mark.parametrize("eps", [-0.1, 1.0, float("nan"), "a lot", None])
def test_label_smoothing_out_of_range_is_refused(eps):
    from snnlib.train import TrainConfig

    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\)"):
        SNNClassifier([4, 5, 3], label_smoothing=eps)
    with pytest.raises(ValueError, match="label_smoothing"):
        TrainConfig(label_smoothing=eps)


def test_label_smoothing_is_refused_with_the_online_rules():
    from snnlib.train import TrainConfig

    for rule in ("eprop", "decolle"):
        with pytest.raises(ValueError, match="own per-step loss"):
            SNNClassifier([4, 5, 3], rule=rule, label_smoothing=0.1)
        with pytest.raises(ValueError, match="own per-step loss"):
            TrainConfig(rule=rule, label_smoothing=0.1)
        assert SNNClassifier([4, 5, 3], rule=rule).label_smoothing == 0.0


def test_invalid_arguments():
    with pytest.raises(ValueError, match="readout"):
        SNNClassifier([4, 3], readout="softmax")
    with pytest.raises(ValueError, match="hidden"):
        SNNClassifier([4, 3], readout="leaky")
    with pytest.raises(ValueError, match="impl"):
        SNNClassifier([4, 5, 3], impl="fpga")
    with pytest.raises(ValueError, match="max_activity"):
        sparse_sizes_for([4, 5, 3], 1.5, None)
    assert sparse_sizes_for([1152, 980, 10], 0.05, 32) == [32, 48, 10]


@pytest.mark.parametrize("options", [dict(readout="leaky"), dict(rule="eprop"),
                                     dict(impl="sparse_ops", max_activity=0.5, th2=0.9)])
def test_keras_file_round_trip_restores_weights_and_outputs(rng, tmp_path, options):
    import keras

    options = dict(options)
    params = LIFParams(alpha=0.9, th2=options.pop("th2", None))
    model = SNNClassifier([12, 16, 3], params, seed=3, **options)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    x, _ = _data(rng)
    model(x)
    model.optimizer.build(model.trainable_variables)
    saved = [*model.weights, *model.optimizer.variables]
    for w in saved:  # not the seeded initial values: the file must carry them
        w.assign(w * 1.5 + 1)
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. "Skipping variable loading"
        loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded) is SNNClassifier and loaded.get_config() == model.get_config()
    restored = [*loaded.weights, *loaded.optimizer.variables]
    assert len(restored) == len(saved) > len(model.weights) > 0
    for a, b in zip(saved, restored):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())


def test_row_sparse_gradients_are_summed_before_the_optimizer():
    from snnlib.layers.classifier import dense_gradients

    # Two slices of row 1 (as the reference op or two replicas give them) and a dense one.
    sparse = tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([1, 1]),
                              tf.constant([3, 2]))
    dense = tf.ones([2, 2])
    got = dense_gradients([sparse, dense])
    np.testing.assert_array_equal(got[0].numpy(), [[0.0, 0.0], [4.0, 6.0], [0.0, 0.0]])
    assert got[1] is dense


def test_training_forward_builds_no_dense_spikes_for_sparse_hidden_layers(rng):
    params = LIFParams(alpha=0.9, th2=0.9)
    model = SNNClassifier([12, 16, 16, 3], params, impl="sparse_layer", max_activity=0.5, seed=2)
    x, _ = _data(rng)
    logits, out = model.forward(x)
    assert out.spikes[0] is None and out.spikes[1] is None and out.spikes[-1] is not None
    full_logits, full = model.forward(x, dense_hidden=True)
    assert all(s is not None for s in full.spikes)
    np.testing.assert_array_equal(logits.numpy(), full_logits.numpy())
