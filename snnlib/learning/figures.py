"""Figures of the learning-rule notebooks (05 DECOLLE, 06 e-prop). Every function returns a
matplotlib ``Figure``; nothing is shown or saved here."""

from __future__ import annotations

import numpy as np

from snnlib.figure import figure

RULE_COLORS = {"bptt": "C0", "eprop": "C1", "decolle": "C2", "eprop-random": "C3"}


def eligibility_traces(traces: dict, *, neurons, inputs, sample: int = 0, th1: float = 1.0,
                       title: str = "eligibility traces"):
    """Membrane, pseudo-derivative, eligibility vector and trace for a few synapses.

    Args:
        traces: the dict of :func:`snnlib.learning.online.record_traces` (arrays
            ``[batch, time, .]``).
        neurons: postsynaptic neuron indices ``n`` to show.
        inputs: presynaptic indices ``m`` (one per neuron, paired with ``neurons``).
        sample: batch index.
    """
    fig, axes = figure(1, 4, width=9.0, height=1.8, sharex=True)
    t = np.arange(traces["v"].shape[1])
    for i, (n, m) in enumerate(zip(neurons, inputs)):
        color = f"C{i}"
        axes[0, 0].plot(t, traces["v"][sample, :, n], color=color, lw=1, label=f"$V$ of n={n}")
        st = np.flatnonzero(traces["spikes"][sample, :, n] > 0)
        axes[0, 0].plot(st, np.full(len(st), th1 * 1.15 + 0.1 * i), "|", color=color, ms=6)
        axes[1, 0].plot(t, traces["psi"][sample, :, n], color=color, lw=1)
        axes[2, 0].plot(t, traces["xbar"][sample, :, m], color=color, lw=1, label=f"m={m}")
        axes[3, 0].plot(t, traces["psi"][sample, :, n] * traces["xbar"][sample, :, m], color=color,
                        lw=1, label=f"e[{n},{m}]")
    axes[0, 0].axhline(th1, color="k", ls="--", lw=0.8)
    axes[0, 0].set_ylabel("$V_t$")
    axes[0, 0].set_title(title)
    axes[1, 0].set_ylabel(r"$\psi_t$")
    axes[2, 0].set_ylabel(r"$\bar x_t$")
    axes[3, 0].set_ylabel(r"$e_t=\psi_t\bar x_t$")
    axes[3, 0].set_xlabel("time step $t$")
    for ax in axes[[0, 2, 3], 0]:
        ax.legend(fontsize=7, loc="upper right", ncol=4)
    fig.tight_layout()
    return fig


def rule_comparison(histories: dict[str, list[dict]]):
    """Test accuracy per epoch for each rule (left) and the final test accuracy (right).

    Args:
        histories: ``{label: history}`` with the per-epoch dicts of ``train_and_evaluate``.
    """
    fig, axes = figure(2, 1, width=4.5, height=3.0)
    labels = list(histories)
    finals = []
    for i, label in enumerate(labels):
        history = histories[label]
        color = RULE_COLORS.get(label, f"C{i}")
        epochs = [row["epoch"] for row in history]
        axes[0, 0].plot(epochs, [row["test_accuracy"] for row in history], "-o", ms=3,
                        color=color, label=f"{label} (test)")
        axes[0, 0].plot(epochs, [row["train_accuracy"] for row in history], "--", color=color,
                        lw=0.8, label=f"{label} (train)")
        finals.append(history[-1]["test_accuracy"])
    axes[0, 0].set_xlabel("epoch")
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=7)
    colors = [RULE_COLORS.get(label, f"C{i}") for i, label in enumerate(labels)]
    bars = axes[0, 1].bar(labels, finals, color=colors)
    for bar, value in zip(bars, finals):
        axes[0, 1].text(bar.get_x() + bar.get_width() / 2, value, f"{value:.3f}", ha="center",
                        va="bottom", fontsize=8)
    axes[0, 1].set_ylim(0, 1.08)
    axes[0, 1].set_ylabel("final test accuracy")
    fig.tight_layout()
    return fig


def memory_vs_steps(rows: list[dict]):
    """Memory of one training step vs ``T``: analytic stored state (left), measured peak (right).

    Args:
        rows: dicts with ``rule``, ``steps``, ``stored_mb`` and optionally ``step_peak_mb``
            (:func:`snnlib.learning.memory.memory_table`; ``None`` where the allocator kept
            no statistics: that panel is left out when no row has the figure).
    """
    measured = any(row.get("step_peak_mb") is not None for row in rows)
    fig, axes = figure(2 if measured else 1, 1, width=4.5, height=3.0)
    panels = [("stored_mb", "stored state (analytic) [MB]")]
    if measured:
        panels.append(("step_peak_mb", "allocator peak of the step [MB]\n"
                                       "(TF BFC allocator, fresh process)"))
    for ax, (key, label) in zip(axes[0], panels):
        for i, rule in enumerate(dict.fromkeys(row["rule"] for row in rows)):
            sel = sorted((row["steps"], row[key]) for row in rows
                         if row["rule"] == rule and row.get(key) is not None)
            ax.plot([s for s, _ in sel], [v for _, v in sel], "-o", ms=3,
                    color=RULE_COLORS.get(rule, f"C{i}"), label=rule)
        ax.set_xlabel("sequence length $T$")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
