"""Export a trained network to NIR, the Neuromorphic Intermediate Representation (``nir`` 1.0).

NIR describes neurons in continuous time. Its ``LIF`` node is

    tau dv/dt = (v_leak - v) + r I,     z = H(v - v_threshold),     v <- v_reset after z = 1

and ``LI`` (leaky integrator) is the same without spike and reset. Forward Euler with a time
step ``dt`` (what snnTorch's and Norse's importers do) turns it into

    v_t = (1 - dt/tau) v_{t-1} + (dt/tau) r I_t                    (v_leak = 0)

which is our layer (:mod:`snnlib.functional.lif`)

    V_t = alpha V'_{t-1} + (1 - alpha) gain I_t,                   V' = 0 where V_{t-1} >= th1

term by term with the mapping used here, exact for the Euler form (not ``exp(-dt/tau)``,
which would need ``r`` rescaled and which neither importer uses: snnTorch's
``import_from_nir`` sets ``beta = 1 - dt/tau`` and divides the threshold by ``r dt/tau``;
Norse's ``from_nir`` steps ``dv = dt/tau ((v_leak - v) + I)`` and ignores ``r``):

    tau = dt / (1 - alpha)          alpha = 1 - dt / tau
    r = gain                        gain = r
    v_threshold = th1, v_leak = 0, v_reset = 0 (reset to zero)

The reset: we emit ``S_t`` from ``V_t`` and start step ``t+1`` from zero; NIR resets ``v`` to
``v_reset = 0`` right after the spike: the same spikes and the same next state. NIR's spike
condition is ``v > v_threshold``, ours ``V >= th1``: they differ only when ``V`` equals the
threshold exactly.

Weights: NIR's ``Linear`` computes ``y = W x`` with ``W [out, in]``; ours are stored
``[in, out]`` (``I = x W``), so the export writes ``W.T`` (no bias: ``Linear``, not
``Affine``). With ``fold_gain=True`` the gain goes into the weights instead (``r = 1``,
``weight = gain W.T``): the same network in exact arithmetic, for importers that ignore ``r``
(Norse); the spikes can differ by float rounding.

The one-step layer delay (``layer_delay=True``: layer ``l >= 1`` reads layer ``l-1``'s spikes
of step ``t-1``) is a ``nir.Delay`` node with ``delay = dt`` on every edge between layers
(``y(t) = x(t - dt)``), so the graph computes what our network computes. Importers that do
not implement ``Delay`` (snnTorch, Norse) need a network trained with ``layer_delay=False``.

What NIR cannot express, and what happens to it:

* ``th2`` (the gradient mask), ``beta`` (surrogate slope), ``weight_mul`` (initialisation):
  training-time details that do not change the forward pass. They are kept in the graph's
  metadata (``snnlib_params``, JSON) for our own import and ignored by others.
* The logits: the graph's output is the last layer's spikes (``"spikes"`` readout; logits =
  their count over time) or the readout's potential (``"leaky"``; logits = its time mean).
  The reduction over time is not part of the graph.
* The capacity of the sparse implementations (``max_activity``: spikes beyond ``S`` per step
  are dropped): NIR has no such node, so a model with ``S < N`` in any layer is refused unless
  ``allow_capacity=True``, which exports the uncapped network (identical whenever no spike
  overflowed; see the ``overflow_l`` metrics).
"""

from __future__ import annotations

import dataclasses
import json
import math

import nir
import numpy as np

from snnlib.layers.classifier import SNNClassifier

DEFAULT_DT = 1e-3
SOURCE = "snnlib"


class NIRError(ValueError):
    """A NIR graph or file we cannot read or write, or a network NIR cannot express."""


def as_classifier(model_or_run) -> SNNClassifier:
    """The :class:`SNNClassifier` of ``model_or_run``: the model itself or a run's ``.model``."""
    model = model_or_run
    if not isinstance(model, SNNClassifier) and hasattr(model, "model"):
        model = model.model
    if not isinstance(model, SNNClassifier):
        raise TypeError("to_nir expects an SNNClassifier or a run with a .model attribute; "
                        f"got {type(model_or_run).__name__}")
    if not model.built or not getattr(model.stack, "kernels", None):
        raise ValueError("the model has no weights yet: build it first (call it on a batch or "
                         "model.build((None, None, n_in)))")
    return model


def tau_from_alpha(alpha: float, dt: float) -> float:
    """NIR's ``tau`` for our decay ``alpha`` at step ``dt``: ``tau = dt / (1 - alpha)``."""
    return dt / (1.0 - alpha)


def alpha_from_tau(tau: float, dt: float) -> float:
    """Our decay for NIR's ``tau`` at step ``dt``: ``alpha = 1 - dt / tau``."""
    return 1.0 - dt / tau


def validate_dt(dt) -> float:
    if not isinstance(dt, (int, float, np.floating)) or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a positive finite number (seconds per step); got {dt!r}")
    return float(dt)


