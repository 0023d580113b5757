"""The ``sparse_ops`` and ``sparse_layer`` networks against the ``dense`` one (the seed's
"poor man's test", spec section 1.8, with explicitly shared weights), on both op backends."""

import numpy as np
import pytest
import tensorflow as tf

from snnlib import ops
from snnlib import LIFParams, init_weights, snn_forward
from snnlib.network.sparse import forward, validate_sparse_sizes
from snnlib.ops import _loader

SIZES = [16, 7, 2]


def _poor_mans_data(seed=1, batch=24, t_len=100, n_in=16, n_out=2):
    rng = np.random.default_rng(seed)
    x = np.zeros((batch, t_len, n_in))
    for b in range(batch):
        for t in range(t_len):
            x[b, t, rng.permutation(n_in)[: rng.integers(0, n_in)]] = 1.0
    return x, rng.uniform(0, 1, size=(batch, n_out))


def _loss_and_grads(weights, x, y, params, impl, sparse_sizes=None):
    ws = [tf.Variable(w) for w in weights]
    with tf.GradientTape() as tape:
        out = snn_forward(ws, x.astype(weights[0].dtype), params, impl=impl,
                          sparse_sizes=sparse_sizes, return_potentials=True)
        counts = tf.reduce_sum(out.spikes[-1], axis=1)
        loss = tf.reduce_sum((counts - y) ** 2) / 2
    # sparse_ops: tf.IndexedSlices of the rows of the inputs that spiked (W [in, out])
    return out, loss, [tf.convert_to_tensor(g) for g in tape.gradient(loss, ws)]


@pytest.fixture(params=["default", "reference"])
def op_backend(request, monkeypatch):
    """The network on the default backend (compiled unless SNNLIB_PURE_PY=1) and on the
    reference forced through the environment."""
    if request.param == "reference":
        monkeypatch.setenv("SNNLIB_PURE_PY", "1")
    elif not _loader.pure_python_forced():
        _loader.require_library()  # CI builds the codelets: a missing library is a failure
    return request.param


@pytest.mark.parametrize("dtype,tol", [(np.float32, dict(rtol=1e-4, atol=1e-6)),
                                       (np.float64, dict(rtol=1e-10, atol=1e-12))])
@pytest.mark.parametrize("delay", [True, False])
@pytest.mark.parametrize("impl", ["sparse_ops", "sparse_layer"])
def test_poor_mans_test_sparse_equals_dense(op_backend, impl, delay, dtype, tol):
    x, y = _poor_mans_data()
    weights = init_weights(SIZES, seed=3, dtype=dtype)
    params = LIFParams(alpha=0.9, th1=1.0, th2=(0.9, None), layer_delay=delay)
    dense, dense_loss, dense_grads = _loss_and_grads(weights, x, y, params, "dense")
    sparse, sparse_loss, sparse_grads = _loss_and_grads(weights, x, y, params, impl,
                                                        sparse_sizes=SIZES)
    for l in range(len(weights)):
        np.testing.assert_array_equal(sparse.spikes[l].numpy(), dense.spikes[l].numpy())
        np.testing.assert_allclose(sparse.potentials[l].numpy(), dense.potentials[l].numpy(),
                                   **tol)
        assert int(sparse.overflow[l]) == 0
        assert np.abs(dense_grads[l].numpy()).max() > 0
        np.testing.assert_allclose(sparse_grads[l].numpy(), dense_grads[l].numpy(), **tol)
    assert 0 < dense.spikes[-1].numpy().mean() < 1, "the test network must actually spike"
    np.testing.assert_allclose(sparse_loss.numpy(), dense_loss.numpy(), **tol)


def test_sparse_outputs_are_consistent_and_batch_major(op_backend):
    x, _ = _poor_mans_data(batch=3, t_len=12)
    weights = init_weights(SIZES, seed=3)
    params = LIFParams(alpha=0.9, th2=0.9)
    out = snn_forward(weights, x.astype(np.float32), params, impl="sparse_ops",
                      sparse_sizes=[16, 3, 2])
    for l, (dense, sp) in enumerate(zip(out.spikes, out.sparse)):
        assert dense.shape == (3, 12, SIZES[l + 1])
        assert sp.ids.shape[:2] == (3, 12) and sp.counts.shape == (3, 12, 2)
        assert sp.values.shape == sp.ids.shape
        np.testing.assert_array_equal(ops.sparse_to_dense(sp, SIZES[l + 1]).numpy(), dense.numpy())
        assert out.overflow[l].dtype == tf.int32 and out.overflow[l].shape == ()


