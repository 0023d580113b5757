"""Lazy loading of the compiled sparse spike ops (``snnlib/_ops/libsparse_spikes.so``).

The library is loaded on first use, never at import. Rules:

* ``SNNLIB_PURE_PY=1`` forces the pure-TF reference (:mod:`snnlib.ops.reference`);
* a missing library, or one built for another TensorFlow version (``build_info.json``), falls
  back to the reference with exactly one ``warnings.warn`` that names ``./build.sh codelets``;
* the Python gradients of the compiled ops are registered once, when the library loads.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path

import tensorflow as tf

LIB_DIR = Path(__file__).resolve().parents[1] / "_ops"
LIB_NAME = "libsparse_spikes.so"
FIX = "run `./build.sh codelets` (or `python -m snnlib.ops.build`) to compile the codelets"

_lock = threading.Lock()
_state: dict = {"loaded": False, "module": None, "reason": None, "warned": False}


class LibraryUnavailable(RuntimeError):
    """The compiled library cannot be used; the message says why and how to fix it."""


def pure_python_forced() -> bool:
    """``True`` when ``SNNLIB_PURE_PY`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get("SNNLIB_PURE_PY", "").strip().lower() in ("1", "true", "yes", "on")


def _check_build_info(lib_dir: Path) -> None:
    info_file = lib_dir / "build_info.json"
    try:
        info = json.loads(info_file.read_text())
    except (OSError, ValueError):
        raise LibraryUnavailable(f"{info_file} is missing or unreadable; {FIX}") from None
    built_for = info.get("tf_version")
    if built_for != tf.__version__:
        raise LibraryUnavailable(
            f"{LIB_NAME} was built for TensorFlow {built_for!r} but TensorFlow {tf.__version__} "
            f"is installed; {FIX}"
        )


def _load(lib_dir: Path | None = None):
    lib_dir = LIB_DIR if lib_dir is None else Path(lib_dir)
    path = lib_dir / LIB_NAME
    if not path.exists():
        raise LibraryUnavailable(f"compiled sparse ops not found at {path}; {FIX}")
    _check_build_info(lib_dir)
    try:
        module = tf.load_op_library(str(path))
    except (tf.errors.NotFoundError, OSError) as err:
        raise LibraryUnavailable(f"loading {path} failed ({err}); {FIX}") from None
    _register_gradients(module)
    return module


def _register_gradients(module) -> None:
    """Register the Python gradients of the compiled ops (once per process)."""
    if _state.get("gradients_registered"):
        return

    @tf.RegisterGradient("SnnlibSelectSpikes")
    def _select_spikes_grad(op, _g_ids, _g_counts, g_values, _g_dropped):
        # dv[b, ids[b,i]] = g_values[b,i] / (beta |v - th1| + 1)^2 for i < counts[b,1].
        if g_values is None:
            return [None, None, None, None]
        v, th1, _, beta = op.inputs
        ids, counts = op.outputs[0], op.outputs[1]
        grad_v = module.snnlib_select_spikes_grad(v=v, ids=ids, counts=counts,
                                                  grad_values=g_values, th1=th1, beta=beta)
        return [grad_v, None, None, None]

    @tf.RegisterGradient("SnnlibSparseMatmul")
    def _sparse_matmul_grad(op, grad_y, _g_columns, _g_weights_t):
        # The forward op kept the weight columns the slots read (weights_t), so the backward
        # pass never reads W again; `weights` only gives dW its shape.
        weights, ids, counts, _ = op.inputs
        _, columns, weights_t = op.outputs
        if grad_y is None:
            grad_y = tf.zeros_like(op.outputs[0])
        inputs = dict(weights=weights, ids=ids, counts=counts, grad_y=grad_y, columns=columns,
                      weights_t=weights_t)
        # Two ops: they may run concurrently, and the unused one is pruned from the graph.
        return [module.snnlib_sparse_matmul_grad(**inputs), None, None,
                module.snnlib_sparse_matmul_slot_grad(**inputs)]

    @tf.RegisterGradient("SnnlibSparseMatmulT")
    def _sparse_matmul_t_grad(op, grad_y):
        # Row-sparse weight gradient: only the input neurons that spiked get a row. The two
        # gradients are separate ops: they may run concurrently, and the unused one is pruned.
        weights_t, ids, counts, _ = op.inputs
        rows, columns = module.snnlib_sparse_matmul_t_grad(
            weights_t=weights_t, ids=ids, counts=counts, grad_y=grad_y)
        grad_values = module.snnlib_sparse_matmul_t_slot_grad(
            weights_t=weights_t, ids=ids, counts=counts, grad_y=grad_y)
        grad_w = tf.IndexedSlices(rows, columns, dense_shape=tf.shape(weights_t))
        return [grad_w, None, None, grad_values]

    @tf.RegisterGradient("SnnlibSparseToDense")
    def _sparse_to_dense_grad(op, grad_dense):
        ids, counts, _ = op.inputs
        grad_values = module.snnlib_sparse_to_dense_grad(ids=ids, counts=counts,
                                                         grad_dense=grad_dense)
        return [None, None, grad_values]

    @tf.RegisterGradient("SnnlibSparseLifLayer")
    def _sparse_lif_layer_grad(op, _g_ids, _g_counts, g_values, _g_dropped, _g_v_listed, g_potentials):
        # BPTT through the layer (see codelets/sparse_spikes/sparse_lif_layer.cc).
        weights, in_ids, in_counts, _, constants = op.inputs
        out_ids, out_counts, out_values, _, v_listed, _ = op.outputs
        if g_values is None:
            g_values = tf.zeros_like(out_values)
        if g_potentials is None or not op.get_attr("return_potentials"):
            g_potentials = tf.zeros([0, 0, 0], weights.dtype)
        input_grad = op.get_attr("input_grad")
        grad_w, grad_in = module.snnlib_sparse_lif_layer_grad(
            weights=weights, in_ids=in_ids, in_counts=in_counts, out_ids=out_ids,
            out_counts=out_counts, v_listed=v_listed, grad_values=g_values,
            grad_potentials=g_potentials, constants=constants, input_grad=input_grad)
        return [grad_w, None, None, grad_in if input_grad else None, None]

    _state["gradients_registered"] = True


def _load_once() -> None:
    """Try the library once per process (caller holds ``_lock``); remember the failure reason."""
    if not _state["loaded"]:
        try:
            _state["module"] = _load()
        except LibraryUnavailable as err:
            _state["reason"] = str(err)
        _state["loaded"] = True


def library():
    """The loaded op module, or ``None`` when the reference must be used (warns once)."""
    if pure_python_forced():
        return None
    with _lock:
        _load_once()
        if _state["module"] is None and not _state["warned"]:
            _state["warned"] = True
            warnings.warn(
                f"snnlib.ops: using the pure-TF reference ops (slow): {_state['reason']}",
                RuntimeWarning, stacklevel=3,
            )
        return _state["module"]


def require_library():
    """The loaded op module; raises :class:`LibraryUnavailable` with the reason otherwise."""
    if pure_python_forced():
        raise LibraryUnavailable("SNNLIB_PURE_PY is set, so the compiled ops are disabled")
    with _lock:
        _load_once()
        if _state["module"] is None:
            raise LibraryUnavailable(_state["reason"])
        return _state["module"]


def backend() -> str:
    """``"compiled"`` if the compiled library is (or can be) loaded, else ``"reference"``."""
    return "reference" if library() is None else "compiled"
