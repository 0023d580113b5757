"""Where the event recordings live on disk and how one recording is read.

A *source* lists the recordings of one split (an identifier and a label per sample) and reads
one recording as a structured event array with fields ``x, y, t, p`` (``t`` in microseconds).
Reading is tonic's: ``tonic.io.read_mnist_file`` for N-MNIST files and the ``__getitem__`` of
``tonic.datasets.{NMNIST, SHD, DVSGesture}`` for the full datasets. The tonic classes are
used through subclasses that never download unless asked (``download=True``) and that accept
an extracted dataset without its archive; a missing or unreadable dataset raises an error that
names the dataset, the expected path and how to get it.

Expected layouts (``data_dir`` = argument, else ``$SNNLIB_DATA_DIR``, else
``~/.local/share/snnlib``):

* embedded N-MNIST subset: ``<repo>/data/nmnist_small/Train/<label>/<id>.bin`` (+ ``SHA256SUMS``)
* N-MNIST: ``<data_dir>/NMNIST/{Train,Test}/<label>/<id>.bin``
* SHD: ``<data_dir>/SHD/shd_{train,test}.h5``
* DVS Gesture (tonic's preprocessed form):
  ``<data_dir>/DVSGesture/ibmGesture{Train,Test}/user<NN>_<lighting>/<label>.npy``,
  each an array ``[n_events, 4]`` of ``(x, y, p, t in ms)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])

HOW_TO_GET = {
    "nmnist-small": ("it ships with the repository in data/nmnist_small/; restore it from git "
                     "or pass root=/ set SNNLIB_DATA_DIR to a folder holding nmnist_small/"),
    "nmnist": ("download train.zip and test.zip from https://data.mendeley.com/datasets/"
               "468j46mzdv/1 and extract them into {dir}/NMNIST/ (giving Train/ and Test/), "
               "or call load_dataset('nmnist', download=True) once with network access"),
    "shd": ("download shd_train.h5.zip and shd_test.h5.zip from https://zenkelab.org/datasets/ "
            "and unzip them into {dir}/SHD/, or call load_dataset('shd', download=True) once "
            "with network access"),
    "dvsgesture": ("download tonic's preprocessed archives ibmGestureTrain.tar.gz "
                   "(https://figshare.com/ndownloader/files/38022171) and ibmGestureTest.tar.gz "
                   "(https://figshare.com/ndownloader/files/38020584) and extract them into "
                   "{dir}/DVSGesture/, or call load_dataset('dvsgesture', download=True) once "
                   "with network access"),
}


def default_data_dir() -> Path:
    """``$SNNLIB_DATA_DIR`` if set, else ``~/.local/share/snnlib``."""
    env = os.environ.get("SNNLIB_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "snnlib"


def embedded_nmnist_dir() -> Path:
    """The embedded N-MNIST subset: ``$SNNLIB_DATA_DIR/nmnist_small`` when that exists, else the
    repository's ``data/nmnist_small``."""
    env = os.environ.get("SNNLIB_DATA_DIR")
    if env and (Path(env).expanduser() / "nmnist_small").is_dir():
        return Path(env).expanduser() / "nmnist_small"
    return Path(__file__).resolve().parents[2] / "data" / "nmnist_small"


def missing_error(name: str, expected: Path | str, data_dir: Path | str, detail: str = ""):
    """A ``FileNotFoundError`` naming the dataset, the expected path and how to get it."""
    how = HOW_TO_GET[name].format(dir=data_dir)
    return FileNotFoundError(f"dataset {name!r} not found: expected {expected}{detail}. "
                             f"To get it: {how}.")


def corrupt_error(name: str, path: Path | str, err: Exception,
                  data_dir: Path | str = "") -> ValueError:
    """A ``ValueError`` for an unreadable recording, naming the dataset, file and remedy."""
    how = HOW_TO_GET[name].format(dir=data_dir)
    return ValueError(f"dataset {name!r}: file {path} is corrupt or not in the expected format "
                      f"({type(err).__name__}: {err}). Replace it: {how}.")


@dataclasses.dataclass
class Source:
    """The recordings of one split.

    Attributes:
        name: registry name of the dataset.
        split: ``"train"`` or ``"test"``.
        sensor_size: ``(W, H, P)`` of the recordings as read.
        sample_ids: identifier per sample (relative path or HDF5 index), ``list[str]``.
        labels: ``int32[n_samples]``.
        reader: ``reader(i) -> structured events (x, y, t, p)`` of sample ``i``.
        location: file or folder the samples come from (for messages and the cache key).
        data_dir: the data folder the user controls (for messages).
    """

    name: str
    split: str
    sensor_size: tuple
    sample_ids: list
    labels: np.ndarray
    reader: Callable[[int], np.ndarray]
    location: Path
    data_dir: Path

    def read(self, i: int) -> np.ndarray:
        """Events of sample ``i``; a failure is a ``ValueError`` naming the file."""
        path = self.location / self.sample_ids[i] if self.location.is_dir() else self.location
        try:
            events = self.reader(int(i))
        except FileNotFoundError as err:
            raise missing_error(self.name, path, self.data_dir) from err
        except Exception as err:  # h5py / numpy errors of a damaged or foreign file
            raise corrupt_error(self.name, path, err, self.data_dir) from err
        if len(events) == 0:
            raise corrupt_error(self.name, path, ValueError("no events"), self.data_dir)
        return events


