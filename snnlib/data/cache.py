"""On-disk cache of binned datasets: keyed by parameters, written atomically, self-checking.

A cache entry is one ``.npz`` file ``<cache_dir>/<name>-<key>.npz`` where ``key`` is a hash of
every parameter that changes the content (dataset, sample list, transforms, binning, format
version). The file holds the arrays plus a JSON header with the parameters and a SHA-256 of
the arrays. It is written to a temporary file in the same folder and moved into place with
``os.replace``, so an interrupted run leaves either the old file or none, never half of one.
A file that fails to load or whose checksum or parameters disagree is rebuilt.

The cache folder is ``cache_dir`` if given, else ``$SNNLIB_CACHE_DIR``, else
``~/.cache/snnlib``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np

from snnlib.atomic import atomic_open

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$SNNLIB_CACHE_DIR`` if set, else ``~/.cache/snnlib``."""
    env = os.environ.get("SNNLIB_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "snnlib"


def cache_key(params: dict) -> str:
    """A 16-hex-digit hash of JSON-serialisable ``params`` (order of keys does not matter)."""
    text = json.dumps({"format": CACHE_FORMAT, **params}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{arr.dtype.str}:{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def save_arrays(path: Path, arrays: dict[str, np.ndarray], header: dict) -> None:
    """Write ``arrays`` and ``header`` to ``path`` atomically (temporary file + ``os.replace``)."""
    meta = dict(header, checksum=_checksum(arrays))
    with atomic_open(path) as fh:
        np.savez_compressed(fh, __header__=np.array(json.dumps(meta, default=str)), **arrays)


def load_arrays(path: Path, *, expect: dict | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_arrays` and verify it.

    Args:
        expect: header entries that must match (e.g. the parameters of the key).

    Raises:
        ValueError: unreadable, truncated, checksum mismatch or header mismatch.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        header = json.loads(str(arrays.pop("__header__")))
    except Exception as err:  # zipfile.BadZipFile, EOFError, OSError, zlib.error, KeyError ...
        raise ValueError(f"cache file {path} is unreadable ({type(err).__name__}: {err})") from err
    if header.get("checksum") != _checksum(arrays):
        raise ValueError(f"cache file {path} fails its checksum")
    for name, value in (expect or {}).items():
        if (json.dumps(header.get(name), sort_keys=True, default=str)
                != json.dumps(value, sort_keys=True, default=str)):
            raise ValueError(f"cache file {path} was written for another {name!r}")
    return arrays, header


def cached(name: str, params: dict, build: Callable[[], dict[str, np.ndarray]], *,
           cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
           rebuild: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """Return the arrays for ``params``, from the cache when a valid entry exists.

    Args:
        name: file-name prefix (the dataset name).
        params: everything that determines the content; hashed into the key and stored.
        build: computes the arrays (called on a miss, a corrupt entry or ``rebuild``).
        cache_dir: folder; default :func:`default_cache_dir`.
        use_cache: ``False`` builds in memory and neither reads nor writes the cache.
        rebuild: ignore an existing entry and overwrite it.

    Returns:
        ``(arrays, info)`` with ``info = {"path": str | None, "hit": bool, "key": str}``.
    """
    key = cache_key(params)
    if not use_cache:
        return build(), {"path": None, "hit": False, "key": key}
    path = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = path / f"{name}-{key}.npz"
    if path.exists() and not rebuild:
        try:
            arrays, _ = load_arrays(path, expect={"params": params})
            logger.debug("cache hit: %s", path)
            return arrays, {"path": str(path), "hit": True, "key": key}
        except ValueError as err:
            logger.warning("%s; rebuilding it", err)
    arrays = build()
    save_arrays(path, arrays, {"params": params, "format": CACHE_FORMAT})
    logger.info("cache written: %s", path)
    return arrays, {"path": str(path), "hit": False, "key": key}
