"""Import a NIR graph as an :class:`SNNClassifier` that runs on any of our implementations.

Accepted graphs are our network family, a chain (see :mod:`snnlib.interop.nir_export` for the
equations and the mapping ``alpha = 1 - dt/tau``, ``gain = r``, ``th1 = v_threshold``):

    Input -> [Delay] -> Linear|Affine -> LIF -> ... -> [Delay -> Linear|Affine -> LI] -> Output

with ``v_leak = 0``, ``v_reset = 0``, zero bias, one value of ``tau``, ``r`` and
``v_threshold`` for every neuron of every layer (our :class:`LIFParams` has one ``alpha``,
``gain`` and ``th1``), ``Delay`` nodes of one step (``delay = dt``) either between all
layers (``layer_delay=True``) or nowhere, and the first layer read without delay. Anything
else (another node type, a branch, a bias, a reset that is not to zero, per-neuron
constants, shapes that do not chain) raises :class:`NIRError` naming the node and the field:
importing it would give a network that computes something else.
"""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np

from snnlib.functional.params import LIFParams
from snnlib.interop.nir_export import SOURCE, NIRError, alpha_from_tau, validate_dt
from snnlib.layers.classifier import SNNClassifier

SUPPORTED = (nir.Input, nir.Output, nir.Linear, nir.Affine, nir.LIF, nir.LI, nir.Delay)
TRAINING_FIELDS = ("th2", "beta", "weight_mul")


