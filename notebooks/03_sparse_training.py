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
# # 03 · Sparse training: three implementations of one network
#
# **You will see**
# - `dense`, `sparse_ops` and `sparse_layer` run on the same seeded network and agree: same
#   spikes, same weight gradients;
# - training curves on randman for dense and for `sparse_layer` at a maximum activity of 10%,
#   5% and 1% (the original paper's claim: sparse training converges like dense);
# - what the backward pass stores, dense vs index lists;
# - the time of one training step of each implementation;
# - the trained network leaving as a NIR graph (the format snnTorch, Norse, Lava, Rockpool
#   and neuromorphic hardware read) and coming back onto every implementation.
#
# **Prerequisites:** notebooks 01 and 02. **Runtime:** about 1-2 min with the tiny preset
# (four randman trainings at the seed's settings, about 10 s each on 2 cores).

# %% tags=["parameters"]
train_preset = "randman"
train_epochs = 5
hidden = [128]
th2 = 0.9
max_activities = [0.1, 0.05, 0.01]
timing_sizes = [256, 256, 256, 10]
timing_steps = 50
timing_batch = 32
timing_input_activity = 0.02
timing_max_activity = 0.05
timing_repeats = 3
seed = 0

# %%
import tempfile
from pathlib import Path

import numpy as np

from snnlib import LIFParams, init_weights, plotting
from snnlib.bench import BenchCase, run_case
from snnlib.data import load_dataset
from snnlib.interop import NIRError, from_nir, read_nir, to_nir, write_nir
from snnlib.layers import sparse_sizes_for
from snnlib.reporting import save_metrics
from snnlib.network import accuracy_conclusions, backward_storage_bytes, compare_implementations
from snnlib.train import TrainConfig, train_and_evaluate

# %% [markdown]
# ## 1. One network, three implementations
#
# - **dense**: 0/1 spike tensors; each layer's input current for all steps is one matmul, then
#   the membrane recursion (a reverse-time filter in the backward pass).
# - **sparse_ops**: the same layer-wise loop, but the matmul gathers weight columns of index
#   lists (`sparse_matmul`) and spikes are selected into index lists (`select_spikes`).
# - **sparse_layer**: one compiled op per layer runs the whole sequence, forward and BPTT
#   backward, on index lists; it stores only the lists ($O(T B S)$) for the backward pass.
#
# With a capacity $S$ equal to the layer width nothing overflows, and all three must compute
# the same spikes and the same gradients (the `dense` one with the $\vartheta_2$ mask).

# %%
rng = np.random.default_rng(seed)
sizes = [16, 7, 2]
x_small = (rng.random((24, 100, 16)) < 0.4).astype(np.float32)
y_small = rng.integers(0, 2, 24).astype(np.int32)
params_small = LIFParams(alpha=0.9, th2=(0.9, None))
equality = compare_implementations(init_weights(sizes, seed=3), x_small, y_small, params_small, sizes)
for row in equality:
    print(row)

# %% [markdown]
# ## 2. Training: dense vs sparse at 10%, 5% and 1% maximum activity
# The capacity of each hidden layer is $S = 2\lfloor a_{\max} N/2\rfloor$ (at least 2); spikes
# beyond it are dropped and counted (`overflow`: dropped spikes per step and sample).

# %%
base = dict(epochs=train_epochs, hidden=tuple(hidden), th2=th2, seed=seed, progress=False)
dataset = load_dataset("randman", seed=seed, **TrainConfig.from_preset(train_preset).data)
runs = {"dense": train_and_evaluate(TrainConfig.from_preset(train_preset, **base), dataset=dataset)}
for a_max in max_activities:
    cfg = TrainConfig.from_preset(train_preset, impl="sparse_layer", max_activity=a_max, **base)
    runs[f"sparse_layer {a_max:.0%}"] = train_and_evaluate(cfg, dataset=dataset)
for name, r in runs.items():
    last = r["history"][-1]
    print(f"{name:>18}: test acc {r['test_accuracy']:.3f}  loss {r['test_loss']:.3f}  "
          f"hidden activity {last['train_activity_0']:.3%}  overflow "
          f"{last.get('train_overflow_0', 0.0):.3f}  ({r['wall_time_s']:.1f} s)")
fig = plotting.learning_curves({k: v["history"] for k, v in runs.items()},
                               metrics=("loss", "accuracy", "activity_0"))

# %% [markdown]
# What this run shows, computed from its numbers:

# %%
for line in accuracy_conclusions(runs, reference="dense", tolerance=0.02):
    print("-", line)

# %% [markdown]
# ## 3. What the backward pass stores
# Dense BPTT keeps every layer's input sequence, potentials and spikes: $O(T B N)$ floats.
# `sparse_layer` keeps index lists and the potentials at the listed neurons: $O(T B S)$.
# Counted from the shapes (`snnlib.network.sparsity.backward_storage_bytes`, not measured), for the
# seed's benchmark network ([1152, 980, 980, 980, 10], T = 100, batch 48, input capacity 32):

