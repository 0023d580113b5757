"""Per-epoch augmentation with tonic's transforms on binned recordings, and the feeds that
build each batch's inputs (rasters or index lists) from the stored data."""

import numpy as np
import pytest

from snnlib.data import load_dataset
from snnlib.data.augment import Augmentation, augment_sample, binned_to_events
from snnlib.data.events import BinnedSet, bin_events, binned_to_dense, flatten_events
from snnlib.data.feed import ArrayFeed, BinnedFeed, make_feeds
from snnlib.data.neuromorphic import stratified_folds
from snnlib.spikes import SparseSpikes, sparse_to_dense_np

SENSOR = (8, 6, 2)


def _sample(rng, n_steps=20, n=60):
    t = rng.uniform(0, n_steps * 1000.0, n)
    x, y, p = rng.integers(2, 6, n), rng.integers(2, 4, n), rng.integers(0, 2, n)
    ids = x + SENSOR[0] * y + SENSOR[0] * SENSOR[1] * p
    return bin_events(t, ids, n_steps=n_steps, dt=1000.0, t0=0.0)


def _binned(rng, n_samples=6, n_steps=20):
    pieces = [_sample(rng, n_steps) for _ in range(n_samples)]
    return BinnedSet(np.concatenate([p[0] for p in pieces]).astype(np.uint16),
                     np.stack([p[1] for p in pieces]), np.arange(n_samples, dtype=np.int32) % 2,
                     np.array([p[1].sum() for p in pieces]), int(np.prod(SENSOR)), 1000.0,
                     np.array([f"s{i}" for i in range(n_samples)]))


def test_events_of_a_binned_sample_bin_back_to_it():
    ids, counts = _sample(np.random.default_rng(0))
    events = binned_to_events(ids, counts, SENSOR, 1000.0)
    assert events["x"].max() < SENSOR[0] and events["y"].max() < SENSOR[1]
    again = bin_events(events["t"], flatten_events(events, SENSOR), n_steps=len(counts),
                       dt=1000.0, t0=0.0)
    np.testing.assert_array_equal(again[0], ids)
    np.testing.assert_array_equal(again[1], counts)


def test_shift_translates_the_whole_frame_by_at_most_s_in_both_directions():
    ids, counts = _sample(np.random.default_rng(1))
    base = binned_to_dense(ids, counts, int(np.prod(SENSOR))).reshape(-1, 2, 6, 8)
    seen = set()
    for k in range(60):
        a_ids, a_counts = augment_sample(ids, counts, SENSOR, 1000.0, Augmentation(shift=2),
                                         [0, 0, k])
        frame = binned_to_dense(a_ids, a_counts, int(np.prod(SENSOR))).reshape(-1, 2, 6, 8)
        matches = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)
                   if np.array_equal(np.roll(base, (dy, dx), axis=(2, 3)), frame)]
        assert len(matches) == 1, k  # the events (x 2..5, y 2..3) stay on the sensor
        seen.add(matches[0])
    # tonic's RandomCrop draws offsets 0 .. W_pad - W - 1: the padding makes that -2 .. +2.
    assert {dx for dx, _ in seen} == {-2, -1, 0, 1, 2}
    assert {dy for _, dy in seen} == {-2, -1, 0, 1, 2}


def test_augmentation_is_a_pure_function_of_its_seed_and_leaves_numpy_state_alone():
    ids, counts = _sample(np.random.default_rng(2))
    aug = Augmentation(shift=1, spatial_jitter=0.5, time_jitter_us=300.0, drop_event=0.2)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = augment_sample(ids, counts, SENSOR, 1000.0, aug, [4, 1, 7])
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    second = augment_sample(ids, counts, SENSOR, 1000.0, aug, [4, 1, 7])
    other = augment_sample(ids, counts, SENSOR, 1000.0, aug, [4, 2, 7])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1]) or not np.array_equal(first[0], other[0])
    assert first[1].sum() < counts.sum()  # drop_event removed events


@pytest.mark.parametrize("bad, match", [
    (dict(shift=-1), "shift must be an integer >= 0"), (dict(shift=1.5), "shift"),
    (dict(drop_event=1.0), r"drop_event must be in \[0, 1\)"),
    (dict(spatial_jitter=float("nan")), "spatial_jitter must be a finite number"),
    (dict(time_jitter_us=-1.0), "time_jitter_us"),
])
def test_bad_augmentation_values_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        Augmentation(**bad)


