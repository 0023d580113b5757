"""Roofline fields of a record: the bytes the sparse kernels move per training step (a model,
not a counter), the bandwidth that implies, and its fraction of the machine's measured
memory bandwidth (:func:`snnlib.bench.timing.measure_memory_bandwidth`)."""

from __future__ import annotations


def sparse_bytes_per_step(record: dict, dtype_bytes: int = 4) -> float | None:
    """Bytes the sparse kernels move in one training step (a model, not a counter).

    Per layer with ``n_out`` neurons, ``k`` real input spikes and ``c`` listed input slots
    (spikes + candidates) per (step, sample), measured activities and capacities:

    * forward gather: ``T B k n_out`` weights read;
    * backward: ``T B k n_out`` dW entries read and written (scatter-add), ``T B c n_out``
      weights read for the slot gradients;
    * state: membrane potential and current written and read once, ``4 T B n_out`` values,
      plus ids/counts (``T B (S + 2)`` int32).

    ``None`` for dense implementations and records without activities.
    """
    if record.get("mode") != "train" or record.get("impl") not in ("sparse_ops", "sparse_layer"):
        return None
    sizes = [record["n_in"], *record["hidden"], record["n_out"]]
    caps = record.get("sparse_sizes")
    acts = record.get("activity")
    if not caps or not acts or any(a is None for a in acts):
        return None
    t, b = record["n_steps"], record["batch_size"]
    k_prev = min(record.get("input_spikes_per_step", caps[0]), caps[0])
    total = 0.0
    for l in range(len(sizes) - 1):
        n_out = sizes[l + 1]
        c_prev = caps[l]  # listed slots bound (spikes + candidates)
        weights = t * b * (k_prev * n_out * 3 + c_prev * n_out)
        state = 4 * t * b * n_out
        total += dtype_bytes * (weights + state) + 4 * t * b * (caps[l + 1] + 2)
        k_prev = min(acts[l] * n_out, caps[l + 1])
    return float(total)


def roofline_fields(record: dict, bandwidth_gbs: float | None) -> dict:
    """``bytes_per_step``, ``achieved_gbs`` and ``bandwidth_fraction`` of a sparse record."""
    moved = sparse_bytes_per_step(record)
    if moved is None or not record.get("step_ms_median"):
        return {}
    gbs = moved / (record["step_ms_median"] / 1e3) / 1e9
    return {"bytes_per_step": moved, "achieved_gbs": gbs,
            "bandwidth_fraction": gbs / bandwidth_gbs if bandwidth_gbs else None}
