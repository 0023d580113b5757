"""Offline synthetic spike datasets: Zenke & Vogels' *randman* task and random spikes.

Randman (Zenke & Vogels 2021, "The remarkable robustness of surrogate gradient learning for
instilling complex function in spiking neural networks", Neural Computation 33(4)):
every class is a random smooth manifold of intrinsic dimension ``D`` embedded in the space of
spike times of ``n_units`` input neurons. For unit ``i`` and intrinsic coordinate
``x in [0, 1]^D``,

    f_i(x) = prod_d  sum_{k=0}^{K-1} a_{idk} / (k+1)^alpha * sin(2 pi (k b_{idk} x_d + c_{idk}))

with ``a, b, c ~ U(0, 1)``; ``alpha`` sets the smoothness and ``K = ceil(prec^(-1/alpha))``
frequencies are kept (32 for alpha = 2, prec = 1e-3). Each unit's values are min-max scaled
to ``[0, 1]`` over the samples of its class, and a sample drawn at ``x ~ U[0, 1]^D`` makes
unit ``i`` fire at step ``floor(f_i(x) * step_frac * (T - 1))`` (``n_spikes`` spikes per unit
come from independent points of the same manifold when ``n_spikes > 1``).
"""

from __future__ import annotations

import numpy as np

from snnlib.data.base import SpikeDataset

RANDMAN_DEFAULTS = dict(n_classes=10, n_units=128, n_steps=100, step_frac=1.0, dim_manifold=1,
                        n_spikes=1, alpha=2.0, n_samples_per_class=1000, prec=1e-3)


def _validate_positive(**kwargs) -> None:
    for name, value in kwargs.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


def _manifold_values(rng: np.random.Generator, points: np.ndarray, n_units: int, alpha: float,
                     n_freqs: int) -> np.ndarray:
    """Evaluate one random manifold at ``points [n, D]`` in [0, 1]: values ``[n, n_units]`` in [0, 1]."""
    dim = points.shape[1]
    a, b, c = (rng.uniform(0, 1, size=(n_units, dim, n_freqs)) for _ in range(3))
    k = np.arange(n_freqs, dtype=np.float64)
    values = np.ones((points.shape[0], n_units))
    for d in range(dim):
        phase = 2 * np.pi * (k * b[None, :, d] * points[:, None, d, None] + c[None, :, d])  # [n, U, K]
        values *= np.sum(a[None, :, d] / (k + 1) ** alpha * np.sin(phase), axis=-1)
    lo, hi = values.min(axis=0), values.max(axis=0)
    return (values - lo) / np.maximum(hi - lo, 1e-12)


def randman(*, n_classes: int = 10, n_units: int = 128, n_steps: int = 100, step_frac: float = 1.0,
            dim_manifold: int = 1, n_spikes: int = 1, alpha: float = 2.0,
            n_samples_per_class: int = 1000, prec: float = 1e-3, test_fraction: float = 0.2,
            seed: int = 0) -> SpikeDataset:
    """Generate the randman spike-timing classification task (seed defaults of graphcore_snn).

    Returns:
        :class:`SpikeDataset` with uint8 rasters ``[n, n_steps, n_units]``, split
        ``1 - test_fraction`` / ``test_fraction`` after a seeded shuffle.
    """
    _validate_positive(n_classes=n_classes, n_units=n_units, n_steps=n_steps,
                       dim_manifold=dim_manifold, n_spikes=n_spikes,
                       n_samples_per_class=n_samples_per_class)
    if not 0.0 < prec < 1.0:
        raise ValueError(f"prec must be in (0, 1); got {prec!r}")
    if not 0.0 < step_frac <= 1.0:
        raise ValueError(f"step_frac must be in (0, 1]; got {step_frac!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive; got {alpha!r}")
    n_freqs = int(min(np.ceil(prec ** (-1.0 / alpha)), 1000))
    rng = np.random.default_rng(seed)
    n_total = n_classes * n_samples_per_class
    x = np.zeros((n_total, n_steps, n_units), np.uint8)
    y = np.repeat(np.arange(n_classes, dtype=np.int32), n_samples_per_class)
    units = np.arange(n_units)
    for cls in range(n_classes):
        manifold_rng = np.random.default_rng(rng.integers(2**63))
        points = rng.uniform(0, 1, size=(n_samples_per_class * n_spikes, dim_manifold))
        values = _manifold_values(manifold_rng, points, n_units, alpha, n_freqs)
        steps = np.floor(values * step_frac * (n_steps - 1)).astype(np.int64)
        steps = steps.reshape(n_samples_per_class, n_spikes, n_units)
        rows = np.arange(cls * n_samples_per_class, (cls + 1) * n_samples_per_class)
        for s in range(n_spikes):
            x[rows[:, None], steps[:, s, :], units[None, :]] = 1
    order = rng.permutation(n_total)
    x, y = x[order], y[order]
    n_test = int(round(n_total * test_fraction))
    info = dict(generator="randman", seed=seed, n_classes=n_classes, n_units=n_units,
                n_steps=n_steps, step_frac=step_frac, dim_manifold=dim_manifold,
                n_spikes=n_spikes, alpha=alpha, n_samples_per_class=n_samples_per_class,
                prec=prec, n_freqs=n_freqs, test_fraction=test_fraction)
    return SpikeDataset("randman", x[n_test:], y[n_test:], x[:n_test], y[:n_test], n_classes, info)


def random_spikes(*, n_in: int = 1152, n_steps: int = 100, activity: float = 0.01,
                  n_classes: int = 10, n_train: int = 480, n_test: int = 96,
                  seed: int = 0) -> SpikeDataset:
    """Bernoulli spikes at a chosen activity with random labels (for speed studies only).

    Each input neuron fires independently with probability ``activity`` per step.
    """
    _validate_positive(n_in=n_in, n_steps=n_steps, n_classes=n_classes, n_train=n_train,
                       n_test=n_test)
    if not 0.0 <= activity <= 1.0:
        raise ValueError(f"activity must be in [0, 1]; got {activity!r}")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    x = (rng.random((n, n_steps, n_in), dtype=np.float32) < activity).astype(np.uint8)
    y = rng.integers(0, n_classes, size=n).astype(np.int32)
    info = dict(generator="random_spikes", seed=seed, activity=activity)
    return SpikeDataset("random", x[:n_train], y[:n_train], x[n_train:], y[n_train:], n_classes, info)