def test_augmentation_options_are_checked_by_name():
    assert Augmentation.from_value({}) is None and Augmentation.from_value({"shift": 0}) is None
    assert Augmentation.from_value({"shift": 2}) == Augmentation(shift=2)
    with pytest.raises(ValueError, match=r"unknown augmentation options \['shfit'\]"):
        Augmentation.from_value({"shfit": 2})


def test_binned_feed_builds_the_same_inputs_as_the_rasters():
    binned = _binned(np.random.default_rng(3))
    feed, raster = BinnedFeed(binned, SENSOR), ArrayFeed(binned.dense())
    index = np.array([4, 0, 2])
    np.testing.assert_array_equal(feed.dense(index, 0), raster.dense(index, 0))
    assert feed.max_count() == raster.max_count() == binned.counts.max()
    ids, counts = feed.inputs(index, 0, "sparse", feed.max_count())
    assert ids.shape == (3, binned.n_steps, feed.max_count()) and ids.dtype == np.int32
    dense = sparse_to_dense_np(SparseSpikes(ids, counts), binned.n_in)
    np.testing.assert_array_equal(dense, raster.dense(index, 0))
    with pytest.raises(ValueError, match="form='sparse' needs a capacity"):
        feed.inputs(index, 0, "sparse")
    with pytest.raises(ValueError, match="form must be one of"):
        feed.inputs(index, 0, "raster")


def test_binned_feed_augments_training_epochs_only():
    binned = _binned(np.random.default_rng(4))
    feed = BinnedFeed(binned, SENSOR, {"shift": 2}, seed=1)
    index = np.arange(len(binned))
    plain = BinnedFeed(binned, SENSOR).dense(index, None)
    np.testing.assert_array_equal(feed.dense(index, None), plain)  # evaluation: never
    np.testing.assert_array_equal(feed.dense(index, 3), feed.dense(index, 3))
    assert not np.array_equal(feed.dense(index, 3), feed.dense(index, 4))
    assert not np.array_equal(feed.dense(index, 3), plain)
    with pytest.raises(ValueError, match="augment needs the sensor_size"):
        BinnedFeed(binned, None, {"shift": 1})


def test_rasters_cannot_be_augmented():
    ds = load_dataset("randman", n_classes=2, n_samples_per_class=10, n_steps=10, n_units=8)
    assert not ds.is_binned
    train, _ = make_feeds(ds)
    assert isinstance(train, ArrayFeed)
    with pytest.raises(ValueError, match="augment needs a neuromorphic dataset"):
        make_feeds(ds, augment={"shift": 1})


def test_neuromorphic_loader_keeps_index_lists_without_any_raster():
    ds = load_dataset("nmnist-small", index_lists=True, limit=30, limit_test=10, n_steps=50,
                      progress=False)
    assert ds.is_binned and isinstance(ds.x_train, BinnedSet)
    assert (ds.n_in, ds.n_steps) == (1152, 50)
    dense = load_dataset("nmnist-small", limit=30, limit_test=10, n_steps=50, progress=False)
    assert ds.summary() == dense.summary()
    train, test = make_feeds(ds, augment={"shift": 1})
    np.testing.assert_array_equal(train.dense(np.arange(5), None), dense.x_train[:5])
    assert train.sensor_size == (24, 24, 2)


def test_stratified_folds_partition_the_samples_and_keep_class_shares():
    labels = np.repeat(np.arange(10), [97, 116, 99, 93, 105, 92, 94, 117, 87, 100])
    folds = stratified_folds(labels, 5, np.random.default_rng(0))
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(len(labels)))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for fold in folds:
        share = np.bincount(labels[fold], minlength=10)
        assert np.all(np.abs(share - np.bincount(labels) / 5) <= 1)
    with pytest.raises(ValueError, match="n_folds must be in"):
        stratified_folds(labels, 1, np.random.default_rng(0))


def test_nmnist_small_fold_k_tests_on_fold_k():
    kw = dict(limit=50, n_steps=20, progress=False, index_lists=True, n_folds=5)
    splits = [load_dataset("nmnist-small", fold=k, **kw) for k in range(5)]
    tests = [set(ds.x_test.sample_ids.tolist()) for ds in splits]
    assert sum(map(len, tests)) == 50 and len(set().union(*tests)) == 50
    for ds, test in zip(splits, tests):
        assert not test & set(ds.x_train.sample_ids.tolist()) and len(ds.x_train) == 40
    with pytest.raises(ValueError, match=r"fold must be in \[0, 4\]"):
        load_dataset("nmnist-small", fold=5, **kw)
