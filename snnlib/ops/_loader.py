"""Lazy loading of the compiled sparse spike ops (``snnlib/_ops/libsparse_spikes.so``).

The library is loaded on first use, never at import. Rules:

* ``SNNLIB_PURE_PY=1`` forces the pure-TF reference (:mod:`snnlib.ops.reference`);
* a missing library, or one built for another TensorFlow version (``build_info.json``), falls
  back to the reference with exactly one ``warnings.warn`` that names ``./build.sh codelets``;
* the Python gradient of each compiled op is registered beside its wrapper
  (:mod:`snnlib.ops.select`, :mod:`.matmul`, :mod:`.to_dense`, :mod:`.layer`).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path

import tensorflow as tf

LIB_DIR = Path(__file__).resolve().parents[1] / "_ops"
LIB_NAME = "libsparse_spikes.so"
FIX = "run `./build.sh codelets` (or `python -m snnlib.ops.build`) to compile the codelets"

_lock = threading.Lock()
_state: dict = {"loaded": False, "module": None, "reason": None, "warned": False}


class LibraryUnavailable(RuntimeError):
    """The compiled library cannot be used; the message says why and how to fix it."""


def pure_python_forced() -> bool:
    """``True`` when ``SNNLIB_PURE_PY`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get("SNNLIB_PURE_PY", "").strip().lower() in ("1", "true", "yes", "on")


def _check_build_info(lib_dir: Path) -> None:
    info_file = lib_dir / "build_info.json"
    try:
        info = json.loads(info_file.read_text())
    except (OSError, ValueError):
        raise LibraryUnavailable(f"{info_file} is missing or unreadable; {FIX}") from None
    built_for = info.get("tf_version")
    if built_for != tf.__version__:
        raise LibraryUnavailable(
            f"{LIB_NAME} was built for TensorFlow {built_for!r} but TensorFlow {tf.__version__} "
            f"is installed; {FIX}"
        )


def _load(lib_dir: Path | None = None):
    lib_dir = LIB_DIR if lib_dir is None else Path(lib_dir)
    path = lib_dir / LIB_NAME
    if not path.exists():
        raise LibraryUnavailable(f"compiled sparse ops not found at {path}; {FIX}")
    _check_build_info(lib_dir)
    try:
        module = tf.load_op_library(str(path))
    except (tf.errors.NotFoundError, OSError) as err:
        raise LibraryUnavailable(f"loading {path} failed ({err}); {FIX}") from None
    return module


def _load_once() -> None:
    """Try the library once per process (caller holds ``_lock``); remember the failure reason."""
    if not _state["loaded"]:
        try:
            _state["module"] = _load()
        except LibraryUnavailable as err:
            _state["reason"] = str(err)
        _state["loaded"] = True


def library():
    """The loaded op module, or ``None`` when the reference must be used (warns once)."""
    if pure_python_forced():
        return None
    with _lock:
        _load_once()
        if _state["module"] is None and not _state["warned"]:
            _state["warned"] = True
            warnings.warn(
                f"snnlib.ops: using the pure-TF reference ops (slow): {_state['reason']}",
                RuntimeWarning, stacklevel=3,
            )
        return _state["module"]


def require_library():
    """The loaded op module; raises :class:`LibraryUnavailable` with the reason otherwise."""
    if pure_python_forced():
        raise LibraryUnavailable("SNNLIB_PURE_PY is set, so the compiled ops are disabled")
    with _lock:
        _load_once()
        if _state["module"] is None:
            raise LibraryUnavailable(_state["reason"])
        return _state["module"]


def backend() -> str:
    """``"compiled"`` if the compiled library is (or can be) loaded, else ``"reference"``."""
    return "reference" if library() is None else "compiled"
