"""Figures and computed conclusions of benchmark results (:mod:`snnlib.bench.runner` records).

Every function takes the list of records of one run and returns a matplotlib ``Figure``
(or text); nothing is read from disk and nothing is claimed that the numbers do not show.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from snnlib.figure import figure

STYLE = {"dense": ("tab:gray", "o"), "dense_xla": ("black", "s"), "sparse_ops": ("tab:blue", "^"),
         "sparse_layer": ("tab:red", "D")}
SWEEP_AXES = {"layers": ("hidden layers", lambda r: len(r["hidden"])),
              "neurons": ("hidden width", lambda r: r["hidden"][0]),
              "batch": ("batch size", lambda r: r["batch_size"]),
              "seq_len": ("sequence length T", lambda r: r["n_steps"])}


def _style(impl: str):
    return STYLE.get(impl, ("tab:green", "v"))


def ok_records(records: Sequence[dict], *, mode: str | None = None,
               sweep: str | None = None) -> list[dict]:
    """Records without ``error``, optionally of one mode and sweep."""
    return [r for r in records if "error" not in r and (mode is None or r["mode"] == mode)
            and (sweep is None or r.get("sweep") == sweep)]


def impls_of(records: Sequence[dict]) -> list[str]:
    """Implementations in a stable order (ours first, then peers)."""
    names = {r["impl"] for r in records}
    ours = [i for i in STYLE if i in names]
    return ours + sorted(names - set(ours))


def throughput_vs_activity(records, mode: str = "train"):
    """Samples/s against max activity (log-log); dense paths and peers are horizontal lines."""
    recs = ok_records(records, mode=mode, sweep="activity")
    fig, axes = figure(width=6.5, height=4)
    ax = axes[0, 0]
    acts = sorted({r["max_activity"] for r in recs if r["max_activity"] is not None})
    for impl in impls_of(recs):
        color, marker = _style(impl)
        rows = [r for r in recs if r["impl"] == impl]
        if rows and rows[0]["max_activity"] is None:
            ax.axhline(rows[0]["samples_per_s"], color=color, ls="--", label=impl)
        else:
            rows.sort(key=lambda r: r["max_activity"])
            ax.plot([r["max_activity"] for r in rows], [r["samples_per_s"] for r in rows],
                    marker=marker, color=color, label=impl)
    ax.set(xscale="log", yscale="log", xlabel="max activity (capacity / neurons)",
           ylabel="samples / s", title=f"{mode} throughput vs activity")
    if acts:
        ax.set_xlim(min(acts) / 1.5, max(acts) * 1.5)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def best_dense(records, mode: str = "train") -> dict | None:
    """The faster of ``dense`` and ``dense_xla`` in the activity sweep (the seed's baseline)."""
    rows = [r for r in ok_records(records, mode=mode, sweep="activity")
            if r["impl"] in ("dense", "dense_xla")]
    return min(rows, key=lambda r: r["step_ms_median"]) if rows else None


def speedup_vs_activity(records, mode: str = "train"):
    """Speed-up of the sparse implementations over the fastest dense one, per activity."""
    base = best_dense(records, mode)
    fig, axes = figure(width=6.5, height=4)
    ax = axes[0, 0]
    if base is not None:
        for impl in ("sparse_ops", "sparse_layer"):
            rows = sorted((r for r in ok_records(records, mode=mode, sweep="activity")
                           if r["impl"] == impl), key=lambda r: r["max_activity"])
            if rows:
                color, marker = _style(impl)
                ax.plot([r["max_activity"] for r in rows],
                        [base["step_ms_median"] / r["step_ms_median"] for r in rows],
                        marker=marker, color=color, label=impl)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_title(f"{mode} speed-up over {base['impl']}")
    ax.set(xscale="log", yscale="log", xlabel="max activity", ylabel="speed-up (x)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def scaling(records, mode: str = "train", sweeps: Sequence[str] = tuple(SWEEP_AXES)):
    """One panel per scaling sweep (layers, width, batch, T): ms per step, log axes."""
    present = [s for s in sweeps if ok_records(records, mode=mode, sweep=s)]
    fig, axes = figure(max(1, len(present)), 1, width=3.4, height=3.4)
    for ax, sweep in zip(axes[0], present):
        label, key = SWEEP_AXES[sweep]
        recs = ok_records(records, mode=mode, sweep=sweep)
        for impl in impls_of(recs):
            rows = sorted((r for r in recs if r["impl"] == impl), key=key)
            color, marker = _style(impl)
            ax.plot([key(r) for r in rows], [r["step_ms_median"] for r in rows], marker=marker,
                    color=color, label=impl)
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel="ms / step")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{mode} step time scaling")
    fig.tight_layout()
    return fig


def memory_vs_seq_len(records):
    """Peak RSS (and its growth during the timed steps) against T, per implementation."""
    recs = ok_records(records, mode="train", sweep="seq_len")
    fig, axes = figure(width=6, height=3.8)
    ax = axes[0, 0]
    for impl in impls_of(recs):
        rows = sorted((r for r in recs if r["impl"] == impl), key=lambda r: r["n_steps"])
        color, marker = _style(impl)
        ax.plot([r["n_steps"] for r in rows], [r["rss_delta_mb"] for r in rows], marker=marker,
                color=color, label=impl)
    method = recs[0]["memory_method"] if recs else "?"
    ax.set(xlabel="sequence length T", ylabel="RSS growth during training (MB)",
           title=f"memory vs T ({method} ru_maxrss)")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def roofline(records):
    """Achieved bandwidth of the sparse kernels (modelled bytes / time) as a fraction of this
    machine's measured memory bandwidth, against activity."""
    recs = [r for r in ok_records(records, mode="train", sweep="activity")
            if r.get("bandwidth_fraction") is not None]
    fig, axes = figure(width=6, height=3.8)
    ax = axes[0, 0]
    for impl in impls_of(recs):
        rows = sorted((r for r in recs if r["impl"] == impl), key=lambda r: r["max_activity"])
        color, marker = _style(impl)
        ax.plot([r["max_activity"] for r in rows], [r["bandwidth_fraction"] for r in rows],
                marker=marker, color=color, label=impl)
    bw = recs[0]["bandwidth_gbs"] if recs else None
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="max activity",
           ylabel="fraction of memory bandwidth",
           title="sparse kernels vs memory roofline" + (f" ({bw:.1f} GB/s copy)" if bw else ""))
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


