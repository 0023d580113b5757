"""Training checkpoints: periodic saves, verified loads, resume from the last good one.

A checkpoint of step ``k`` is two files in the checkpoint directory:

* ``ckpt-<k>.npz``: every model variable (``model.weights``) and every optimizer variable
  (``model.optimizer.variables``: the step counter, Adam's moments), in order;
* ``ckpt-<k>.json``: the manifest, written last (its presence commits the checkpoint):
  global step, epoch, step within the epoch, the epochs' history so far, a fingerprint of the
  run's configuration, and the size and SHA-256 of the ``.npz``.

Both are written atomically (temporary file + ``os.replace``), so a process killed mid-save
leaves the previous checkpoints intact. The data position needs no state of its own: the
training stream is a seeded, deterministic sequence of batches, and resuming at global step
``k`` skips its first ``k`` batches (:func:`snnlib.train.train_and_evaluate`). There are no
other random draws in a training step.

A manifest that does not parse, or a ``.npz`` whose size or hash disagrees with it, raises
:class:`CheckpointError`; :func:`restore_latest` then logs the error and falls back to the
previous checkpoint.

Weight layout. The manifest records ``weights_layout``: ``"in_out"``, the ``[in, out]`` layout
of every weight matrix since format 2 (DESIGN.md section 3). Format-1 checkpoints predate the
field and were all written with ``[out, in]`` matrices; they are converted on restore by
transposing every 2-D array: the weight matrices, the rule's fixed matrices (e-prop feedback,
DECOLLE readouts) and the optimizer's moments of the weights, the only 2-D variables a model
here has. The format number, not the shapes, decides (a square layer fits either way), so a
checkpoint is never loaded transposed by accident. Any other recorded layout is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from pathlib import Path

import numpy as np

from snnlib.atomic import write_atomic

log = logging.getLogger(__name__)

_NAME = re.compile(r"^ckpt-(\d+)\.json$")
FORMAT = 2
WEIGHTS_LAYOUT = "in_out"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupted or does not fit the model."""


def _variables(model) -> list:
    return list(model.weights) + list(model.optimizer.variables)


# Fields added to TrainConfig after runs were checkpointed, with the value every earlier run
# had: hashed only when they differ from it, so earlier checkpoints and CV folds still match.
ADDED_FIELDS = {"label_smoothing": 0.0}


def fingerprint(config_dict: dict) -> str:
    """A short hash of the configuration fields that change the training trajectory (a
    field of :data:`ADDED_FIELDS` at its earlier value hashes as if absent)."""
    ignore = {"out_dir", "progress", "checkpoint_dir", "checkpoint_every", "keep_checkpoints",
              "resume", "tensorboard_dir", "epochs"}
    stable = {k: v for k, v in sorted(config_dict.items())
              if k not in ignore and not (k in ADDED_FIELDS and v == ADDED_FIELDS[k])}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:16]


