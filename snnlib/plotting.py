"""Figures for the notebooks. Every function returns a matplotlib ``Figure``; nothing is shown
or saved here."""

from __future__ import annotations

import numpy as np


def _figure(ncols: int = 1, nrows: int = 1, width: float = 6.0, height: float = 3.2, **kwargs):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                             **kwargs)
    return fig, axes


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
            :func:`snnlib.training.train_and_evaluate`.
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


def lif_response_grid(simulate, alphas=(0.8, 0.9, 0.95), gains=(5.0, 10.0), *, th1: float = 1.0):
    """Static stand-in for the interactive panel: potentials for a grid of (alpha, gain).

    Args:
        simulate: callable ``(alpha, gain) -> (v [T], spikes [T])``.
    """
    fig, axes = _figure(len(alphas), len(gains), width=3.4, height=2.2, sharex=True, sharey=True)
    for r, gain in enumerate(gains):
        for c, alpha in enumerate(alphas):
            v, s = simulate(alpha, gain)
            ax = axes[r, c]
            ax.plot(v, lw=1)
            ax.axhline(th1, color="C3", ls="--", lw=0.8)
            ax.set_title(f"alpha={alpha:g}, gain={gain:g}: {int(np.sum(s))} spikes", fontsize=9)
    fig.tight_layout()
    return fig
