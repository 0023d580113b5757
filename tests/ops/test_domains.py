"""Scalar domains, int32 neuron counts, the one way to pass "no grad_potentials", and the
wrappers' conversions: each rule's failure path names the argument (issue 14). Calls that used
to crash the process are exercised in a child process by test_fuzz.py, not here."""

import math

import numpy as np
import pytest
import tensorflow as tf

from snnlib import ops, spikes
from snnlib.ops import reference
from snnlib.ops.layer import sparse_lif_layer
from snnlib.spikes import SparseSpikes

ERRORS = (ValueError, tf.errors.InvalidArgumentError)
V = np.array([[0.2, 1.3, 0.95, 0.0]])
BAD_SCALARS = [
    ("th1", dict(th1=math.nan)), ("th1", dict(th1=math.inf)), ("th1", dict(th1=-math.inf)),
    ("th2", dict(th2=math.nan)), ("th2", dict(th2=math.inf)), ("th2", dict(th2=1.5)),
    ("beta", dict(beta=0.0)), ("beta", dict(beta=-1.0)), ("beta", dict(beta=math.inf)),
    ("beta", dict(beta=math.nan)),
]


@pytest.mark.parametrize("name, bad", BAD_SCALARS)
def test_select_spikes_scalars_outside_their_domain(backend_name, name, bad):
    kw = {**dict(th1=1.0, th2=0.9, beta=10.0, capacity=2), **bad}
    with pytest.raises(ValueError, match=name):
        ops.select_spikes(V, backend=backend_name, **kw)


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("name, bad", BAD_SCALARS)
def test_reference_select_spikes_checks_its_scalars(name, bad, graph):
    kw = {**dict(th1=1.0, th2=0.9, beta=10.0), **bad}
    call = lambda: reference.select_spikes(V, kw["th1"], kw["th2"], kw["beta"], 2)  # noqa: E731
    with pytest.raises(tf.errors.InvalidArgumentError, match=name):
        out = tf.function(call)() if graph else call()
        tf.nest.map_structure(lambda t: t.numpy(), out)


@pytest.mark.parametrize("name, bad", BAD_SCALARS)
def test_raw_select_spikes_and_its_gradient_check_their_scalars(lib, name, bad):
    s = {**dict(th1=1.0, th2=0.9, beta=10.0), **bad}
    c = {k: tf.constant(x, tf.float64) for k, x in s.items()}
    with pytest.raises(tf.errors.InvalidArgumentError, match=name):
        lib.snnlib_select_spikes(v=V, capacity=2, **c)
    if name != "th2":
        with pytest.raises(tf.errors.InvalidArgumentError, match=name):
            lib.snnlib_select_spikes_grad(
                v=V, ids=np.int32([[1, 2]]), counts=np.int32([[1, 2]]),
                grad_values=np.ones((1, 2)), th1=c["th1"], beta=c["beta"])


def test_select_spikes_th2_none_or_minus_inf_means_no_second_threshold(backend_name):
    a, _ = ops.select_spikes(V, th1=1.0, th2=None, capacity=4, backend=backend_name)
    b, _ = ops.select_spikes(V, th1=1.0, th2=-math.inf, capacity=4, backend=backend_name)
    np.testing.assert_array_equal(a.counts.numpy(), [[1, 4]])
    np.testing.assert_array_equal(a.ids.numpy(), b.ids.numpy())


LAYER = dict(alpha=0.9, gain=2.0, th1=1.0, th2=0.5, beta=10.0, capacity=2)


@pytest.mark.parametrize("name, value", [
    ("alpha", 0.0), ("alpha", 1.0), ("alpha", math.nan), ("gain", math.inf), ("gain", 0.0),
    ("gain", math.nan), ("beta", math.inf), ("th1", math.nan), ("th2", math.inf),
    ("th2", 2.0), ("capacity", 2**31)])
def test_sparse_lif_layer_constants_outside_their_domain(backend_name, name, value):
    sp = SparseSpikes(np.zeros((2, 1, 1), np.int32), np.zeros((2, 1, 2), np.int32))
    with pytest.raises(ValueError, match=name):
        sparse_lif_layer(np.ones((4, 3), np.float32), sp, backend=backend_name,
                         **{**LAYER, name: value})


