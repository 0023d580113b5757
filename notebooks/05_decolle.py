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
# # 05 · DECOLLE: a local loss per layer, learned forward in time
#
# **You will see**
# - the idea of DECOLLE (Kaiser, Mostafa & Neftci 2020) in a few equations: a fixed random
#   readout and a loss *per layer and per step*, no gradient between layers;
# - why, for the seed LIF neuron, the weight update is an exact product of a local error and a
#   presynaptic trace, computed forward in time;
# - the traces of a few neurons, and a check that DECOLLE's update equals BPTT of each layer's
#   local loss with its input held constant;
# - training on randman against BPTT: accuracy curves and final accuracy;
# - the memory of one training step vs the sequence length $T$: BPTT grows, DECOLLE stays flat.
#
# **Prerequisites:** notebook 01. **Runtime:** about 30 s with the tiny preset on 2 cores
# (most of it is one fresh process per memory measurement).

# %% tags=["parameters"]
train_preset = "tiny"
train_epochs = 3
memory_steps = [50, 400]
memory_batch = 48
measure_memory = True
seed = 0

# %%
import numpy as np

import snnlib  # first: it imports TensorFlow without the start-up noise
import tensorflow as tf
from snnlib import LIFParams, init_weights, snn_forward
from snnlib.learning import (STEP_LOGIT_SCALE, decolle_gradients, figures, format_memory_table,
                             memory_table, random_readouts, record_traces, step_cross_entropy)
from snnlib.reporting import save_metrics
from snnlib.train import TrainConfig, train_and_evaluate

rng = np.random.default_rng(seed)
demo_params = LIFParams(alpha=0.9, weight_mul=3.0, th2=0.3)

# %% [markdown]
# ## 1. The idea
#
# BPTT computes the exact gradient of a loss on the *last* layer by running the network
# forward, storing every state, and propagating errors backwards through time and through the
# layers. Its memory grows with $T$, and the update arrives only after the whole sequence.
# Real-time recurrent learning (RTRL) runs forward instead, but carries the sensitivity of
# every state to every weight.
#
# DECOLLE cuts both problems at the layer boundary. Each LIF layer $l$ gets a **fixed random
# readout** $R^l$ ($K\times N_l$) and its own loss at **every step**
#
# $$E^l = \frac{1}{TB}\sum_{t,b}\mathrm{CE}\big(\mathrm{softmax}(\lambda S^l_t R^l),\,y\big),$$
#
# and each layer's input is treated as a constant ($\mathrm{sg}$): no error crosses a layer.
# For the seed neuron,
# $V_t = \alpha\,(V_{t-1}-\mathrm{sg}(\cdot)) + (1-\alpha)\,\mathrm{gain}\,x_t W$
# ($W$ $[in, out]$), so
# $\partial V_t/\partial V_{t-1}=\alpha$ and the sensitivity that RTRL would carry collapses
# to one vector per input, the **presynaptic trace**
#
# $$\bar x_t = \alpha\,\bar x_{t-1} + (1-\alpha)\,\mathrm{gain}\,x_t,\qquad
#   \frac{\partial V_t[n]}{\partial W[m,n]} = \bar x_t[m].$$
#
# The gradient of the local loss is then exactly
#
# $$\frac{\partial E^l}{\partial W^l} = \sum_t \bar x^{l\top}_t\,\Big(\underbrace{
#   \frac{\partial E^l_t}{\partial z^l_t}\,R^{l\top}}_{\text{local error}} \odot \psi^l_t\Big),
#   \qquad \psi_t = \frac{1}{(\beta|V_t-\vartheta_1|+1)^2}[V_t\ge\vartheta_2],$$
#
# one outer product per step, summed over the batch: **local** (a layer needs only its own
# input, potential and readout) and **online** (memory independent of $T$).
# What is dropped: every path *between* layers. A hidden layer learns to make its own random
# readout predict the label, not to help the layers above. The last layer (one neuron per
# class) reads itself out; its loss is the same per-step loss e-prop trains (notebook 06).
# The per-step softmax uses a logit scale $\lambda$ = `STEP_LOGIT_SCALE`.

# %%
print(f"lambda = {STEP_LOGIT_SCALE}")
sizes = [20, 24, 16, 4]
x_demo = (rng.random((4, 60, sizes[0])) < 0.1).astype(np.float64)
y_demo = rng.integers(0, sizes[-1], 4).astype(np.int32)
w_demo = [tf.constant(w) for w in init_weights(sizes, weight_mul=3.0, seed=seed, dtype=np.float64)]
readouts = random_readouts(sizes, seed=seed, dtype="float64")
traces = record_traces(w_demo, x_demo, demo_params, layer=1)
active = np.argsort(-traces["spikes"][0].sum(axis=0))[:3]
presyn = np.argsort(-traces["x"][0].sum(axis=0))[:3]
fig = figures.eligibility_traces(traces, neurons=active, inputs=presyn, th1=demo_params.th1,
                                 title="layer 1: potential, pseudo-derivative and traces")

