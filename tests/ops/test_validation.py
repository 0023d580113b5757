"""Invalid inputs raise ValueError (static) or InvalidArgumentError (runtime) naming the
argument, on both backends, in eager and graph mode; the raw kernels validate on their own."""

import numpy as np
import pytest
import tensorflow as tf

from snnlib import ops
from snnlib.spikes import SparseSpikes

ERRORS = (ValueError, tf.errors.InvalidArgumentError)

W = np.ones((3, 8))  # W^T [out, in], the layout of the raw SnnlibSparseMatmul kernels
W_IN_OUT = W.T      # [in, out]: what sparse_matmul takes by default
IDS = np.array([[1, 4, 0], [2, 0, 0]], np.int32)
COUNTS = np.array([[1, 2], [1, 1]], np.int32)
VALUES = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


def _spikes(ids=IDS, counts=COUNTS, values=VALUES):
    return dict(ids=ids, counts=counts, values=values)


def _with(**changes):
    d = _spikes()
    d.update(changes)
    return d


def _bad_ids(i, j, value):
    ids = IDS.copy()
    ids[i, j] = value
    return ids


def _bad_counts(i, value):
    counts = COUNTS.copy()
    counts[i] = value
    return counts


# (op, tensors, static args, match)
CASES = {
    "select_v_rank": ("select", dict(v=np.zeros(5)), dict(capacity=2), "v must"),
    "select_v_dtype": ("select", dict(v=np.zeros((2, 5), np.int32)), dict(capacity=2), "v must"),
    "select_capacity_zero": ("select", dict(v=np.zeros((2, 5))), dict(capacity=0), "capacity"),
    "select_capacity_above_n": ("select", dict(v=np.zeros((2, 5))), dict(capacity=6), "capacity"),
    "select_capacity_float": ("select", dict(v=np.zeros((2, 5))), dict(capacity=2.5), "capacity"),
    "matmul_id_too_large": ("matmul", _with(ids=_bad_ids(0, 1, 8)), {}, "ids"),
    "matmul_id_negative": ("matmul", _with(ids=_bad_ids(1, 0, -1)), {}, "ids"),
    "matmul_counts_above_s": ("matmul", _with(counts=_bad_counts(0, [1, 4])), {}, "counts"),
    "matmul_counts_negative": ("matmul", _with(counts=_bad_counts(1, [-1, 1])), {}, "counts"),
    "matmul_counts0_gt_counts1": ("matmul", _with(counts=_bad_counts(0, [2, 1])), {}, "counts"),
    "matmul_batch_mismatch": ("matmul", _with(counts=np.ones((3, 2), np.int32)), {}, "counts"),
    "matmul_values_shape": ("matmul", _with(values=np.ones((2, 4))), {}, "values"),
    "matmul_values_batch": ("matmul", _with(values=np.ones((1, 3))), {}, "values"),
    "matmul_ids_dtype": ("matmul", _with(ids=IDS.astype(np.int64)), {}, "ids"),
    "matmul_ids_rank": ("matmul", _with(ids=IDS[0]), {}, "ids"),
    "matmul_counts_shape": ("matmul", _with(counts=np.ones((2, 3), np.int32)), {}, "counts"),
    "matmul_values_dtype": ("matmul", _with(values=VALUES.astype(np.float32)), {}, "values"),
    "matmul_weights_rank": ("matmul", dict(_spikes(), w=np.ones(8)), {}, "weights"),
    "matmul_weights_dtype": ("matmul", dict(_spikes(), w=np.ones((3, 8), np.int32)), {},
                             "weights"),
    "to_dense_id_too_large": ("to_dense", _with(ids=_bad_ids(0, 0, 5)), dict(n=5), "ids"),
    "to_dense_counts_above_s": ("to_dense", _with(counts=_bad_counts(1, [0, 7])), dict(n=8),
                                "counts"),
    "to_dense_counts0_gt_counts1": ("to_dense", _with(counts=_bad_counts(1, [1, 0])),
                                    dict(n=8), "counts"),
    "to_dense_batch_mismatch": ("to_dense", _with(ids=IDS[:1]), dict(n=8), "counts"),
    "to_dense_n_zero": ("to_dense", _spikes(), dict(n=0), "n must"),
}


