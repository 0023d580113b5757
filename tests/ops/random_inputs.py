"""Random valid inputs of the sparse ops and a NumPy oracle of their forward passes."""

import numpy as np

from snnlib.spikes import SparseSpikes


def random_potentials(rng, batch, n, activity, dtype=np.float64):
    """``v [batch, n]`` where about ``activity`` of the neurons reach ``th1 = 1`` and some
    more lie in ``[0.9, 1)`` (candidates for ``th2 = 0.9``)."""
    v = rng.uniform(-0.5, 0.9, size=(batch, n))
    v[rng.uniform(size=(batch, n)) < activity] = rng.uniform(1.0, 1.5)
    v[rng.uniform(size=(batch, n)) < 0.1] = 0.95
    return v.astype(dtype)


def random_sparse(rng, batch, n, capacity, *, garbage_padding=True, dtype=np.float64):
    """Valid ``SparseSpikes`` with distinct ids per row and random counts ``c0 <= c1 <= S``.

    Padding slots (``i >= counts[b, 1]``) hold out-of-range garbage when ``garbage_padding``:
    the ops must never read them.
    """
    ids = np.zeros((batch, capacity), np.int32)
    counts = np.zeros((batch, 2), np.int32)
    for b in range(batch):
        c1 = rng.integers(0, capacity + 1)
        c0 = rng.integers(0, c1 + 1)
        ids[b, :c1] = rng.permutation(n)[:c1]
        if garbage_padding:
            ids[b, c1:] = rng.choice([-7, n, 10 ** 6], size=capacity - c1)
        counts[b] = (c0, c1)
    values = (np.arange(capacity)[None, :] < counts[:, :1]).astype(dtype)
    return SparseSpikes(ids, counts, values)


def select_spikes_np(v, th1, th2, capacity):
    """Oracle of the select_spikes forward pass: ``(ids, counts, values, dropped)``."""
    batch, n = v.shape
    ids = np.zeros((batch, capacity), np.int32)
    counts = np.zeros((batch, 2), np.int32)
    dropped = np.zeros(batch, np.int32)
    for b in range(batch):
        spk = [j for j in range(n) if v[b, j] >= th1]
        cand = [j for j in range(n) if v[b, j] < th1 and (th2 is None or v[b, j] >= th2)]
        listed = (spk + cand)[:capacity]
        ids[b, :len(listed)] = listed
        counts[b] = (min(len(spk), capacity), len(listed))
        dropped[b] = len(spk) - counts[b, 0]
    values = (np.arange(capacity)[None, :] < counts[:, :1]).astype(v.dtype)
    return ids, counts, values, dropped
