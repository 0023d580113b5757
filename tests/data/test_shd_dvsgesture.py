"""SHD and DVS Gesture on small files written here in the on-disk formats tonic 1.7 reads."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from snnlib.data import load_binned, load_dataset


def write_shd(path: Path, samples, labels):
    """An SHD HDF5 file: spikes/{times (s), units} as variable-length arrays, labels, extra/."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        n = len(samples)
        times = fh.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        units = fh.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(samples):
            times[i] = np.asarray(t, np.float32)
            units[i] = np.asarray(u, np.uint16)
        fh.create_dataset("labels", data=np.asarray(labels, np.uint16))
        fh.create_dataset("extra/speaker", data=np.zeros(len(labels), np.uint16))
        fh.create_dataset("extra/keys", data=np.array([f"digit-{k}".encode() for k in range(20)]))


def shd_samples(n, rng):
    out = []
    for _ in range(n):
        t = np.sort(rng.uniform(0.0, 0.05, 200))
        t[0] = 0.0
        out.append((t, rng.integers(0, 700, 200)))
    return out


@pytest.fixture
def shd_dir(tmp_path, rng):
    root = tmp_path / "shd_data"
    write_shd(root / "SHD" / "shd_train.h5", shd_samples(20, rng), np.arange(20) % 20)
    write_shd(root / "SHD" / "shd_test.h5", shd_samples(6, rng), np.arange(6) * 3)
    return root


def test_shd_loads_with_unit_ids_and_ms_bins(shd_dir):
    ds = load_dataset("shd", data_dir=shd_dir, n_steps=60, progress=False)
    assert ds.x_train.shape == (20, 60, 700) and ds.x_test.shape == (6, 60, 700)
    assert ds.n_classes == 20 and ds.y_train.dtype == np.int32
    np.testing.assert_array_equal(np.sort(ds.y_test), np.arange(6) * 3)


def test_shd_events_land_in_the_expected_bins(tmp_path):
    root = tmp_path / "d"
    samples = [([0.0, 0.0015, 0.0034, 0.0034, 0.0036], [5, 699, 7, 7, 5])]
    write_shd(root / "SHD" / "shd_train.h5", samples, [4])
    write_shd(root / "SHD" / "shd_test.h5", samples, [4])
    train, _, info = load_binned("shd", data_dir=root, n_steps=5, progress=False)
    expect = np.zeros((5, 700), np.uint8)
    expect[0, 5] = expect[1, 699] = expect[3, 7] = expect[3, 5] = 1
    np.testing.assert_array_equal(train.dense()[0], expect)
    assert info["sensor_size"] == [700, 1, 1] and train.labels[0] == 4


def test_shd_missing_file_names_path_and_remedy(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("shd", data_dir=tmp_path / "none", progress=False)
    assert "'shd' not found" in str(err.value)
    assert str(tmp_path / "none" / "SHD" / "shd_train.h5") in str(err.value)
    assert "zenkelab.org" in str(err.value)


def test_shd_corrupt_file_is_a_clear_error(shd_dir):
    (shd_dir / "SHD" / "shd_train.h5").write_bytes(b"this is not an HDF5 file")
    with pytest.raises(ValueError, match=r"'shd': file .*shd_train.h5 is corrupt"):
        load_dataset("shd", data_dir=shd_dir, progress=False)


def test_shd_file_without_spikes_is_a_clear_error(tmp_path):
    path = tmp_path / "d" / "SHD" / "shd_train.h5"
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w") as fh:
        fh.create_dataset("labels", data=np.zeros(2, np.uint16))
        fh.create_dataset("extra/speaker", data=np.zeros(2, np.uint16))
        fh.create_dataset("extra/keys", data=np.array([b"a"]))
    with pytest.raises(ValueError, match="'shd'.*corrupt"):
        load_dataset("shd", data_dir=tmp_path / "d", progress=False)


def write_gesture(folder: Path, label: int, rng, n=3000):
    """A tonic-preprocessed DVS Gesture recording: <label>.npy = [n, 4] of (x, y, p, t in ms)."""
    folder.mkdir(parents=True, exist_ok=True)
    # a blob moving over the sensor: neighbouring pixels fire close in time (survives Denoise)
    t = np.sort(rng.uniform(0, 200, n))
    x = np.clip((20 + 0.4 * t + rng.integers(-2, 3, n)).round(), 0, 127)
    y = np.clip(64 + rng.integers(-3, 4, n), 0, 127)
    p = rng.integers(0, 2, n)
    np.save(folder / f"{label}.npy", np.stack([x, y, p, t], axis=1).astype(np.float64))


@pytest.fixture
def dvs_dir(tmp_path, rng):
    root = tmp_path / "dvs_data"
    for split, users in (("ibmGestureTrain", (1, 2)), ("ibmGestureTest", (3,))):
        for user in users:
            for label in range(11):
                folder = root / "DVSGesture" / split / f"user{user:02d}_fluorescent"
                write_gesture(folder, label, rng)
    return root


def test_dvsgesture_loads_downsampled_to_48(dvs_dir):
    import tonic

    train, test, info = load_binned("dvsgesture", data_dir=dvs_dir, n_steps=100, progress=False)
    assert len(train) == 22 and len(test) == 11 and train.n_in == 48 * 48 * 2
    assert info["sensor_size"] == [48, 48, 2]
    np.testing.assert_array_equal(np.sort(test.labels), np.arange(11))
    # one sample recomputed by hand from the file: tonic transforms, flatten, 1 ms bins
    name = str(test.sample_ids[0])
    raw = np.load(dvs_dir / "DVSGesture" / "ibmGestureTest" / name)
    ev = np.lib.recfunctions.unstructured_to_structured(
        raw * [1, 1, 1, 1000], tonic.datasets.DVSGesture.dtype)
    ev = tonic.transforms.Downsample(spatial_factor=0.375)(tonic.transforms.Denoise(10_000)(ev))
    ids = ev["x"].astype(int) + 48 * ev["y"].astype(int) + 48 * 48 * ev["p"].astype(int)
    bins = (ev["t"] - ev["t"].min()) // 1000
    expect = np.zeros((100, 4608), np.uint8)
    expect[bins[bins < 100], ids[bins < 100]] = 1
    np.testing.assert_array_equal(test.subset([0]).dense()[0], expect)
    ds = load_dataset("dvsgesture", data_dir=dvs_dir, n_steps=100, limit=11, progress=False)
    assert ds.x_train.shape == (11, 100, 4608) and ds.n_classes == 11
    np.testing.assert_array_equal(np.sort(ds.y_train), np.arange(11))


def test_dvsgesture_missing_names_path_and_remedy(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("dvsgesture", data_dir=tmp_path / "none", progress=False)
    assert "'dvsgesture' not found" in str(err.value)
    assert str(tmp_path / "none" / "DVSGesture" / "ibmGestureTrain") in str(err.value)
    assert "figshare" in str(err.value)


def test_dvsgesture_corrupt_file_is_a_clear_error(dvs_dir):
    victim = dvs_dir / "DVSGesture" / "ibmGestureTrain" / "user01_fluorescent" / "3.npy"
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"'dvsgesture': file .*3.npy is corrupt"):
        load_dataset("dvsgesture", data_dir=dvs_dir, n_steps=10, progress=False)