def _invoke(op, tensors, static, backend):
    if op == "select":
        return ops.select_spikes(tensors["v"], th1=1.0, th2=0.9, backend=backend, **static)
    spikes = SparseSpikes(tensors["ids"], tensors["counts"], tensors["values"])
    if op == "matmul":
        return ops.sparse_matmul(tensors.get("w", W_IN_OUT), spikes, backend=backend)
    return ops.sparse_to_dense(spikes, static["n"], backend=backend)


def _run(op, tensors, static, backend, mode):
    if mode == "eager":
        return _invoke(op, tensors, static, backend)
    if mode == "graph":
        return tf.function(lambda: _invoke(op, tensors, static, backend))()
    # graph_dynamic: every axis unknown at trace time, so only the kernels can check.
    keys = sorted(tensors)
    arrays = [np.asarray(tensors[k]) for k in keys]
    sig = [tf.TensorSpec([None] * a.ndim, tf.as_dtype(a.dtype)) for a in arrays]
    fn = tf.function(lambda *xs: _invoke(op, dict(zip(keys, xs)), static, backend),
                     input_signature=sig)
    return fn(*arrays)


@pytest.mark.parametrize("mode", ["eager", "graph", "graph_dynamic"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_input_raises_naming_the_argument(backend_name, name, mode):
    op, tensors, static, match = CASES[name]
    with pytest.raises(ERRORS, match=match):
        out = _run(op, tensors, static, backend_name, mode)
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)


@pytest.mark.parametrize("mode", ["eager", "graph", "graph_dynamic"])
def test_valid_baseline_of_the_invalid_cases_runs(backend_name, mode):
    y = _run("matmul", _spikes(), {}, backend_name, mode)
    np.testing.assert_array_equal(y.numpy(), np.ones((2, 3)))
    d = _run("to_dense", _spikes(), dict(n=8), backend_name, mode)
    assert d.numpy().sum() == 2
    sp, dropped = _run("select", dict(v=np.ones((2, 5))), dict(capacity=5), backend_name, mode)
    np.testing.assert_array_equal(sp.counts.numpy(), [[5, 5], [5, 5]])


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_out_in_layout_checks_ids_against_its_columns(backend_name, mode):
    def run(ids):
        return ops.sparse_matmul(W, SparseSpikes(ids, COUNTS, VALUES), weights_layout="out_in",
                                 backend=backend_name)

    call = tf.function(run) if mode == "graph" else run
    np.testing.assert_array_equal(call(IDS).numpy(), np.ones((2, 3)))
    with pytest.raises(ERRORS, match="ids"):
        call(_bad_ids(1, 0, 8)).numpy()
    with pytest.raises(ValueError, match=r"rank 2 \(out, in\)"):
        ops.sparse_matmul(np.ones(8), SparseSpikes(IDS, COUNTS, VALUES), weights_layout="out_in",
                          backend=backend_name)


def test_padding_ids_are_never_read(backend_name):
    ids = np.array([[1, -5, 99]], np.int32)  # slots 1, 2 are padding (counts1 = 1)
    spikes = SparseSpikes(ids, np.array([[1, 1]], np.int32), np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_array_equal(ops.sparse_matmul(W_IN_OUT, spikes,
                                                    backend=backend_name).numpy(),
                                  np.ones((1, 3)))
    assert ops.sparse_to_dense(spikes, 8, backend=backend_name).numpy()[0, 1] == 1.0


# --- the raw kernels, without the Python wrappers ------------------------------------------

def _raw_cases(lib):
    f64 = lambda x: tf.constant(x, tf.float64)  # noqa: E731
    good = dict(ids=IDS, counts=COUNTS)
    # The forward op's columns (read by the slots i < counts[:, 1]) and weights[:, columns]^T.
    cols = dict(columns=np.int32([1, 2, 4]), weights_t=f64(W[:, [1, 2, 4]].T))
    return {
        "select_v_rank": (lambda: lib.snnlib_select_spikes(
            v=f64(np.zeros(4)), th1=f64(1.0), th2=f64(0.9), beta=f64(10.0), capacity=2), "v"),
        "select_th1_rank": (lambda: lib.snnlib_select_spikes(
            v=f64(np.zeros((2, 4))), th1=f64([1.0]), th2=f64(0.9), beta=f64(10.0), capacity=2),
            "th1"),
        "select_capacity": (lambda: lib.snnlib_select_spikes(
            v=f64(np.zeros((2, 4))), th1=f64(1.0), th2=f64(0.9), beta=f64(10.0), capacity=5),
            "capacity"),
        "select_grad_ids": (lambda: lib.snnlib_select_spikes_grad(
            v=f64(np.zeros((2, 4))), ids=_bad_ids(0, 0, 4), counts=COUNTS,
            grad_values=f64(VALUES), th1=f64(1.0), beta=f64(10.0)), "ids"),
        "select_grad_batch": (lambda: lib.snnlib_select_spikes_grad(
            v=f64(np.zeros((3, 8))), ids=IDS, counts=COUNTS,
            grad_values=f64(VALUES), th1=f64(1.0), beta=f64(10.0)), "batch"),
        "select_grad_values_shape": (lambda: lib.snnlib_select_spikes_grad(
            v=f64(np.zeros((2, 8))), ids=IDS, counts=COUNTS,
            grad_values=f64(np.zeros((2, 2))), th1=f64(1.0), beta=f64(10.0)), "grad_values"),
        "matmul_counts": (lambda: lib.snnlib_sparse_matmul(
            weights=f64(W), ids=IDS, counts=_bad_counts(0, [3, 2]), values=f64(VALUES)),
            "counts"),
        "matmul_counts_width": (lambda: lib.snnlib_sparse_matmul(
            weights=f64(W), ids=IDS, counts=np.ones((2, 1), np.int32), values=f64(VALUES)),
            "counts"),
        "matmul_values": (lambda: lib.snnlib_sparse_matmul(
            weights=f64(W), ids=IDS, counts=COUNTS, values=f64(np.ones((1, 3)))), "values"),
        "matmul_grad_shape": (lambda: lib.snnlib_sparse_matmul_grad(
            weights=f64(W), grad_y=f64(np.ones((2, 4))), **good, **cols), "grad_y"),
        "matmul_grad_ids": (lambda: lib.snnlib_sparse_matmul_grad(
            weights=f64(W), ids=_bad_ids(1, 0, 8), counts=COUNTS, grad_y=f64(np.ones((2, 3))),
            **cols), "ids"),
        "matmul_grad_columns_order": (lambda: lib.snnlib_sparse_matmul_grad(
            weights=f64(W), grad_y=f64(np.ones((2, 3))), **good, columns=np.int32([1, 4, 2]),
            weights_t=cols["weights_t"]), "columns must be strictly ascending"),
        "matmul_grad_columns_missing": (lambda: lib.snnlib_sparse_matmul_grad(
            weights=f64(W), grad_y=f64(np.ones((2, 3))), **good, columns=np.int32([1, 2]),
            weights_t=f64(np.ones((2, 3)))), "not in columns"),
        "matmul_grad_weights_t": (lambda: lib.snnlib_sparse_matmul_grad(
            weights=f64(W), grad_y=f64(np.ones((2, 3))), **good, columns=cols["columns"],
            weights_t=f64(np.ones((3, 4)))), "weights_t"),
        "matmul_slot_grad_shape": (lambda: lib.snnlib_sparse_matmul_slot_grad(
            weights=f64(W), grad_y=f64(np.ones((2, 4))), **good, **cols), "grad_y"),
        "matmul_slot_grad_columns_missing": (lambda: lib.snnlib_sparse_matmul_slot_grad(
            weights=f64(W), grad_y=f64(np.ones((2, 3))), **good, columns=np.int32([1, 2]),
            weights_t=f64(np.ones((2, 3)))), "not in columns"),
        "matmul_t_ids": (lambda: lib.snnlib_sparse_matmul_t(
            weights_t=f64(W.T), ids=_bad_ids(0, 1, 8), counts=COUNTS, values=f64(VALUES)), "ids"),
        "matmul_t_rank": (lambda: lib.snnlib_sparse_matmul_t(
            weights_t=f64(np.ones(8)), values=f64(VALUES), **good), "weights_t"),
        "matmul_t_grad_shape": (lambda: lib.snnlib_sparse_matmul_t_grad(
            weights_t=f64(W.T), grad_y=f64(np.ones((2, 4))), **good), "grad_y"),
        "matmul_t_grad_counts": (lambda: lib.snnlib_sparse_matmul_t_grad(
            weights_t=f64(W.T), ids=IDS, counts=_bad_counts(1, [2, 1]),
            grad_y=f64(np.ones((2, 3)))), "counts"),
        "matmul_t_slot_grad_shape": (lambda: lib.snnlib_sparse_matmul_t_slot_grad(
            weights_t=f64(W.T), grad_y=f64(np.ones((2, 4))), **good), "grad_y"),
        "matmul_t_slot_grad_ids": (lambda: lib.snnlib_sparse_matmul_t_slot_grad(
            weights_t=f64(W.T), ids=_bad_ids(1, 0, 8), counts=COUNTS,
            grad_y=f64(np.ones((2, 3)))), "ids"),
        "to_dense_ids": (lambda: lib.snnlib_sparse_to_dense(
            ids=_bad_ids(0, 1, -2), counts=COUNTS, values=f64(VALUES), n=8), "ids"),
        "to_dense_grad_batch": (lambda: lib.snnlib_sparse_to_dense_grad(
            grad_dense=f64(np.ones((1, 8))), **good), "batch"),
        "to_dense_grad_ids": (lambda: lib.snnlib_sparse_to_dense_grad(
            grad_dense=f64(np.ones((2, 4))), **good), "ids"),
    }


RAW_NAMES = ["select_v_rank", "select_th1_rank", "select_capacity", "select_grad_ids",
             "select_grad_batch", "select_grad_values_shape", "matmul_counts",
             "matmul_counts_width", "matmul_values", "matmul_grad_shape", "matmul_grad_ids",
             "matmul_grad_columns_order", "matmul_grad_columns_missing", "matmul_grad_weights_t",
             "matmul_slot_grad_shape", "matmul_slot_grad_columns_missing",
             "matmul_t_ids", "matmul_t_rank", "matmul_t_grad_shape", "matmul_t_grad_counts",
             "matmul_t_slot_grad_shape", "matmul_t_slot_grad_ids",
             "to_dense_ids", "to_dense_grad_batch", "to_dense_grad_ids"]


@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("name", RAW_NAMES)
def test_raw_kernels_validate_their_inputs(lib, name, mode):
    call, match = _raw_cases(lib)[name]
    if mode == "graph":
        call = tf.function(call)
    with pytest.raises(ERRORS, match=match):
        out = call()
        tf.nest.map_structure(lambda t: t.numpy(), out)


def test_raw_kernel_capacity_attr_below_one(lib):
    with pytest.raises(ERRORS, match="capacity"):
        lib.snnlib_select_spikes(v=tf.zeros((2, 4)), th1=1.0, th2=0.9, beta=10.0, capacity=0)