def _layer_grad(lib, **changes):
    t, b, n, n_in, s = 2, 1, 3, 4, 2
    args = dict(weights=np.ones((n_in, n)), in_ids=np.zeros((t, b, 1), np.int32),
                in_counts=np.int32([[[1, 1]], [[0, 0]]]), out_ids=np.int32([[[0, 2]], [[1, 0]]]),
                out_counts=np.int32([[[1, 2]], [[1, 1]]]), v_listed=np.ones((t, b, s)),
                grad_values=np.ones((t, b, s)), grad_potentials=np.zeros((0, 0, 0)),
                constants=np.array([0.9, 2.0, 1.0, 0.5, 10.0]))
    args.update(changes)
    return lib.snnlib_sparse_lif_layer_grad(**args)


def test_layer_gradient_grad_potentials_absent_only_as_0_0_0(lib):
    absent = _layer_grad(lib)[0].numpy()
    zeros = _layer_grad(lib, grad_potentials=np.zeros((2, 1, 3)))[0].numpy()
    np.testing.assert_allclose(absent, zeros)
    for shape in [(3, 0, 7), (0, 0), (2, 1, 4), (0, 1, 3)]:
        with pytest.raises(tf.errors.InvalidArgumentError, match="grad_potentials"):
            _layer_grad(lib, grad_potentials=np.zeros(shape))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_layer_gradient_rejects_non_finite_listed_potentials(lib, bad):
    v = np.ones((2, 1, 2))
    v[0, 0, 1] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match="v_listed"):
        _layer_grad(lib, v_listed=v)
    v = np.ones((2, 1, 2))
    v[1, 0, 1] = bad  # a padding slot (counts[1] = 1): never read
    _layer_grad(lib, v_listed=v)


@pytest.mark.parametrize("call, name", [
    (lambda b: ops.sparse_to_dense(SparseSpikes(np.zeros((1, 1), np.int32),
                                                np.zeros((1, 2), np.int32)), 2**31, backend=b),
     "n"),
    (lambda b: ops.select_spikes(tf.zeros([0, 2**31]), th1=1.0, capacity=1, backend=b), "v"),
    (lambda b: ops.sparse_matmul(tf.zeros([2**40, 0]), SparseSpikes(
        np.zeros((1, 1), np.int32), np.zeros((1, 2), np.int32)), backend=b), "weights"),
    (lambda b: ops.dense_to_sparse(tf.zeros([0, 2**33]), 1, backend=b), "dense"),
])
def test_neuron_counts_beyond_int32_ids_are_rejected(backend_name, call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b.*int32 ids"):
        call(backend_name)


BAD_ARRAYS = [None, [[1.0, 2.0], [3.0]], np.array([1.0, "a"], dtype=object),
              np.array([["a", "b"]])]


@pytest.mark.parametrize("bad", BAD_ARRAYS, ids=["none", "ragged", "object", "string"])
def test_wrappers_name_arguments_that_are_no_numeric_array(backend_name, bad):
    with pytest.raises(ValueError, match=r"\bdense\b"):
        ops.dense_to_sparse(bad, 1, backend=backend_name)
    with pytest.raises(ValueError, match=r"\bv\b"):
        ops.select_spikes(bad, th1=1.0, capacity=1, backend=backend_name)
    with pytest.raises(ValueError, match=r"\bweights\b"):
        ops.sparse_matmul(bad, SparseSpikes(np.zeros((1, 1), np.int32),
                                            np.zeros((1, 2), np.int32)), backend=backend_name)
    with pytest.raises(ValueError, match=r"spikes\.ids"):
        ops.sparse_to_dense(SparseSpikes(bad, np.zeros((1, 2), np.int32)), 3,
                            backend=backend_name)
    with pytest.raises(ValueError, match=r"\bdense\b"):
        spikes.dense_to_sparse_np(bad, 1)
    with pytest.raises(ValueError, match=r"spikes\.ids"):
        spikes.sparse_to_dense_np(SparseSpikes(bad, np.zeros((1, 2), np.int32)), 3)


@pytest.mark.parametrize("counts, match", [([[2, 1]], "counts"), ([[0, 3]], "counts"),
                                           ([[-1, 0]], "counts")])
def test_sparse_to_dense_np_checks_the_format(counts, match):
    sp = SparseSpikes(np.int32([[0, 1]]), np.int32(counts))
    with pytest.raises(ValueError, match=match):
        spikes.sparse_to_dense_np(sp, 3)
    with pytest.raises(ValueError, match="ids"):
        spikes.sparse_to_dense_np(SparseSpikes(np.int32([[0, 5]]), np.int32([[1, 2]])), 3)
