"""Convolutional LIF layers: one 2-D convolution per time step, weights shared across space.

Spikes of a sensor of width ``W``, height ``H`` and ``C`` channels are flattened as
``i = x + W y + W H c`` (the layout of :mod:`snnlib.data`: ``(x, y, p) -> x + W y + W H p``).
A layer of ``C_out`` feature maps with a ``k x k`` kernel and stride ``s`` ("same" padding,
as :func:`tf.nn.conv2d`) has ``W_o = ceil(W / s)``, ``H_o = ceil(H / s)`` and
``n_out = W_o H_o C_out`` neurons, flattened the same way (``o = x + W_o y + W_o H_o c``),
and its synaptic input at step ``t`` is

    I_t[o(x, y, c)] = sum_{dy, dx, c'} X_t[i(s x + dx - p_x, s y + dy - p_y, c')] K[dy, dx, c', c]

with ``K [k, k, C, C_out]`` and the padding ``p`` of "same" (inputs outside the sensor are 0).
This is a linear map ``I_t = X_t M(K)`` with a fixed sparse ``M(K) [n_in, n_out]`` whose
entries are copies of ``K``'s: the dense implementation convolves (:func:`conv_input`), the
sparse implementations use ``M(K)`` (:func:`conv_matrix`) as any ``[in, out]`` weight matrix,
and the gradient of ``M(K)`` sums back onto ``K``. :class:`ConvKernel` carries ``K`` with its
geometry where a weight matrix is expected.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """Geometry of a convolutional LIF layer.

    Attributes:
        in_shape: ``(W, H, C)`` of the input spikes (e.g. N-MNIST at full size: ``(34, 34, 2)``).
        channels: number of feature maps ``C_out``.
        kernel: kernel width = height ``k``.
        stride: step ``s`` between kernel positions, in both directions.
        init_scale: scale of this layer's initial kernel on top of the network's ``weight_mul``
            (:meth:`init_kernel`); a training choice, not part of the geometry.
    """

    in_shape: tuple
    channels: int
    kernel: int = 5
    stride: int = 2
    init_scale: float = 1.0

    def __post_init__(self):
        shape = tuple(self.in_shape) if isinstance(self.in_shape, (tuple, list)) else ()
        if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer))
                                  or s < 1 for s in shape):
            raise ValueError(f"in_shape must be (W, H, C), three positive integers (the sensor "
                             f"layout of the input, e.g. (34, 34, 2)); got {self.in_shape!r}")
        object.__setattr__(self, "in_shape", tuple(int(s) for s in shape))
        for name in ("channels", "kernel", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"conv {name} must be a positive integer; got {value!r}")
            object.__setattr__(self, name, int(value))
        scale = self.init_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) \
                or not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"conv init_scale must be a positive number (the initial kernel's "
                             f"scale on top of weight_mul, e.g. 2.0); got {scale!r}")
        object.__setattr__(self, "init_scale", float(scale))
        if self.kernel > min(self.in_shape[:2]):
            raise ValueError(f"conv kernel {self.kernel} is larger than the input "
                             f"{self.in_shape[0]}x{self.in_shape[1]}")

    @classmethod
    def from_value(cls, value, in_shape=None) -> "ConvSpec | None":
        """A spec from ``None``/``{}`` (no conv layer: ``None``), a spec, or a dict of fields;
        ``in_shape`` fills a dict without one."""
        if value is None or isinstance(value, ConvSpec):
            return value
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(value, dict):
            raise ValueError(f"conv must be a dict of ConvSpec fields ({', '.join(names[1:])}); "
                             f"got {value!r}")
        if not value:
            return None
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"unknown conv fields {unknown}; known: {', '.join(names)}")
        fields = dict(value)
        if "in_shape" not in fields:
            if in_shape is None:
                raise ValueError("a conv layer needs the input's sensor layout (W, H, C): this "
                                 "dataset has none (use a neuromorphic dataset, or give in_shape)")
            fields["in_shape"] = tuple(in_shape)
        if "channels" not in fields:
            raise ValueError("conv needs channels (the number of feature maps), e.g. "
                             "{'channels': 8}")
        return cls(**fields)

    @classmethod
    def stack(cls, value, in_shape=None) -> tuple["ConvSpec", ...]:
        """The convolutional layers at the start of a network, each taking the previous one's
        ``out_shape`` as its ``in_shape``.

        ``value``: ``None``/``{}``/``[]`` (none: ``()``), a spec, a dict of fields (one layer;
        a field given as a list holds one value per layer, e.g. ``{"channels": [16, 32],
        "kernel": [5, 3]}`` is two layers of stride 2, the others' fields shared), or a list
        of specs/dicts (one per layer). ``in_shape`` fills the first layer's, where missing.
        """
        if value is None or isinstance(value, ConvSpec):
            return () if value is None else (value,)
        if isinstance(value, dict):
            value = cls._split_layers(value)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"conv must be a dict of ConvSpec fields, or a list of them (one "
                             f"per layer); got {value!r}")
        specs = []
        for l, layer in enumerate(value):
            shape = specs[-1].out_shape if specs else in_shape
            spec = cls.from_value(layer, in_shape=shape)
            if spec is None:
                raise ValueError(f"conv layer {l} is empty: give its channels")
            if specs and spec.in_shape != specs[-1].out_shape:
                raise ValueError(f"conv layer {l} takes in_shape {spec.in_shape}, but layer "
                                 f"{l - 1} gives {specs[-1].out_shape}")
            specs.append(spec)
        return tuple(specs)

    @staticmethod
    def _split_layers(fields: dict) -> list[dict]:
        """One dict per layer: ``{"channels": [16, 32], "stride": 2}`` ->
        ``[{"channels": 16, "stride": 2}, {"channels": 32, "stride": 2}]``; ``in_shape`` goes
        to the first layer only."""
        if not fields:
            return []
        lengths = {len(v) for k, v in fields.items()
                   if k != "in_shape" and isinstance(v, (list, tuple))}
        if len(lengths) > 1:
            raise ValueError(f"conv fields given per layer must have one value per layer; got "
                             f"lists of lengths {sorted(lengths)} in {fields!r}")
        n_layers = lengths.pop() if lengths else 1
        if n_layers < 1:
            raise ValueError(f"conv fields given per layer need at least one value; got {fields!r}")
        return [{k: (v[l] if k != "in_shape" and isinstance(v, (list, tuple)) else v)
                 for k, v in fields.items() if k != "in_shape" or l == 0}
                for l in range(n_layers)]

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """``(W_o, H_o, C_out)``."""
        width, height, _ = self.in_shape
        return (math.ceil(width / self.stride), math.ceil(height / self.stride), self.channels)

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        """``(k, k, C, C_out)``, the :func:`tf.nn.conv2d` filter layout."""
        return (self.kernel, self.kernel, self.in_shape[2], self.channels)

    def params(self) -> dict:
        """The fields as plain values (a JSON-able config)."""
        return {"in_shape": list(self.in_shape), "channels": self.channels,
                "kernel": self.kernel, "stride": self.stride, "init_scale": self.init_scale}

    def init_kernel(self, *, weight_mul: float = 1.0, seed: int = 0,
                    dtype=np.float32) -> np.ndarray:
        """The fan-in initialisation of :func:`snnlib.functional.params.init_weights` with the
        kernel's fan-in: ``K ~ U(-a, a) + 0.001``,
        ``a = sqrt(6 / (k k C)) weight_mul init_scale``."""
        a = math.sqrt(6.0 / (self.kernel * self.kernel * self.in_shape[2])) * weight_mul \
            * self.init_scale
        draws = np.random.default_rng(seed).uniform(-a, a, size=self.kernel_shape)
        return np.ascontiguousarray(draws + 0.001, dtype=dtype)


def _same_padding(size: int, kernel: int, stride: int) -> int:
    """Leading padding of "same": half of ``max((ceil(size/s) - 1) s + k - size, 0)``, rounded
    down (TensorFlow's rule)."""
    return max((math.ceil(size / stride) - 1) * stride + kernel - size, 0) // 2


@functools.lru_cache(maxsize=16)
def conv_entries(spec: ConvSpec) -> tuple[np.ndarray, np.ndarray]:
    """Where ``K``'s entries sit in ``M(K)``: ``(positions int64 [nnz, 2], params int64 [nnz])``,
    ``M[positions[e]] = K.flat[params[e]]`` (each ``(i, o)`` pair once)."""
    width, height, c_in = spec.in_shape
    w_out, h_out, c_out = spec.out_shape
    k, s = spec.kernel, spec.stride
    pad_x, pad_y = _same_padding(width, k, s), _same_padding(height, k, s)
    co, oy, ox, dy, dx, ci = np.meshgrid(np.arange(c_out), np.arange(h_out), np.arange(w_out),
                                         np.arange(k), np.arange(k), np.arange(c_in),
                                         indexing="ij")
    iy, ix = oy * s + dy - pad_y, ox * s + dx - pad_x
    inside = (iy >= 0) & (iy < height) & (ix >= 0) & (ix < width)
    rows = (ix + width * iy + width * height * ci)[inside]
    cols = (ox + w_out * oy + w_out * h_out * co)[inside]
    params = (((dy * k + dx) * c_in + ci) * c_out + co)[inside]
    return np.stack([rows, cols], axis=1).astype(np.int64), params.astype(np.int64)


def conv_matrix(kernel, spec: ConvSpec):
    """``M(K) [n_in, n_out]``: the layer as a weight matrix (``I_t = X_t M``), differentiable
    w.r.t. ``kernel [k, k, C, C_out]`` (the gradient of ``M`` summed over the copies)."""
    positions, params = conv_entries(spec)
    values = tf.gather(tf.reshape(kernel, [-1]), params)
    return tf.scatter_nd(positions, values, [spec.n_in, spec.n_out])


def conv_input(x, kernel, spec: ConvSpec):
    """Synaptic input of the layer for a time-major sequence: ``x [T, B, n_in]`` ->
    ``I [T, B, n_out]`` (one :func:`tf.nn.conv2d` over all ``T B`` frames)."""
    width, height, c_in = spec.in_shape
    w_out, h_out, c_out = spec.out_shape
    t, b = tf.shape(x)[0], tf.shape(x)[1]
    frames = tf.transpose(tf.reshape(x, [t * b, c_in, height, width]), [0, 2, 3, 1])
    maps = tf.nn.conv2d(frames, kernel, strides=spec.stride, padding="SAME")
    return tf.reshape(tf.transpose(maps, [0, 3, 1, 2]), [t, b, c_out * h_out * w_out])


class ConvKernel:
    """A convolutional layer's kernel ``K [k, k, C, C_out]`` with its :class:`ConvSpec`, usable
    where the network takes a weight matrix ``[n_in, n_out]`` (``shape`` and ``dtype`` are
    those of ``M(K)``): the dense implementation calls :meth:`currents`, the sparse ones
    :meth:`matrix`."""

    def __init__(self, kernel, spec: ConvSpec):
        self.kernel = tf.convert_to_tensor(kernel)
        self.spec = spec
        if tuple(self.kernel.shape) != spec.kernel_shape:
            raise ValueError(f"conv kernel must have shape {spec.kernel_shape} (k, k, C, C_out); "
                             f"got {tuple(self.kernel.shape)}")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.spec.n_in, self.spec.n_out)

    @property
    def dtype(self):
        return self.kernel.dtype

    def currents(self, x):
        """:func:`conv_input` of ``x [T, B, n_in]``."""
        return conv_input(x, self.kernel, self.spec)

    def matrix(self):
        """:func:`conv_matrix`: ``M(K) [n_in, n_out]``."""
        return conv_matrix(self.kernel, self.spec)
