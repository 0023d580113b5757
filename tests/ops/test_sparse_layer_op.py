"""The fused sparse LIF layer op: compiled vs the pure-TF reference (forward and gradients,
float64, eager and graph mode), shape inference, invalid input and a stress run."""

import numpy as np
import pytest
import tensorflow as tf

from snnlib.ops.layer import sparse_lif_layer
from snnlib.spikes import SparseSpikes
from tests.ops import require_compiled
from tests.ops.random_inputs import random_sparse

CONSTS = dict(alpha=0.9, gain=10.0, th1=1.0, beta=10.0)


def _inputs(rng, t_len=30, batch=5, n_in=12, s_in=6, n=9, dtype=np.float64):
    flat = random_sparse(rng, t_len * batch, n_in, s_in, dtype=dtype)
    spikes = SparseSpikes(*(np.reshape(a, (t_len, batch, -1)) for a in flat))
    w = (rng.uniform(-0.4, 0.6, size=(n_in, n))).astype(dtype)  # [in, out]
    return w, spikes


def _run(backend, w, spikes, th2, capacity, with_values=True, graph=False, input_delay=False):
    w = tf.Variable(w)
    values = tf.Variable(spikes.values) if with_values else None
    sp = SparseSpikes(tf.constant(spikes.ids), tf.constant(spikes.counts), values)

    def fn():
        with tf.GradientTape(persistent=True) as tape:
            out, dropped, v = sparse_lif_layer(w, sp, th2=th2, capacity=capacity,
                                               return_potentials=True, input_delay=input_delay,
                                               backend=backend, **CONSTS)
            # A loss that weights every output slot and the potentials differently.
            slot_w = tf.cast(tf.range(capacity) + 1, w.dtype)
            loss = tf.reduce_sum(out.values * slot_w) + 0.01 * tf.reduce_sum(v * v)
        grads = tape.gradient(loss, [w] + ([values] if with_values else []))
        # The reference's weight gradient is a tf.IndexedSlices of the rows that spiked.
        grads = [tf.convert_to_tensor(g) for g in grads]
        return out, dropped, v, grads

    return tf.function(fn)() if graph else fn()


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("th2,capacity", [(None, 9), (0.9, 9), (0.9, 3), (None, 2), (0.5, 1)])
def test_compiled_equals_reference_float64(rng, th2, capacity, graph):
    require_compiled()
    w, spikes = _inputs(rng)
    ref = _run("reference", w, spikes, th2, capacity, graph=graph)
    com = _run("compiled", w, spikes, th2, capacity, graph=graph)
    _assert_same(ref, com, capacity)


@pytest.mark.parametrize("t_len,batch,n_in,s_in", [(70, 5, 40, 10), (4, 300, 40, 10),
                                                   (60, 20, 600, 2)])
def test_compiled_equals_reference_over_several_chunks_and_blocks(rng, t_len, batch, n_in, s_in):
    """The backward pass walks chunks of steps (at least 64 KB of dI rows per block: 128 float64
    rows of a 64-neuron block with AVX-512, 256 of a 32-neuron one otherwise): 70 x 5 rows are
    three chunks (25, 25, 20 steps) or two (51, 19); 4 x 300 rows are four chunks of one step (a
    batch larger than a chunk). With at most 2 of 600 inputs listed per row, chunks grow to
    the 256 KB limit (ChunkSteps): 60 x 20 rows are three chunks (25, 25, 10 steps) or two
    (51, 9). 140 neurons are 3 forward blocks and 3 or 5 backward blocks, the last partial."""
    require_compiled()
    w, spikes = _inputs(rng, t_len=t_len, batch=batch, n_in=n_in, s_in=s_in, n=140)
    ref = _run("reference", w, spikes, 0.9, 12)
    com = _run("compiled", w, spikes, 0.9, 12)
    _assert_same(ref, com, 12)


