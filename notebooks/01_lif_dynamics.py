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
# # 01 · LIF dynamics: the neuron of this workbook
#
# **You will see**
# - the leaky integrate-and-fire (LIF) equations of the seed model (graphcore_snn), their
#   discretisation, and why the reset sits under a stop-gradient;
# - a single neuron's membrane potential and spikes for a constant and a noisy input;
# - the SuperSpike surrogate gradient and the second ("gradient") threshold $\vartheta_2$;
# - an interactive panel (static figures when rendered headless);
# - a first training run on the *randman* task and its learning curve.
#
# **Prerequisites:** none beyond Python and a little calculus.
# **Runtime:** about 10 s with the tiny preset on 2 CPU cores; the full preset trains the
# seed's randman configuration (about a minute).

# %% tags=["parameters"]
alpha = 0.95
gain = 10.0
th1 = 1.0
th2 = 0.9
n_steps = 120
input_rate = 0.3
train_preset = "tiny"
train_epochs = 3
interactive = None
seed = 0

# %%
import numpy as np

import snnlib  # first: it imports TensorFlow without the start-up noise
import tensorflow as tf
from snnlib import LIFParams
from snnlib.functional import lif_membrane, superspike_derivative
from snnlib import plotting
from snnlib.reporting import is_headless, save_metrics
from snnlib.train import TrainConfig, train_and_evaluate

params = LIFParams(alpha=alpha, gain=gain, th1=th1, th2=th2)
use_widgets = (not is_headless()) if interactive is None else bool(interactive)
rng = np.random.default_rng(seed)

# %% [markdown]
# ## 1. From the differential equation to the update rule
#
# A LIF neuron integrates its input current into a leaky membrane potential,
# $\tau\,\dot V = -V + R\,I(t)$, and emits a spike when $V$ reaches the threshold
# $\vartheta_1$, after which $V$ is reset to zero. With a time step $\Delta t$ and
# $\alpha = e^{-\Delta t/\tau}$, the exact solution for an input held constant over a step is
# $V_t = \alpha V_{t-1} + (1-\alpha) R I_t$. The seed model writes $R = \text{gain}$ (10) and
# takes the synaptic input from a weight matrix $W$ $[in, out]$ (the Keras kernel layout),
# $I_t = x_t W$, with no bias:
#
# $$V'_{t-1} = V_{t-1} - \operatorname{sg}\!\big(V_{t-1}\,H(V_{t-1}-\vartheta_1)\big), \qquad
#   V_t = \alpha V'_{t-1} + (1-\alpha)\,\text{gain}\,I_t, \qquad S_t = H(V_t - \vartheta_1).$$
#
# Two details matter for matching the original numerically:
# - **The reset is decided on the previous state.** A neuron that spiked at $t-1$ starts step
#   $t$ from zero; there is no separate reset step.
# - **The reset is under a stop-gradient** ($\operatorname{sg}$), so in the backward pass
#   $\partial V_t / \partial V_{t-1} = \alpha$ always. This makes the membrane a *linear*
#   filter for gradients, which `snnlib` exploits: the backward pass of a whole layer is one
#   reverse-time exponential filter.

