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
# # 02 · Sparse spikes: index lists, capacity and the compiled ops
#
# **You will see**
# - how few neurons of a trained spiking network are active, per layer and over time;
# - the index-list format `SparseSpikes(ids, counts)`: spikes first, then gradient candidates;
# - how the capacity $S$ (the seed's "max activity") is chosen, and what overflow does to
#   accuracy and to the gradient;
# - the memory of dense tensors vs index lists;
# - the compiled `sparse_matmul` against dense `tf.matmul`, forward + backward, over activity.
#
# **Prerequisites:** notebook 01. **Runtime:** about 20 s with the tiny preset on 2 cores.

# %% tags=["parameters"]
train_preset = "tiny"
train_epochs = 3
hidden = 64
th2 = 0.9
capacities = [1, 2, 4, 8, 16, 32]
bench_activities = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
bench_repeats = 3
bench_inner = 5
bench_steps = 10
seed = 0

# %%
import numpy as np

from snnlib import ops, plotting, snn_forward
from snnlib.data import load_dataset
from snnlib.layers import sparse_sizes_for
from snnlib.bench import time_against_fastest_dense
from snnlib.reporting import save_metrics
from snnlib.network import activity_by_layer, capacity_for_quantile, capacity_sweep, storage_bytes
from snnlib.train import TrainConfig, train_and_evaluate

print("sparse ops backend:", ops.backend())

# %% [markdown]
# ## 1. How sparse is a trained network?
# We train the seed network (a LIF hidden layer and a spiking output layer) on randman, then
# look at its spikes on held-out samples.

# %%
config = TrainConfig.from_preset(train_preset, epochs=train_epochs, hidden=(hidden,), th2=th2,
                                 seed=seed, progress=False)
dataset = load_dataset(config.dataset, seed=seed, **config.data)
result = train_and_evaluate(config, dataset=dataset)
weights = [w.numpy() for w in result["model"].stack.kernels]
params = config.lif_params()
x = dataset.x_test[:64].astype(np.float32)
y = dataset.y_test[:64]
out = snn_forward(weights, x, params, time_major=False, return_potentials=True)
spikes_tm = [np.transpose(s.numpy(), (1, 0, 2)) for s in out.spikes]
act = activity_by_layer(spikes_tm)
print(f"test accuracy {result['test_accuracy']:.3f}; mean activity per layer:",
      [f"{a:.2%}" for a in act["mean"]], "; busiest step:", [f"{a:.1%}" for a in act["max_per_step"]])
fig = plotting.activity_profile(act["per_step"])

# %% [markdown]
# ## 2. The index-list format
# A layer's spikes at one step are stored as `ids[S]` and `counts = (n_spikes, n_spikes +
# n_candidates)`. Spikes ($V \ge \vartheta_1$) come first in ascending index, then the
# *gradient candidates* ($\vartheta_2 \le V < \vartheta_1$), which do not spike but are close
# enough to the threshold to receive a surrogate gradient. Everything else is implicit zero:
# neither stored nor differentiated. Here is the hidden layer at its busiest step:

# %%
v_hidden = np.transpose(out.potentials[0].numpy(), (1, 0, 2))  # [T, B, N]
t_star, b_star = np.unravel_index(np.argmax(spikes_tm[0].sum(axis=2)), spikes_tm[0].shape[:2])
row = v_hidden[t_star, b_star]
listed, dropped = ops.select_spikes(row[None], th1=params.th1, th2=th2, capacity=16)
ids, counts = listed.ids.numpy()[0], listed.counts.numpy()[0]
print(f"step {t_star}, sample {b_star}: counts = {counts}, dropped = {int(dropped[0])}")
fig = plotting.sparse_list_illustration(row, ids, counts, th1=params.th1, th2=th2)

# %% [markdown]
# ## 3. Choosing the capacity $S$
# The seed fixes $S = 2\lfloor a_{\max} N / 2 \rfloor$ from a "maximum activity" $a_{\max}$.
# A data-driven alternative is the quantile of the per-step spike count. Spikes that do not fit
# are *dropped* (lowest indices kept) and counted; the seed dropped them silently.

# %%
for a_max in (0.01, 0.05, 0.1):
    print(f"max activity {a_max:>5.0%}: S = {sparse_sizes_for([dataset.n_in, hidden, dataset.n_classes], a_max, None)[1:]}")
q99 = capacity_for_quantile(spikes_tm[0], 0.99)
print(f"S keeping 99% of (step, sample) rows of the hidden layer whole: {q99} of {hidden}")

# %% [markdown]
# What a too-small $S$ does: the same weights and batch through the `sparse_ops` network with
# decreasing hidden capacity. The dense network with the same $\vartheta_2$ mask is the
# reference; with $S \ge N$ both are identical (tested in the suite).

# %%
rows = capacity_sweep(weights, x, y, params, capacities)
for r in rows:
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
fig = plotting.capacity_sweep_figure(rows)