def _check_capacity(model: SNNClassifier) -> None:
    if model.impl == "dense":
        return
    widths = model.stack.sizes
    for l, (s, n) in enumerate(zip(model.stack.sparse_sizes, widths)):
        if s < n:
            where = "the input" if l == 0 else f"LIF layer {l - 1}"
            raise NIRError(
                f"{where} of this {model.impl} model lists at most S = {s} of its {n} neurons "
                "per step (max_activity / input_capacity): spikes beyond S are dropped, which "
                "NIR cannot express, so the graph would compute a different network. Pass "
                "allow_capacity=True to export the uncapped network (identical whenever no "
                "spike overflowed: see the overflow_l metrics)")


def _neurons(n: int, value: float) -> np.ndarray:
    return np.full((n,), value, dtype=np.float64)


def _lif(n: int, tau: float, r: float, th1: float) -> nir.LIF:
    return nir.LIF(tau=_neurons(n, tau), r=_neurons(n, r), v_leak=_neurons(n, 0.0),
                   v_threshold=_neurons(n, th1), v_reset=_neurons(n, 0.0))


def to_nir(model_or_run, *, dt: float = DEFAULT_DT, fold_gain: bool = False,
           unit_input: bool = False, allow_capacity: bool = False) -> nir.NIRGraph:
    """The NIR graph of a trained :class:`SNNClassifier` (or of a run: anything with ``.model``).

    Nodes, in order: ``input`` (``Input [n_in]``); per LIF layer ``l``: ``delay{l}``
    (``Delay``, ``l >= 1`` with ``layer_delay``), ``linear{l}`` (``Linear``, ``W_l.T``) and
    ``lif{l}`` (``LIF``); with the leaky readout ``delay_readout``, ``linear_readout`` and
    ``readout`` (``LI``); ``output``. A convolutional layer is exported as the ``Linear`` of
    its matrix ``M(K)`` (the same map; an importer gets a dense layer). The mapping of the
    constants is the module docstring's: ``tau = dt / (1 - alpha)``, ``r = gain``,
    ``v_threshold = th1``, ``v_leak = v_reset = 0``.

    Args:
        model_or_run: a built ``SNNClassifier``, or an object with a ``.model`` that is one.
        dt: the time step in seconds that one of our steps stands for (default 1 ms).
        fold_gain: put ``gain`` into the weights and export ``r = 1``.
        unit_input: put the whole input factor ``(dt / tau) r = (1 - alpha) gain`` into the
            weights and export ``r = tau / dt``, so that ``(dt / tau) r = 1``: the same
            dynamics for importers whose neuron adds its input unscaled (snnTorch's
            ``Leaky``; its importer also assumes ``dt = 1e-4``: export with that ``dt``).
        allow_capacity: export a sparse model with a capacity below its width as uncapped.

    Returns:
        ``nir.NIRGraph``; its metadata holds ``source = "snnlib"``, ``dt``, ``readout`` and
        ``snnlib_params`` (our :class:`LIFParams` as JSON).

    Raises:
        NIRError: the model uses something NIR cannot express (a sparse capacity below ``N``).
    """
    model = as_classifier(model_or_run)
    dt = validate_dt(dt)
    if not allow_capacity:
        _check_capacity(model)
    params = model.params
    tau = tau_from_alpha(params.alpha, dt)
    if fold_gain and unit_input:
        raise ValueError("fold_gain and unit_input are two ways to place the gain: choose one")
    r, scale = (1.0, float(params.gain)) if fold_gain else (float(params.gain), 1.0)
    if unit_input:
        r, scale = tau / dt, float(params.gain) * dt / tau
    weights = [np.asarray(w.numpy()) for w in model.stack.weight_matrices()]
    n_in = weights[0].shape[0]
    nodes = {"input": nir.Input(input_type=np.array([n_in]))}
    chain = ["input"]

    def linear(name, w):
        nodes[name] = nir.Linear(weight=np.ascontiguousarray((w * scale).T.astype(np.float32)))
        chain.append(name)

    def delay(name, n):
        if params.layer_delay:
            nodes[name] = nir.Delay(delay=_neurons(n, dt))
            chain.append(name)

    for l, w in enumerate(weights):
        if l > 0:
            delay(f"delay{l}", w.shape[0])
        linear(f"linear{l}", w)
        nodes[f"lif{l}"] = _lif(w.shape[1], tau, r, params.th1)
        chain.append(f"lif{l}")
    n_out = weights[-1].shape[1]
    if model.readout is not None:
        w = np.asarray(model.readout.kernel.numpy())
        delay("delay_readout", w.shape[0])
        linear("linear_readout", w)
        n_out = w.shape[1]
        nodes["readout"] = nir.LI(tau=_neurons(n_out, tau), r=_neurons(n_out, r),
                                  v_leak=_neurons(n_out, 0.0))
        chain.append("readout")
    nodes["output"] = nir.Output(output_type=np.array([n_out]))
    chain.append("output")
    metadata = {"source": SOURCE, "dt": dt, "readout": model.readout_kind,
                "snnlib_params": json.dumps(dataclasses.asdict(params))}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(chain[:-1], chain[1:])), metadata=metadata)


def write_nir(model_or_run, path, **options) -> None:
    """``nir.write(path, to_nir(model_or_run, **options))``."""
    nir.write(str(path), to_nir(model_or_run, **options))
