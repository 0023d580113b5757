"""The convolutional layers: convolution = its matrix M(K) = a direct NumPy sum, forward and
gradient; the three network implementations agree with one and with two stacked conv layers;
bad geometry is a clear error."""

import numpy as np
import pytest
import tensorflow as tf

from snnlib import LIFParams, init_weights, snn_forward
from snnlib.functional.conv import ConvKernel, ConvSpec, conv_entries, conv_input, conv_matrix
from snnlib.functional.lif import synaptic_input


def _direct_conv(x, kernel, spec):
    """``I[t, b, o]`` by the definition's sum over the kernel, inputs outside the sensor 0."""
    width, height, c_in = spec.in_shape
    w_out, h_out, c_out = spec.out_shape
    k, s = spec.kernel, spec.stride
    pad_x = max((w_out - 1) * s + k - width, 0) // 2
    pad_y = max((h_out - 1) * s + k - height, 0) // 2
    frames = x.reshape(*x.shape[:2], c_in, height, width)
    out = np.zeros((*x.shape[:2], c_out, h_out, w_out))
    for oy in range(h_out):
        for ox in range(w_out):
            for dy in range(k):
                for dx in range(k):
                    iy, ix = oy * s + dy - pad_y, ox * s + dx - pad_x
                    if 0 <= iy < height and 0 <= ix < width:
                        out[..., :, oy, ox] += frames[..., :, iy, ix] @ kernel[dy, dx]
    return out.reshape(*x.shape[:2], -1)


SPECS = [ConvSpec((7, 5, 2), channels=3, kernel=3, stride=2),
         ConvSpec((6, 6, 1), channels=2, kernel=4, stride=1),
         ConvSpec((9, 8, 2), channels=4, kernel=5, stride=3)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.in_shape}-k{s.kernel}-s{s.stride}")
def test_convolution_equals_its_matrix_and_the_direct_sum(spec):
    rng = np.random.default_rng(0)
    x = (rng.random((3, 2, spec.n_in)) < 0.3).astype(np.float64)
    kernel = rng.normal(size=spec.kernel_shape)
    want = _direct_conv(x, kernel, spec)
    np.testing.assert_allclose(conv_input(tf.constant(x), tf.constant(kernel), spec), want,
                               atol=1e-12)
    matrix = conv_matrix(tf.constant(kernel), spec)
    assert matrix.shape == (spec.n_in, spec.n_out)
    np.testing.assert_allclose(synaptic_input(tf.constant(x), matrix), want, atol=1e-12)
    positions, _ = conv_entries(spec)
    assert len({tuple(p) for p in positions}) == len(positions)  # each (i, o) once


@pytest.mark.parametrize("spec", SPECS[:2], ids=["k3s2", "k4s1"])
def test_kernel_gradient_is_the_same_through_the_matrix(spec):
    rng = np.random.default_rng(1)
    x = tf.constant((rng.random((4, 3, spec.n_in)) < 0.4).astype(np.float64))
    kernel = tf.Variable(rng.normal(size=spec.kernel_shape))
    target = tf.constant(rng.normal(size=(4, 3, spec.n_out)))
    grads = []
    for fn in (lambda: conv_input(x, kernel, spec),
               lambda: synaptic_input(x, conv_matrix(kernel, spec))):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((fn() - target) ** 2)
        grads.append(tape.gradient(loss, kernel).numpy())
    assert np.abs(grads[0]).max() > 0
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_conv", [1, 2], ids=["one_conv", "two_conv"])
@pytest.mark.parametrize("impl", ["sparse_ops", "sparse_layer"])
def test_network_with_conv_layers_agrees_across_implementations(impl, n_conv):
    specs = ConvSpec.stack({"channels": [3, 4][:n_conv], "kernel": [3, 3][:n_conv]},
                           in_shape=(8, 8, 2))
    rng = np.random.default_rng(2)
    x = (rng.random((4, 30, specs[0].n_in)) < 0.15).astype(np.float64)
    sizes = [specs[0].n_in, *(s.n_out for s in specs), 12, 3]
    dense_w = init_weights(sizes, weight_mul=2.0, seed=3, dtype=np.float64)
    kernels = [s.init_kernel(weight_mul=3.0, seed=3 + l, dtype=np.float64)
               for l, s in enumerate(specs)]
    params = LIFParams(th2=(0.9,) * (len(sizes) - 2) + (None,))
    results = []
    for which in ("dense", impl):
        ws = [tf.Variable(k) for k in kernels] + [tf.Variable(w) for w in dense_w[n_conv:]]
        with tf.GradientTape() as tape:  # ConvKernel reads its variable: inside the tape
            layers = [ConvKernel(w, s) for w, s in zip(ws, specs)] + ws[n_conv:]
            out = snn_forward(layers, x, params, impl=which,
                              sparse_sizes=None if which == "dense" else sizes)
            loss = tf.reduce_sum((tf.reduce_sum(out.spikes[-1], axis=1) - 3.0) ** 2)
        grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, ws)]
        results.append(([s.numpy() for s in out.spikes], grads))
    (dense_spikes, dense_grads), (sparse_spikes, sparse_grads) = results
    for l in range(n_conv):  # every conv layer fires: the comparison means something
        assert dense_spikes[l].mean() > 0.01
    for a, b in zip(dense_spikes, sparse_spikes):
        np.testing.assert_array_equal(a, b)
    for l in range(n_conv):
        assert np.abs(dense_grads[l]).max() > 0
    for a, b in zip(dense_grads, sparse_grads):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-9)


