"""The compiled ops against the pure-TF reference (forward and every gradient), and the
reference against a NumPy oracle."""

import numpy as np
import pytest
import tensorflow as tf

from snnlib import ops
from snnlib.spikes import SparseSpikes
from tests.ops import require_compiled
from tests.ops.random_inputs import (random_potentials, random_sparse, select_spikes_np)

CASES = [  # (batch, n_in, n_out, capacity, activity)
    (1, 1, 1, 1, 0.5), (3, 17, 5, 4, 0.2), (6, 40, 9, 40, 0.3), (4, 64, 33, 7, 0.05),
    (2, 25, 3, 25, 0.9), (7, 200, 37, 150, 0.5), (9, 500, 50, 3, 0.01),
]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _maybe_function(fn, mode):
    return tf.function(fn) if mode == "graph" else fn


def _select_and_grads(backend, v, th2, capacity, weights_g, mode):
    def run(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            spikes, dropped = ops.select_spikes(v, th1=1.0, th2=th2, capacity=capacity,
                                                beta=7.5, backend=backend)
            loss = tf.reduce_sum(spikes.values * weights_g)
        return spikes, dropped, tape.gradient(loss, v)

    return _maybe_function(run, mode)(tf.constant(v))


@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("th2", [0.9, None])
def test_select_spikes_compiled_equals_reference(case, dtype, mode, th2):
    require_compiled()
    rng = np.random.default_rng(CASES.index(case) + (50 if th2 is None else 0))
    batch, n, _, capacity, activity = case
    v = random_potentials(rng, batch, n, activity, dtype)
    g = tf.constant(rng.normal(size=(batch, capacity)).astype(dtype))
    out = {be: _select_and_grads(be, v, th2, capacity, g, mode) for be in ops.BACKENDS}
    (ref_sp, ref_dr, ref_dv), (cmp_sp, cmp_dr, cmp_dv) = out["reference"], out["compiled"]
    for a, b in zip(ref_sp, cmp_sp):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ref_dr.numpy(), cmp_dr.numpy())
    np.testing.assert_allclose(cmp_dv.numpy(), ref_dv.numpy(), **TOL[dtype])
    # The reference itself against the NumPy oracle.
    for a, b in zip((*ref_sp, ref_dr), select_spikes_np(v, 1.0, th2, capacity)):
        np.testing.assert_array_equal(a.numpy(), b)


def test_select_spikes_gradient_is_the_surrogate_on_listed_neurons(backend_name):
    v = tf.constant([[1.2, 0.95, 0.3, 1.0, 0.92]], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(v)
        spikes, _ = ops.select_spikes(v, th1=1.0, th2=0.93, capacity=4, backend=backend_name)
        loss = tf.reduce_sum(spikes.values * tf.constant([[1.0, 2.0, 3.0, 4.0]], tf.float64))
    np.testing.assert_array_equal(spikes.ids.numpy(), [[0, 3, 1, 0]])
    np.testing.assert_array_equal(spikes.counts.numpy(), [[2, 3]])
    sg = lambda x: 1.0 / (10.0 * abs(x - 1.0) + 1.0) ** 2  # noqa: E731
    expected = [[1.0 * sg(1.2), 3.0 * sg(0.95), 0.0, 2.0 * sg(1.0), 0.0]]
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), expected, rtol=1e-12)


def _matmul_and_grads(backend, w, spikes, g, mode, layout="in_out"):
    """``(y, dL/dW, dL/dvalues)`` for ``w`` given as ``W^T [out, in]`` (the NumPy oracle's
    indexing); with ``layout="in_out"`` (the default) it is passed as ``W [in, out]`` and the
    (row-sparse) gradient comes back densified in the ``[out, in]`` layout."""
    def run(w, values):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([w, values])
            y = ops.sparse_matmul(w, SparseSpikes(spikes.ids, spikes.counts, values),
                                  weights_layout=layout, backend=backend)
            loss = tf.reduce_sum(y * g)
        grad_w = tape.gradient(loss, w)
        if layout == "in_out":
            assert isinstance(grad_w, tf.IndexedSlices)
            grad_w = tf.transpose(tf.convert_to_tensor(grad_w))
        return y, grad_w, tape.gradient(loss, values)

    w = w if layout == "out_in" else np.ascontiguousarray(w.T)
    return _maybe_function(run, mode)(tf.constant(w), tf.constant(spikes.values))