# %% [markdown]
# ## 4. Memory: dense tensors vs index lists
# For a layer of $N$ neurons over $T$ steps and a batch $B$, a dense float tensor costs
# $4TBN$ bytes; an index list $TB(8S + 8)$ bytes (int32 ids, float values, two counts). Shown
# for the seed benchmark layer ($N = 980$, $T = 100$, $B = 48$):

# %%
caps_mem = [2, 8, 18, 48, 98, 196, 490, 980]
storage = [storage_bytes(100, 48, 980, s) for s in caps_mem]
fig = plotting.storage_figure(caps_mem, storage)
print(f"dense float: {storage[0]['dense_float'] / 2**20:.1f} MiB; index list at 5% (S=48): "
      f"{storage[3]['index_list'] / 2**20:.2f} MiB")

# %% [markdown]
# ## 5. The compiled sparse matmul
# `sparse_matmul(W, spikes)` sums the weight columns of the listed spikes: its cost scales with
# $B \cdot S \cdot N_{out}$ instead of $B \cdot N_{in} \cdot N_{out}$. Forward + backward
# (weight gradient from real spikes, slot gradient for spikes and candidates) against dense
# `tf.matmul` with its two gradients, batch 48, 1024 × 1024 weights, measured side by side.
# *Per call* is one `tf.function` call per forward + backward (TensorFlow's dispatch included:
# a call that does nothing costs about 0.25 ms here, which caps any per-call speed-up); *in
# graph* runs many passes inside one compiled loop on rotating inputs, the op's steady-state
# cost inside a training step (the loop's own cost per pass is shown too).
#
# The dense baseline must be as fast as plain TensorFlow allows. Its speed depends on the
# thread settings, which are fixed when TensorFlow starts, so the benchmark runs once with
# TensorFlow's default and once with one intra-op thread, each in a fresh process, and shows
# the run whose dense side was faster (speed-ups are always ratios within one run).
#
# The layout of $W$ decides the speed at low activity. Every network here stores $W$
# $[in, out]$ (the Keras kernel layout): a spike selects a contiguous *row*, the forward pass
# reads only those rows, and the weight gradient is a `tf.IndexedSlices` holding one row per
# input neuron that spiked. For comparison the benchmark also times the conversion path for
# weights kept as $W^T$ $[out, in]$ (`weights_layout="out_in"`): there a spike selects a
# *column*, the forward pass reads all of $W^T$ (in 16 × 16 tiles it transposes in registers)
# and the weight gradient is a dense $[out, in]$ matrix that must be written whole, so moving
# the weights and their gradient through the caches sets the time, not the spikes.

# %%
timing = time_against_fastest_dense(activities=bench_activities, repeats=bench_repeats,
                                    inner=bench_inner, steps=bench_steps, seed=seed)
for setting, run in timing["runs"].items():
    print(f"intra-op threads {setting or 'default'}: dense forward + backward in graph "
          f"{min(r['dense_graph_ms'] for r in run):.3f}-{max(r['dense_graph_ms'] for r in run):.3f} ms"
          + ("  <- fastest dense, shown below" if setting == timing["chosen"] else ""))
bench = timing["rows"]
for r in bench:
    print(f"activity {r['activity']:>6.1%}  S={r['capacity']:>4}  dense {r['dense_ms']:6.3f} / "
          f"{r['dense_graph_ms']:6.3f} ms (per call / in graph)   "
          f"W [in, out]: {r['speedup']:5.1f}x / "
          f"{r['speedup_graph']:5.1f}x   W^T [out, in]: {r['speedup_oi']:5.1f}x / "
          f"{r['speedup_oi_graph']:5.1f}x"
          f"   (do-nothing call {r['call_ms']:.3f} ms, loop {r['loop_ms']:.3f} ms; {r['backend']})")
fig = plotting.op_speed_figure(bench)

# %% [markdown]
# ## 6. Sanity checks

# %%
assert all(0.0 <= a <= 1.0 for a in act["mean"])
assert counts[0] <= counts[1] <= 16 and np.all(row[ids[: counts[0]]] >= params.th1)
full = rows[-1]
assert full["grad_cosine"] > 0.5, "with the largest capacity the gradient must follow the dense one"
assert storage[3]["index_list"] < storage[3]["dense_float"]
save_metrics(hidden_activity=round(act["mean"][0], 4), capacity_q99=q99,
             speedup_1pct=round(next(r["speedup"] for r in bench if r["activity"] == 0.01), 2),
             speedup_graph_1pct=round(next(r["speedup_graph"] for r in bench
                                           if r["activity"] == 0.01), 2),
             speedup_oi_graph_1pct=round(next(r["speedup_oi_graph"] for r in bench
                                              if r["activity"] == 0.01), 2),
             ops_backend=ops.backend())

# %% [markdown]
# ## Summary
# Trained spiking layers are mostly silent, so listing the active neurons (and the few near
# threshold that need a gradient) is far cheaper than dense tensors, as long as the capacity
# $S$ covers the busiest steps. **Next:** `03_sparse_training`: whole layers as one compiled op,
# and training with the three implementations side by side.