def test_conv_layers_stack_each_on_the_previous_output():
    specs = ConvSpec.stack({"channels": [16, 32], "kernel": [5, 3], "stride": 2},
                           in_shape=(34, 34, 2))
    assert [s.in_shape for s in specs] == [(34, 34, 2), (17, 17, 16)]
    assert [s.kernel_shape for s in specs] == [(5, 5, 2, 16), (3, 3, 16, 32)]
    assert specs[1].out_shape == (9, 9, 32)
    as_list = ConvSpec.stack([{"channels": 16, "kernel": 5}, {"channels": 32, "kernel": 3}],
                             in_shape=(34, 34, 2))
    assert as_list == specs
    assert ConvSpec.stack([s.params() for s in specs]) == specs  # a saved config round trip
    assert ConvSpec.stack({"channels": 8}, in_shape=(34, 34, 2)) == (
        ConvSpec.from_value({"channels": 8}, in_shape=(34, 34, 2)),)
    assert ConvSpec.stack({}) == ConvSpec.stack(None) == ConvSpec.stack([]) == ()


@pytest.mark.parametrize("value, message", [
    ({"channels": [16, 32], "kernel": [5, 3, 3]}, "one value per layer; got lists of lengths"),
    ({"channels": []}, "at least one value"),
    ([{"channels": 8}, {}], "conv layer 1 is empty"),
    ([{"channels": 8}, {"in_shape": (34, 34, 8), "channels": 4}], "layer 0 gives"),
    ({"channels": [8, 8], "kernel": [3, 40]}, "larger than the input"),
    ("channels=8", "a dict of ConvSpec fields, or a list"),
])
def test_a_bad_stack_is_a_clear_error(value, message):
    with pytest.raises(ValueError, match=message):
        ConvSpec.stack(value, in_shape=(34, 34, 2))


@pytest.mark.parametrize("fields, message", [
    (dict(in_shape=(34, 34), channels=8), "in_shape must be"),
    (dict(in_shape=(34, 34, 2), channels=0), "channels must be a positive integer"),
    (dict(in_shape=(34, 34, 2), channels=8, stride=1.5), "stride must be a positive integer"),
    (dict(in_shape=(4, 4, 2), channels=8, kernel=5), "larger than the input"),
    (dict(in_shape=(34, 34, 2), channels=8, init_scale=0), "init_scale must be a positive"),
    (dict(in_shape=(34, 34, 2), channels=8, init_scale="2"), "init_scale must be a positive"),
    (dict(in_shape=(34, 34, 2), channels=8, init_scale=float("nan")), "init_scale must be"),
])
def test_bad_geometry_is_a_clear_error(fields, message):
    with pytest.raises(ValueError, match=message):
        ConvSpec(**fields)


def test_spec_from_a_config_needs_the_sensor_layout():
    assert ConvSpec.from_value({}) is None
    with pytest.raises(ValueError, match="sensor layout"):
        ConvSpec.from_value({"channels": 8})
    with pytest.raises(ValueError, match="unknown conv fields"):
        ConvSpec.from_value({"channels": 8, "filters": 3}, in_shape=(34, 34, 2))
    spec = ConvSpec.from_value({"channels": 8}, in_shape=(34, 34, 2))
    assert (spec.out_shape, spec.n_out) == ((17, 17, 8), 17 * 17 * 8)
    with pytest.raises(ValueError, match="must have shape"):
        ConvKernel(np.zeros((3, 3, 2, 8)), spec)


def test_init_scale_scales_the_conv_kernel_alone():
    """``init_scale`` multiplies the kernel's draws (before the +0.001 offset) on top of
    ``weight_mul``, and survives the config round trip."""
    base = ConvSpec((34, 34, 2), channels=4)
    scaled = ConvSpec.from_value({**base.params(), "init_scale": 2.0})
    assert scaled.params()["init_scale"] == 2.0
    assert ConvSpec.from_value(scaled.params()) == scaled
    a = base.init_kernel(weight_mul=1.5, seed=7, dtype=np.float64) - 0.001
    b = scaled.init_kernel(weight_mul=1.5, seed=7, dtype=np.float64) - 0.001
    np.testing.assert_allclose(b, 2.0 * a, rtol=1e-12)
    assert np.abs(b).max() > np.sqrt(6 / 50) * 1.5  # beyond what weight_mul alone allows
