"""Figures for the notebooks. Every function returns a matplotlib ``Figure``; nothing is shown
or saved here."""

from __future__ import annotations

import numpy as np

from snnlib.figure import figure as _figure


def membrane_trace(v: np.ndarray, spikes: np.ndarray, *, th1: float, th2: float | None = None,
                   current: np.ndarray | None = None, title: str = "LIF neuron"):
    """Membrane potential ``v [T]`` with spike markers, thresholds and (optionally) the input.

    Args:
        v: float ``[T]`` potentials ``V_t``.
        spikes: 0/1 ``[T]``.
        th1, th2: thresholds drawn as horizontal lines.
        current: optional synaptic input ``I_t [T]`` drawn in a panel below.
    """
    rows = 2 if current is not None else 1
    fig, axes = _figure(1, rows, height=2.6, sharex=True)
    ax = axes[0, 0]
    t = np.arange(len(v))
    ax.plot(t, v, lw=1.2, label="$V_t$")
    ax.axhline(th1, color="C3", ls="--", lw=1, label=r"$\vartheta_1$ (spike)")
    if th2 is not None:
        ax.axhline(th2, color="C2", ls=":", lw=1, label=r"$\vartheta_2$ (gradient)")
    st = np.flatnonzero(np.asarray(spikes) > 0)
    ax.plot(st, np.full(len(st), max(th1, float(np.max(v))) * 1.08), "|", color="k", ms=10,
            label="spikes")
    ax.set_ylabel("membrane potential")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    if current is not None:
        axes[1, 0].plot(t, current, color="C1", lw=1)
        axes[1, 0].set_ylabel("$I_t$")
    axes[-1, 0].set_xlabel("time step $t$")
    fig.tight_layout()
    return fig


def surrogate_shapes(betas=(2.0, 5.0, 10.0, 20.0), *, th1: float = 1.0, th2: float | None = 0.9):
    """The SuperSpike surrogate ``1/(beta|V - th1| + 1)^2`` for several ``beta``, and its th2 mask."""
    from snnlib.functional.surrogate import superspike_derivative

    v = np.linspace(th1 - 1.5, th1 + 1.5, 601)
    fig, axes = _figure(2, 1, width=4.5)
    for beta in betas:
        axes[0, 0].plot(v, superspike_derivative(v, th1=th1, beta=beta).numpy(), label=rf"$\beta$={beta:g}")
    axes[0, 0].set_title(r"surrogate $\partial S/\partial V$")
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].plot(v, (v >= th1).astype(float), color="k", label="$H(V-\\vartheta_1)$ (forward)")
    axes[0, 1].plot(v, superspike_derivative(v, th1=th1, beta=10.0, th2=th2).numpy(), color="C3",
                    label=rf"surrogate, $\beta$=10, $\vartheta_2$={th2}")
    axes[0, 1].set_title("forward step vs. masked surrogate")
    axes[0, 1].legend(fontsize=8)
    for ax in axes[0]:
        ax.set_xlabel("$V$")
    fig.tight_layout()
    return fig