@pytest.mark.parametrize("layout", ["in_out", "out_in"])
@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_sparse_matmul_compiled_equals_reference(case, dtype, mode, layout):
    require_compiled()
    rng = np.random.default_rng(100 + CASES.index(case))
    batch, n_in, n_out, capacity, _ = case
    spikes = random_sparse(rng, batch, n_in, capacity, dtype=dtype)
    w = rng.normal(size=(n_out, n_in)).astype(dtype)
    g = tf.constant(rng.normal(size=(batch, n_out)).astype(dtype))
    ref = _matmul_and_grads("reference", w, spikes, g, mode, layout)
    cmp = _matmul_and_grads("compiled", w, spikes, g, mode, layout)
    for a, b in zip(ref, cmp):
        np.testing.assert_allclose(b.numpy(), a.numpy(), **TOL[dtype])
    # NumPy oracle of the equations.
    y = np.zeros((batch, n_out))
    dw = np.zeros_like(w, dtype=np.float64)
    gv = np.zeros((batch, capacity))
    for b in range(batch):
        c0, c1 = spikes.counts[b]
        for i in range(c1):
            j = spikes.ids[b, i]
            gv[b, i] = g.numpy()[b] @ w[:, j]
            if i < c0:
                y[b] += w[:, j]
                dw[:, j] += g.numpy()[b]
    for a, e in zip(ref, (y, dw, gv)):
        np.testing.assert_allclose(a.numpy(), e, **TOL[dtype])


@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("backend", ["reference", "compiled"])
@pytest.mark.parametrize("case", CASES)
def test_both_weight_layouts_give_the_same_product_and_gradients(case, backend, mode):
    if backend == "compiled":
        require_compiled()
    rng = np.random.default_rng(200 + CASES.index(case))
    batch, n_in, n_out, capacity, _ = case
    spikes = random_sparse(rng, batch, n_in, capacity)
    w = rng.normal(size=(n_out, n_in))
    g = tf.constant(rng.normal(size=(batch, n_out)))
    want = _matmul_and_grads("reference", w, spikes, g, mode, layout="out_in")
    got = _matmul_and_grads(backend, w, spikes, g, mode)
    for a, b in zip(want, got):
        np.testing.assert_allclose(b.numpy(), a.numpy(), **TOL[np.float64])


def test_transposed_weight_gradient_has_only_the_spiking_rows():
    lib = require_compiled()
    ids = np.array([[3, 1, 0], [3, 0, 0]], np.int32)
    counts = np.array([[1, 2], [1, 1]], np.int32)  # spikes: 3 and 3; candidate: 1
    g = np.array([[1.0, 2.0], [10.0, 20.0]])
    rows, columns = lib.snnlib_sparse_matmul_t_grad(
        weights_t=np.ones((5, 2)), ids=ids, counts=counts, grad_y=g)
    gv = lib.snnlib_sparse_matmul_t_slot_grad(weights_t=np.ones((5, 2)), ids=ids, counts=counts,
                                             grad_y=g)
    np.testing.assert_array_equal(columns.numpy(), [3])
    np.testing.assert_array_equal(rows.numpy(), [[11.0, 22.0]])
    np.testing.assert_array_equal(gv.numpy(), [[3.0, 3.0, 0.0], [30.0, 0.0, 0.0]])


def test_unknown_weight_layout_is_refused():
    with pytest.raises(ValueError, match="weights_layout"):
        ops.sparse_matmul(np.ones((2, 3)), SparseSpikes(np.zeros((1, 1), np.int32),
                                                        np.zeros((1, 2), np.int32)),
                          weights_layout="transposed")


def test_sparse_matmul_keeps_the_columns_its_slots_read():
    lib = require_compiled()
    rng = np.random.default_rng(7)
    spikes = random_sparse(rng, 5, 40, 6)
    w = rng.normal(size=(19, 40))
    y, columns, weights_t = lib.snnlib_sparse_matmul(weights=w, ids=spikes.ids,
                                                     counts=spikes.counts, values=spikes.values)
    read = sorted({int(spikes.ids[b, i]) for b in range(5) for i in range(spikes.counts[b, 1])})
    np.testing.assert_array_equal(columns.numpy(), read)
    np.testing.assert_array_equal(weights_t.numpy(), w[:, read].T)


def test_sparse_matmul_without_any_slot_is_zero():
    lib = require_compiled()
    w = np.ones((21, 35))
    ids, counts = np.full((3, 4), 99, np.int32), np.zeros((3, 2), np.int32)
    y, columns, weights_t = lib.snnlib_sparse_matmul(weights=w, ids=ids, counts=counts,
                                                     values=np.zeros((3, 4)))
    inputs = dict(weights=w, ids=ids, counts=counts, grad_y=np.ones((3, 21)), columns=columns,
                  weights_t=weights_t)
    dw = lib.snnlib_sparse_matmul_grad(**inputs)
    gv = lib.snnlib_sparse_matmul_slot_grad(**inputs)
    assert columns.shape == (0,) and weights_t.shape == (0, 21)
    assert not y.numpy().any() and not dw.numpy().any() and not gv.numpy().any()


def _to_dense_and_grads(backend, spikes, n, g, mode):
    def run(values):
        with tf.GradientTape() as tape:
            tape.watch(values)
            d = ops.sparse_to_dense(SparseSpikes(spikes.ids, spikes.counts, values), n,
                                    backend=backend)
            loss = tf.reduce_sum(d * g)
        return d, tape.gradient(loss, values)

    return _maybe_function(run, mode)(tf.constant(spikes.values))


