"""What a benchmark measures: :class:`BenchCase`, the seed's grids as named presets, and the
input data of a case.

Data: :func:`bench_inputs` draws Bernoulli input spikes (:func:`snnlib.data.random_spikes`)
once per data configuration and caps every (sample, step) at the input capacity, so the
dense and sparse implementations, and the peers, see bit-identical inputs (``input_sha256`` in
every record). NumPy only: the peer workers import this module without TensorFlow.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Callable, Iterable, Sequence

import numpy as np

from snnlib.data.synthetic import random_spikes
from snnlib.presets import choose

BENCH_IMPLS = ("dense", "dense_xla", "sparse_ops", "sparse_layer")
MODES = ("train", "infer")


@dataclasses.dataclass(frozen=True)
class BenchCase:
    """One benchmark configuration.

    Attributes:
        impl: ``"dense"``, ``"dense_xla"``, ``"sparse_ops"``, ``"sparse_layer"`` or a peer
            (``"peer:torch"``, ``"peer:snntorch"``, ``"peer:norse"``, ``"peer:spikingjelly"``).
        n_in, hidden, n_out: network ``[n_in, *hidden, n_out]``.
        n_steps: sequence length ``T``.
        batch_size: samples per step ``B``.
        max_activity: capacity rule of the sparse implementations (``None`` for dense).
        input_capacity: input ``S``; inputs are capped to it for every implementation.
        input_activity: firing probability of each input per step (default: half the
            capacity on average, ``input_capacity / (2 n_in)``).
        th2: second threshold of the hidden layers (seed benchmarks: 0.9; the output layer is
            never masked); ``None`` lists every non-spiking neuron as a candidate.
        weight_mul: initialisation scale (seed: 1.0 for the NMNIST runs, 2.0 for the
            multi-IPU runs); it sets how active the random network is.
        target_activity: the mean firing rate the hidden layers are calibrated to (the
            ``real_activity`` preset); ``None``: no calibration.
        layer_scales: one factor per LIF layer applied to the initial weights (what the
            calibration found; ``None``: all 1).
        seed: data and weight seed.
        sweep: name of the sweep the case belongs to (for plots).
    """

    impl: str
    n_in: int = 1152
    hidden: tuple[int, ...] = (980, 980, 980)
    n_out: int = 10
    n_steps: int = 100
    batch_size: int = 48
    max_activity: float | None = None
    input_capacity: int = 32
    input_activity: float | None = None
    th2: float | None = 0.9
    weight_mul: float = 1.0
    target_activity: float | None = None
    layer_scales: tuple[float, ...] | None = None
    seed: int = 0
    sweep: str = ""

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.layer_scales is not None:
            scales = tuple(float(s) for s in self.layer_scales)
            if len(scales) != len(self.hidden) + 1 or not all(s > 0 for s in scales):
                raise ValueError(f"layer_scales must hold {len(self.hidden) + 1} positive "
                                 f"factors (one per LIF layer); got {self.layer_scales!r}")
            object.__setattr__(self, "layer_scales", scales)
        if self.target_activity is not None and not 0 < self.target_activity < 1:
            raise ValueError(f"target_activity must be in (0, 1); got {self.target_activity!r}")
        if not (self.impl in BENCH_IMPLS or self.impl.startswith("peer:")):
            raise ValueError(f"impl must be one of {BENCH_IMPLS} or 'peer:<name>'; got {self.impl!r}")
        for name in ("n_in", "n_out", "n_steps", "batch_size", "input_capacity"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)!r}")
        if self.input_capacity > self.n_in:
            raise ValueError(f"input_capacity must be <= n_in = {self.n_in}; got {self.input_capacity}")
        if self.impl in ("sparse_ops", "sparse_layer") and self.max_activity is None:
            raise ValueError(f"impl={self.impl!r} needs max_activity")

    @property
    def sizes(self) -> list[int]:
        """``[n_in, *hidden, n_out]``."""
        return [self.n_in, *self.hidden, self.n_out]

    @property
    def activity_in(self) -> float:
        """The input firing probability actually used."""
        if self.input_activity is not None:
            return float(self.input_activity)
        return self.input_capacity / (2.0 * self.n_in)

    def data_key(self) -> tuple:
        """Cases with equal keys get identical input data."""
        return (self.n_in, self.n_out, self.n_steps, self.batch_size, self.input_capacity,
                round(self.activity_in, 12), self.seed)

    def network_key(self) -> tuple:
        """Cases with equal keys share a network and its data, so one calibration serves
        them all (dense, dense_xla, sparse and peers of one target activity)."""
        return (*self.data_key(), tuple(self.hidden), self.weight_mul, self.target_activity)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --- grids (graphcore_snn spec sections 3.4 and 3.6) ---------------------------------------

ACTIVITIES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def _grid(sweep: str, impls: Sequence[str], activities: Iterable[float], **base) -> list[BenchCase]:
    """Dense paths once per network (they do not depend on ``max_activity``), sparse ones per
    activity."""
    cases = []
    for impl in impls:
        if impl.startswith("dense") or impl.startswith("peer:"):
            cases.append(BenchCase(impl=impl, sweep=sweep, **base))
        else:
            cases.extend(BenchCase(impl=impl, max_activity=a, sweep=sweep, **base)
                         for a in activities)
    return cases


# The seed's multi_layer benchmark network. With the seed's initialisation (weight_mul 1) its
# hidden layers are nearly silent (0.06 %, 0, 0): the real_activity and seed_point presets
# calibrate them to a target rate (snnlib.bench.calibrate).
SEED_NETWORK = dict(n_in=1152, hidden=(980,) * 3, n_out=10, n_steps=100, batch_size=48,
                    input_capacity=32)


def _seed_sweeps(impls, *, n_in=1152, hidden=980, layers=3, n_out=10, t=100, batch=48,
                 s_in=32, activities=ACTIVITIES, sweep_activity=0.05,
                 layer_counts=(2, 3, 4, 5), batches=(24, 48, 96, 192, 384),
                 neurons=(245, 490, 980, 1960), seq_lens=(10, 25, 50, 100, 200)) -> dict:
    base = dict(n_in=n_in, hidden=(hidden,) * layers, n_out=n_out, n_steps=t, batch_size=batch,
                input_capacity=s_in)
    one = (sweep_activity,)
    return {
        "activity": _grid("activity", impls, activities, **base),
        "layers": [c for l in layer_counts
                   for c in _grid("layers", impls, one, **{**base, "hidden": (hidden,) * l})],
        "batch": [c for b in batches
                  for c in _grid("batch", impls, one, **{**base, "batch_size": b})],
        "neurons": [c for n in neurons
                    for c in _grid("neurons", impls, one, **{**base, "hidden": (n,) * layers})],
        "seq_len": [c for s in seq_lens
                    for c in _grid("seq_len", impls, one, **{**base, "n_steps": s})],
    }


def _seed_point(impls) -> dict:
    keep = [i for i in impls if i in ("dense", "dense_xla", "sparse_layer")]
    return {"seed": [dataclasses.replace(c, sweep="seed", target_activity=0.05)
                     for c in _grid("seed", keep, (0.1,), **SEED_NETWORK)]}


def _tiny(impls) -> dict:
    sweeps = _seed_sweeps(impls, n_in=64, hidden=48, layers=2, t=20, batch=8, s_in=16,
                          activities=(0.1, 0.5), sweep_activity=0.2, layer_counts=(1, 3),
                          batches=(4, 16), neurons=(24, 96), seq_lens=(10, 40))
    keep = {"dense", "sparse_layer"} | {i for i in impls if i.startswith("peer:")}
    return {name: cases if name == "activity" else [c for c in cases if c.impl in keep]
            for name, cases in sweeps.items()}


REAL_ACTIVITY_TARGETS = (0.01, 0.02, 0.05, 0.1)


def _real_activity(impls) -> dict:
    """The seed's multi_layer network calibrated to each target activity; the sparse
    implementations at a capacity of twice the target, dense paths and peers once per target."""
    keep = [i for i in impls if i in ("dense", "dense_xla", "sparse_layer", "sparse_ops")
            or i.startswith("peer:")]
    cases = []
    for target in REAL_ACTIVITY_TARGETS:
        for case in _grid("real_activity", keep, (min(2 * target, 1.0),), **SEED_NETWORK):
            cases.append(dataclasses.replace(case, target_activity=target))
    return {"real_activity": cases}


def _seed_subset(*names: str):
    return lambda impls: {n: cases for n, cases in _seed_sweeps(impls).items() if n in names}


# Presets are code (snnlib.presets): name -> function of the implementations -> sweeps.
BENCH_PRESETS: dict[str, Callable[[tuple], dict[str, list[BenchCase]]]] = {
    "tiny": _tiny,
    "multi_layer": _seed_subset("activity", "layers"),
    "batch": _seed_subset("batch"),
    "neurons": _seed_subset("neurons"),
    "seq_len": _seed_subset("seq_len"),
    "full": _seed_sweeps,
    "seed_point": _seed_point,
    "real_activity": _real_activity,
}


def preset_sweeps(preset: str, impls: Sequence[str] = BENCH_IMPLS) -> dict[str, list[BenchCase]]:
    """The named sweeps of a preset of :data:`BENCH_PRESETS`, ``{sweep name: [BenchCase, ...]}``.

    * ``tiny``: a seconds-long smoke grid (input 64, two hidden layers of 48, T = 20, B = 8;
      the scaling sweeps only for ``dense`` and ``sparse_layer``).
    * ``multi_layer``: the seed's multi_layer benchmark: input 1152 with capacity 32, three
      hidden layers of 980, 10 outputs, T = 100, B = 48, max activity 0.5 % to 50 %, and
      2 to 5 hidden layers at 5 %.
    * ``batch``, ``neurons``, ``seq_len``: the seed's batch sweep (24 to 384), a hidden-width
      sweep and a sequence-length sweep around the multi_layer network at 5 % activity.
    * ``full``: all of the above (real hardware: hours on 2 cores).
    * ``seed_point``: one point of ``real_activity``: the seed's multi_layer network calibrated
      to 5 % hidden activity, sparse_layer at 10 % capacity (``dense``, ``dense_xla`` and
      ``sparse_layer`` of ``impls``): about a minute, so that a short report shows the sparse
      path at a real activity. The records carry the measured activity per layer.
    * ``real_activity``: the seed's multi_layer network with its hidden layers calibrated to
      fire at 1, 2, 5 and 10 % (``target_activity``; the runner scales each layer's initial
      weights, :func:`snnlib.bench.calibrate.calibrate_layer_scales`), the sparse
      implementations at a capacity of twice the target; dense paths and peers time the same
      calibrated networks. (``multi_layer``'s ``activity`` sweep varies only the capacity.)
    """
    return choose(BENCH_PRESETS, preset, "bench preset")(tuple(impls))


def preset_cases(preset: str, impls: Sequence[str] = BENCH_IMPLS,
                 sweeps: Sequence[str] | None = None, **overrides) -> list[BenchCase]:
    """All cases of a preset (optionally only some sweeps), in sweep order.

    ``overrides`` (e.g. ``weight_mul=3.0``, ``th2=None``) replace those fields in every case.

    A network shared by two sweeps (e.g. the default one) appears once per sweep;
    :func:`run_benchmark` measures it once and records it under both sweep names.
    """
    grid = preset_sweeps(preset, impls)
    if sweeps is not None:
        unknown = sorted(set(sweeps) - set(grid))
        if unknown:
            raise ValueError(f"sweeps {unknown} are not in preset {preset!r}; valid: {sorted(grid)}")
        grid = {k: v for k, v in grid.items() if k in sweeps}
    return [dataclasses.replace(c, **overrides) for cases in grid.values() for c in cases]


def bench_inputs(case: BenchCase) -> tuple[np.ndarray, np.ndarray]:
    """The case's data: ``x float32[B, T, n_in]`` 0/1 and labels ``y int32[B]``.

    Bernoulli spikes (:func:`snnlib.data.random_spikes`, seeded) with at most
    ``input_capacity`` spikes per (sample, step): extra spikes (highest indices first) are
    removed so that every implementation, dense or sparse, sees the same input.
    """
    data = random_spikes(n_in=case.n_in, n_steps=case.n_steps, activity=case.activity_in,
                         n_classes=case.n_out, n_train=case.batch_size, n_test=1, seed=case.seed)
    x = data.x_train.astype(np.float32)
    over = np.cumsum(x, axis=-1) > case.input_capacity
    x[over] = 0.0
    return x, data.y_train.astype(np.int32)


def array_sha256(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' bytes, shapes and dtypes (short hex, 16 characters)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]