def nmnist_small_source(root: str | os.PathLike | None = None, *, verify: bool = True) -> Source:
    """The embedded 1,000-sample N-MNIST subset (all under ``Train/``), read with tonic's reader.

    Args:
        root: folder holding ``Train/<label>/<id>.bin``; default :func:`embedded_nmnist_dir`.
        verify: check each file read against ``SHA256SUMS`` (when that file exists).
    """
    from tonic.io import read_mnist_file

    root = Path(root).expanduser() if root is not None else embedded_nmnist_dir()
    files = sorted(root.glob("Train/[0-9]/*.bin"))
    if not files:
        raise missing_error("nmnist-small", root / "Train" / "<label>" / "<id>.bin", root.parent)
    rel = [f.relative_to(root).as_posix() for f in files]
    sums = {}
    if verify and (root / "SHA256SUMS").is_file():
        for line in (root / "SHA256SUMS").read_text().splitlines():
            digest, _, name = line.strip().partition("  ")
            sums[name.strip()] = digest

    def reader(i: int) -> np.ndarray:
        data = files[i].read_bytes()
        if rel[i] in sums and hashlib.sha256(data).hexdigest() != sums[rel[i]]:
            raise ValueError(f"SHA-256 differs from {root / 'SHA256SUMS'}")
        if len(data) % 5:
            raise ValueError(f"size {len(data)} is not a multiple of the 5-byte event record")
        return read_mnist_file(files[i], dtype=NMNIST_DTYPE)

    labels = np.array([int(f.parent.name) for f in files], np.int32)
    return Source("nmnist-small", "train", (34, 34, 2), rel, labels, reader, root, root.parent)


def _no_download_class(base, name: str, data_dir: Path, expected: Path, download: bool,
                       exists: Callable[[object], bool]):
    """A subclass of a tonic dataset (same class name, so the same folder) whose existence check
    accepts extracted files without the archive and whose download raises unless allowed."""

    def check(self) -> bool:
        return exists(self)

    def fetch(self) -> None:
        if not download:
            raise missing_error(name, expected, data_dir)
        base.download(self)

    return type(base.__name__, (base,), {"_check_exists": check, "download": fetch})


def _has_files(folder: Path, pattern: str) -> bool:
    return folder.is_dir() and next(folder.glob(pattern), None) is not None


def _split_name(train: bool) -> str:
    return "train" if train else "test"


def nmnist_source(data_dir=None, *, train: bool = True, download: bool = False,
                  first_saccade_only: bool = False) -> Source:
    """The full N-MNIST split through ``tonic.datasets.NMNIST``."""
    import tonic

    data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    folder = data_dir / "NMNIST" / ("Train" if train else "Test")
    cls = _no_download_class(tonic.datasets.NMNIST, "nmnist", data_dir,
                             folder / "<label>" / "<id>.bin", download,
                             lambda self: _has_files(folder, "[0-9]/*.bin"))
    ds = cls(str(data_dir), train=train, first_saccade_only=first_saccade_only)
    rel = [Path(p).relative_to(folder).as_posix() for p in ds.data]
    return Source("nmnist", _split_name(train), (34, 34, 2), rel, np.asarray(ds.targets, np.int32),
                  lambda i: ds[i][0], folder, data_dir)


def shd_source(data_dir=None, *, train: bool = True, download: bool = False) -> Source:
    """A split of the Spiking Heidelberg Digits through ``tonic.datasets.SHD`` (HDF5)."""
    import h5py
    import tonic

    data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    path = data_dir / "SHD" / f"shd_{_split_name(train)}.h5"
    cls = _no_download_class(tonic.datasets.SHD, "shd", data_dir, path, download,
                             lambda self: path.is_file())
    try:
        ds = cls(str(data_dir), train=train)
        with h5py.File(path, "r") as fh:
            labels = np.asarray(fh["labels"][()], np.int32)
            n_units = len(fh["spikes/units"])
            n_times = len(fh["spikes/times"])
    except FileNotFoundError:
        raise
    except Exception as err:
        raise corrupt_error("shd", path, err, data_dir) from err
    if not n_units == n_times == len(labels):
        raise corrupt_error("shd", path, ValueError(
            f"spikes/times ({n_times}), spikes/units ({n_units}) and labels ({len(labels)}) "
            "differ in length"), data_dir)
    ids = [str(i) for i in range(len(labels))]
    return Source("shd", _split_name(train), (700, 1, 1), ids, labels, lambda i: ds[i][0],
                  path, data_dir)


def dvsgesture_source(data_dir=None, *, train: bool = True, download: bool = False) -> Source:
    """A split of IBM DVS Gesture (tonic's preprocessed ``.npy`` form) through
    ``tonic.datasets.DVSGesture``."""
    import tonic

    data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    folder = data_dir / "DVSGesture" / ("ibmGestureTrain" if train else "ibmGestureTest")
    cls = _no_download_class(tonic.datasets.DVSGesture, "dvsgesture", data_dir,
                             folder / "user<NN>_<lighting>" / "<label>.npy", download,
                             lambda self: _has_files(folder, "*/*.npy"))
    try:
        ds = cls(str(data_dir), train=train)
    except FileNotFoundError:
        raise
    except Exception as err:  # a folder name tonic cannot parse
        raise corrupt_error("dvsgesture", folder, err, data_dir) from err
    order = np.argsort(ds.data)  # os.walk order is file-system dependent
    paths = [ds.data[i] for i in order]
    labels = np.asarray([ds.targets[i] for i in order], np.int32)
    rel = [Path(p).relative_to(folder).as_posix() for p in paths]

    def reader(i: int) -> np.ndarray:
        events = ds[int(order[i])][0]
        if events.ndim != 1:
            raise ValueError("expected an [n_events, 4] array of (x, y, p, t)")
        return events

    return Source("dvsgesture", _split_name(train), (128, 128, 2), rel, labels, reader,
                  folder, data_dir)
