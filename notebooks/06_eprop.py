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
# # 06 · e-prop: eligibility traces and learning signals, forward in time
#
# **You will see**
# - the factorisation of the gradient behind e-prop (Bellec et al. 2020): an *eligibility
#   trace* per synapse times a *learning signal* per neuron, and what it drops relative to
#   BPTT;
# - why, for the seed LIF neuron, the eligibility trace is exact and cheap:
#   $e_t[m,n] = \bar x_t[m]\,\psi_t[n]$;
# - a check that e-prop equals BPTT for one layer read out directly, and its cosine similarity
#   with BPTT when there are hidden layers;
# - training on randman against BPTT (symmetric and random feedback);
# - the memory of one training step vs $T$: BPTT grows, e-prop stays flat.
#
# **Prerequisites:** notebooks 01 and 05. **Runtime:** about 30 s with the tiny preset on 2
# cores (most of it is one fresh process per memory measurement).

# %% tags=["parameters"]
train_preset = "tiny"
train_epochs = 3
random_feedback_run = True
memory_steps = [50, 400]
memory_batch = 48
measure_memory = True
seed = 0

# %%
import numpy as np

import snnlib  # first: it imports TensorFlow without the start-up noise
import tensorflow as tf
from snnlib import LIFParams, init_weights
from snnlib.learning import (STEP_LOGIT_SCALE, bptt_step_gradients, eprop_gradients, figures,
                             format_memory_table, gradient_cosine, memory_table, record_traces)
from snnlib.reporting import save_metrics
from snnlib.train import TrainConfig, train_and_evaluate

rng = np.random.default_rng(seed)
demo_params = LIFParams(alpha=0.9, weight_mul=3.0)

# %% [markdown]
# ## 1. The idea
#
# For a loss $E$ of the spikes, BPTT computes
# $$\frac{dE}{dW[m,n]} = \sum_t \frac{dE}{dS_t[n]}\,\psi_t[n]\,\frac{dV_t[n]}{dW[m,n]},$$
# where $dE/dS_t$ is the *total* derivative (through every later state of every neuron) and
# $dV_t/dW$ the sensitivity of the potential. RTRL carries $dV_t/dW$ forward for *all*
# neurons, which costs $O(N^2 M)$ per step for a recurrent net. e-prop keeps only the
# neuron's **own** dependence, the *eligibility trace*, and replaces $dE/dS_t$ by a
# **learning signal** $L_t$ available at step $t$:
# $$\Delta W[m,n] \propto \sum_t L_t[n]\; e_t[m,n].$$
#
# For the seed neuron, the reset is under stop-gradient, so $\partial V_t/\partial V_{t-1}=\alpha$
# and there are no recurrent weights: the eligibility trace is **exact** and factorises,
# $$\bar x_t = \alpha\,\bar x_{t-1} + (1-\alpha)\,\mathrm{gain}\,x_t,\qquad
#   e_t[m,n] = \bar x_t[m]\,\psi_t[n].$$
# The learning signals:
# - **output layer**: $L^L_t = \partial E_t/\partial S^L_t$ of a *per-step* loss
#   $E=\frac1{TB}\sum_{t,b}\mathrm{CE}(\mathrm{softmax}(\lambda S^L_t), y)$ (the count
#   cross-entropy BPTT trains is known only after the last step, so it cannot drive an online
#   rule). This is exact: for one layer read out directly, e-prop **equals** BPTT.
# - **hidden layer $l$** (symmetric feedback, $B^l = W^{l+1}$, stored $[in, out]$):
#   $L^l_t = (1-\alpha)\,\mathrm{gain}\;B^l\,(\psi^{l+1}_{t+1}\odot L^{l+1}_{t+1})$, the one-step
#   path $S^l_t\to V^{l+1}_{t+1}\to S^{l+1}_{t+1}$ (one step later because of the seed's layer
#   delay). It **drops** the paths through the downstream membrane's memory
#   ($\alpha^k$ terms) and through every later spike of the downstream layers. With random
#   feedback, $B^l$ is a fixed random matrix (no weight transport).
#
# Updates accumulate as $dW \mathrel{+}= (L_t\odot\psi_t)^\top\bar x_t$, one outer product per
# step summed over the batch; a hidden layer waits $L-1-l$ steps for its signal, so it buffers
# that many $(\psi,\bar x)$ pairs. Nothing grows with $T$.

# %%
print(f"lambda = {STEP_LOGIT_SCALE}")
sizes = [20, 24, 16, 4]
x_demo = (rng.random((8, 60, sizes[0])) < 0.1).astype(np.float64)
y_demo = rng.integers(0, sizes[-1], 8).astype(np.int32)
w_demo = [tf.constant(w) for w in init_weights(sizes, weight_mul=3.0, seed=seed, dtype=np.float64)]
traces = record_traces(w_demo, x_demo, demo_params, layer=0)
active = np.argsort(-traces["spikes"][0].sum(axis=0))[:3]
presyn = np.argsort(-traces["x"][0].sum(axis=0))[:3]
fig = figures.eligibility_traces(traces, neurons=active, inputs=presyn, th1=demo_params.th1,
                                 title="layer 0: potential, pseudo-derivative and traces")