def spike_raster(spikes: np.ndarray, *, title: str = "spike raster", max_neurons: int | None = None):
    """Raster of a 0/1 array ``[T, N]`` (time on x, neuron index on y)."""
    spikes = np.asarray(spikes)
    if max_neurons is not None:
        spikes = spikes[:, :max_neurons]
    t, n = np.nonzero(spikes)
    fig, axes = _figure(1, 1, height=2.8)
    ax = axes[0, 0]
    ax.scatter(t, n, s=2, color="k")
    ax.set_xlim(0, spikes.shape[0])
    ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def learning_curves(histories: dict[str, list[dict]], *, metrics=("loss", "accuracy")):
    """Per-epoch train (dashed) and test (solid) curves, one line colour per run.

    Args:
        histories: ``{label: history}`` where history is the list of per-epoch dicts of
            :func:`snnlib.train.train_and_evaluate`.
    """
    fig, axes = _figure(len(metrics), 1, width=4.5)
    for i, (label, history) in enumerate(histories.items()):
        epochs = [row["epoch"] for row in history]
        for ax, metric in zip(axes[0], metrics):
            for split, ls in (("train", "--"), ("test", "-")):
                key = f"{split}_{metric}"
                if all(key in row for row in history):
                    ax.plot(epochs, [row[key] for row in history], ls=ls, color=f"C{i}",
                            label=f"{label} ({split})")
    for ax, metric in zip(axes[0], metrics):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cross_validation_figure(summaries: dict[str, dict]):
    """K-fold cross-validation of several recipes side by side.

    Left: each recipe's final test accuracy per fold (dots) and its mean +- sd (bar and
    error line). Right: the test accuracy after every epoch, mean over the folds (line) and
    the range over the folds (band).

    Args:
        summaries: ``{label: cross_validate(...) result}``.
    """
    fig, axes = _figure(2, 1, width=4.8)
    left, right = axes[0]
    for i, (label, summary) in enumerate(summaries.items()):
        finals = [row["test_accuracy"] for row in summary["folds"]]
        left.bar(i, summary["mean"], color=f"C{i}", alpha=0.35)
        left.errorbar(i, summary["mean"], yerr=summary["sd"], color=f"C{i}", capsize=6)
        left.plot(np.full(len(finals), i) + np.linspace(-0.15, 0.15, len(finals)), finals, "o",
                  color=f"C{i}", ms=4)
        curves = np.array([row["test_curve"] for row in summary["folds"]], dtype=float)
        epochs = np.arange(1, curves.shape[1] + 1)
        right.plot(epochs, curves.mean(axis=0), color=f"C{i}",
                   label=f"{label}: {summary['mean']:.1%} +- {summary['sd']:.1%}")
        right.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=f"C{i}",
                           alpha=0.15)
    left.set_xticks(range(len(summaries)), list(summaries), rotation=20, fontsize=8, ha="right")
    left.set_ylabel("test accuracy (final epoch)")
    low = min(min(row["test_accuracy"] for row in s["folds"]) for s in summaries.values())
    left.set_ylim(max(0.0, low - 0.1), 1.0)
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy (mean of folds, range)")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def activity_profile(per_step, *, labels=None, title: str = "activity per layer over time"):
    """Fraction of active neurons per time step, one line per layer (``per_step``: list of [T])."""
    fig, axes = _figure(1, 1, height=3.0)
    ax = axes[0, 0]
    for l, curve in enumerate(per_step):
        label = labels[l] if labels else f"layer {l} (mean {np.mean(curve):.2%})"
        ax.plot(np.asarray(curve) * 100, label=label)
    ax.set_xlabel("time step")
    ax.set_ylabel("active neurons [%]")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sparse_list_illustration(v: np.ndarray, ids: np.ndarray, counts: np.ndarray, *, th1: float,
                             th2: float | None):
    """One row of potentials ``v [N]`` with the neurons an index list keeps marked.

    Spikes (the first ``counts[0]`` slots) are red, candidates (up to ``counts[1]``) orange.
    """
    fig, axes = _figure(1, 1, height=3.0)
    ax = axes[0, 0]
    n = np.arange(len(v))
    ax.bar(n, v, color="0.75", width=1.0, label="$V$ (not listed)")
    spk, cand = ids[: counts[0]], ids[counts[0]: counts[1]]
    ax.bar(spk, v[spk], color="C3", width=1.0, label=f"spikes ({len(spk)})")
    ax.bar(cand, v[cand], color="C1", width=1.0, label=f"candidates ({len(cand)})")
    ax.axhline(th1, color="C3", ls="--", lw=1)
    if th2 is not None:
        ax.axhline(th2, color="C2", ls=":", lw=1)
    ax.set_xlabel("neuron index")
    ax.set_ylabel("membrane potential")
    ax.set_title(f"index list: ids = {list(map(int, ids[:counts[1]]))[:12]}{' ...' if counts[1] > 12 else ''}, "
                 f"counts = ({int(counts[0])}, {int(counts[1])})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def capacity_sweep_figure(rows):
    """Accuracy, dropped spikes and gradient cosine vs capacity (rows of ``capacity_sweep``)."""
    ref = next(r for r in rows if r["capacity"] is None)
    sweep = [r for r in rows if r["capacity"] is not None]
    caps = [r["capacity"] for r in sweep]
    fig, axes = _figure(3, 1, width=3.6)
    for ax, key, label in zip(axes[0], ("accuracy", "dropped_fraction", "grad_cosine"),
                              ("batch accuracy", "dropped / dense spikes", "cos(grad, dense grad)")):
        ax.plot(caps, [r[key] for r in sweep], "o-")
        if key != "dropped_fraction":
            ax.axhline(ref[key], color="k", ls="--", lw=1, label="dense")
            ax.legend(fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("hidden capacity S")
        ax.set_title(label, fontsize=10)
    fig.tight_layout()
    return fig


def op_speed_figure(rows):
    """Forward+backward time of sparse_matmul (both weight layouts) vs dense matmul against
    activity (log axes), per call (solid) and per step inside one graph (dashed), with the
    cost of a call and of a loop pass that do nothing (gray); see :mod:`snnlib.bench.opbench`."""
    act = [100 * r["activity"] for r in rows]
    fig, axes = _figure(2, 1, width=4.2)
    ax = axes[0, 0]
    ax.loglog(act, [r["sparse_ms"] for r in rows], "o-", color="C0",
              label=f"sparse_matmul ({rows[0]['backend']}), W [in, out], per call")
    ax.loglog(act, [r["sparse_graph_ms"] for r in rows], "o--", color="C0", label="  in graph")
    ax.loglog(act, [r["sparse_oi_ms"] for r in rows], "^-", color="C3",
              label="sparse_matmul, W^T [out, in] (conversion), per call")
    ax.loglog(act, [r["sparse_oi_graph_ms"] for r in rows], "^--", color="C3", label="  in graph")
    ax.loglog(act, [r["dense_ms"] for r in rows], "s-", color="C1", label="dense tf.matmul, per call")
    ax.loglog(act, [r["dense_graph_ms"] for r in rows], "s--", color="C1", label="  in graph")
    ax.loglog(act, [r["call_ms"] for r in rows], ":", color="gray", label="do-nothing call")
    ax.loglog(act, [r["loop_ms"] for r in rows], "-.", color="gray", label="do-nothing loop pass")
    ax.set_ylabel("forward + backward [ms]")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.loglog(act, [r["speedup"] for r in rows], "o-", color="C0", label="W [in, out], per call")
    ax.loglog(act, [r["speedup_graph"] for r in rows], "o--", color="C0", label="  in graph")
    ax.loglog(act, [r["speedup_oi"] for r in rows], "^-", color="C3",
              label="W^T [out, in], per call")
    ax.loglog(act, [r["speedup_oi_graph"] for r in rows], "^--", color="C3", label="  in graph")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_ylabel("speed-up (dense / sparse)")
    ax.legend(fontsize=7)
    for ax in axes[0]:
        ax.set_xlabel("activity [%]")
    fig.tight_layout()
    return fig


def storage_figure(capacities, storage_rows):
    """Bytes per representation against capacity (``storage_rows``: dicts of ``storage_bytes``)."""
    fig, axes = _figure(1, 1, height=3.0)
    ax = axes[0, 0]
    for key, style in (("dense_float", "k--"), ("dense_bits", "k:"), ("index_list", "o-")):
        ax.loglog(capacities, [r[key] / 2**20 for r in storage_rows], style, label=key)
    ax.set_xlabel("capacity S")
    ax.set_ylabel("MiB per layer and sequence")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _check_input_response(alpha: float, rate: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1]; got {rate}")


def lif_input_response(*, alpha: float, gain: float, rate: float, th1: float, th2: float | None,
                       n_steps: int, seed: int = 0):
    """A single LIF neuron driven by a random binary input (amplitude 0.4 per input spike).

    The input is the same for every ``alpha`` and ``gain`` (drawn with ``seed``); each of its
    ``n_steps`` steps carries a spike with probability ``rate``. The figure shows the membrane
    potential with both thresholds and the input below it; the title names the parameters.
    """
    from snnlib.functional.lif import simulate_neuron

    _check_input_response(alpha, rate)
    drive = (np.random.default_rng(seed).random(n_steps) < rate).astype(float) * 0.4
    v = simulate_neuron(drive, alpha=alpha, gain=gain, th1=th1)
    spikes = v >= th1
    return membrane_trace(v, spikes, th1=th1, th2=th2, current=drive,
                          title=f"alpha={alpha:g}, gain={gain:g}, input rate={rate:g}: "
                                f"{int(spikes.sum())} spikes")


def lif_explorer(*, alpha: float, gain: float, th1: float, th2: float | None, n_steps: int,
                 rate: float = 0.3, seed: int = 0, interactive: bool = False):
    """:func:`lif_input_response` with sliders for alpha, the gain and the input rate.

    ``interactive``: an ``ipywidgets.interactive`` panel whose sliders start at the given
    values; moving one redraws the figure (its ``result`` is the current figure). Otherwise the
    figure of those same values (headless reports), i.e. what the panel shows first.
    """
    _check_input_response(alpha, rate)
    fixed = dict(th1=th1, th2=th2, n_steps=n_steps, seed=seed)
    if not interactive:
        return lif_input_response(alpha=alpha, gain=gain, rate=rate, **fixed)
    import ipywidgets

    def draw(alpha, gain, rate):
        return lif_input_response(alpha=alpha, gain=gain, rate=rate, **fixed)

    sliders = dict(
        alpha=ipywidgets.FloatSlider(value=alpha, min=min(0.5, alpha), max=max(0.99, alpha),
                                     step=0.01, description="alpha", continuous_update=False),
        gain=ipywidgets.FloatSlider(value=gain, min=min(1.0, gain), max=max(30.0, gain), step=0.5,
                                    description="gain", continuous_update=False),
        rate=ipywidgets.FloatSlider(value=rate, min=0.0, max=1.0, step=0.05,
                                    description="input rate", continuous_update=False),
    )
    return ipywidgets.interactive(draw, **sliders)
