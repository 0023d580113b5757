"""N-MNIST: the embedded subset, the full-dataset path through tonic, and the loaders."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from snnlib.data import DATASETS, load_binned, load_dataset, make_tf_dataset, sources
from snnlib.data.events import bin_events, binned_to_dense, binned_to_sparse, flatten_events
from snnlib.data.neuromorphic import EventTransform, read_events, stratified_split
from snnlib.spikes import sparse_to_dense_np

EMBEDDED = sources.embedded_nmnist_dir()


def test_embedded_subset_is_complete():
    files = sorted(EMBEDDED.glob("Train/*/*.bin"))
    assert len(files) == 1000
    assert (EMBEDDED / "SHA256SUMS").is_file() and (EMBEDDED / "PROVENANCE.md").is_file()
    labels = np.bincount([int(f.parent.name) for f in files])
    np.testing.assert_array_equal(labels, [97, 116, 99, 93, 105, 92, 94, 117, 87, 100])


@pytest.mark.parametrize("index", [0, 500, 999])
def test_embedded_files_decode_to_plausible_events(index):
    events, label, sensor = read_events("nmnist-small", index)
    assert sensor == (34, 34, 2) and 0 <= label <= 9
    assert events["x"].min() >= 0 and events["x"].max() <= 33
    assert events["y"].min() >= 0 and events["y"].max() <= 33
    assert set(np.unique(events["p"])) <= {0, 1}
    assert np.all(np.diff(events["t"]) >= 0)
    assert 250_000 < events["t"].max() - events["t"].min() < 350_000  # three saccades, ~300 ms
    assert len(events) > 500


def test_transform_denoises_and_downsamples_like_tonic():
    import tonic

    events, _, _ = read_events("nmnist-small", 3)
    ours = EventTransform((34, 34, 2), 24, 10_000.0)(events)
    theirs = tonic.transforms.Compose([tonic.transforms.Denoise(filter_time=10_000),
                                       tonic.transforms.Downsample(spatial_factor=24 / 34)])(events)
    np.testing.assert_array_equal(ours, theirs)
    assert 0 < len(ours) < len(events)
    assert ours["x"].max() <= 23 and ours["y"].max() <= 23
    assert EventTransform((34, 34, 2), 34).output_size == (34, 34, 2)
    with pytest.raises(ValueError, match="size"):
        EventTransform((34, 34, 2), 40)


@pytest.mark.parametrize("size", [24, 34])
def test_dense_and_sparse_binning_of_a_recording_agree(size):
    events, _, sensor = read_events("nmnist-small", 7, transform=True, size=size)
    n_in = int(np.prod(sensor))
    ids, counts = bin_events(events["t"], flatten_events(events, sensor), n_steps=300, dt=1000)
    dense = binned_to_dense(ids, counts, n_in)
    spikes, dropped = binned_to_sparse(ids, counts, capacity=int(counts.max()))
    assert dropped == 0
    np.testing.assert_array_equal(sparse_to_dense_np(spikes, n_in), dense)
    assert dense[0].any()  # bin 0 starts at the first event: no offset
    small, dropped_small = binned_to_sparse(ids, counts, capacity=8, seed=0)
    assert dropped_small == np.maximum(counts - 8, 0).sum() > 0
    assert np.all(sparse_to_dense_np(small, n_in) <= dense)


def test_loader_shapes_split_and_registry():
    assert {"nmnist-small", "nmnist", "shd", "dvsgesture", "randman", "random"} <= set(DATASETS)
    ds = load_dataset("nmnist-small", limit=18, n_steps=50, progress=False)
    assert ds.x_train.shape == (18, 50, 1152) and ds.x_test.shape == (2, 50, 1152)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int32
    assert set(np.unique(ds.x_train)) <= {0, 1} and ds.n_classes == 10
    assert ds.info["sensor_size"] == [24, 24, 2] and ds.info["limit"] == 18


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat(np.arange(10), [97, 116, 99, 93, 105, 92, 94, 117, 87, 100])
    train, test = stratified_split(labels, 100, np.random.default_rng(0))
    assert len(train) == 900 and len(test) == 100 and not set(train) & set(test)
    per_class = np.bincount(labels[test], minlength=10)
    assert np.all(np.abs(per_class - np.bincount(labels) / 10) < 1)


def test_same_seed_same_batches():
    def batches(seed):
        ds = load_dataset("nmnist-small", limit=9, n_steps=20, seed=seed, progress=False)
        pipe = make_tf_dataset(ds.x_train, ds.y_train, 4, shuffle=True, seed=seed)
        return [(x.numpy(), y.numpy()) for x, y in pipe]

    first, again, other = batches(1), batches(1), batches(2)
    for (xa, ya), (xb, yb) in zip(first, again):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert any(not np.array_equal(ya, yb) for (_, ya), (_, yb) in zip(first, other))


def test_checksum_mismatch_is_a_clear_error(tmp_path):
    root = tmp_path / "nmnist_small"
    shutil.copytree(EMBEDDED / "Train" / "4", root / "Train" / "4")
    shutil.copy(EMBEDDED / "SHA256SUMS", root / "SHA256SUMS")
    victim = sorted((root / "Train" / "4").glob("*.bin"))[0]
    victim.write_bytes(victim.read_bytes()[:-5] + b"\x00" * 5)
    with pytest.raises(ValueError, match=r"'nmnist-small'.*corrupt.*SHA-256"):
        load_binned("nmnist-small", root=root, limit=len(list(root.rglob("*.bin"))) - 1,
                    limit_test=1, progress=False)


def test_missing_embedded_subset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'nmnist-small' not found: expected .*Train"):
        load_binned("nmnist-small", root=tmp_path / "nowhere")


def _fake_nmnist_tree(data_dir: Path, per_class: int = 2):
    """The full N-MNIST layout (Train/ and Test/) filled with a few embedded recordings."""
    for split in ("Train", "Test"):
        for label in range(10):
            target = data_dir / "NMNIST" / split / str(label)
            target.mkdir(parents=True)
            files = sorted((EMBEDDED / "Train" / str(label)).glob("*.bin"))
            offset = 0 if split == "Train" else per_class
            for f in files[offset:offset + per_class]:
                shutil.copy(f, target / f.name)


def test_full_nmnist_through_tonic_without_download(tmp_path):
    _fake_nmnist_tree(tmp_path / "data")
    ds = load_dataset("nmnist", data_dir=tmp_path / "data", limit=10, limit_test=10,
                      n_steps=30, progress=False)
    assert ds.x_train.shape == (10, 30, 1152) and ds.x_test.shape == (10, 30, 1152)
    np.testing.assert_array_equal(np.sort(ds.y_train), np.arange(10))
    full = load_dataset("nmnist", data_dir=tmp_path / "data", size=34, n_steps=30, progress=False)
    assert full.x_train.shape == (20, 30, 2312) and full.x_test.shape == (20, 30, 2312)


def test_missing_full_nmnist_names_path_and_remedy(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("nmnist", data_dir=tmp_path / "empty", progress=False)
    text = str(err.value)
    assert "'nmnist' not found" in text and str(tmp_path / "empty" / "NMNIST" / "Train") in text
    assert "mendeley" in text and "download=True" in text


def test_limits_validate_and_limit_test_alone_sets_the_test_size():
    with pytest.raises(ValueError, match="limit"):
        load_binned("nmnist-small", limit=0)
    train, test, _ = load_binned("nmnist-small", limit=12, limit_test=3, n_steps=5, progress=False)
    assert (len(train), len(test)) == (12, 3)
    with pytest.raises(ValueError, match="at most 1000"):
        load_binned("nmnist-small", limit=5, limit_test=996, n_steps=5, progress=False)
    with pytest.raises(ValueError, match="n_test"):
        load_binned("nmnist-small", n_test=0)


def test_replica_has_the_real_layout_and_reads_through_tonic(tmp_path):
    from snnlib.data.replica import write_nmnist_replica

    root = write_nmnist_replica(tmp_path / "data", n_train=23, n_test=7)
    train = sorted((root / "Train").glob("*/*.bin"))
    test = sorted((root / "Test").glob("*/*.bin"))
    assert len(train) == 23 and len(test) == 7
    sources_sorted = sorted(EMBEDDED.glob("Train/*/*.bin"))
    first = root / "Train" / sources_sorted[0].parent.name / "00000.bin"
    assert first.read_bytes() == sources_sorted[0].read_bytes()
    assert first.stat().st_ino == sources_sorted[0].stat().st_ino  # a hard link, no extra disk
    assert write_nmnist_replica(tmp_path / "data", n_train=23, n_test=7) == root  # idempotent
    ds = load_dataset("nmnist", data_dir=tmp_path / "data", n_steps=30, progress=False,
                      index_lists=True)
    assert len(ds.x_train) == 23 and len(ds.x_test) == 7
    assert ds.x_train.n_in == 1152 and ds.x_train.n_steps == 30
    with pytest.raises(ValueError, match="n_train must be >= 1"):
        write_nmnist_replica(tmp_path / "other", n_train=0)