CALIBRATED_SWEEPS = ("seed", "real_activity")


def measured_speedups(records, mode: str = "train",
                      sweeps: Sequence[str] = CALIBRATED_SWEEPS) -> list[dict]:
    """One row per sparse record of the calibrated networks (``seed_point``, ``real_activity``):
    its speed-up over the fastest dense step of the same network, target and round, against
    the hidden-layer activity measured during its timed steps.

    Returns:
        ``[{"impl", "target", "round", "measured", "speedup", "ms", "dense_ms", "dense_impl",
        "dropped", "record"}]`` (``measured``: mean over the hidden layers; ``dropped``: spikes
        dropped per step and sample, all layers), sorted by measured activity.
    """
    rows = [r for r in ok_records(records, mode=mode) if r.get("sweep") in sweeps]
    out = []
    for r in rows:
        if r["impl"] not in ("sparse_ops", "sparse_layer"):
            continue
        same = [d for d in rows if d["impl"] in ("dense", "dense_xla")
                and d.get("target_activity") == r.get("target_activity")
                and d["hidden"] == r["hidden"] and d["sweep"] == r["sweep"]
                and d.get("round", 0) == r.get("round", 0)]
        activity = r.get("activity") or []
        if not same or not activity or None in activity:
            continue
        base = min(same, key=lambda d: d["step_ms_median"])
        out.append({"impl": r["impl"], "target": r.get("target_activity"),
                    "round": r.get("round", 0),
                    "measured": statistics.fmean(activity[:-1]) if len(activity) > 1 else activity[0],
                    "speedup": base["step_ms_median"] / r["step_ms_median"],
                    "ms": r["step_ms_median"], "dense_ms": base["step_ms_median"],
                    "dense_impl": base["impl"], "dropped": sum(r.get("overflow") or []),
                    "record": r})
    return sorted(out, key=lambda row: row["measured"])


def speedup_summary(records, mode: str = "train",
                    sweeps: Sequence[str] = CALIBRATED_SWEEPS) -> list[dict]:
    """:func:`measured_speedups` summarised over the rounds of a run: one row per
    (implementation, network, target), with the median over the rounds of the speed-ups (each
    taken within its round), their min and max, and the median measured activity.

    Returns:
        ``[{"impl", "target", "hidden", "rounds", "speedup", "speedup_min", "speedup_max",
        "measured", "ms", "dense_ms"}]`` sorted by measured activity (one round: the values of
        its record, min = max).
    """
    groups: dict[tuple, list[dict]] = {}
    for row in measured_speedups(records, mode, sweeps):
        key = (row["impl"], row["target"], tuple(row["record"]["hidden"]), row["record"]["sweep"])
        groups.setdefault(key, []).append(row)
    out = []
    for (impl, target, hidden, _), rows in groups.items():
        speedups = [row["speedup"] for row in rows]
        out.append({"impl": impl, "target": target, "hidden": list(hidden), "rounds": len(rows),
                    "speedup": statistics.median(speedups), "speedup_min": min(speedups),
                    "speedup_max": max(speedups),
                    "measured": statistics.median(row["measured"] for row in rows),
                    "ms": statistics.median(row["ms"] for row in rows),
                    "dense_ms": statistics.median(row["dense_ms"] for row in rows)})
    return sorted(out, key=lambda row: row["measured"])


