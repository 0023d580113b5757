import numpy as np
import pytest
import tensorflow as tf

from snnlib.functional import LIFParams, init_weights, lif_membrane, lif_step, shift_in_time
from snnlib.network import snn_forward
from tests.functional import reference_numpy as ref


def test_subthreshold_decay_is_geometric():
    params = LIFParams(alpha=0.9)
    v = tf.constant([[0.5]], tf.float64)
    for k in range(1, 6):
        v, s = lif_step(v, tf.zeros_like(v), params)
        np.testing.assert_allclose(v.numpy(), [[0.5 * 0.9 ** k]], rtol=1e-12)
        assert s.numpy()[0, 0] == 0


def test_first_spike_time_for_constant_input():
    # V_t = c * I * (1 - alpha^(t+1)) / (1 - alpha) * ... with c = (1-alpha)*gain:
    # V_t = gain * I * (1 - alpha^(t+1)); first t with V_t >= 1.
    params = LIFParams(alpha=0.9, gain=10.0)
    current = 0.15
    expected = int(np.ceil(np.log(1 - 1 / (10 * current)) / np.log(0.9) - 1))
    i_syn = tf.fill([30, 1, 1], tf.constant(current, tf.float64))
    v = lif_membrane(i_syn, alpha=0.9, gain=10.0, th1=1.0).numpy()[:, 0, 0]
    first = int(np.argmax(v >= 1.0))
    assert first == expected
    np.testing.assert_allclose(v[: first + 1], 10 * current * (1 - 0.9 ** np.arange(1, first + 2)),
                               rtol=1e-12)


def test_reset_to_zero_happens_on_the_next_step():
    params = LIFParams(alpha=0.5, gain=2.0)
    v = tf.constant([[1.2]], tf.float64)  # above threshold: reset at this step
    v_new, s = lif_step(v, tf.constant([[0.25]], tf.float64), params)
    np.testing.assert_allclose(v_new.numpy(), [[(1 - 0.5) * 2.0 * 0.25]])
    assert s.numpy()[0, 0] == 0


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32])
@pytest.mark.parametrize("graph", [False, True])
def test_shift_in_time_delays_by_one_step(rng, dtype, graph):
    x = tf.constant(rng.integers(0, 9, (5, 3, 4)), dtype)
    shift = tf.function(shift_in_time) if graph else shift_in_time
    y = shift(x).numpy()
    assert y.dtype == x.dtype.as_numpy_dtype and y.shape == (5, 3, 4)
    np.testing.assert_array_equal(y[0], 0)
    np.testing.assert_array_equal(y[1:], x.numpy()[:-1])
    np.testing.assert_array_equal(shift_in_time(tf.constant([4, 5, 6], dtype)).numpy(), [0, 4, 5])
    assert shift_in_time(tf.zeros([0, 2], dtype)).shape == (0, 2)


