"""A full-size N-MNIST stand-in in the real file layout, built from the embedded recordings.

The real N-MNIST (60,000 training and 10,000 test recordings) cannot be downloaded here. To
show that the pipeline scales to it, :func:`write_nmnist_replica` fills
``<data_dir>/NMNIST/{Train,Test}/<label>/<id>.bin`` with as many files as the real dataset
has, each a hard link to (or a copy of) one of the 1,000 embedded recordings, dealt
round-robin: real N-MNIST files, so the loader reads them through tonic exactly as it would
read the real dataset, with the real event counts per recording.

Command line (used for the full-size figures in the README)::

    python -m snnlib replica DATA_DIR [--train 60000] [--test 10000]
    python -m snnlib train --preset nmnist-small --dataset nmnist --data data_dir=DATA_DIR ...
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from snnlib.data.sources import embedded_nmnist_dir


def write_nmnist_replica(data_dir, n_train: int = 60_000, n_test: int = 10_000, *,
                         link: bool = True) -> Path:
    """Write the N-MNIST folder layout with ``n_train`` / ``n_test`` recordings.

    File ``k`` of a split is the embedded recording ``k mod 1000`` (sorted by label, then
    name), stored under its own label as ``<k>.bin``; ``link`` makes hard links (no extra disk;
    falls back to copies across file systems). Existing files are left as they are.

    Returns:
        ``<data_dir>/NMNIST``.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1; got {value!r}")
    sources = sorted(embedded_nmnist_dir().glob("Train/*/*.bin"))
    if not sources:
        raise FileNotFoundError(f"no embedded recordings under {embedded_nmnist_dir()}")
    root = Path(data_dir).expanduser() / "NMNIST"
    for split, count in (("Train", int(n_train)), ("Test", int(n_test))):
        for k in range(count):
            src = sources[k % len(sources)]
            target = root / split / src.parent.name / f"{k:05d}.bin"
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                if not link:
                    raise OSError("copy requested")
                os.link(src, target)
            except OSError:
                shutil.copyfile(src, target)
    return root
