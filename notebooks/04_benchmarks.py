# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-jupytext.text_representation.format_version
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Benchmarks: when does sparsity pay?
#
# **You will see**
# - how the training step (forward, loss, gradients, Adam) and inference are timed, and what
#   every benchmark record carries (machine, TF version, ops backend, sizes, data hash);
# - throughput against the maximum activity for `dense`, `dense` under XLA, `sparse_ops`,
#   `sparse_layer` (and peer libraries when installed), and the speed-up over the fastest
#   dense step;
# - scaling with depth, width, batch size and sequence length, and memory against $T$;
# - a roofline: how close the sparse kernels come to this machine's memory bandwidth;
# - conclusions computed from the numbers of *this* run.
#
# **Prerequisites:** notebooks 01 and 02. **Runtime:** about 1-2 min with the tiny preset on
# 2 cores: tiny networks show the method, not the paper's regime, so the tiny preset adds one
# point of the seed's network (input 1152, 3x980 hidden, T = 100, B = 48) with its hidden
# layers really active (`seed_point`); the full preset runs the seed's grids for hours on 2
# cores and is meant for a quiet, bigger machine.

# %% tags=["parameters"]
preset = "tiny"
sweeps = ["activity", "layers", "neurons", "batch", "seq_len"]
impls = ["dense", "dense_xla", "sparse_ops", "sparse_layer"]
peers = []
modes = ["train", "infer"]
warmup = 1
repeats = 3
steps = 2
isolate = False
rounds = 1  # passes over all cases; the speed-ups are then medians over the rounds (with ranges)
seed_point = True
out_dir = None  # None: bench/ beside the report being rendered (reports/bench/ interactively)

# %%
from snnlib import bench
from snnlib.bench import figures as figs
from snnlib.reporting import output_dir, save_headline_figure, save_metrics

impl_list = list(impls)
peer_info = {}
if peers:
    peer_info = bench.peer_status(peers)
    impl_list += [f"peer:{name}" for name, s in peer_info.items() if s["available"]]
cases = bench.preset_cases(preset, impl_list, sweeps)
if seed_point:  # the seed-sized network with really active hidden layers (sweep "seed")
    cases += bench.preset_cases("seed_point", impl_list)
print(f"{len(cases)} cases in preset {preset!r}, sweeps {sweeps}")
for name, s in peer_info.items():
    print(f"peer {name}: " + (f"version {s['version']}" if s["available"] else f"not available ({s['reason']})"))

# %% [markdown]
# ## 1. What is timed
#
# One record = one network, one batch, one implementation, one mode. `train` times
# `SNNClassifier.train_step` (the step `model.fit` runs) inside one `tf.function`; `dense_xla`
# is the same step with `jit_compile=True`, the seed's GPU baseline. After `warmup` untimed
# calls (tracing), `repeats` blocks of `steps` calls are timed, each block ending with a read
# of the loss; the record keeps the median per step and its quartiles. Inputs are Bernoulli
# spikes capped at the input capacity and drawn once per data configuration, so every
# implementation sees the same tensor (`input_sha256`). Peak memory is the process's
# `ru_maxrss`; with `isolate=True` each case runs in a fresh process.

# %%
result = bench.run_benchmark(cases, modes=modes, warmup=warmup, repeats=repeats, steps=steps,
                             isolate=isolate, rounds=rounds)
records = result["records"]
paths = bench.write_results({**result, "preset": preset, "peers": peer_info},
                            out_dir or output_dir("bench"))
ok = figs.ok_records(records)
print(f"{len(ok)} records ok, {len(records) - len(ok)} failed; memory bandwidth "
      f"{result['bandwidth_gbs']:.1f} GB/s; machine: {result['machine']['cpu_model']}, "
      f"{result['machine']['cpu_cores']} cores, GPU {result['machine']['gpu']}, "
      f"ops backend {result['machine']['ops_backend']}")

# %% [markdown]
# ## 2. The headline: speed-up at the activity the network really has
#
# A sparse step costs in proportion to the spikes, so its speed-up means something only at the
# activity the network really has. The seed's network with the seed's initialisation is nearly
# silent past its first layer; here its hidden layers are calibrated to fire at a target rate
# (each layer's initial weights scaled by bisection until its mean rate on the benchmark input
# matches, `snnlib.bench.calibrate`), the sparse capacity is twice the target, and the
# x-axis is the activity *measured during the timed steps*. Dense and sparse time the same
# calibrated network on the same input. (`python -m snnlib bench --preset real_activity`
# runs 1, 2, 5 and 10 %; the tiny preset runs the 5 % point.)

