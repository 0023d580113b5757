"""The one preset rule of the package: presets are code, looked up by name with :func:`choose`.

Three registries use it, each in the layer that owns what it configures:

* :data:`snnlib.train.PRESETS`: name -> :class:`~snnlib.train.TrainConfig` (``python -m snnlib
  train --preset``, the notebooks' ``train_preset`` parameter);
* :data:`snnlib.bench.BENCH_PRESETS`: name -> the benchmark grid (``python -m snnlib bench
  --preset``, notebook 04's ``preset`` parameter);
* :data:`snnlib.notebook_presets.NOTEBOOK_PRESETS`: report preset (``tiny``/``full``) ->
  notebook -> the values papermill gives its ``parameters`` cell. They name presets of the two
  registries above; ``tests/test_presets.py`` checks that every name resolves.
"""

from __future__ import annotations

from typing import Mapping, TypeVar

V = TypeVar("V")


def choose(registry: Mapping[str, V], name: str, what: str = "preset") -> V:
    """``registry[name]``, or a ``ValueError`` that names ``what`` and lists the valid names."""
    if not isinstance(name, str) or name not in registry:
        raise ValueError(f"unknown {what} {name!r}; valid choices: {', '.join(registry)}")
    return registry[name]