# %% [markdown]
# ## 2. Exactness check
# DECOLLE's update for each layer against `tf.GradientTape` through `snn_forward` on that
# layer alone, with its input spikes under `stop_gradient` (float64):

# %%
result = decolle_gradients(w_demo, x_demo, y_demo, demo_params, readouts=readouts)
spikes = snn_forward(w_demo, x_demo, demo_params).spikes
rel_errors = []
for l, w in enumerate(w_demo):
    inp = tf.constant(x_demo) if l == 0 else tf.stop_gradient(spikes[l - 1])
    if l > 0 and demo_params.layer_delay:
        inp = tf.concat([tf.zeros_like(inp[:, :1]), inp[:, :-1]], axis=1)
    var = tf.Variable(w)
    with tf.GradientTape() as tape:
        out = snn_forward([var], inp, demo_params)
        local = step_cross_entropy(tf.transpose(out.spikes[0], [1, 0, 2]), y_demo,
                                   readout=readouts[l] if l < len(readouts) else None)
    expected = tape.gradient(local, var).numpy()
    rel_errors.append(float(np.abs(result.grads[l].numpy() - expected).max()
                            / max(np.abs(expected).max(), 1e-300)))
print("relative error per layer:", [f"{e:.1e}" for e in rel_errors])

# %% [markdown]
# ## 3. Training on randman: DECOLLE vs BPTT
# Same network, data, optimizer and epochs; only `rule` differs. Accuracy is the argmax of the
# output spike counts for both.

# %%
histories, finals = {}, {}
for rule in ("bptt", "decolle"):
    config = TrainConfig.from_preset(train_preset, epochs=train_epochs, seed=seed, rule=rule,
                                     progress=False)
    run = train_and_evaluate(config)
    histories[rule], finals[rule] = run["history"], float(run["test_accuracy"])
    print(f"{rule:8s} test accuracy {finals[rule]:.3f}  ({run['wall_time_s']:.1f} s)")
fig = figures.rule_comparison(histories)

# %% [markdown]
# ## 4. Memory of one training step vs $T$
# Analytic: the floats a rule keeps while computing one batch's gradient (BPTT: at least the
# inputs and potentials of every step; DECOLLE: its carried state). Measured, in a fresh
# process per point after a warm-up call on $T=2$ (see `snnlib.learning.memory`): TensorFlow's
# CPU allocator peak during the step (`tf.config.experimental.get_memory_info`; the measuring
# process selects TF's BFC allocator itself, since only that one keeps statistics; coarse for
# the many small tensors of the online loop) and the increase of the process's resident
# high-water mark (`resource.getrusage().ru_maxrss`; noisy by a few MB on a shared machine).
# The table's last line names the methods, or says why a figure could not be measured.
# The network is the randman one, $[128, 128, 10]$.

# %%
rows = memory_table(["bptt", "decolle"], memory_steps, batch=memory_batch, measure=measure_memory)

print(format_memory_table(rows))
fig = figures.memory_vs_steps(rows)

# %% [markdown]
# ## 5. Sanity checks

# %%
assert max(rel_errors) <= 1e-9, "DECOLLE must equal BPTT of the local losses"
assert np.isfinite(histories["decolle"][-1]["train_loss"])
stored = {(r["rule"], r["steps"]): r["stored_mb"] for r in rows}
t_max, t_min = max(memory_steps), min(memory_steps)
assert stored[("decolle", t_max)] == stored[("decolle", t_min)], "DECOLLE's state must not grow with T"
assert stored[("bptt", t_max)] > stored[("bptt", t_min)]
peak = {(r["rule"], r["steps"]): r.get("rss_peak_mb") for r in rows}
alloc = {(r["rule"], r["steps"]): r.get("step_peak_mb") for r in rows}
save_metrics(decolle_test_accuracy=round(finals["decolle"], 4),
             bptt_test_accuracy=round(finals["bptt"], 4),
             max_rel_error=float(max(rel_errors)),
             decolle_stored_mb_tmax=round(stored[("decolle", t_max)], 3),
             bptt_stored_mb_tmax=round(stored[("bptt", t_max)], 3),
             decolle_rss_peak_mb_tmax=peak[("decolle", t_max)],
             bptt_rss_peak_mb_tmax=peak[("bptt", t_max)],
             decolle_alloc_peak_mb_tmax=alloc[("decolle", t_max)],
             bptt_alloc_peak_mb_tmax=alloc[("bptt", t_max)])

# %% [markdown]
# ## Summary
# DECOLLE trains every layer on its own per-step loss through a fixed random readout. With the
# seed's stop-gradient reset, its update is *exactly* the gradient of that local loss, computed
# from a presynaptic trace and a local error as the sequence unfolds: no stored sequence, no
# backward pass. The price is that hidden layers never receive the output's error.
# **Next:** `06_eprop`: keep one network loss, and send its error to hidden layers through
# feedback weights.
