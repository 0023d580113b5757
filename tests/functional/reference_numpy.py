"""An independent float64 NumPy forward pass and hand-written BPTT of the seed LIF network.

Written with explicit time loops, directly from the equations of DESIGN.md section 3, so that
the TensorFlow implementation can be checked against it.
"""

import numpy as np


def surrogate(v, th1, beta, th2):
    d = 1.0 / (beta * np.abs(v - th1) + 1.0) ** 2
    if th2 is not None:
        d = d * (v >= th2)
    return d


def forward(weights, x, *, alpha, gain, th1, delay):
    """x: [B, T, n0]. Returns per layer (inputs [B,T,in], V [B,T,out], S [B,T,out])."""
    layers = []
    inp = x
    for l, w in enumerate(weights):
        if l > 0 and delay:
            inp = np.concatenate([np.zeros_like(inp[:, :1]), inp[:, :-1]], axis=1)
        b, t_len, _ = inp.shape
        v_prev = np.zeros((b, w.shape[1]))  # w: [in, out]
        vs, ss = [], []
        for t in range(t_len):
            i_t = inp[:, t] @ w
            v_reset = np.where(v_prev >= th1, 0.0, v_prev)
            v_t = alpha * v_reset + (1 - alpha) * gain * i_t
            vs.append(v_t)
            ss.append((v_t >= th1).astype(np.float64))
            v_prev = v_t
        layers.append((inp, np.stack(vs, 1), np.stack(ss, 1)))
        inp = layers[-1][2]
    return layers


def backward(weights, layers, grad_last_spikes, *, alpha, gain, th1, beta, th2s, delay):
    """BPTT with the reset under stop-gradient. Returns dL/dW per layer."""
    grads = [None] * len(weights)
    g_s = grad_last_spikes
    for l in reversed(range(len(weights))):
        inp, v, _ = layers[l]
        b, t_len, n = v.shape
        g_v_next = np.zeros((b, n))
        g_i = np.zeros_like(v)
        for t in reversed(range(t_len)):
            g_v = g_s[:, t] * surrogate(v[:, t], th1, beta, th2s[l]) + alpha * g_v_next
            g_i[:, t] = (1 - alpha) * gain * g_v
            g_v_next = g_v
        grads[l] = np.einsum("btn,btm->mn", g_i, inp)  # [in, out]
        g_inp = np.einsum("btn,mn->btm", g_i, weights[l])
        if delay:
            g_s = np.concatenate([g_inp[:, 1:], np.zeros_like(g_inp[:, :1])], axis=1)
        else:
            g_s = g_inp
    return grads