# %%
bench_sizes = [1152, 980, 980, 980, 10]
for a_max in (0.1, 0.05, 0.01):
    caps = sparse_sizes_for(bench_sizes, a_max, 32)
    mem = backward_storage_bytes(bench_sizes, caps, 100, 48)
    print(f"max activity {a_max:>4.0%}: dense {mem['dense'] / 2**20:7.1f} MiB   sparse_layer "
          f"{mem['sparse_layer'] / 2**20:6.2f} MiB   ({mem['dense'] / mem['sparse_layer']:.0f}x less)")

# %% [markdown]
# ## 4. Time per training step
# The same random input spikes and labels for every implementation (the benchmark harness of
# notebook 04); the step is the model's `train_step` (forward, loss, gradients, Adam) inside
# `tf.function`, median of a few repeats.

# %%
step_ms = {}
for impl in ("dense", "sparse_ops", "sparse_layer"):
    case = BenchCase(impl=impl, n_in=timing_sizes[0], hidden=tuple(timing_sizes[1:-1]),
                     n_out=timing_sizes[-1], n_steps=timing_steps, batch_size=timing_batch,
                     max_activity=None if impl == "dense" else timing_max_activity,
                     input_activity=timing_input_activity, th2=th2, seed=seed)
    (record,) = run_case(case, modes=("train",), repeats=timing_repeats, steps=1)
    step_ms[impl] = record["step_ms_median"]
for impl, ms in step_ms.items():
    print(f"{impl:>13}: {ms:8.1f} ms per step  ({timing_batch / ms * 1e3:7.0f} samples/s, "
          f"{step_ms['dense'] / ms:5.1f}x dense)")

# %% [markdown]
# ## 5. Leaving as a NIR graph, and coming back
# NIR describes a LIF neuron in continuous time, $\tau \dot v = (v_{leak} - v) + r I$, spike
# when $v > v_{th}$, then $v \leftarrow v_{reset}$. Forward Euler with a step $dt$ gives
# $v_t = (1 - dt/\tau) v_{t-1} + (dt/\tau) r I_t$: our layer exactly, with
# $\tau = dt/(1-\alpha)$, $r = \text{gain}$, $v_{th} = \vartheta_1$, $v_{leak} = v_{reset} = 0$;
# the one-step delay between layers is a `Delay` node of one $dt$. The capacity of a sparse
# model is not expressible, so a capped model is refused unless asked for the uncapped network.

# %%
trained = runs["dense"]["model"]
graph = to_nir(trained, dt=1e-3)
for name, node in graph.nodes.items():
    fields = {k: np.shape(v) for k, v in vars(node).items() if isinstance(v, np.ndarray)}
    print(f"{name:>8}  {type(node).__name__:<7} {fields}")
lif = graph.nodes["lif0"]
print(f"alpha {trained.params.alpha} -> tau {lif.tau[0]:.4f} s;  gain {trained.params.gain} -> r {lif.r[0]}")
try:
    to_nir(runs[f"sparse_layer {max_activities[-1]:.0%}"]["model"])
except NIRError as err:
    print("refused:", str(err)[:120], "...")

# %% [markdown]
# The round trip: write the file, read it back, run it on each implementation, same inputs.

# %%
x_check = dataset.x_test[:8].astype(np.float32)
logits_ref, out_ref = trained.forward(x_check, dense_hidden=True)
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "randman.nir"
    write_nir(trained, path)
    round_trip = {impl: from_nir(read_nir(path), impl=impl) for impl in ("dense", "sparse_ops", "sparse_layer")}
nir_equal = {}
for impl, model in round_trip.items():
    logits, out = model.forward(x_check, dense_hidden=True)
    nir_equal[impl] = all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(out_ref.spikes, out.spikes))
    print(f"{impl:>13}: spikes identical to the trained model: {nir_equal[impl]}")

# %% [markdown]
# ## 6. Sanity checks

# %%
assert all(r["spikes_equal"] for r in equality)
assert all(r["max_grad_rel_diff"] < 1e-4 for r in equality)
assert all(np.isfinite(r["test_loss"]) for r in runs.values())
assert all(nir_equal.values())
save_metrics(dense_accuracy=round(runs["dense"]["test_accuracy"], 4),
             **{f"sparse_{int(a * 100)}pct_accuracy": round(runs[f"sparse_layer {a:.0%}"]["test_accuracy"], 4)
                for a in max_activities},
             speedup_sparse_layer=round(step_ms["dense"] / step_ms["sparse_layer"], 2))

# %% [markdown]
# ## Summary
# The three implementations compute the same network; the sparse ones only touch listed
# neurons and store $O(TBS)$ for the backward pass. Whether sparse training reaches the dense
# accuracy depends on the capacity against the activity the network really has: the lines
# under the learning curves say, for this run, which capacities came within 2 points of
# dense. The trained network leaves as a NIR graph and comes back with identical spikes on every
# implementation. **Next:** `04_benchmarks` measures throughput over the
# original benchmark grid; `05_decolle` and `06_eprop` replace BPTT by online rules.
