"""Shared PyTorch pieces of the peers: the SuperSpike spike function, the network skeleton
and the timing loop (mirrors :func:`snnlib.bench.runner.run_case`)."""

from __future__ import annotations

import numpy as np
import torch

from snnlib.bench.cases import array_sha256, bench_inputs
from snnlib.bench.timing import maxrss_mb, summarize, time_calls, with_peak_rss
from snnlib.functional.params import LIFParams, init_weights


class SuperSpike(torch.autograd.Function):
    """``S = H(v - th1)`` forward; ``dS/dv = 1 / (beta |v - th1| + 1)^2`` backward."""

    @staticmethod
    def forward(ctx, v, th1: float, beta: float):
        ctx.save_for_backward(v)
        ctx.th1, ctx.beta = th1, beta
        return (v >= th1).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad / (ctx.beta * (v - ctx.th1).abs() + 1.0) ** 2, None, None


def shift_in_time(x: torch.Tensor) -> torch.Tensor:
    """One-step delay of a time-major ``[T, B, n]`` sequence."""
    return torch.cat([torch.zeros_like(x[:1]), x[:-1]], dim=0)


class LayerwiseSNN(torch.nn.Module):
    """Feed-forward LIF stack run layer by layer over the whole sequence.

    ``run_layer(l, current [T, B, n]) -> spikes [T, B, n]`` is the peer's neuron;
    ``current = x W_l`` for all steps in one matmul (``W_l [in, out]`` from ``init_weights``,
    stored transposed as the ``[out, in]`` weight of a ``torch.nn.Linear``), and layer
    ``l >= 1`` reads the previous layer's spikes delayed by one step (the seed model). Logits are last-layer spike counts.
    """

    def __init__(self, sizes, run_layer, *, seed: int = 0, params: LIFParams | None = None):
        super().__init__()
        params = params or LIFParams()
        self.linears = torch.nn.ModuleList()
        for w in init_weights(sizes, weight_mul=params.weight_mul, seed=seed):
            lin = torch.nn.Linear(w.shape[0], w.shape[1], bias=False)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.T.copy()))
            self.linears.append(lin)
        self.run_layer = run_layer

    def forward(self, x_time_major):
        x = x_time_major
        for l, lin in enumerate(self.linears):
            if l > 0:
                x = shift_in_time(x)
            x = self.run_layer(l, lin(x))
        return x.sum(0)


def time_torch_case(case, build_network, *, peer: str, version: str, modes, warmup, repeats,
                    steps, memory_method, data=None) -> list[dict]:
    """Time training step (forward, loss, backward, Adam) and inference of a peer network."""
    x_np, y_np = bench_inputs(case) if data is None else data
    base = {**case.to_dict(), "input_sha256": array_sha256(x_np, y_np),
            "input_spikes_per_step": float(x_np.sum(-1).mean()), "peer": peer,
            "peer_version": version, "torch_version": torch.__version__,
            "torch_threads": torch.get_num_threads(), "memory_method": memory_method,
            "warmup": warmup, "repeats": repeats, "steps": steps, "sparse_sizes": None}
    rss0 = maxrss_mb()
    torch.manual_seed(case.seed)
    net = build_network(case.sizes, seed=case.seed, params=LIFParams(weight_mul=case.weight_mul))
    if case.layer_scales is not None:  # the calibrated network of the real_activity preset
        with torch.no_grad():
            for param, scale in zip(net.parameters(), case.layer_scales):
                param.mul_(float(scale))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    base["n_params"] = int(sum(p.numel() for p in net.parameters()))
    x = torch.from_numpy(np.ascontiguousarray(x_np.transpose(1, 0, 2)))
    y = torch.from_numpy(y_np.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        return loss.detach()

    def infer(xb):
        with torch.no_grad():
            return net(xb)

    base["setup_rss_mb"] = maxrss_mb() - rss0
    records = []
    if "infer" in modes:
        t, memory = with_peak_rss(lambda: time_calls(
            infer, (x,), warmup=warmup, repeats=repeats, steps=steps, sync=lambda out: out.numpy()))
        records.append({**base, "mode": "infer", "warmup_s": t["warmup_s"],
                        **summarize(t["step_s"], case.batch_size), **memory})
    if "train" in modes:
        t, memory = with_peak_rss(lambda: time_calls(
            train_step, (x, y), warmup=warmup, repeats=repeats, steps=steps,
            sync=lambda out: float(out)))
        records.append({**base, "mode": "train", "warmup_s": t["warmup_s"],
                        **summarize(t["step_s"], case.batch_size), **memory,
                        "loss": float(t["last"])})
    return records
