"""Datasets: offline synthetic sets and neuromorphic recordings, one registry.

``load_dataset(name, **kwargs)`` returns a :class:`SpikeDataset`; ``DATASETS`` lists the names.
"""

from __future__ import annotations

import inspect
from typing import Callable

from snnlib.data.base import SpikeDataset, make_tf_dataset
from snnlib.data.events import (BinnedSet, bin_events, binned_to_dense, binned_to_sparse,
                                flatten_events)
from snnlib.data.neuromorphic import (dvsgesture, load_binned, nmnist, nmnist_small, read_events,
                                      shd)
from snnlib.data.synthetic import randman, random_spikes

DATASETS: dict[str, Callable[..., SpikeDataset]] = {
    "randman": randman,
    "random": random_spikes,
    "nmnist-small": nmnist_small,
    "nmnist": nmnist,
    "shd": shd,
    "dvsgesture": dvsgesture,
}


def load_dataset(name: str, *, progress: bool | None = None, index_lists: bool = False,
                 **kwargs) -> SpikeDataset:
    """Build or load the dataset ``name`` with loader keyword arguments ``kwargs``.

    ``progress``: show (True) or hide (False) the progress bar of loaders that have one (the
    neuromorphic sets while they bin recordings); ``None`` keeps the loader's default.
    ``index_lists``: keep the splits of the loaders that can as index lists
    (:class:`BinnedSet`, ``dense=False``) instead of rasters; others return rasters.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid choices: {', '.join(sorted(DATASETS))}")
    loader = DATASETS[name]
    accepted = inspect.signature(loader).parameters
    if progress is not None and "progress" in accepted:
        kwargs["progress"] = bool(progress)
    if index_lists and "dense" in accepted:
        kwargs.setdefault("dense", False)
    return loader(**kwargs)


__all__ = ["DATASETS", "BinnedSet", "SpikeDataset", "bin_events", "binned_to_dense",
           "binned_to_sparse", "dvsgesture", "flatten_events", "load_binned", "load_dataset",
           "make_tf_dataset", "nmnist", "nmnist_small", "randman", "random_spikes",
           "read_events", "shd"]
