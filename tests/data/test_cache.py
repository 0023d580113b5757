"""The on-disk cache: hits, keys, atomic writes, corrupt entries (snnlib.data.cache)."""

import numpy as np
import pytest

from snnlib.data import cache, load_binned, load_dataset
from snnlib.data.sources import Source


@pytest.fixture
def read_counter(monkeypatch):
    """Counts recordings read from disk (each cache build reads every sample once)."""
    calls = []
    original = Source.read

    def counting(self, i):
        calls.append(i)
        return original(self, i)

    monkeypatch.setattr(Source, "read", counting)
    return calls


def test_second_load_is_served_from_cache(tmp_path, read_counter):
    kw = dict(limit=9, n_steps=40, cache_dir=tmp_path / "c", progress=False)
    first = load_dataset("nmnist-small", **kw)
    assert len(read_counter) == 10 and first.info["cache"]["hit"] is False
    second = load_dataset("nmnist-small", **kw)
    assert len(read_counter) == 10 and second.info["cache"]["hit"] is True
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)
    assert [str(p) for p in (tmp_path / "c").iterdir()] == [first.info["cache"]["path"]]


def test_default_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNLIB_CACHE_DIR", str(tmp_path / "env"))
    assert cache.default_cache_dir() == tmp_path / "env"
    ds = load_dataset("nmnist-small", limit=9, n_steps=10, progress=False)
    assert ds.info["cache"]["path"].startswith(str(tmp_path / "env"))


def test_key_depends_on_binning_and_transform(tmp_path, read_counter):
    base = dict(limit=9, n_steps=20, cache_dir=tmp_path, progress=False)
    paths = {load_binned("nmnist-small", **base)[2]["cache"]["path"],
             load_binned("nmnist-small", **dict(base, n_steps=21))[2]["cache"]["path"],
             load_binned("nmnist-small", **dict(base, dt=2000))[2]["cache"]["path"],
             load_binned("nmnist-small", **dict(base, size=34))[2]["cache"]["path"],
             load_binned("nmnist-small", **dict(base, denoise_us=None))[2]["cache"]["path"]}
    assert len(paths) == 5 and len(read_counter) == 50


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_cache_entry_is_rebuilt(tmp_path, read_counter, damage):
    kw = dict(limit=9, n_steps=30, cache_dir=tmp_path, progress=False)
    train, _, info = load_binned("nmnist-small", **kw)
    path = tmp_path / info["cache"]["path"].split("/")[-1]
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00" * 64,
                      "empty": b""}[damage])
    again, _, info2 = load_binned("nmnist-small", **kw)
    assert info2["cache"]["hit"] is False and len(read_counter) == 20
    np.testing.assert_array_equal(again.dense(), train.dense())
    assert load_binned("nmnist-small", **kw)[2]["cache"]["hit"] is True


def test_checksum_mismatch_is_detected(tmp_path):
    path = tmp_path / "x.npz"
    cache.save_arrays(path, {"a": np.arange(5)}, {"params": {"k": 1}})
    arrays, header = cache.load_arrays(path, expect={"params": {"k": 1}})
    np.testing.assert_array_equal(arrays["a"], np.arange(5))
    with pytest.raises(ValueError, match="another 'params'"):
        cache.load_arrays(path, expect={"params": {"k": 2}})
    with np.load(path) as data:
        stored = dict(data)
    np.savez(path, **dict(stored, a=np.arange(1, 6)))  # same header, different payload
    with pytest.raises(ValueError, match="checksum"):
        cache.load_arrays(path)


def test_interrupted_write_leaves_no_entry(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", explode)
    with pytest.raises(KeyboardInterrupt):
        cache.save_arrays(tmp_path / "y.npz", {"a": np.arange(3)}, {})
    assert list(tmp_path.iterdir()) == []


def test_use_cache_false_writes_nothing(tmp_path):
    arrays, info = cache.cached("t", {"p": 1}, lambda: {"a": np.ones(2)}, cache_dir=tmp_path,
                                use_cache=False)
    assert info["path"] is None and list(tmp_path.iterdir()) == []


def test_progress_bar_while_building(tmp_path, capsys):
    load_binned("nmnist-small", limit=9, n_steps=10, cache_dir=tmp_path, progress=True)
    assert "binning nmnist-small/train" in capsys.readouterr().err
    load_binned("nmnist-small", limit=9, n_steps=11, cache_dir=tmp_path, progress=False)
    assert "binning" not in capsys.readouterr().err