def read_nir(path) -> nir.NIRGraph:
    """``nir.read(path)`` with errors that name the file (:class:`NIRError`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no NIR file at {path}")
    try:
        import h5py

        with h5py.File(path, "r") as f:
            if "node" not in f:
                raise NIRError(f"{path} is an HDF5 file but not a NIR graph (no 'node' group)")
    except OSError as err:
        raise NIRError(f"{path} is not a NIR file (NIR files are HDF5: {err})") from None
    try:
        graph = nir.read(path)
    except NIRError:
        raise
    except Exception as err:  # nir raises ValueError, KeyError, AssertionError, ...
        raise NIRError(f"{path}: nir could not read the graph: {type(err).__name__}: {err}") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"{path} holds a single {type(graph).__name__} node, not a NIRGraph")
    return graph


def _uniform(name: str, node, field: str) -> float:
    values = np.asarray(getattr(node, field), dtype=np.float64)
    if values.size == 0 or not np.all(values == values.flat[0]):
        raise NIRError(f"node {name!r} ({type(node).__name__}) field {field!r} differs between "
                       "neurons: snnlib has one value for every neuron of every layer")
    return float(values.flat[0])


def _zero(name: str, node, field: str) -> None:
    values = np.asarray(getattr(node, field))
    if np.any(values != 0):
        raise NIRError(f"node {name!r} ({type(node).__name__}) field {field!r} must be 0 "
                       f"(snnlib: no leak potential, reset to zero, no bias); got {values.ravel()[:4]}...")


def _chain(graph: nir.NIRGraph) -> list[str]:
    """The node names from the one Input to the one Output, checking it is a simple chain."""
    for name, node in graph.nodes.items():
        if not isinstance(node, SUPPORTED):
            raise NIRError(
                f"node {name!r} has type {type(node).__name__}, which snnlib does not support "
                f"(supported: {', '.join(t.__name__ for t in SUPPORTED)})")
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NIRError(f"the graph must have one Input and one Output node; got inputs {inputs}, "
                       f"outputs {outputs}")
    successors: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for src, dst in graph.edges:
        if src not in graph.nodes or dst not in graph.nodes:
            raise NIRError(f"edge ({src!r}, {dst!r}) names a node that is not in the graph")
        successors[src].append(dst)
    chain = [inputs[0]]
    while chain[-1] != outputs[0]:
        nxt = successors[chain[-1]]
        if len(nxt) != 1:
            raise NIRError(f"node {chain[-1]!r} has {len(nxt)} outgoing edges {nxt}: snnlib "
                           "imports feed-forward chains only (one edge out of every node)")
        if nxt[0] in chain:
            raise NIRError(f"edge ({chain[-1]!r}, {nxt[0]!r}) closes a loop: recurrent graphs "
                           "are not supported")
        chain.append(nxt[0])
    extra = sorted(set(graph.nodes) - set(chain))
    if extra or len(graph.edges) != len(chain) - 1:
        raise NIRError(f"nodes or edges outside the Input -> Output chain: {extra or graph.edges}")
    return chain


def _parse(graph: nir.NIRGraph, dt: float | None):
    """``(weights [in, out] list, neuron nodes, delays, dt)`` of the chain."""
    chain = _chain(graph)
    nodes = graph.nodes
    n_in = int(np.prod(np.asarray(nodes[chain[0]].input_type["input"])))
    layers, delays = [], []  # layers: (linear name, neuron name); delays: per layer, bool
    i, width, pending_delay = 1, n_in, None
    while i < len(chain) - 1:
        name, node = chain[i], nodes[chain[i]]
        if isinstance(node, nir.Delay):
            if pending_delay is not None:
                raise NIRError(f"nodes {pending_delay!r} and {name!r}: two Delay nodes in a row")
            pending_delay = name
            i += 1
            continue
        if not isinstance(node, (nir.Linear, nir.Affine)):
            raise NIRError(f"node {name!r} ({type(node).__name__}) must follow a Linear/Affine "
                           "node: snnlib layers are Linear -> LIF (or LI)")
        if i + 1 >= len(chain) - 1 or not isinstance(nodes[chain[i + 1]], (nir.LIF, nir.LI)):
            raise NIRError(f"node {name!r} must be followed by a LIF or LI node")
        weight = np.asarray(node.weight)
        if weight.ndim != 2 or weight.shape[1] != width:
            raise NIRError(f"node {name!r} field 'weight' has shape {weight.shape}: expected "
                           f"[out, {width}] for its {width} inputs")
        if isinstance(node, nir.Affine):
            _zero(name, node, "bias")
        layers.append((name, chain[i + 1]))
        delays.append(pending_delay)
        pending_delay, width = None, weight.shape[0]
        i += 2
    if pending_delay is not None:
        raise NIRError(f"Delay node {pending_delay!r} must be followed by a Linear/Affine node")
    if not layers or isinstance(nodes[layers[0][1]], nir.LI):
        raise NIRError("the graph has no LIF layer: snnlib needs at least one")
    for lin, neuron in layers[:-1]:
        if isinstance(nodes[neuron], nir.LI):
            raise NIRError(f"LI node {neuron!r} must be the last layer (the readout)")
    n_out = int(np.prod(np.asarray(nodes[chain[-1]].output_type["output"])))
    if n_out != width:
        raise NIRError(f"node {chain[-1]!r} has width {n_out} but the last layer has {width}")
    if delays[0] is not None:
        raise NIRError(f"Delay node {delays[0]!r} before the first layer: snnlib's first layer "
                       "reads the input of the same step")
    with_delay = [d is not None for d in delays[1:]]
    if any(with_delay) and not all(with_delay):
        raise NIRError("Delay nodes on some layer edges but not on others "
                       f"({[d for d in delays[1:]]}): snnlib delays every layer or none")
    if dt is None:
        dt = graph.metadata.get("dt") if isinstance(graph.metadata, dict) else None
    if dt is None and any(with_delay):
        dt = _uniform(delays[1], nodes[delays[1]], "delay")
    if dt is None:
        raise NIRError("the graph does not say its time step: pass dt (seconds per step)")
    dt = validate_dt(float(dt))
    for d in delays[1:]:
        if d is not None and not np.isclose(_uniform(d, nodes[d], "delay"), dt, rtol=1e-9, atol=0):
            raise NIRError(f"node {d!r} field 'delay' is {_uniform(d, nodes[d], 'delay')}, not "
                           f"one step (dt = {dt}): snnlib's layer delay is one step")
    weights = [np.asarray(nodes[lin].weight, dtype=np.float32).T for lin, _ in layers]
    return weights, layers, bool(with_delay and all(with_delay)), dt


def _constants(graph, layers, dt) -> tuple[float, float, float | None]:
    """``(tau, r, v_threshold)`` shared by every neuron node, checked."""
    first: dict[str, tuple[str, float]] = {}
    for lin, name in layers:
        node = graph.nodes[name]
        n = graph.nodes[lin].weight.shape[0]
        fields = ("tau", "r", "v_leak") + (("v_threshold", "v_reset") if isinstance(node, nir.LIF) else ())
        for field in fields:
            shape = np.shape(getattr(node, field))
            if shape not in ((n,), ()):
                raise NIRError(f"node {name!r} field {field!r} has shape {shape} but node "
                               f"{lin!r} gives it {n} neurons")
        _zero(name, node, "v_leak")
        if isinstance(node, nir.LIF):
            _zero(name, node, "v_reset")
        for field in fields[:2] + (("v_threshold",) if isinstance(node, nir.LIF) else ()):
            value = _uniform(name, node, field)
            if field in first and value != first[field][1]:
                raise NIRError(
                    f"node {name!r} field {field!r} = {value} differs from node "
                    f"{first[field][0]!r} ({first[field][1]}): snnlib uses one alpha, gain and "
                    "th1 for every layer")
            first.setdefault(field, (name, value))
    tau = first["tau"][1]
    if not tau > dt:
        raise NIRError(f"node {first['tau'][0]!r} field 'tau' = {tau} must exceed dt = {dt} "
                       "(alpha = 1 - dt/tau must be in (0, 1))")
    return tau, first["r"][1], first["v_threshold"][1]


def _training_fields(graph) -> dict:
    metadata = graph.metadata if isinstance(graph.metadata, dict) else {}
    if metadata.get("source") != SOURCE or "snnlib_params" not in metadata:
        return {}
    saved = json.loads(metadata["snnlib_params"])
    th2 = saved.get("th2")
    saved["th2"] = tuple(th2) if isinstance(th2, list) else th2
    return {k: saved[k] for k in TRAINING_FIELDS if k in saved}


def from_nir(graph, *, dt: float | None = None, impl: str = "dense",
             max_activity: float | None = None, input_capacity: int | None = None,
             seed: int = 0, **model_options) -> SNNClassifier:
    """A built :class:`SNNClassifier` computing the NIR ``graph`` (or the graph in a file).

    Args:
        graph: ``nir.NIRGraph`` or the path of a ``.nir`` file.
        dt: seconds per step; default: the graph's metadata ``dt`` (our exports), else the
            ``Delay`` nodes' value; a graph with neither needs it.
        impl: ``"dense"``, ``"sparse_ops"`` or ``"sparse_layer"``.
        max_activity, input_capacity: capacity of the sparse implementations (default: full,
            so the model computes exactly the graph).
        seed, model_options: passed to :class:`SNNClassifier` (``rule``, ``feedback``).

    The constants: ``alpha = 1 - dt/tau``, ``gain = r``, ``th1 = v_threshold``,
    ``layer_delay`` = the graph has one-step ``Delay`` nodes; ``th2``, ``beta`` and
    ``weight_mul`` come from our own metadata when the graph was exported by snnlib, else
    their defaults. The readout is ``"leaky"`` when the last layer is ``LI``, else ``"spikes"``.

    Raises:
        NIRError: the graph is not our network family (the message names the node and field).
    """
    if isinstance(graph, (str, Path)):
        graph = read_nir(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"from_nir expects a nir.NIRGraph or a .nir path; got {type(graph).__name__}")
    weights, layers, layer_delay, dt = _parse(graph, dt)
    tau, r, th1 = _constants(graph, layers, dt)
    alpha = alpha_from_tau(tau, dt)
    try:
        params = LIFParams(alpha=alpha, gain=r, th1=th1, layer_delay=layer_delay,
                           **_training_fields(graph))
    except ValueError as err:
        raise NIRError(f"the graph's constants are not a valid snnlib neuron: {err}") from None
    readout = "leaky" if isinstance(graph.nodes[layers[-1][1]], nir.LI) else "spikes"
    sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]
    model = SNNClassifier(sizes, params, impl=impl, readout=readout, max_activity=max_activity,
                          input_capacity=input_capacity, seed=seed, **model_options)
    model.build((None, None, sizes[0]))
    lif_weights = weights[:-1] if readout == "leaky" else weights
    for kernel, w in zip(model.stack.kernels, lif_weights):
        kernel.assign(w)
    if readout == "leaky":
        model.readout.kernel.assign(weights[-1])
    return model


def assign_weights(model: SNNClassifier, source: SNNClassifier) -> None:
    """Copy ``source``'s weights into ``model`` (built), which must be the same network.

    Used to start training from an imported graph (``python -m snnlib train --init-from``):
    ``model`` is the run's classifier, ``source`` the one :func:`from_nir` built.

    Raises:
        NIRError: the widths, readout or neuron constants differ (naming them).
    """
    if model.sizes != source.sizes or model.readout_kind != source.readout_kind:
        raise NIRError(f"the graph is a {source.readout_kind}-readout network {source.sizes}; "
                       f"this run builds a {model.readout_kind}-readout network {model.sizes} "
                       "(input width and classes come from the dataset)")
    for field in ("alpha", "gain", "th1", "layer_delay"):
        ours, theirs = getattr(model.params, field), getattr(source.params, field)
        if ours != theirs:
            raise NIRError(f"the graph's {field} is {theirs}; this run uses {ours}")
    targets = list(model.stack.kernels) + ([model.readout.kernel] if model.readout else [])
    values = list(source.stack.kernels) + ([source.readout.kernel] if source.readout else [])
    for target, value in zip(targets, values):
        target.assign(value.numpy())