def speedup_vs_measured_activity(records, mode: str = "train"):
    """The headline: speed-up of the sparse implementations over the fastest dense step of the
    same calibrated network, against the hidden activity measured in the timed steps (with
    several rounds: the median over the rounds, bars from the slowest to the fastest round)."""
    rows = speedup_summary(records, mode)
    fig, axes = figure(1, 1, width=6.0, height=3.6)
    ax = axes[0, 0]
    for impl in sorted({row["impl"] for row in rows}):
        mine = [row for row in rows if row["impl"] == impl]
        color, marker = _style(impl)
        xs, ys = [100 * row["measured"] for row in mine], [row["speedup"] for row in mine]
        ax.errorbar(xs, ys, yerr=[[y - row["speedup_min"] for y, row in zip(ys, mine)],
                                  [row["speedup_max"] - y for y, row in zip(ys, mine)]],
                    marker=marker, color=color, label=impl, capsize=3)
        for row in mine:
            ax.annotate(f"{row['speedup']:.1f}x", (100 * row["measured"], row["speedup"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="measured hidden-layer activity (%)", ylabel="speed-up vs fastest dense",
           title=f"{mode} step at real activity (calibrated seed network)")
    ax.set_xscale("log")
    if rows:
        ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def _measured_conclusions(records, mode: str) -> list[str]:
    """Sentences on the calibrated networks: each sparse record against the fastest dense step
    of the same network, at the activity measured in the step."""
    lines, several = [], _rounds(records) > 1
    for row in measured_speedups(records, mode):
        r = row["record"]
        net = "-".join(str(n) for n in [r["n_in"], *r["hidden"], r["n_out"]])
        layers = " / ".join(f"{a:.1%}" for a in r["activity"][:-1])
        target = f"target {row['target']:.0%}, " if row["target"] is not None else ""
        lines.append(
            f"Network {net} (T {r['n_steps']}, batch {r['batch_size']}), {target}measured hidden "
            f"activity {layers}: {row['impl']} at capacity {r['max_activity']:.0%} "
            f"({row['dropped']:.1f} spikes dropped per step and sample) took {row['ms']:.1f} ms "
            f"per {mode} step, {row['speedup']:.2f}x the fastest dense step "
            f"({row['dense_impl']}, {row['dense_ms']:.1f} ms)"
            + (f", round {row['round']}." if several else "."))
    if several:
        for row in speedup_summary(records, mode):
            target = f"target {row['target']:.0%}" if row["target"] is not None else "no target"
            lines.append(
                f"{row['impl']}, {target} (measured {row['measured']:.1%}): median over "
                f"{row['rounds']} rounds {row['speedup']:.2f}x the fastest dense {mode} step "
                f"(rounds from {row['speedup_min']:.2f}x to {row['speedup_max']:.2f}x).")
    return lines


def _rounds(records) -> int:
    """How many rounds the run made (records without a ``round``: one)."""
    return 1 + max((r.get("round", 0) for r in records), default=0)


def _capacity_conclusions(records, mode: str, base: dict) -> list[str]:
    """Sentences on the capacity-only activity sweep, against its fastest dense record ``base``."""
    lines = [f"Fastest dense {mode} step: {base['impl']} at {base['step_ms_median']:.2f} ms "
             f"({base['samples_per_s']:.0f} samples/s) on {base['cpu_model']} "
             f"({base['cpu_cores']} cores, ops backend {base['ops_backend']})."]
    for impl in ("sparse_ops", "sparse_layer"):
        rows = [r for r in ok_records(records, mode=mode, sweep="activity") if r["impl"] == impl]
        if not rows:
            continue
        best = min(rows, key=lambda r: r["step_ms_median"])
        faster = [r["max_activity"] for r in rows if r["step_ms_median"] < base["step_ms_median"]]
        lines.append(
            f"{impl}: best {base['step_ms_median'] / best['step_ms_median']:.2f}x the fastest dense "
            f"step (at max activity {best['max_activity']:g}); faster than dense at "
            + (f"max activity <= {max(faster):g}." if faster else "no measured activity."))
    peers = [r for r in ok_records(records, mode=mode, sweep="activity")
             if r["impl"].startswith("peer:")]
    if peers:
        fastest = min(peers, key=lambda r: r["step_ms_median"])
        dense = [r for r in ok_records(records, mode=mode, sweep="activity") if r["impl"] == "dense"]
        if dense:
            ratio = dense[0]["step_ms_median"] / fastest["step_ms_median"]
            lines.append(f"Our dense step takes {ratio:.2f}x the time of the fastest peer "
                         f"({fastest['impl']}, {fastest['step_ms_median']:.2f} ms).")
    return lines


def conclusions(records, mode: str = "train") -> list[str]:
    """Sentences computed from the numbers of this run (no hard-coded claims)."""
    lines = []
    base = best_dense(records, mode)
    if base is None:
        lines.append("no dense record in the capacity-only activity sweep: no speed-up at a "
                     "capacity can be stated")
    else:
        lines += _capacity_conclusions(records, mode, base)
    lines += _measured_conclusions(records, mode)
    spreads = [r["step_ms_spread"] for r in ok_records(records) if "step_ms_spread" in r]
    if spreads:
        lines.append(f"Median relative spread (IQR / median) of the timings: "
                     f"{statistics.median(spreads):.1%}.")
    return lines
