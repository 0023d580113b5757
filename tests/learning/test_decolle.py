import numpy as np
import pytest
import tensorflow as tf

from snnlib import snn_forward
from snnlib.learning.decolle import decolle_gradients, random_readouts
from snnlib.learning.losses import step_cross_entropy

from .conftest import make_batch, make_weights, rel_err


@pytest.mark.parametrize("delay", [True, False])
def test_each_layer_equals_bptt_of_its_local_loss(rng, params, delay):
    params = params.replace(layer_delay=delay, th2=0.3)
    sizes = [12, 16, 10, 5]
    x, y = make_batch(rng, sizes)
    weights = make_weights(sizes)
    readouts = random_readouts(sizes, seed=2, dtype="float64")
    assert [r.shape for r in readouts] == [(16, 5), (10, 5)]  # [N_l, K]
    result = decolle_gradients(weights, x, y, params, readouts=readouts)
    spikes = snn_forward(weights, x, params).spikes  # [B, T, N] per layer
    total = 0.0
    for l, w in enumerate(weights):
        inp = tf.constant(x) if l == 0 else tf.stop_gradient(spikes[l - 1])
        if l > 0 and delay:
            inp = tf.concat([tf.zeros_like(inp[:, :1]), inp[:, :-1]], axis=1)
        var = tf.Variable(w)
        with tf.GradientTape() as tape:
            out = snn_forward([var], inp, params.replace(th2=params.layer_th2(l, len(weights))))
            local = step_cross_entropy(tf.transpose(out.spikes[0], [1, 0, 2]), y,
                                       readout=readouts[l] if l < len(readouts) else None)
        expected = tape.gradient(local, var).numpy()
        assert np.abs(expected).max() > 0
        assert rel_err(result.grads[l], expected) <= 1e-9, f"layer {l}"
        total += float(local)
    assert float(result.loss) == pytest.approx(total, rel=1e-12)


def test_readouts_are_checked(rng, params):
    sizes = [12, 16, 5]
    x, y = make_batch(rng, sizes)
    with pytest.raises(ValueError, match="readouts"):
        decolle_gradients(make_weights(sizes), x, y, params)
