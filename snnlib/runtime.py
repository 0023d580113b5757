"""TensorFlow start-up without its noise, and the device it runs on.

Importing TensorFlow 2.21 on a machine without a GPU writes start-up lines to the process's
standard error *before* ``TF_CPP_MIN_LOG_LEVEL`` takes effect (absl's
``All log messages before absl::InitializeLog() ...``, ``cudart_stub.cc ... Could not find
cuda drivers``, later ``failed call to cuInit``). No environment variable silences them, so
:func:`import_tensorflow` runs the import and the device discovery with file descriptor 2
redirected to a temporary file, then writes back every line that is not one of those known
start-up messages (real errors still reach the terminal or the notebook).

The package imports TensorFlow through this module first (``snnlib/__init__.py``), so every
entry point (CLI, notebooks, worker subprocesses, tests) starts quietly. The one exception is
a peer benchmark worker (:mod:`snnlib.bench.worker` timing a PyTorch library): its runner
sets ``SNNLIB_PEER_WORKER=1`` (:data:`PEER_WORKER_ENV`) for that subprocess only, and
:func:`tensorflow_wanted` then says no, so the process never imports TensorFlow (a CUDA build
of torch imported after TensorFlow crashes on a machine without a GPU). This module imports
nothing of ``snnlib``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import tempfile

# Start-up messages of TensorFlow / XLA / absl that say nothing to a user: the absl banner,
# informational (I) and warning (W) lines of the C++ runtime, and the CUDA probe's failure on a
# machine without a GPU. Other error lines pass through.
_NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ \S+\.(cc|h):\d+\]"),
    re.compile(r"^E\d{4} [\d:.]+\s+\d+ \S+\.cc:\d+\] failed call to cuInit"),
    re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+: [IW] \S+\.cc:\d+\]"),
)

PEER_WORKER_ENV = "SNNLIB_PEER_WORKER"


def tensorflow_wanted() -> bool:
    """False in a peer benchmark worker (``SNNLIB_PEER_WORKER=1``), True everywhere else."""
    return os.environ.get(PEER_WORKER_ENV, "") != "1"


def lazy_attributes(package: str, table: dict[str, str]):
    """A PEP 562 module ``__getattr__`` for ``package``: ``name`` in ``table`` is read from the
    module ``table[name]`` on first use, so importing the package does not import that module
    (the packages that must stay TensorFlow-free in a peer worker use it)."""

    def __getattr__(name: str):
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def is_startup_noise(line: str) -> bool:
    """True for a TensorFlow start-up line that :func:`import_tensorflow` drops."""
    return any(p.match(line) for p in _NOISE)


@contextlib.contextmanager
def _filtered_stderr():
    """Send file descriptor 2 to a temporary file; on exit, replay its non-noise lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not is_startup_noise(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


_READY = False


def import_tensorflow():
    """Import TensorFlow and discover its devices with the start-up noise filtered out.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (info and warnings of the C++ runtime off) unless the
    caller set it. Idempotent; returns the ``tensorflow`` module.
    """
    global _READY
    if _READY:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
    _READY = True
    return tf


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow sees (e.g. ``["NVIDIA H200"]``); empty on a CPU machine."""
    tf = import_tensorflow()
    names = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        names.append(details.get("device_name", device.name))
    return names


def device_line() -> str | None:
    """One line naming the GPU that is used (``None`` on a machine without a GPU)."""
    names = gpu_names()
    if not names:
        return None
    more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
    return f"device: GPU 0, {names[0]}{more}"