@pytest.mark.parametrize("n", [20, 64])
@pytest.mark.parametrize("batch", [1, 2, 3, 7])
def test_narrow_layer_split_between_threads_equals_reference(rng, batch, n):
    """A layer of fewer 64-neuron blocks than pool threads (one block here, as a readout has)
    splits each block's samples between the threads in the forward pass: every split of the
    batch, even or not, gives the reference's outputs, potentials and gradients."""
    require_compiled()
    w, spikes = _inputs(rng, t_len=40, batch=batch, n_in=30, s_in=8, n=n)
    ref = _run("reference", w, spikes, 0.6, 12)
    com = _run("compiled", w, spikes, 0.6, 12)
    _assert_same(ref, com, 12)


@pytest.mark.parametrize("with_values", [True, False], ids=["slot_grad", "data_input"])
@pytest.mark.parametrize("n", [9, 20, 33, 600])
def test_compiled_equals_reference_at_every_block_width(rng, n, with_values):
    """The kernels pick their block widths from the layer: a layer of at most 16 or 32 neurons
    (a readout) gathers 16- or 32-wide weight panels in the forward pass and takes the
    row-by-row backward (no grouping of the slots by input neuron); wider ones the grouped
    backward, 64 neurons per block, or 128 with AVX-512 when every pool thread still gets a
    block (600 neurons on up to 4 threads: 5 blocks, the last partial). With and without an
    input gradient (input data has none)."""
    require_compiled()
    w, spikes = _inputs(rng, t_len=24, batch=6, n_in=50, s_in=10, n=n)
    ref = _run("reference", w, spikes, 0.9, 8, with_values=with_values)
    com = _run("compiled", w, spikes, 0.9, 8, with_values=with_values)
    _assert_same(ref, com, 8)


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("with_values", [True, False], ids=["slot_grad", "data_input"])
@pytest.mark.parametrize("n", [20, 140])
def test_input_delay_equals_the_reference_on_shifted_input(rng, n, with_values, graph):
    """With input_delay the op reads the input of step t - 1 at step t (none at step 0): the
    reference shifts the lists, the op only its row offsets. Outputs, potentials and both
    gradients agree, for the narrow backward (20 neurons) and the grouped one (140, several
    blocks and chunks); the input slots of the last step, which nothing reads, get zero
    gradient."""
    require_compiled()
    w, spikes = _inputs(rng, t_len=70, batch=5, n_in=40, s_in=10, n=n)
    ref = _run("reference", w, spikes, 0.9, 12, with_values, graph, input_delay=True)
    com = _run("compiled", w, spikes, 0.9, 12, with_values, graph, input_delay=True)
    _assert_same(ref, com, 12)
    undelayed = _run("compiled", w, spikes, 0.9, 12, with_values, graph)
    assert not np.array_equal(undelayed[2].numpy(), com[2].numpy())
    if with_values:
        assert np.all(com[3][1].numpy()[-1] == 0) and np.abs(com[3][1].numpy()[:-1]).max() > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("capacity", [700, 7])
