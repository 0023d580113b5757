import numpy as np
import pytest
import tensorflow as tf

from snnlib import snn_forward
from snnlib.learning.eprop import eprop_gradients, random_feedback
from snnlib.learning.losses import step_cross_entropy

from .conftest import bptt_step_loss_grads, flat, make_batch, make_weights, rel_err


@pytest.mark.parametrize("th2", [None, 0.5])
def test_single_layer_eprop_equals_bptt(rng, params, th2):
    params = params.replace(th2=th2)
    sizes = [12, 5]
    x, y = make_batch(rng, sizes)
    weights = make_weights(sizes)
    expected, loss = bptt_step_loss_grads(weights, x, y, params)
    result = eprop_gradients(weights, x, y, params)
    assert np.abs(expected[0]).max() > 0
    assert rel_err(result.grads[0], expected[0]) <= 1e-9
    assert float(result.loss) == pytest.approx(loss, rel=1e-12)


def test_last_layer_exact_and_counts_match_forward(rng, params):
    sizes = [12, 16, 5]
    x, y = make_batch(rng, sizes)
    weights = make_weights(sizes)
    expected, _ = bptt_step_loss_grads(weights, x, y, params)
    result = eprop_gradients(weights, x, y, params)
    assert rel_err(result.grads[-1], expected[-1]) <= 1e-9
    counts = snn_forward(weights, x, params).spikes[-1].numpy().sum(axis=1)
    np.testing.assert_array_equal(result.logits.numpy(), counts)


@pytest.mark.parametrize("delay", [True, False])
def test_two_hidden_layers_cosine_and_descent(rng, params, delay, capsys):
    params = params.replace(layer_delay=delay)
    sizes = [12, 16, 16, 5]
    x, y = make_batch(rng, sizes, batch=8, steps=40)
    weights = make_weights(sizes)
    expected, loss0 = bptt_step_loss_grads(weights, x, y, params)
    grads = eprop_gradients(weights, x, y, params).grads
    e, b = flat(grads), flat(expected)
    cosine = float(e @ b / np.linalg.norm(e) / np.linalg.norm(b))
    per_layer = [float(flat([g]) @ flat([h]) / np.linalg.norm(g) / np.linalg.norm(h))
                 for g, h in zip(grads, expected)]
    with capsys.disabled():
        print(f"\n[e-prop vs BPTT, sizes {sizes}, delay={delay}] cosine {cosine:.3f}, "
              f"per layer {[round(c, 3) for c in per_layer]}")
    assert cosine > 0.3 and min(per_layer) > 0.0
    # a few normalised-gradient steps with e-prop lower the loss on the same batch
    w = [tf.identity(v) for v in weights]
    for _ in range(5):
        g = eprop_gradients(w, x, y, params).grads
        w = [v - 0.02 * d / (np.abs(d.numpy()).max() + 1e-12) for v, d in zip(w, g)]
    out = snn_forward(w, x, params)
    loss1 = float(step_cross_entropy(tf.transpose(out.spikes[-1], [1, 0, 2]), y))
    assert loss1 < loss0


def test_random_feedback(rng, params):
    sizes = [12, 16, 5]
    x, y = make_batch(rng, sizes)
    weights = make_weights(sizes)
    fb = random_feedback(sizes, seed=3, dtype="float64")
    assert [m.shape for m in fb] == [(16, 5)]  # like weights[1]: [in, out]
    sym = eprop_gradients(weights, x, y, params)
    rnd = eprop_gradients(weights, x, y, params, feedback="random", feedback_weights=fb)
    np.testing.assert_allclose(rnd.grads[-1], sym.grads[-1])
    assert not np.allclose(rnd.grads[0], sym.grads[0])


def test_invalid_feedback(rng, params):
    sizes = [12, 16, 5]
    x, y = make_batch(rng, sizes)
    weights = make_weights(sizes)
    with pytest.raises(ValueError, match="feedback"):
        eprop_gradients(weights, x, y, params, feedback="transposed")
    with pytest.raises(ValueError, match="feedback_weights"):
        eprop_gradients(weights, x, y, params, feedback="random")
