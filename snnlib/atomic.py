"""Atomic file writes: a file is either its old content or the complete new one, never half.

The data go to a temporary file in the same folder, are flushed to disk, and replace the
target with ``os.replace``; an exception (or a killed process) leaves the target untouched and
removes the temporary file where it can. The new file gets the permissions a plain ``open()``
would give it (``0o666`` less the process's umask), or ``mode`` when given: the temporary
file's private ``0o600`` is never left on the result. A writer that insists on a file name
(Keras' ``model.save`` wants a path ending in ``.keras``) writes to the temporary path that
:func:`atomic_path` gives it instead of a handle.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, mode: int | None = None):
    """A temporary path, in ``path``'s folder and ending in its suffix, that replaces ``path``
    when the ``with`` block completes (after being flushed to disk).

    For writers that take a file name, not a handle. ``mode``: as :func:`atomic_open`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path, mode: int | None = None):
    """A binary file handle whose content replaces ``path`` when the ``with`` block completes.

    ``mode``: permission bits of the new file (default ``0o666 & ~umask``, as ``open()``).
    """
    with atomic_path(path, mode) as tmp, open(tmp, "wb") as fh:
        yield fh


def write_atomic(path, data: str | bytes, mode: int | None = None) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically (``mode``: see
    :func:`atomic_open`)."""
    with atomic_open(path, mode) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