def test_lists_follow_the_op_own_potentials(rng, dtype, capacity):
    """The selection (the forward's index lists, from its per-block masks and packed
    potentials) checked exactly against the op's own potentials of the same call: per
    (step, sample) the spikes (v >= th1) in ascending index, then the candidates (th2 <= v <
    th1), at most `capacity`, the spikes beyond it counted as dropped, and v_listed the
    potential of each listed neuron, bit for bit. 700 neurons are 11 blocks; capacity 7
    overflows in many rows (the list then ends inside a block), capacity 700 in none."""
    module = require_compiled()
    th2 = 0.9
    w, spikes = _inputs(rng, t_len=20, batch=6, n_in=80, s_in=12, n=700, dtype=dtype)
    out = module.snnlib_sparse_lif_layer(
        weights=w, in_ids=spikes.ids, in_counts=spikes.counts, in_values=spikes.values,
        constants=np.array([CONSTS["alpha"], CONSTS["gain"], CONSTS["th1"], th2, CONSTS["beta"]],
                           dtype),
        capacity=capacity, return_potentials=True, input_grad=True)
    ids, counts, values, dropped, v_listed, v = (np.asarray(a) for a in out)
    spk, cand = v >= CONSTS["th1"], (v >= th2) & (v < CONSTS["th1"])
    assert spk.sum() > 0 and cand.sum() > 0
    assert ((spk | cand).sum(-1) > capacity).any() == (capacity == 7)
    for t in range(v.shape[0]):
        for b in range(v.shape[1]):
            want = np.concatenate([np.flatnonzero(spk[t, b]), np.flatnonzero(cand[t, b])])
            kept = min(len(want), capacity)
            n_spk = min(int(spk[t, b].sum()), capacity)
            np.testing.assert_array_equal(counts[t, b], [n_spk, kept])
            np.testing.assert_array_equal(ids[t, b, :kept], want[:kept])
            np.testing.assert_array_equal(v_listed[t, b, :kept], v[t, b, want[:kept]])
            np.testing.assert_array_equal(v_listed[t, b, kept:], 0)
            np.testing.assert_array_equal(values[t, b], np.arange(capacity) < n_spk)
            assert dropped[t, b] == spk[t, b].sum() - n_spk


@pytest.mark.parametrize("n", [20, 700])
def test_gradient_reads_the_listed_slots_in_any_order(rng, n):
    """The gradient op finds each neuron block's injections by scanning the listed ids of a
    row, so it must not depend on the forward's ascending order: the slots shuffled within the
    spikes and within the candidates of every row, and the padding slots filled with ids out
    of range, give the same gradients bit for bit (each listed neuron gets its one injection).
    n = 20 takes the narrow backward, 700 the grouped one over several blocks."""
    module = require_compiled()
    w, spikes = _inputs(rng, t_len=20, batch=6, n_in=80, s_in=12, n=n, dtype=np.float64)
    consts = np.array([CONSTS["alpha"], CONSTS["gain"], CONSTS["th1"], 0.9, CONSTS["beta"]])
    capacity = min(n, 40)
    out = module.snnlib_sparse_lif_layer(
        weights=w, in_ids=spikes.ids, in_counts=spikes.counts, in_values=spikes.values,
        constants=consts, capacity=capacity, input_grad=True)
    ids, counts, _, _, v_listed = (np.asarray(a) for a in out[:5])
    assert (counts[..., 0] > 1).any() and (counts[..., 1] > counts[..., 0] + 1).any()
    g = rng.normal(size=ids.shape)

    def grads(ids, v_listed, g):
        return [np.asarray(a) for a in module.snnlib_sparse_lif_layer_grad(
            weights=w, in_ids=spikes.ids, in_counts=spikes.counts, out_ids=ids,
            out_counts=counts, v_listed=v_listed, grad_values=g,
            grad_potentials=np.zeros((0, 0, 0)), constants=consts, input_grad=True)]

    order = np.broadcast_to(np.arange(capacity), ids.shape).copy()
    for t, b in np.ndindex(counts.shape[:2]):
        c0, c1 = counts[t, b]
        order[t, b, :c0] = rng.permutation(c0)
        order[t, b, c0:c1] = c0 + rng.permutation(c1 - c0)
    shuffled = [np.take_along_axis(a, order, axis=-1) for a in (ids, v_listed, g)]
    padding = np.arange(capacity)[None, None, :] >= counts[..., 1:2]
    shuffled[0] = np.where(padding, rng.choice([-7, n, 2**31 - 1], size=ids.shape),
                           shuffled[0]).astype(np.int32)
    want, got = grads(ids, v_listed, g), grads(*shuffled)
    assert np.abs(want[0]).max() > 0 and np.abs(want[1]).max() > 0
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_repeated_calls_give_identical_results(rng):
    """The pool threads take the forward's blocks and the row passes as they finish the last
    (ParallelItems), so which thread runs which piece changes from call to call; the outputs,
    potentials and gradients must not (bitwise). 700 neurons are 11 forward blocks, 30 x 40
    rows several pieces per pass."""
    require_compiled()
    w, spikes = _inputs(rng, t_len=30, batch=40, n_in=300, s_in=12, n=700, dtype=np.float32)
    first = _run("compiled", w, spikes, 0.9, 40)
    assert first[0].counts.numpy()[..., 0].sum() > 0, "the test layer must spike"
    for _ in range(6):
        again = _run("compiled", w, spikes, 0.9, 40)
        for a, b in zip(tf.nest.flatten(first), tf.nest.flatten(again)):
            np.testing.assert_array_equal(np.asarray(b), np.asarray(a))