def test_shift_in_time_gradient_is_the_shift_back(rng):
    x = tf.constant(rng.standard_normal((6, 2, 3)))
    dy = rng.standard_normal((6, 2, 3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = shift_in_time(x)
    dx = tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()
    np.testing.assert_array_equal(dx[:-1], dy[1:])
    np.testing.assert_array_equal(dx[-1], 0)
    static = tf.function(shift_in_time).get_concrete_function(tf.TensorSpec([100, None, 7]))
    assert static.structured_outputs.shape.as_list() == [100, None, 7]
    with pytest.raises(ValueError, match="time-major"):
        shift_in_time(tf.constant(1.0))


def test_reset_is_under_stop_gradient():
    params = LIFParams(alpha=0.5)
    v = tf.Variable([[1.5]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        v_new, _ = lif_step(v, tf.zeros_like(v), params)
    assert tape.gradient(v_new, v).numpy()[0, 0] == pytest.approx(0.5)


def test_lif_step_matches_layer_recursion(rng):
    params = LIFParams(alpha=0.8, gain=5.0)
    i_syn = rng.normal(0.2, 0.3, size=(40, 3, 6))
    v_seq = lif_membrane(tf.constant(i_syn), alpha=0.8, gain=5.0, th1=1.0).numpy()
    v = tf.zeros((3, 6), tf.float64)
    for t in range(40):
        v, _ = lif_step(v, i_syn[t], params)
        np.testing.assert_allclose(v.numpy(), v_seq[t], rtol=1e-12, atol=1e-14)


def _poor_mans_setup(rng, batch=24, t_len=100, sizes=(16, 7, 2)):
    x = np.zeros((batch, t_len, sizes[0]))
    for b in range(batch):
        for t in range(t_len):
            ids = rng.permutation(sizes[0])[: rng.integers(0, sizes[0])]
            x[b, t, ids] = 1.0
    y = rng.uniform(0, 1, size=(batch, sizes[-1]))
    weights = init_weights(sizes, seed=3, dtype=np.float64)
    return x, y, weights


@pytest.mark.parametrize("delay", [True, False])
def test_snn_forward_spikes_and_gradients_match_numpy_bptt(rng, delay):
    x, y, weights = _poor_mans_setup(rng)
    params = LIFParams(alpha=0.9, th2=(0.9, None), layer_delay=delay)
    ws = [tf.Variable(w) for w in weights]
    with tf.GradientTape() as tape:
        out = snn_forward(ws, x, params)
        counts = tf.reduce_sum(out.spikes[-1], axis=1)
        loss = tf.reduce_sum((counts - y) ** 2) / y.shape[1]
    grads = tape.gradient(loss, ws)

    layers = ref.forward(weights, x, alpha=0.9, gain=10.0, th1=1.0, delay=delay)
    for l, (_, _, s) in enumerate(layers):
        np.testing.assert_array_equal(out.spikes[l].numpy(), s)
    assert 0 < layers[-1][2].mean() < 1, "the test network must actually spike"
    counts_np = layers[-1][2].sum(axis=1)
    g_last = np.repeat((2 * (counts_np - y) / y.shape[1])[:, None, :], x.shape[1], axis=1)
    expected = ref.backward(weights, layers, g_last, alpha=0.9, gain=10.0, th1=1.0, beta=10.0,
                            th2s=[0.9, None], delay=delay)
    for g, e in zip(grads, expected):
        assert np.abs(e).max() > 0
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-9, atol=1e-12)


def test_snn_forward_graph_mode_equals_eager(rng):
    x, _, weights = _poor_mans_setup(rng, batch=4, t_len=20)
    params = LIFParams(alpha=0.9, th2=0.9)
    eager = snn_forward(weights, x, params, return_potentials=True)
    graph = tf.function(lambda w, xx: snn_forward(w, xx, params, return_potentials=True))(weights, x)
    for a, b in zip(eager.potentials, graph.potentials):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_init_weights_follow_the_seed_rule():
    w = init_weights([400, 50], weight_mul=2.0, seed=0)[0]
    a = np.sqrt(6 / 400) * 2.0
    assert w.shape == (400, 50)  # [in, out]
    assert w.min() >= -a + 0.001 - 1e-6 and w.max() <= a + 0.001 + 1e-6
    assert abs(w.mean() - 0.001) < 0.01
    np.testing.assert_array_equal(w, init_weights([400, 50], weight_mul=2.0, seed=0)[0])


@pytest.mark.parametrize("field,value,match", [
    ("alpha", 1.0, "alpha"), ("alpha", 0.0, "alpha"), ("gain", 0.0, "gain"),
    ("beta", -1.0, "beta"), ("th2", 1.5, "th2"), ("th2", (0.5, 2.0), "th2"),
    ("weight_mul", 0, "weight_mul"), ("layer_delay", "yes", "layer_delay"),
])
def test_invalid_params_name_the_argument(field, value, match):
    with pytest.raises(ValueError, match=match):
        LIFParams(**{field: value})


def test_bad_shapes_raise_value_errors():
    w = init_weights([4, 3, 2])
    with pytest.raises(ValueError, match="rank 3"):
        snn_forward(w, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="width 5"):
        snn_forward(w, np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="do not chain"):
        snn_forward([w[0], np.zeros((2, 4), np.float32)], np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="impl"):
        snn_forward(w, np.zeros((2, 3, 4), np.float32), impl="fast")
    with pytest.raises(ValueError, match="entries"):
        snn_forward(w, np.zeros((2, 3, 4), np.float32), LIFParams(th2=(0.9,)))
    with pytest.raises(ValueError, match="sizes"):
        init_weights([4])
