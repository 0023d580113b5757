"""What every implementation of the network returns, and the checks they share."""

from __future__ import annotations

from typing import NamedTuple

IMPLS = ("dense", "sparse_ops", "sparse_layer")


class SNNOutput(NamedTuple):
    """What :func:`snn_forward` returns, one entry per layer.

    spikes: dense 0/1 spike trains ``float[batch, time, n_l]`` (``[time, batch, n_l]`` when
        ``time_major``).
    potentials: membrane potentials of the same shapes, or ``None`` when not requested.
    sparse: :class:`snnlib.spikes.SparseSpikes` per layer for the sparse implementations,
        else ``None``.
    overflow: int32 number of spikes dropped because the capacity was full, per layer
        (sparse implementations; ``None`` for dense).
    """

    spikes: list
    potentials: list | None = None
    sparse: list | None = None
    overflow: list | None = None


def validate_network(weights, inputs_width, inputs_rank) -> None:
    """Check that ``weights`` chain and match the input width; raise ``ValueError`` if not."""
    if len(weights) < 1:
        raise ValueError("weights must hold at least one [in, out] matrix")
    for l, w in enumerate(weights):
        if len(w.shape) != 2:
            raise ValueError(f"weights[{l}] must be a 2-D [in, out] matrix; got shape "
                             f"{tuple(w.shape)}")
    if inputs_rank != 3:
        raise ValueError(f"inputs must be rank 3 [batch, time, n_in]; got rank {inputs_rank}")
    n_first = weights[0].shape[0]
    if inputs_width is not None and n_first is not None and inputs_width != n_first:
        raise ValueError(
            f"inputs has width {inputs_width} but weights[0] expects {n_first} inputs "
            "(weights are [in, out]; transpose weights stored [out, in])"
        )
    for l in range(1, len(weights)):
        n_prev, n_in = weights[l - 1].shape[1], weights[l].shape[0]
        if n_prev is not None and n_in is not None and n_prev != n_in:
            raise ValueError(
                f"sizes do not chain: weights[{l - 1}] has {n_prev} outputs but weights[{l}] "
                f"expects {n_in} inputs"
            )