# %% [markdown]
# ## 2. e-prop vs BPTT
# BPTT here is `tf.GradientTape` through `snn_forward` of the *same* per-step loss (float64).

# %%
single = [tf.constant(init_weights([sizes[0], sizes[-1]], weight_mul=3.0, seed=seed,
                                   dtype=np.float64)[0])]
expected = bptt_step_gradients(single, x_demo, y_demo, demo_params)[0]
single_error = float(np.abs(eprop_gradients(single, x_demo, y_demo, demo_params).grads[0].numpy()
                            - expected).max() / np.abs(expected).max())
deep_bptt = bptt_step_gradients(w_demo, x_demo, y_demo, demo_params)
deep_eprop = [g.numpy() for g in eprop_gradients(w_demo, x_demo, y_demo, demo_params).grads]
deep_cosine = gradient_cosine(deep_eprop, deep_bptt)
per_layer = [gradient_cosine([a], [b]) for a, b in zip(deep_eprop, deep_bptt)]
print(f"one layer read out directly: relative error {single_error:.1e}")
print(f"two hidden layers {sizes}: cosine {deep_cosine:.3f}; per layer "
      f"{[round(c, 3) for c in per_layer]} (the last layer is exact)")

# %% [markdown]
# ## 3. Training on randman: e-prop vs BPTT
# Same network, data, optimizer and epochs; only `rule` (and `feedback`) differ. Accuracy is
# the argmax of the output spike counts for every run.

# %%
runs = [("bptt", dict(rule="bptt")), ("eprop", dict(rule="eprop"))]
if random_feedback_run:
    runs.append(("eprop-random", dict(rule="eprop", feedback="random")))
histories, finals = {}, {}
for label, overrides in runs:
    config = TrainConfig.from_preset(train_preset, epochs=train_epochs, seed=seed, progress=False,
                                     **overrides)
    run = train_and_evaluate(config)
    histories[label], finals[label] = run["history"], float(run["test_accuracy"])
    print(f"{label:13s} test accuracy {finals[label]:.3f}  ({run['wall_time_s']:.1f} s)")
fig = figures.rule_comparison(histories)

# %% [markdown]
# ## 4. Memory of one training step vs $T$
# Same method as notebook 05 (`snnlib.learning.memory`): analytic stored state, TensorFlow's
# BFC allocator peak (coarse for small tensors) and the resident high-water mark increase, in
# a fresh process per point, for the randman network $[128, 128, 10]$. The table's last line
# names the methods, or says why a figure could not be measured.

# %%
rows = memory_table(["bptt", "eprop"], memory_steps, batch=memory_batch, measure=measure_memory)

print(format_memory_table(rows))
fig = figures.memory_vs_steps(rows)

# %% [markdown]
# ## 5. Sanity checks

# %%
assert single_error <= 1e-9, "e-prop must equal BPTT for one layer read out directly"
assert deep_cosine > 0.0 and abs(per_layer[-1] - 1.0) < 1e-9
assert np.isfinite(histories["eprop"][-1]["train_loss"])
stored = {(r["rule"], r["steps"]): r["stored_mb"] for r in rows}
t_max, t_min = max(memory_steps), min(memory_steps)
assert stored[("eprop", t_max)] == stored[("eprop", t_min)], "e-prop's state must not grow with T"
assert stored[("eprop", t_max)] <= 0.25 * stored[("bptt", t_max)]
peak = {(r["rule"], r["steps"]): r.get("rss_peak_mb") for r in rows}
alloc = {(r["rule"], r["steps"]): r.get("step_peak_mb") for r in rows}
save_metrics(eprop_test_accuracy=round(finals["eprop"], 4),
             bptt_test_accuracy=round(finals["bptt"], 4),
             eprop_random_test_accuracy=round(finals.get("eprop-random", float("nan")), 4),
             single_layer_rel_error=single_error, hidden_cosine=round(deep_cosine, 4),
             eprop_stored_mb_tmax=round(stored[("eprop", t_max)], 3),
             bptt_stored_mb_tmax=round(stored[("bptt", t_max)], 3),
             eprop_rss_peak_mb_tmax=peak[("eprop", t_max)],
             bptt_rss_peak_mb_tmax=peak[("bptt", t_max)],
             eprop_alloc_peak_mb_tmax=alloc[("eprop", t_max)],
             bptt_alloc_peak_mb_tmax=alloc[("bptt", t_max)])

# %% [markdown]
# ## Summary
# For the seed LIF neuron, e-prop's eligibility trace is exact and costs one filtered input
# vector per layer; the approximation lives entirely in the learning signal of hidden layers,
# which sees only the immediate effect on the next layer. One layer read out directly learns
# exactly as with BPTT; deeper layers follow a gradient that points the same way (positive
# cosine) at a memory cost independent of $T$.
# **Next:** `07_datasets`: the neuromorphic datasets the same loop trains on.