# %%
fig = figs.speedup_vs_measured_activity(records, "train")
save_headline_figure(fig)
summary = figs.speedup_summary(records, "train")
for row in summary:
    spread = (f" (median of {row['rounds']} rounds, {row['speedup_min']:.2f}-"
              f"{row['speedup_max']:.2f}x)" if row["rounds"] > 1 else "")
    print(f"{row['impl']}: measured activity {row['measured']:.2%} (target {row['target']:.0%}): "
          f"{row['ms']:.1f} ms vs the fastest dense {row['dense_ms']:.1f} ms per step = "
          f"{row['speedup']:.2f}x{spread}")

# %% [markdown]
# ## 3. Throughput against capacity
#
# The `activity` sweep varies only the capacity (`max_activity`) of the sparse paths on a
# network with the default initialisation; its real activity is whatever that network has. The
# dense paths do not depend on the capacity (dashed lines); the sparse ones do: their work
# is proportional to the listed spikes and candidates, $O(T\,B\,S\,N)$ instead of
# $O(T\,B\,N_{in}\,N)$.

# %%
fig = figs.throughput_vs_activity(records, "train")

# %%
fig = figs.throughput_vs_activity(records, "infer")

# %%
fig = figs.speedup_vs_activity(records, "train")

# %% [markdown]
# ## 4. Scaling and memory
#
# Depth, width, batch and $T$ around the default network at one activity. The memory panel
# shows the growth of the resident set during the timed steps: the dense backward pass keeps
# $O(T\,B\,N)$ activations per layer, `sparse_layer` keeps $O(T\,B\,S)$.

# %%
fig = figs.scaling(records, "train")

# %%
fig = figs.memory_vs_seq_len(records)

# %% [markdown]
# ## 5. Roofline of the sparse kernels
#
# Bytes per step are *modelled* (`snnlib.bench.sparse_bytes_per_step`: weight columns
# gathered per input spike, dW scattered, slot gradients, state), divided by the measured step
# time, and compared with this machine's bandwidth from a large NumPy copy measured in the same
# run. A fraction near 1 means memory-bound at the roofline; far below means overheads
# (op launches, the time loop, Adam on the dense weights) dominate.

# %%
fig = figs.roofline(records)

# %% [markdown]
# ## 6. Conclusions of this run

# %%
conclusions = figs.conclusions(records, "train")
for line in conclusions:
    print("-", line)

# %% [markdown]
# ## 7. Sanity checks

# %%
assert ok, "no benchmark record succeeded"
assert all(r["step_ms_median"] > 0 and r["samples_per_s"] > 0 for r in ok)
hashes = {}
for r in ok:
    hashes.setdefault((r["n_in"], r["n_steps"], r["batch_size"], r["input_capacity"]), set()).add(r["input_sha256"])
assert all(len(h) == 1 for h in hashes.values()), "implementations saw different inputs"
assert all(r["ops_backend"] in ("compiled", "reference") for r in ok)
base = figs.best_dense(records)
best_sparse = min((r for r in figs.ok_records(records, mode="train", sweep="activity")
                   if r["impl"] == "sparse_layer"), key=lambda r: r["step_ms_median"], default=None)
save_metrics(n_records=len(ok), best_dense_ms=round(base["step_ms_median"], 3) if base else None,
             sparse_layer_best_speedup=(round(base["step_ms_median"] / best_sparse["step_ms_median"], 3)
                                        if base and best_sparse else None),
             bandwidth_gbs=round(result["bandwidth_gbs"], 2),
             **{f"speedup_at_measured_{100 * row['measured']:.1f}pct": round(row["speedup"], 3)
                for row in summary})

# %% [markdown]
# ## Summary
# The harness times the real training step of every implementation on identical data and
# records where and how it ran. The conclusions above are computed from this run's numbers,
# for the tiny networks (where fixed costs weigh most) and for the seed-sized point, whose
# hidden layers really fire (activity measured during the timed steps). For the seed's grids run
# `python -m snnlib bench --preset full --peers --isolate` on a quiet machine.
# **Next:** `05_decolle`: DECOLLE, local losses on every layer.