def test_overflow_is_counted_when_capacity_is_small():
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(4, 30, 16)) < 0.6).astype(np.float32)
    weights = [np.full((16, 7), 0.5, np.float32), np.full((7, 2), 0.5, np.float32)]
    t_major = tf.constant(np.transpose(x, (1, 0, 2)))
    out = forward(weights, t_major, LIFParams(alpha=0.9), sparse_sizes=[16, 2, 1],
                  return_potentials=True)
    v0 = out.potentials[0].numpy()
    n_spk = (v0 >= 1.0).sum(axis=-1)
    assert int(out.overflow[0]) == int(np.maximum(n_spk - 2, 0).sum()) > 0
    # Kept spikes are the lowest-index ones.
    dense0 = out.spikes[0].numpy()
    for t, b in zip(*np.nonzero(n_spk > 2)):
        np.testing.assert_array_equal(np.flatnonzero(dense0[t, b]), np.flatnonzero(v0[t, b] >= 1.0)[:2])


def test_graph_mode_equals_eager():
    x, _ = _poor_mans_data(batch=4, t_len=20)
    weights = init_weights(SIZES, seed=3, dtype=np.float64)
    params = LIFParams(alpha=0.9, th2=0.9)

    def run(w, xx):
        return snn_forward(w, xx, params, impl="sparse_ops", sparse_sizes=SIZES).spikes

    eager = run(weights, x)
    graph = tf.function(run)(weights, tf.constant(x))
    for a, b in zip(eager, graph):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("sparse_sizes,match", [
    (None, "sparse_sizes is required"), ([16, 7], "3 entries"), ([16, 0, 2], r"sparse_sizes\[1\]"),
    ([16, 8, 2], r"sparse_sizes\[1\] = 8 exceeds"), ([16, 2.5, 2], r"sparse_sizes\[1\]"),
    (5, "sequence"),
])
def test_invalid_sparse_sizes_raise(sparse_sizes, match):
    w = init_weights(SIZES)
    with pytest.raises(ValueError, match=match):
        snn_forward(w, np.zeros((2, 3, 16), np.float32), impl="sparse_ops",
                    sparse_sizes=sparse_sizes)
    assert validate_sparse_sizes(np.array([4, 3, 2]), SIZES) == [4, 3, 2]


@pytest.mark.parametrize("batch", [1, 5, 7, 24])
@pytest.mark.parametrize("sizes,th2,delay,dtype", [
    ([16, 7, 2], (0.9, None), True, np.float32),
    ([16, 7, 2], (0.9, None), False, np.float32),
    # Four stacked layers in float64: in float32 the summation order of the dense matmul and
    # of the gathers differs by rounding, which the surrogate slope and four layers of BPTT
    # amplify to ~1e-3 relative on a few small entries.
    ([16, 12, 9, 7, 3], (0.9, 0.8, 0.9, None), True, np.float64),
    ([16, 12, 9, 7, 3], (0.9, 0.8, 0.9, None), False, np.float64),
])
def test_three_implementations_agree(op_backend, batch, sizes, th2, delay, dtype):
    """Spikes and weight gradients of sparse_layer equal dense (th2-masked) and sparse_ops, for
    any batch size (the seed dropped samples unless batch % 6 == 0) and stacked layers."""
    x, _ = _poor_mans_data(seed=batch, batch=batch, t_len=60, n_in=sizes[0])
    y = np.random.default_rng(batch).uniform(0, 1, size=(batch, sizes[-1]))
    weights = init_weights(sizes, seed=3, weight_mul=1.5, dtype=dtype)
    params = LIFParams(alpha=0.9, th2=th2, layer_delay=delay)
    results = {impl: _loss_and_grads(weights, x, y, params, impl,
                                     sparse_sizes=None if impl == "dense" else sizes)
               for impl in ("dense", "sparse_ops", "sparse_layer")}
    dense_out, _, dense_grads = results["dense"]
    assert dense_out.spikes[-2].numpy().mean() > 0, "the hidden layers must spike"
    for impl in ("sparse_ops", "sparse_layer"):
        out, _, grads = results[impl]
        for l in range(len(weights)):
            np.testing.assert_array_equal(out.spikes[l].numpy(), dense_out.spikes[l].numpy())
            np.testing.assert_allclose(grads[l].numpy(), dense_grads[l].numpy(), rtol=1e-4, atol=1e-6)
