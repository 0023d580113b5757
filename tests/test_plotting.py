import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from snnlib import plotting  # noqa: E402
from snnlib.functional import simulate_neuron  # noqa: E402


def test_explorer_is_a_widget_interactively_and_a_figure_headless():
    import ipywidgets
    from matplotlib.figure import Figure

    kwargs = dict(alpha=0.9, gain=10.0, th1=1.0, th2=0.9, n_steps=40)
    assert isinstance(plotting.lif_explorer(interactive=True, **kwargs), ipywidgets.interactive)
    assert isinstance(plotting.lif_explorer(interactive=False, **kwargs), Figure)


def test_simulate_neuron_matches_the_closed_form():
    v = simulate_neuron(np.full(10, 0.05), alpha=0.9, gain=10.0, th1=1.0)
    np.testing.assert_allclose(v, 0.5 * (1 - 0.9 ** np.arange(1, 11)), rtol=1e-12)
    with pytest.raises(ValueError, match="current"):
        simulate_neuron(np.zeros((2, 3)), alpha=0.9, gain=10.0)