def list_checkpoints(directory) -> list[tuple[int, Path]]:
    """``[(step, manifest path), ...]`` in the directory, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def save_checkpoint(directory, model, *, step: int, epoch: int, step_in_epoch: int,
                    history: list, config_fingerprint: str, keep: int = 3) -> Path:
    """Write the checkpoint of global step ``step``; keep the newest ``keep`` ones.

    Returns the manifest path.
    """
    directory = Path(directory)
    values = [np.asarray(v.numpy()) for v in _variables(model)]
    buf = io.BytesIO()
    np.savez(buf, *values)
    blob = buf.getvalue()
    data_path = directory / f"ckpt-{step:09d}.npz"
    write_atomic(data_path, blob)
    manifest = {
        "format": FORMAT, "weights_layout": WEIGHTS_LAYOUT, "step": int(step),
        "epoch": int(epoch), "step_in_epoch": int(step_in_epoch),
        "history": history, "fingerprint": config_fingerprint, "n_variables": len(values),
        "shapes": [list(v.shape) for v in values], "npz": data_path.name, "bytes": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    path = directory / f"ckpt-{step:09d}.json"
    write_atomic(path, json.dumps(manifest, indent=1, default=float))
    for _, old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        old.with_suffix(".npz").unlink(missing_ok=True)
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(manifest_path) -> tuple[dict, list[np.ndarray]]:
    """Read and verify one checkpoint: ``(manifest, variable values)``.

    Raises:
        CheckpointError: the manifest is unreadable, the ``.npz`` is missing, truncated or its
            SHA-256 differs from the manifest's.
    """
    manifest_path = Path(manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text())
        data_path = manifest_path.with_name(manifest["npz"])
        expected_bytes, expected_hash = int(manifest["bytes"]), manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"checkpoint manifest {manifest_path} is unreadable or incomplete "
                              f"({type(err).__name__}: {err})") from err
    try:
        blob = data_path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"checkpoint data {data_path} is missing ({err})") from err
    if len(blob) != expected_bytes:
        raise CheckpointError(f"checkpoint {data_path} is truncated or corrupt: {len(blob)} bytes, "
                              f"the manifest says {expected_bytes}")
    if hashlib.sha256(blob).hexdigest() != expected_hash:
        raise CheckpointError(f"checkpoint {data_path} is corrupt: its SHA-256 differs from the "
                              "manifest's")
    with np.load(io.BytesIO(blob)) as npz:
        values = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    return manifest, values


def to_current_layout(manifest: dict, values: list[np.ndarray]) -> list[np.ndarray]:
    """The checkpoint's values in the ``[in, out]`` layout (see the module docstring).

    A format-1 checkpoint (``[out, in]``, no ``weights_layout`` field) has every 2-D array
    transposed; a checkpoint recording ``"in_out"`` is returned as it is.

    Raises:
        CheckpointError: the manifest records another layout, or none in a format after 1.
    """
    fmt = manifest.get("format")
    layout = manifest.get("weights_layout", "out_in" if fmt == 1 else None)
    if layout == WEIGHTS_LAYOUT:
        return values
    if layout == "out_in" and fmt == 1:
        log.info("converting a format-1 checkpoint: weight matrices [out, in] -> [in, out]")
        return [np.ascontiguousarray(v.T) if v.ndim == 2 else v for v in values]
    raise CheckpointError(f"checkpoint (format {fmt!r}) records weights_layout {layout!r}; "
                          f"this version reads {WEIGHTS_LAYOUT!r} and converts format-1 "
                          "[out, in] checkpoints: write it again with the matching version")


def restore_checkpoint(model, manifest: dict, values: list[np.ndarray]) -> None:
    """Assign the saved values (converted by :func:`to_current_layout`) to the model's and
    optimizer's variables."""
    values = to_current_layout(manifest, values)
    variables = _variables(model)
    if len(variables) != len(values):
        raise CheckpointError(f"checkpoint holds {len(values)} variables but the model and "
                              f"optimizer have {len(variables)}: a different network or optimizer")
    for var, value in zip(variables, values):
        if tuple(var.shape) != value.shape:
            raise CheckpointError(f"checkpoint variable of shape {value.shape} does not fit "
                                  f"{var.path if hasattr(var, 'path') else var.name} {tuple(var.shape)}")
    for var, value in zip(variables, values):
        var.assign(value)


def restore_latest(directory, model, *, config_fingerprint: str | None = None) -> dict | None:
    """Restore the newest checkpoint that verifies; ``None`` when there is none.

    A corrupt checkpoint is logged (``logging.WARNING``, with the reason) and skipped in
    favour of the previous one. A checkpoint of another configuration raises ``ValueError``.
    Returns the manifest of the restored checkpoint.
    """
    for step, path in reversed(list_checkpoints(directory)):
        try:
            manifest, values = load_checkpoint(path)
        except CheckpointError as err:
            log.warning("skipping checkpoint of step %d: %s; falling back to the previous one",
                        step, err)
            continue
        if config_fingerprint is not None and manifest.get("fingerprint") != config_fingerprint:
            raise ValueError(f"checkpoint {path} belongs to a different configuration "
                             f"(fingerprint {manifest.get('fingerprint')} != {config_fingerprint}); "
                             "use another checkpoint_dir or the original settings")
        restore_checkpoint(model, manifest, values)
        return manifest
    return None


def checkpoint_callback(directory, *, every: int, start_step: int, steps_per_epoch: int,
                        history: list, config_fingerprint: str, keep: int = 3,
                        is_chief: bool = True):
    """A Keras callback saving every ``every`` steps, at every epoch end and at the end.

    ``history`` is the list the epoch logger appends to (saved with each checkpoint). On
    non-chief workers of a multi-worker run nothing is written.
    """
    import keras

    class Checkpointer(keras.callbacks.Callback):
        """Counts global steps and writes checkpoints (see :mod:`snnlib.train.checkpoint`)."""

        def __init__(self):
            super().__init__()
            self.step = int(start_step)
            self.last_saved = (int(start_step), len(history))

        def _save(self):
            if not is_chief or (self.step, len(history)) == self.last_saved:
                return
            save_checkpoint(directory, self.model, step=self.step,
                            epoch=self.step // steps_per_epoch,
                            step_in_epoch=self.step % steps_per_epoch, history=list(history),
                            config_fingerprint=config_fingerprint, keep=keep)
            self.last_saved = (self.step, len(history))

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if every and self.step % every == 0:
                self._save()

        def on_epoch_end(self, epoch, logs=None):
            self._save()

    return Checkpointer()
