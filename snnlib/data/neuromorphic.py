"""Neuromorphic datasets (N-MNIST, SHD, DVS Gesture) binned into spike rasters, with a cache.

Pipeline per recording (graphcore_snn's ``nmnist_util.py``, spec section 3.1, minus its
defects): read events (tonic) -> ``Denoise(filter_time=10 ms)`` -> ``Downsample`` to the chosen
size (tonic transforms; none for SHD) -> flatten ``(x, y, p) -> x + W*y + W*H*p`` -> bins of
``dt`` from the first event (:mod:`snnlib.data.events`). The binned form is cached on disk
(:mod:`snnlib.data.cache`) and densified to the ``uint8[n, T, N]`` rasters of a
:class:`SpikeDataset` on load.

=================  ======================  =============  =======  ========================
name               source                  sensor -> N    classes  split
=================  ======================  =============  =======  ========================
``nmnist-small``   embedded 1,000 files    24x24x2: 1152  10       900 / 100, stratified
``nmnist``         tonic NMNIST            24x24x2: 1152  10       60,000 / 10,000
``shd``            tonic SHD (HDF5)        700            20       8,156 / 2,264
``dvsgesture``     tonic DVSGesture        48x48x2: 4608  11       1,077 / 264
=================  ======================  =============  =======  ========================

``size=34`` (N-MNIST) or ``size=128`` (DVS Gesture) keeps the full sensor.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import math
from pathlib import Path

import numpy as np

from snnlib.data import sources
from snnlib.data.base import SpikeDataset
from snnlib.data.cache import cached
from snnlib.data.events import BinnedSet, bin_events, flatten_events, sensor_n_in

N_CLASSES = {"nmnist-small": 10, "nmnist": 10, "shd": 20, "dvsgesture": 11}


@dataclasses.dataclass(frozen=True)
class EventTransform:
    """Denoise then downsample a recording (tonic's transforms, as graphcore_snn applied them).

    Attributes:
        sensor_size: ``(W, H, P)`` of the recording as read.
        size: target width = height after ``tonic.transforms.Downsample(spatial_factor=size/W)``;
            ``None`` keeps the sensor.
        denoise_us: ``tonic.transforms.Denoise`` filter time in microseconds; ``None`` skips it.
    """

    sensor_size: tuple
    size: int | None = None
    denoise_us: float | None = 10_000.0

    def __post_init__(self):
        width, height = int(self.sensor_size[0]), int(self.sensor_size[1])
        if self.size is not None and not 1 <= int(self.size) <= min(width, height):
            raise ValueError(f"size must be in [1, {min(width, height)}] for sensor "
                             f"{tuple(self.sensor_size)}; got {self.size!r}")
        if self.denoise_us is not None and not self.denoise_us > 0:
            raise ValueError(f"denoise_us must be positive or None; got {self.denoise_us!r}")

    @property
    def output_size(self) -> tuple:
        """``(W', H', P)`` after the transform."""
        if self.size is None or int(self.size) == int(self.sensor_size[0]):
            return tuple(int(s) for s in self.sensor_size)
        return (int(self.size), int(self.size), int(self.sensor_size[2]))

    def params(self) -> dict:
        """JSON form for cache keys and ``SpikeDataset.info``."""
        return {"sensor_size": list(self.sensor_size), "size": self.size,
                "denoise_us": self.denoise_us}

    def __call__(self, events: np.ndarray) -> np.ndarray:
        from tonic import transforms

        if self.denoise_us is not None:
            events = transforms.Denoise(filter_time=self.denoise_us)(events)
        if self.output_size != tuple(int(s) for s in self.sensor_size):
            factor = int(self.size) / int(self.sensor_size[0])
            events = transforms.Downsample(spatial_factor=factor)(events)
        return events


def stratified_subset(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` indices spread evenly over the classes (round-robin over shuffled classes), sorted."""
    labels = np.asarray(labels)
    k = min(int(k), len(labels))
    rank = np.empty(len(labels), np.int64)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        rank[rng.permutation(members)] = np.arange(len(members))
    order = np.lexsort((rng.random(len(labels)), rank))
    return np.sort(order[:k])


def stratified_split(labels: np.ndarray, n_test: int, rng: np.random.Generator):
    """Split indices into ``(train, test)`` with ``n_test`` test samples, class proportions kept
    (largest-remainder rounding); both parts in a seeded random order."""
    labels = np.asarray(labels)
    if not 0 < int(n_test) < len(labels):
        raise ValueError(f"n_test must be in [1, {len(labels) - 1}]; got {n_test!r}")
    classes, sizes = np.unique(labels, return_counts=True)
    quota = sizes * int(n_test) / len(labels)
    take = np.floor(quota).astype(np.int64)
    extra = int(n_test) - int(take.sum())
    take[np.lexsort((rng.random(len(classes)), -(quota - take)))[:extra]] += 1
    test = np.concatenate([rng.choice(np.flatnonzero(labels == c), t, replace=False)
                           for c, t in zip(classes, take)])
    train = np.setdiff1d(np.arange(len(labels)), test)
    return rng.permutation(train), rng.permutation(test)


def stratified_folds(labels: np.ndarray, n_folds: int, rng: np.random.Generator) -> list:
    """``n_folds`` disjoint index arrays covering every sample, class proportions kept: each
    class's members, in a seeded random order, are dealt to the folds round-robin (starting at
    a seeded random fold, so fold sizes differ by at most one per class)."""
    labels = np.asarray(labels)
    if not 2 <= int(n_folds) <= len(labels):
        raise ValueError(f"n_folds must be in [2, {len(labels)}]; got {n_folds!r}")
    fold_of = np.empty(len(labels), np.int64)
    start = 0
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        fold_of[members] = (start + np.arange(len(members))) % int(n_folds)
        start = (start + len(members)) % int(n_folds)
    return [rng.permutation(np.flatnonzero(fold_of == k)) for k in range(int(n_folds))]


def bin_source(source: sources.Source, index, transform: EventTransform, *, n_steps: int,
               dt: float, cache: bool = True, cache_dir=None, rebuild_cache: bool = False,
               progress: bool = True) -> tuple[BinnedSet, dict]:
    """Read, transform and bin the samples ``index`` of ``source``, through the cache.

    Returns:
        ``(BinnedSet, cache_info)``; ``cache_info = {"path", "hit", "key"}``.
    """
    from tqdm.auto import tqdm
    import tonic

    index = np.asarray(index, np.int64)
    names = [source.sample_ids[i] for i in index]
    n_in = sensor_n_in(transform.output_size)
    params = {"dataset": source.name, "split": source.split, "location": str(source.location),
              "n_samples": len(index),
              "samples": hashlib.sha256("\n".join(names).encode()).hexdigest(),
              "transform": transform.params(), "n_steps": int(n_steps), "dt": float(dt),
              "tonic": tonic.__version__}

    def build() -> dict[str, np.ndarray]:
        all_ids, counts, n_events = [], np.zeros((len(index), int(n_steps)), np.int32), []
        bar = tqdm(index, desc=f"binning {source.name}/{source.split}", unit="sample",
                   disable=not progress, leave=False)
        for row, i in enumerate(bar):
            events = transform(source.read(i))
            flat = flatten_events(events, transform.output_size)
            ids, counts[row] = bin_events(events["t"], flat, n_steps=n_steps, dt=dt)
            all_ids.append(ids)
            n_events.append(len(events))
        id_dtype = np.uint16 if n_in <= np.iinfo(np.uint16).max + 1 else np.int32
        ids = np.concatenate(all_ids).astype(id_dtype) if all_ids else np.zeros(0, id_dtype)
        return {"ids": ids, "counts": counts, "labels": source.labels[index].astype(np.int32),
                "n_events": np.asarray(n_events, np.int64), "sample_ids": np.asarray(names, str)}

    arrays, info = cached(f"{source.name}-{source.split}", params, build, cache_dir=cache_dir,
                          use_cache=cache, rebuild=rebuild_cache)
    return BinnedSet(arrays["ids"], arrays["counts"], arrays["labels"], arrays["n_events"], n_in,
                     float(dt), arrays["sample_ids"]), info


def _test_limit(limit, limit_test, n_train_total: int, n_test_total: int):
    if limit is not None and int(limit) < 1:
        raise ValueError(f"limit must be >= 1 or None; got {limit!r}")
    if limit_test is not None and int(limit_test) < 1:
        raise ValueError(f"limit_test must be >= 1 or None; got {limit_test!r}")
    if limit_test is None and limit is not None:
        limit_test = math.ceil(int(limit) * n_test_total / max(n_train_total, 1))
    return limit, limit_test


def _assemble(name: str, train: BinnedSet, test: BinnedSet, info: dict,
              dense: bool = True) -> SpikeDataset:
    info = dict(info, n_in=train.n_in, n_steps=train.n_steps,
                events_per_sample=float(np.mean(np.concatenate([train.n_events, test.n_events]))),
                binned_events_per_sample=float(np.mean(np.concatenate(
                    [train.counts.sum(axis=1), test.counts.sum(axis=1)]))))
    if not dense:
        return SpikeDataset(name, train, train.labels.astype(np.int32), test,
                            test.labels.astype(np.int32), N_CLASSES[name], info)
    return SpikeDataset(name, train.dense(), train.labels.astype(np.int32), test.dense(),
                        test.labels.astype(np.int32), N_CLASSES[name], info)


def load_binned(name: str, *, n_steps: int | None = None, dt: float = 1000.0,
                size: int | None = None, denoise_us: float | None = 10_000.0, seed: int = 0,
                limit: int | None = None, limit_test: int | None = None, n_test: int = 100,
                fold: int | None = None, n_folds: int = 5, root=None, data_dir=None, download: bool = False, verify: bool = True,
                cache: bool = True, cache_dir=None, rebuild_cache: bool = False,
                progress: bool = True):
    """The train and test splits of a neuromorphic dataset in compact binned form.

    Args:
        name: ``"nmnist-small"``, ``"nmnist"``, ``"shd"`` or ``"dvsgesture"``.
        n_steps: ``T``; default 300 (N-MNIST, the whole ~300 ms recording at 1 ms),
            500 (SHD, DVS Gesture).
        dt: bin width in microseconds (default 1 ms).
        size: target width = height (N-MNIST: 24 default or 34; DVS Gesture: 48 default, up to
            128); ignored for SHD.
        denoise_us: Denoise filter time (10 ms default; ``None`` skips it; SHD never denoises).
        seed: seeds the subset chosen by ``limit`` and the nmnist-small train/test split.
        limit, limit_test: at most this many train / test samples (a stratified seeded
            subset); ``limit_test`` defaults to ``limit`` scaled by the split's test/train ratio.
        n_test: nmnist-small only: held-out samples of the 1,000 (default 100; ``limit_test``
            replaces it when given).
        fold, n_folds: nmnist-small only: cross-validation. With ``fold = k`` the samples (all
            1,000, or the ``limit`` subset) are dealt into ``n_folds`` stratified folds
            (:func:`stratified_folds`, seeded by ``seed``); fold ``k`` is the test split, the
            others the training split. ``n_test``/``limit_test`` do not apply.
        root: nmnist-small only: folder with ``Train/<label>/<id>.bin``.
        data_dir: folder of the full datasets (default ``$SNNLIB_DATA_DIR``).
        download: let tonic download a missing full dataset (never in tests).
        verify: nmnist-small only: check the files against ``SHA256SUMS``.
        cache, cache_dir, rebuild_cache: see :func:`snnlib.data.cache.cached`.
        progress: show a tqdm bar while a cache entry is built.

    Returns:
        ``(train: BinnedSet, test: BinnedSet, info: dict)``.
    """
    if name not in N_CLASSES:
        raise ValueError(f"unknown neuromorphic dataset {name!r}; "
                         f"valid choices: {sorted(N_CLASSES)}")
    if n_steps is None:
        n_steps = 300 if name.startswith("nmnist") else 500
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps!r}")
    if not dt > 0:
        raise ValueError(f"dt must be positive (microseconds); got {dt!r}")
    rng = np.random.default_rng(seed)
    bin_kw = dict(n_steps=int(n_steps), dt=float(dt), cache=cache, cache_dir=cache_dir,
                  rebuild_cache=rebuild_cache, progress=progress)
    info = {"dataset": name, "seed": seed, "dt_us": float(dt), "limit": limit}

    if name == "nmnist-small":
        src = sources.nmnist_small_source(root, verify=verify)
        transform = EventTransform(src.sensor_size, 24 if size is None else size, denoise_us)
        n_total = len(src.labels)
        if not 0 < int(n_test) < n_total:
            raise ValueError(f"n_test must be in [1, {n_total - 1}]; got {n_test!r}")
        if fold is not None:
            if not 0 <= int(fold) < int(n_folds):
                raise ValueError(f"fold must be in [0, {int(n_folds) - 1}] for n_folds="
                                 f"{n_folds!r}; got {fold!r}")
            if limit_test is not None:
                raise ValueError("limit_test does not apply with fold: the test split is the fold")
        limit, limit_test = _test_limit(limit, limit_test, n_total - n_test, n_test)
        index = np.arange(n_total)
        if fold is not None:
            if limit is not None:
                index = stratified_subset(src.labels, int(limit), rng)
        elif limit is not None or limit_test is not None:
            n_test = int(limit_test)
            n_train = int(limit) if limit is not None else n_total - n_test
            if n_train < 1 or n_train + n_test > n_total:
                raise ValueError(f"limit + limit_test must be at most {n_total} with limit >= 1; "
                                 f"got limit={limit!r}, limit_test={limit_test!r}")
            index = stratified_subset(src.labels, n_train + n_test, rng)
        binned, cache_info = bin_source(src, index, transform, **bin_kw)
        if fold is not None:
            folds = stratified_folds(binned.labels, n_folds, rng)
            test_idx = folds[int(fold)]
            train_idx = rng.permutation(np.concatenate(
                [f for k, f in enumerate(folds) if k != int(fold)]))
            info.update(fold=int(fold), n_folds=int(n_folds))
        else:
            train_idx, test_idx = stratified_split(binned.labels, n_test, rng)
        train, test = binned.subset(train_idx), binned.subset(test_idx)
        info.update(source=str(src.location), cache=cache_info)
    else:
        make, default_size, n_ratio = {
            "nmnist": (sources.nmnist_source, 24, (60_000, 10_000)),
            "shd": (sources.shd_source, None, (8156, 2264)),
            "dvsgesture": (sources.dvsgesture_source, 48, (1077, 264)),
        }[name]
        if name == "shd":
            size, denoise_us = None, None
        limit, limit_test = _test_limit(limit, limit_test, *n_ratio)
        parts, caches = [], {}
        for split, cap in (("train", limit), ("test", limit_test)):
            src = make(data_dir, train=split == "train", download=download)
            transform = EventTransform(src.sensor_size, size if size is not None else default_size,
                                       denoise_us)
            index = (np.arange(len(src.labels)) if cap is None
                     else stratified_subset(src.labels, int(cap), rng))
            binned, caches[split] = bin_source(src, index, transform, **bin_kw)
            order = rng.permutation(len(binned))
            parts.append(binned.subset(order))
        train, test = parts
        info.update(source=str(Path(src.location).parent), cache=caches)
    info.update(transform=transform.params(), sensor_size=list(transform.output_size))
    return train, test, info


