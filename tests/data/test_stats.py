"""Input-capacity statistics (snnlib.data.stats)."""

import numpy as np
import pytest

from snnlib.data import stats


def test_capacity_for_keeps_requested_fraction():
    counts = np.array([[0, 1, 2, 10]])  # 13 events
    assert stats.capacity_for(counts, 1.0) == 10
    # S = 2 keeps 0 + 1 + 2 + 2 = 5 of 13; S = 6 keeps 9/13 = 0.69; S = 7 keeps 10/13
    assert stats.capacity_for(counts, 10 / 13) == 7
    assert stats.kept_fraction(counts, 2) == pytest.approx(5 / 13)


def test_capacity_validates_keep():
    with pytest.raises(ValueError, match="keep"):
        stats.capacity_for(np.ones((1, 2), int), 0.0)


def test_events_per_bin_and_activity_from_dense():
    x = np.zeros((2, 3, 4), np.uint8)
    x[0, 1, :2] = 1
    x[1, :, 0] = 1
    np.testing.assert_array_equal(stats.events_per_bin(x), [[0, 2, 0], [1, 1, 1]])
    np.testing.assert_allclose(stats.sample_activity(x), [2 / 12, 3 / 12])
    rows = stats.capacity_table(x, keeps=(1.0,))
    assert rows == [{"keep": 1.0, "capacity": 2, "bins_over": 0.0}]