@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_sparse_to_dense_compiled_equals_reference(case, dtype, mode):
    require_compiled()
    rng = np.random.default_rng(200 + CASES.index(case))
    batch, n, _, capacity, _ = case
    spikes = random_sparse(rng, batch, n, capacity, dtype=dtype)
    g = tf.constant(rng.normal(size=(batch, n)).astype(dtype))
    ref = _to_dense_and_grads("reference", spikes, n, g, mode)
    cmp = _to_dense_and_grads("compiled", spikes, n, g, mode)
    for a, b in zip(ref, cmp):
        np.testing.assert_array_equal(b.numpy(), a.numpy())
    dense = np.zeros((batch, n))
    gv = np.zeros((batch, capacity))
    for b in range(batch):
        c0, c1 = spikes.counts[b]
        dense[b, spikes.ids[b, :c0]] = 1.0
        gv[b, :c1] = g.numpy()[b, spikes.ids[b, :c1]]
    np.testing.assert_array_equal(ref[0].numpy(), dense)
    np.testing.assert_allclose(ref[1].numpy(), gv, rtol=1e-6)


def test_dense_to_sparse_matches_numpy_conversion(backend_name, rng):
    from snnlib.spikes import dense_to_sparse_np

    dense = (rng.uniform(size=(2, 3, 20)) < 0.3).astype(np.float32) * 2.0
    spikes, dropped = ops.dense_to_sparse(dense, 4, backend=backend_name)
    expected, exp_dropped = dense_to_sparse_np(dense, 4)
    assert spikes.values is None
    np.testing.assert_array_equal(spikes.ids.numpy(), expected.ids)
    np.testing.assert_array_equal(spikes.counts.numpy(), expected.counts)
    np.testing.assert_array_equal(dropped.numpy(), exp_dropped)


def test_leading_axes_are_flattened_and_restored(backend_name, rng):
    v = random_potentials(rng, 24, 10, 0.3).reshape(2, 3, 4, 10)
    spikes, dropped = ops.select_spikes(v, th1=1.0, th2=0.9, capacity=5, backend=backend_name)
    assert spikes.ids.shape == (2, 3, 4, 5) and spikes.counts.shape == (2, 3, 4, 2)
    assert dropped.shape == (2, 3, 4)
    flat, _ = ops.select_spikes(v.reshape(24, 10), th1=1.0, th2=0.9, capacity=5,
                                backend=backend_name)
    np.testing.assert_array_equal(spikes.ids.numpy().reshape(24, 5), flat.ids.numpy())
    w = rng.normal(size=(10, 6))
    y = ops.sparse_matmul(w, spikes, backend=backend_name)
    assert y.shape == (2, 3, 4, 6)
    np.testing.assert_allclose(y.numpy().reshape(24, 6),
                               ops.sparse_matmul(w, flat, backend=backend_name).numpy())
    assert ops.sparse_to_dense(spikes, 10, backend=backend_name).shape == (2, 3, 4, 10)


def test_input_spikes_without_values_get_no_gradient(backend_name, rng):
    spikes = random_sparse(rng, 3, 8, 4, garbage_padding=False)
    w = tf.Variable(rng.normal(size=(8, 2)))
    with tf.GradientTape() as tape:
        y = ops.sparse_matmul(w, SparseSpikes(spikes.ids, spikes.counts), backend=backend_name)
        loss = tf.reduce_sum(y)
    assert tape.gradient(loss, w) is not None
    assert ops.sparse_to_dense(SparseSpikes(spikes.ids, spikes.counts), 8).dtype == tf.float32


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_shapes_are_inferred_with_unknown_batch(backend):
    if backend == "compiled":
        require_compiled()
    n, s, out = 12, 5, 3

    @tf.function(input_signature=[tf.TensorSpec([None, n], tf.float32),
                                  tf.TensorSpec([n, out], tf.float32)])
    def net(v, w):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([v, w])
            spikes, dropped = ops.select_spikes(v, th1=1.0, th2=0.9, capacity=s, backend=backend)
            y = ops.sparse_matmul(w, spikes, backend=backend)
            dense = ops.sparse_to_dense(spikes, n, backend=backend)
            loss = tf.reduce_sum(y) + tf.reduce_sum(dense)
        shapes = [spikes.ids.shape, spikes.counts.shape, spikes.values.shape, dropped.shape,
                  y.shape, dense.shape]
        assert [sh.as_list() for sh in shapes] == [
            [None, s], [None, 2], [None, s], [None], [None, out], [None, n]], shapes
        gv, gw = tape.gradient(loss, [v, w])
        gw = tf.convert_to_tensor(gw)  # the rows of the inputs that spiked, densified
        assert gv.shape.as_list() == [None, n] and gw.shape.as_list() == [n, out]
        return y

    y = net(tf.constant(random_potentials(np.random.default_rng(0), 4, n, 0.3, np.float32)),
            tf.ones([n, out]))
    assert y.shape == (4, out)


def test_backend_reports_what_runs():
    from snnlib.ops import _loader

    expected = "reference" if _loader.pure_python_forced() else "compiled"
    assert ops.backend() == expected
    with pytest.raises(ValueError, match="backend"):
        ops.select_spikes(np.zeros((1, 3)), th1=1.0, capacity=1, backend="gpu")