def read_events(name: str = "nmnist-small", index: int = 0, *, train: bool = True,
                transform: bool = False, size: int | None = None,
                denoise_us: float | None = 10_000.0, root=None, data_dir=None):
    """One recording as structured events, for inspection and figures.

    Args:
        name: dataset name (see :data:`N_CLASSES`).
        index: sample index in the split's file order (nmnist-small: sorted by label, then id).
        train: split of the full datasets.
        transform: apply the dataset's Denoise/Downsample (as the loaders do).
        size, denoise_us: transform options, as :func:`load_binned`.

    Returns:
        ``(events, label, sensor_size)``: events with fields ``x, y, t, p`` (``t`` in
        microseconds), the int label and the ``(W, H, P)`` the events live on.
    """
    if name not in N_CLASSES:
        raise ValueError(f"unknown neuromorphic dataset {name!r}; "
                         f"valid choices: {sorted(N_CLASSES)}")
    if name == "nmnist-small":
        src = sources.nmnist_small_source(root)
    else:
        make = {"nmnist": sources.nmnist_source, "shd": sources.shd_source,
                "dvsgesture": sources.dvsgesture_source}[name]
        src = make(data_dir, train=train)
    if not 0 <= int(index) < len(src.labels):
        raise ValueError(f"index must be in [0, {len(src.labels)}); got {index!r}")
    events = src.read(int(index))
    sensor = tuple(src.sensor_size)
    if transform and name != "shd":
        default = 24 if name.startswith("nmnist") else 48
        tf = EventTransform(sensor, default if size is None else size, denoise_us)
        events, sensor = tf(events), tf.output_size
    return events, int(src.labels[int(index)]), sensor


def _loader(name: str):
    def load(*, dense: bool = True, **kwargs) -> SpikeDataset:
        train, test, info = load_binned(name, **kwargs)
        return _assemble(name, train, test, info, dense=dense)

    signature = inspect.signature(load_binned)
    load.__signature__ = signature.replace(
        parameters=[p for p in signature.parameters.values() if p.name != "name"]
        + [inspect.Parameter("dense", inspect.Parameter.KEYWORD_ONLY, default=True)],
        return_annotation=SpikeDataset)

    load.__name__ = name.replace("-", "_")
    load.__qualname__ = load.__name__
    load.__doc__ = (f"Load ``{name}`` as a :class:`SpikeDataset` (uint8 rasters ``[n, T, N]``, "
                    f"int32 labels; with ``dense=False`` the splits stay index lists, "
                    f":class:`BinnedSet`); other keyword arguments as :func:`load_binned`.")
    return load


nmnist_small = _loader("nmnist-small")
nmnist = _loader("nmnist")
shd = _loader("shd")
dvsgesture = _loader("dvsgesture")
