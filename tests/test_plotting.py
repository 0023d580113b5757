import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from snnlib import plotting  # noqa: E402
from snnlib.functional import simulate_neuron  # noqa: E402


EXPLORER = dict(alpha=0.9, gain=10.0, th1=1.0, th2=0.9, n_steps=40)


def _membrane_and_thresholds(fig):
    """(V [T], y values of the horizontal threshold lines) drawn in the figure's first panel."""
    ax = fig.axes[0]
    v = np.asarray(ax.lines[0].get_ydata())
    levels = sorted(float(line.get_ydata()[0]) for line in ax.lines[1:]
                    if line.get_linestyle() in ("--", ":"))
    return v, levels


def _expected_membrane(alpha, gain, rate, *, n_steps=40, seed=0):
    drive = (np.random.default_rng(seed).random(n_steps) < rate).astype(float) * 0.4
    return simulate_neuron(drive, alpha=alpha, gain=gain, th1=1.0)


def test_explorer_is_a_widget_interactively_and_a_figure_headless():
    import ipywidgets
    from matplotlib.figure import Figure

    assert isinstance(plotting.lif_explorer(interactive=True, **EXPLORER), ipywidgets.interactive)
    assert isinstance(plotting.lif_explorer(interactive=False, **EXPLORER), Figure)
    plt.close("all")


@pytest.mark.parametrize("alpha, gain, th2, rate", [(0.9, 10.0, 0.9, 0.3), (0.7, 25.0, 0.5, 0.6)])
def test_headless_explorer_draws_the_parameters_it_is_given(alpha, gain, th2, rate):
    fig = plotting.lif_explorer(**{**EXPLORER, "alpha": alpha, "gain": gain, "th2": th2},
                                rate=rate, interactive=False)
    v, levels = _membrane_and_thresholds(fig)
    np.testing.assert_allclose(v, _expected_membrane(alpha, gain, rate))
    assert levels == sorted([1.0, th2])
    assert f"alpha={alpha:g}, gain={gain:g}" in fig.axes[0].get_title()
    plt.close(fig)


def test_headless_explorer_without_th2_draws_only_the_spike_threshold():
    _, levels = _membrane_and_thresholds(plotting.lif_explorer(**{**EXPLORER, "th2": None}))
    assert levels == [1.0]
    plt.close("all")


def test_moving_a_slider_redraws_the_figure_with_its_value():
    panel = plotting.lif_explorer(interactive=True, **{**EXPLORER, "alpha": 0.8, "gain": 12.0})
    sliders = {w.description: w for w in panel.children if hasattr(w, "value")}
    assert (sliders["alpha"].value, sliders["gain"].value, sliders["input rate"].value) == (0.8, 12.0, 0.3)
    np.testing.assert_allclose(_membrane_and_thresholds(panel.result)[0], _expected_membrane(0.8, 12.0, 0.3))
    sliders["alpha"].value = 0.6
    sliders["input rate"].value = 0.5
    v, levels = _membrane_and_thresholds(panel.result)
    np.testing.assert_allclose(v, _expected_membrane(0.6, 12.0, 0.5))
    assert levels == [0.9, 1.0]
    plt.close("all")


def test_sliders_reach_the_values_they_start_from():
    panel = plotting.lif_explorer(interactive=True, **{**EXPLORER, "alpha": 0.995, "gain": 40.0})
    sliders = {w.description: w for w in panel.children if hasattr(w, "value")}
    assert sliders["alpha"].value == 0.995 and sliders["gain"].value == 40.0
    plt.close("all")


@pytest.mark.parametrize("bad, match", [({"alpha": 1.0}, "alpha"), ({"rate": 1.5}, "rate")])
@pytest.mark.parametrize("interactive", [False, True])
def test_explorer_rejects_parameters_out_of_range(bad, match, interactive):
    with pytest.raises(ValueError, match=match):
        plotting.lif_explorer(**{**EXPLORER, **bad}, interactive=interactive)


def test_simulate_neuron_matches_the_closed_form():
    v = simulate_neuron(np.full(10, 0.05), alpha=0.9, gain=10.0, th1=1.0)
    np.testing.assert_allclose(v, 0.5 * (1 - 0.9 ** np.arange(1, 11)), rtol=1e-12)
    with pytest.raises(ValueError, match="current"):
        simulate_neuron(np.zeros((2, 3)), alpha=0.9, gain=10.0)


def test_cross_validation_figure_draws_each_recipes_folds_and_mean_curve():
    def summary(finals, curve_offset):
        folds = [{"test_accuracy": a, "test_curve": [a - curve_offset, a]} for a in finals]
        mean = float(np.mean(finals))
        return {"folds": folds, "mean": mean, "sd": float(np.std(finals, ddof=1))}

    fig = plotting.cross_validation_figure({"a": summary([0.8, 0.9, 0.85], 0.1),
                                            "b": summary([0.95, 0.97, 0.96], 0.05)})
    left, right = fig.axes
    dots = [line for line in left.lines if line.get_marker() == "o"]
    assert [list(d.get_ydata()) for d in dots] == [[0.8, 0.9, 0.85], [0.95, 0.97, 0.96]]
    means = [list(line.get_ydata()) for line in right.lines]
    np.testing.assert_allclose(means, [[0.75, 0.85], [0.91, 0.96]])
    assert "a: 85.0%" in right.get_legend().get_texts()[0].get_text()
    plt.close(fig)
