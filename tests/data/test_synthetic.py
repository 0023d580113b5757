import numpy as np
import pytest

from snnlib.data import load_dataset, make_tf_dataset, randman, random_spikes


def test_randman_shapes_one_spike_per_unit_and_seeded():
    ds = randman(n_samples_per_class=20, n_units=16, n_steps=30, seed=3)
    assert ds.x_train.shape == (160, 30, 16) and ds.x_test.shape == (40, 30, 16)
    assert np.all(ds.x_train.sum(axis=1) == 1)
    assert sorted(np.unique(np.concatenate([ds.y_train, ds.y_test]))) == list(range(10))
    again = randman(n_samples_per_class=20, n_units=16, n_steps=30, seed=3)
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    assert not np.array_equal(ds.x_train, randman(n_samples_per_class=20, n_units=16, n_steps=30,
                                                  seed=4).x_train)


def test_randman_classes_differ_in_spike_timing():
    ds = randman(n_classes=2, n_samples_per_class=50, n_units=8, n_steps=50, seed=0)
    times = np.argmax(ds.x_train, axis=1)  # [n, units]
    means = [times[ds.y_train == c].mean(axis=0) for c in (0, 1)]
    assert np.abs(means[0] - means[1]).max() > 3


def test_random_spikes_activity():
    ds = random_spikes(n_in=200, n_steps=50, activity=0.05, n_train=40, n_test=8)
    assert abs(ds.x_train.mean() - 0.05) < 0.01


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_units=0), "n_units"), (dict(step_frac=0.0), "step_frac"),
    (dict(test_fraction=1.0), "test_fraction"), (dict(alpha=-1.0), "alpha"),
])
def test_randman_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        randman(**kwargs)


def test_registry_and_pipeline_are_seeded():
    with pytest.raises(ValueError, match="valid choices"):
        load_dataset("cifar")
    ds = load_dataset("random", n_in=10, n_steps=5, n_train=20, n_test=4)
    batches = [[b[1].numpy().tolist() for b in make_tf_dataset(ds.x_train, ds.y_train, 8,
                                                              shuffle=True, seed=1)]
               for _ in range(2)]
    assert batches[0] == batches[1]
    x, _ = next(iter(make_tf_dataset(ds.x_train, ds.y_train, 8, shuffle=False)))
    assert x.dtype.name == "float32" and x.shape == (8, 5, 10)
