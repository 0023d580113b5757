"""Dataset figures return matplotlib Figures and count events correctly."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from snnlib.data import figures, load_binned  # noqa: E402
from snnlib.data.neuromorphic import read_events  # noqa: E402


def test_frame_counts_bins_events_by_window():
    ev = np.array([(0, 0, 0, 1), (1, 2, 999, 0), (1, 2, 1000, 0), (3, 1, 5000, 1)],
                  dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
    counts = figures.frame_counts(ev, (4, 3, 2), frame_us=1000, n_frames=2)
    assert counts.shape == (2, 2, 3, 4) and counts.sum() == 3  # the event at 5 ms is outside
    assert counts[0, 1, 0, 0] == 1 and counts[0, 0, 2, 1] == 1 and counts[1, 0, 2, 1] == 1


def test_figures_render():
    import matplotlib.pyplot as plt

    events, label, sensor = read_events("nmnist-small", 120)
    train, _, _ = load_binned("nmnist-small", limit=9, n_steps=50, progress=False)
    for fig in (figures.event_scatter(events), figures.event_frames(events, sensor, n_frames=3),
                figures.events_per_bin(train, capacities={"S=32": 32})):
        assert isinstance(fig, matplotlib.figure.Figure)
        plt.close(fig)