def _assert_same(ref, com, capacity):
    r_out, r_drop, r_v, r_grads = ref
    c_out, c_drop, c_v, c_grads = com
    counts = r_out.counts.numpy()
    np.testing.assert_array_equal(c_out.counts.numpy(), counts)
    listed = np.arange(capacity)[None, None, :] < counts[..., 1:2]
    np.testing.assert_array_equal(np.where(listed, c_out.ids.numpy(), -1),
                                  np.where(listed, r_out.ids.numpy(), -1))
    np.testing.assert_array_equal(c_out.values.numpy(), r_out.values.numpy())
    np.testing.assert_array_equal(c_drop.numpy(), r_drop.numpy())
    np.testing.assert_allclose(c_v.numpy(), r_v.numpy(), rtol=1e-12, atol=1e-12)
    assert counts[..., 0].sum() > 0, "the test layer must spike"
    for c, r in zip(c_grads, r_grads):
        assert np.abs(r.numpy()).max() > 0
        np.testing.assert_allclose(c.numpy(), r.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_weight_gradient_is_nonzero_only_on_rows_of_inputs_that_spiked(rng, backend, graph):
    # W [in, out]: dW[j] = sum over the real spikes of input j of dI, so the rows of inputs
    # that never spiked (listed as candidates or not listed at all) stay exactly zero.
    if backend == "compiled":
        require_compiled()
    w, spikes = _inputs(rng, n_in=40, s_in=3)
    spiked = np.zeros(40, bool)
    for t, b in np.ndindex(spikes.counts.shape[:2]):
        spiked[spikes.ids[t, b, :spikes.counts[t, b, 0]]] = True
    assert 0 < spiked.sum() < 40, "the test needs inputs with and without spikes"
    _, _, _, grads = _run(backend, w, spikes, 0.9, 9, graph=graph)
    grad_w = tf.convert_to_tensor(grads[0]).numpy()
    assert grad_w.shape == w.shape
    assert np.all(grad_w[~spiked] == 0.0)
    assert np.all(np.abs(grad_w[spiked]).max(axis=1) > 0.0)


def test_input_data_without_values_gets_no_input_gradient(rng):
    w, spikes = _inputs(rng, dtype=np.float32)
    for backend in ("reference",) + (() if _pure() else ("compiled",)):
        _, _, _, grads = _run(backend, w, spikes, 0.9, 4, with_values=False)
        assert len(grads) == 1 and np.isfinite(grads[0].numpy()).all()


def _pure():
    from snnlib.ops import _loader

    return _loader.pure_python_forced()


def test_shape_inference_with_unknown_time_and_batch():
    require_compiled()
    spec = [tf.TensorSpec([12, 7], tf.float32), tf.TensorSpec([None, None, 4], tf.int32),
            tf.TensorSpec([None, None, 2], tf.int32)]

    @tf.function(input_signature=spec)
    def fn(w, ids, counts):
        out, dropped, _ = sparse_lif_layer(w, SparseSpikes(ids, counts), th2=0.9, capacity=3,
                                           backend="compiled", **CONSTS)
        return out.ids, out.counts, out.values, dropped

    ids, counts, values, dropped = fn.get_concrete_function().structured_outputs
    assert ids.shape.as_list() == [None, None, 3] and counts.shape.as_list() == [None, None, 2]
    assert values.shape.as_list() == [None, None, 3] and dropped.shape.as_list() == [None, None]


ERRORS = (ValueError, tf.errors.InvalidArgumentError)


def _bad_cases():
    ids = np.array([[[1, 2], [0, 0]]], np.int32)        # [T=1, B=2, S=2]
    counts = np.array([[[2, 2], [0, 1]]], np.int32)
    w = np.ones((4, 3), np.float32)  # [in = 4, N = 3]
    return {
        "id_out_of_range": (w, np.where(ids == 2, 4, ids), counts, dict(capacity=2), "ids"),
        "id_negative": (w, np.where(ids == 1, -1, ids), counts, dict(capacity=2), "ids"),
        "counts_above_s": (w, ids, np.array([[[3, 3], [0, 1]]], np.int32), dict(capacity=2), "counts"),
        "counts0_gt_counts1": (w, ids, np.array([[[2, 1], [0, 1]]], np.int32), dict(capacity=2), "counts"),
        "counts_shape": (w, ids, np.ones((1, 2, 3), np.int32), dict(capacity=2), "counts"),
        "ids_rank": (w, ids[0], counts[0], dict(capacity=2), "time-major"),
        "capacity_above_n": (w, ids, counts, dict(capacity=4), "capacity"),
        "capacity_zero": (w, ids, counts, dict(capacity=0), "capacity"),
        "weights_rank": (w[0], ids, counts, dict(capacity=2), "weights"),
        "alpha": (w, ids, counts, dict(capacity=2, alpha=1.5), "alpha"),
        "th2_above_th1": (w, ids, counts, dict(capacity=2, th2=1.5), "th2"),
    }


@pytest.mark.parametrize("case", sorted(_bad_cases()))
@pytest.mark.parametrize("backend", ["reference", "compiled"])
@pytest.mark.parametrize("graph", [False, True])
def test_invalid_input_raises_a_clear_error(case, backend, graph):
    if backend == "compiled":
        require_compiled()
    w, ids, counts, kwargs, match = _bad_cases()[case]
    args = {**CONSTS, "th2": 0.9, **kwargs}

    def call():
        out, _, _ = sparse_lif_layer(w, SparseSpikes(ids, counts), backend=backend, **args)
        return out.counts

    with pytest.raises(ERRORS, match=match):
        (tf.function(call)() if graph else call()).numpy()


def test_stress_random_valid_and_invalid_calls(rng):
    lib = require_compiled()
    consts = tf.constant([0.9, 10.0, 1.0, 0.9, 10.0], tf.float32)
    crashes = 0
    for k in range(400):
        t_len, batch, n_in, n = rng.integers(1, 6), rng.integers(1, 5), rng.integers(1, 10), rng.integers(1, 10)
        s_in = rng.integers(1, n_in + 1)
        flat = random_sparse(rng, t_len * batch, n_in, s_in, dtype=np.float32)
        ids, counts, values = (np.reshape(a, (t_len, batch, -1)) for a in flat)
        if k % 4 == 3:  # corrupt one entry
            if rng.integers(2):
                ids = ids.copy(); ids.flat[rng.integers(ids.size)] = rng.choice([-3, n_in, 99])
                counts = np.maximum(counts, 1) if s_in >= 1 else counts
            else:
                counts = counts.copy(); counts.flat[rng.integers(counts.size)] = rng.choice([-1, s_in + 1])
        w = rng.normal(size=(n_in, n)).astype(np.float32)
        try:
            out = lib.snnlib_sparse_lif_layer(w, ids, counts, values, consts,
                                              capacity=int(rng.integers(1, n + 1)))
            g = lib.snnlib_sparse_lif_layer_grad(w, ids, counts, out[0], out[1], out[4],
                                                 tf.ones_like(out[2]), tf.zeros([0, 0, 0]), consts)
            assert np.isfinite(g[0].numpy()).all()
        except tf.errors.InvalidArgumentError:
            crashes += 0
    assert crashes == 0