# %%
current = np.full(n_steps, 0.12)
current[n_steps // 2:] = 0.2
v = lif_membrane(tf.constant(current[:, None, None]), alpha=alpha, gain=gain, th1=th1).numpy()[:, 0, 0]
spikes = (v >= th1).astype(float)
fig = plotting.membrane_trace(v, spikes, th1=th1, th2=th2, current=current,
                              title="constant input, stepped up half-way")

# %% [markdown]
# For a constant input $I$ from rest, $V_t = \text{gain}\,I\,(1-\alpha^{t+1})$, so the neuron
# spikes only if $\text{gain}\cdot I \ge \vartheta_1$, i.e. $I \ge 0.1$ here; the first spike
# comes at the first $t$ with $1-\alpha^{t+1} \ge \vartheta_1/(\text{gain}\,I)$. Check:

# %%
t_first = int(np.argmax(v >= th1))
t_closed_form = int(np.ceil(np.log(1 - th1 / (gain * current[0])) / np.log(alpha) - 1))
print(f"first spike at step {t_first}; closed form predicts {t_closed_form}")

# %% [markdown]
# A noisy input gives irregular spiking; each spike is followed by a restart from zero:

# %%
noisy = 0.11 + 0.08 * rng.standard_normal(n_steps)
v_noisy = lif_membrane(tf.constant(noisy[:, None, None]), alpha=alpha, gain=gain, th1=th1).numpy()[:, 0, 0]
fig = plotting.membrane_trace(v_noisy, v_noisy >= th1, th1=th1, th2=th2, current=noisy,
                              title="noisy input")

# %% [markdown]
# ## 2. The surrogate gradient
#
# $H$ has zero derivative almost everywhere, so training uses a *surrogate* in the backward
# pass: SuperSpike's fast-sigmoid-squared (Zenke & Ganguli 2018),
# $\partial S/\partial V \approx 1/(\beta|V-\vartheta_1|+1)^2$ with $\beta = 10$.
# The seed adds an optional mask $[V \ge \vartheta_2]$: only neurons near or above threshold
# get a gradient. That is exactly what a sparse implementation can afford to compute, since it
# stores only those neurons (spikes and "gradient candidates"); notebook 02 builds on it.

# %%
fig = plotting.surrogate_shapes(th1=th1, th2=th2)

# %% [markdown]
# ## 3. Explore the parameters
#
# One neuron driven by a random binary input (each input spike adds 0.4 to $I_t$). Opened
# interactively (`./build.sh lab`), the sliders below change $\alpha$, the gain and the input
# rate, and the figure is redrawn for each new value: a larger $\alpha$ integrates longer, a
# larger gain reaches threshold sooner. Rendered headless, the figure is the panel's first
# view: the parameters of this notebook.

# %%
explorer = plotting.lif_explorer(alpha=alpha, gain=gain, th1=th1, th2=th2, n_steps=n_steps,
                                 rate=input_rate, seed=seed, interactive=use_widgets)
if use_widgets:
    display(explorer)  # noqa: F821 (IPython builtin)

# %% [markdown]
# ## 4. A first training run: randman
#
# *Randman* (Zenke & Vogels 2021) is a synthetic spike-timing task: each class is a random
# smooth manifold in the space of spike times of 128 input neurons, each firing once. The seed
# network is a stack of LIF layers whose last layer has one neuron per class; the prediction is
# the neuron with the most spikes, and the loss is the softmax cross-entropy of the spike
# counts. Training is backpropagation through time with the surrogate gradient.

# %%
config = TrainConfig.from_preset(train_preset, epochs=train_epochs, seed=seed, progress=False)
result = train_and_evaluate(config)
fig = plotting.learning_curves({f"{config.impl} ({train_preset})": result["history"]})
print(f"test accuracy after {config.epochs} epochs: {result['test_accuracy']:.3f} "
      f"({result['wall_time_s']:.1f} s)")

# %% [markdown]
# ## 5. Sanity checks
# The notebook is also a test: these assertions fail the report if the physics is off.

# %%
assert t_first == t_closed_form, "first spike time disagrees with the closed form"
assert spikes.sum() > 0 and np.all(v[np.flatnonzero(spikes[:-1]) + 1] < th1 + 1e-9)
assert np.isclose(float(superspike_derivative(th1, th1=th1, beta=10.0)), 1.0)
assert np.isfinite(result["history"][-1]["train_loss"])
save_metrics(first_spike_step=t_first, test_accuracy=round(float(result["test_accuracy"]), 4),
             train_seconds=round(result["wall_time_s"], 1))

# %% [markdown]
# ## Summary
# The seed LIF neuron is a leaky integrator with a reset-to-zero decided on the previous
# state; its gradient flows through a linear filter thanks to the stop-gradient reset, and
# through spikes via the SuperSpike surrogate, optionally masked at $\vartheta_2$.
# **Next:** `02_sparse_spikes`: how few neurons are active, and how to compute only with them.
