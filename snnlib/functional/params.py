"""The constants of the seed-compatible LIF neuron and its weight initialisation.

NumPy only (no TensorFlow): the peer benchmarks, which must not import TensorFlow, build their
networks from the same :class:`LIFParams` and :func:`init_weights`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class LIFParams:
    """Every constant of the seed's neuron model, as a named field.

    Attributes:
        alpha: membrane decay per step, in (0, 1). Seed: 0.95.
        gain: input gain; the input enters as ``(1 - alpha) * gain * I``. Seed: 10.
        th1: spike threshold. Seed: 1.0.
        th2: second ("gradient") threshold: ``None`` (no mask), one float for every layer,
            or a sequence with one entry (float or ``None``) per layer. Must be ``<= th1``.
        beta: surrogate steepness. Seed: 10.
        layer_delay: layer ``l >= 1`` reads layer ``l-1``'s spikes of the previous step.
        weight_mul: scale of the fan-in initialisation ``U(-a, a) + 0.001``,
            ``a = sqrt(6 / fan_in) * weight_mul``.
    """

    alpha: float = 0.95
    gain: float = 10.0
    th1: float = 1.0
    th2: float | tuple[float | None, ...] | None = None
    beta: float = 10.0
    layer_delay: bool = True
    weight_mul: float = 1.0

    def __post_init__(self):
        if not (isinstance(self.alpha, (int, float)) and 0.0 < self.alpha < 1.0):
            raise ValueError(f"alpha must be a number in the open interval (0, 1); got {self.alpha!r}")
        if not (isinstance(self.gain, (int, float)) and self.gain > 0):
            raise ValueError(f"gain must be a positive number; got {self.gain!r}")
        if not (isinstance(self.beta, (int, float)) and self.beta > 0):
            raise ValueError(f"beta must be a positive number; got {self.beta!r}")
        if not (isinstance(self.th1, (int, float)) and math.isfinite(self.th1)):
            raise ValueError(f"th1 must be a finite number; got {self.th1!r}")
        if not (isinstance(self.weight_mul, (int, float)) and self.weight_mul > 0):
            raise ValueError(f"weight_mul must be a positive number; got {self.weight_mul!r}")
        if not isinstance(self.layer_delay, bool):
            raise ValueError(f"layer_delay must be True or False; got {self.layer_delay!r}")
        th2 = self.th2
        if isinstance(th2, (list, tuple)):
            object.__setattr__(self, "th2", tuple(th2))
            values = th2
        else:
            values = (th2,)
        for value in values:
            if value is None:
                continue
            if not isinstance(value, (int, float)) or math.isnan(value):
                raise ValueError(f"th2 entries must be numbers or None; got {value!r}")
            if value > self.th1:
                raise ValueError(
                    f"th2 must be <= th1 = {self.th1} (it selects gradient candidates below the "
                    f"spike threshold); got th2 = {value!r}"
                )

    def layer_th2(self, layer: int, n_layers: int) -> float | None:
        """The second threshold of layer ``layer`` (0-based) in a network of ``n_layers``."""
        if isinstance(self.th2, tuple):
            if len(self.th2) != n_layers:
                raise ValueError(
                    f"th2 has {len(self.th2)} entries but the network has {n_layers} layers; "
                    "give one entry per layer or a single number"
                )
            return self.th2[layer]
        return self.th2

    def replace(self, **changes) -> "LIFParams":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def init_weights(sizes: Sequence[int], *, weight_mul: float = 1.0, seed: int = 0,
                 dtype=np.float32) -> list[np.ndarray]:
    """The seed's fan-in initialisation for a chain of layers.

    ``W_l ~ U(-a, a) + 0.001`` with ``a = sqrt(6 / sizes[l]) * weight_mul``, shape
    ``[sizes[l], sizes[l+1]]`` = ``[in, out]`` (the Keras ``Dense`` kernel layout, used by
    every implementation: a spike of input ``j`` selects the contiguous row ``W_l[j]``).
    The draws are those of the earlier ``[out, in]`` layout, transposed, so a seed gives the
    same synapses as before.

    Args:
        sizes: ``[n_in, n_1, ..., n_L]``, at least two positive integers.
        weight_mul: initialisation scale.
        seed: NumPy generator seed; the same seed gives the same weights.

    Returns:
        A list of ``L`` NumPy arrays.
    """
    sizes = validate_sizes(sizes)
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        a = math.sqrt(6.0 / n_in) * weight_mul
        draws = rng.uniform(-a, a, size=(n_out, n_in)).T
        weights.append(np.ascontiguousarray(draws + 0.001, dtype=dtype))
    return weights


def validate_sizes(sizes: Sequence[int]) -> list[int]:
    """Check ``sizes = [n_in, n_1, ..., n_L]``: at least two positive integers."""
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be a sequence of positive integers; got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(
            f"sizes must list the input width and at least one layer width, all >= 1; got {sizes}"
        )
    return sizes


