"""Checkpoint and resume: a SIGKILLed run resumed with --resume ends with the weights of an
uninterrupted run; a corrupt checkpoint gives a clear error and the previous one is used."""

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from snnlib.train.checkpoint import (CheckpointError, fingerprint, list_checkpoints,
                                     load_checkpoint, restore_checkpoint, restore_latest,
                                     save_checkpoint)
from snnlib.train import TrainConfig, train_and_evaluate

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
EPOCHS, EVERY = 8, 4  # tiny preset: 13 steps per epoch, so most checkpoints are mid-epoch


def _config(out, **kw):
    return TrainConfig.from_preset("tiny", epochs=EPOCHS, checkpoint_every=EVERY, out_dir=str(out),
                                   progress=False, **kw)


def _final_weights(ckpt_dir, n):
    _, values = load_checkpoint(list_checkpoints(ckpt_dir)[-1][1])
    return values[:n]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    result = train_and_evaluate(_config(out, keep_checkpoints=100))
    return out, [w.numpy() for w in result["model"].weights], result


def _cli(out, *extra):
    return [sys.executable, "-m", "snnlib", "train", "--preset", "tiny", "--epochs", str(EPOCHS),
            "--checkpoint-every", str(EVERY), "--out", str(out), "--no-progress", *extra]


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    _, expected, _ = uninterrupted
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(out), env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not list_checkpoints(out / "checkpoints"):
            assert proc.poll() is None, "training finished or failed before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.005)
        assert proc.poll() is None, "training already finished: nothing to interrupt"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = list_checkpoints(out / "checkpoints")[-1][0]
    assert killed_at < EPOCHS * 13
    resumed = subprocess.run(_cli(out, "--resume"), env=ENV, cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = _final_weights(out / "checkpoints", len(expected))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_corrupt_checkpoint_clear_error_and_fallback(tmp_path, uninterrupted, caplog):
    source, expected, _ = uninterrupted
    ckpt = tmp_path / "run" / "checkpoints"
    shutil.copytree(source / "checkpoints", ckpt)
    steps = [s for s, _ in list_checkpoints(ckpt)]
    cut = steps[len(steps) // 2]  # pretend the run died after this checkpoint
    for step, path in list_checkpoints(ckpt):
        if step > cut:
            path.with_suffix(".npz").unlink()
            path.unlink()
    newest = dict(list_checkpoints(ckpt))[cut]
    data = newest.with_suffix(".npz")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # truncated
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(newest)
    with caplog.at_level(logging.WARNING, logger="snnlib.train.checkpoint"):
        result = train_and_evaluate(_config(tmp_path / "run", resume=True))
    assert "falling back to the previous one" in caplog.text
    previous = max(s for s in steps if s < cut)
    assert result["resumed_from_step"] == previous
    for a, b in zip([w.numpy() for w in result["model"].weights], expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_flipped_byte_and_bad_manifest_are_detected(tmp_path, uninterrupted):
    source, _, result = uninterrupted
    step, manifest = list_checkpoints(source / "checkpoints")[-1]
    shutil.copy(manifest, tmp_path / manifest.name)
    blob = bytearray(manifest.with_suffix(".npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / manifest.with_suffix(".npz").name).write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(tmp_path / manifest.name)
    (tmp_path / manifest.name).write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / manifest.name)
    assert restore_latest(tmp_path, result["model"]) is None  # nothing usable: start fresh


def test_checkpoint_of_another_configuration_is_refused(tmp_path, uninterrupted):
    _, _, result = uninterrupted
    save_checkpoint(tmp_path, result["model"], step=1, epoch=0, step_in_epoch=1, history=[],
                    config_fingerprint="other")
    with pytest.raises(ValueError, match="different configuration"):
        restore_latest(tmp_path, result["model"], config_fingerprint="mine")


def test_checkpoints_record_the_weight_layout(tmp_path, uninterrupted):
    _, _, result = uninterrupted
    path = save_checkpoint(tmp_path, result["model"], step=1, epoch=0, step_in_epoch=1,
                           history=[], config_fingerprint="x")
    manifest, _ = load_checkpoint(path)
    assert manifest["format"] == 2 and manifest["weights_layout"] == "in_out"


def test_format_1_checkpoint_is_transposed_and_other_layouts_are_refused(uninterrupted):
    # Format 1 stored every weight matrix (and its optimizer moments) [out, in].
    _, _, result = uninterrupted
    model = result["model"]
    variables = list(model.weights) + list(model.optimizer.variables)
    current = [np.array(v.numpy()) for v in variables]
    assert any(v.ndim == 2 for v in current)
    old = [np.ascontiguousarray(v.T) if v.ndim == 2 else v for v in current]
    for v in variables:
        v.assign(np.zeros(v.shape, v.dtype))
    restore_checkpoint(model, {"format": 1}, old)
    for var, want in zip(variables, current):
        np.testing.assert_array_equal(var.numpy(), want)
    for manifest in ({"format": 2}, {"format": 2, "weights_layout": "out_in"},
                     {"format": 1, "weights_layout": "columns"}):
        with pytest.raises(CheckpointError, match="weights_layout"):
            restore_checkpoint(model, manifest, current)


def test_resume_needs_a_directory():
    with pytest.raises(ValueError, match="checkpoint_dir or out_dir"):
        TrainConfig(resume=True)


def test_fingerprint_of_a_config_from_before_label_smoothing_still_matches():
    """A config written before the label_smoothing field existed (no such key) fingerprints as
    the same config with label_smoothing=0, so its checkpoints and CV folds still resume;
    a run that smooths its targets is another configuration."""
    today = TrainConfig.from_preset("tiny").to_dict()
    earlier = {k: v for k, v in today.items() if k != "label_smoothing"}
    assert today["label_smoothing"] == 0.0
    assert fingerprint(earlier) == fingerprint(today)
    assert fingerprint({**today, "label_smoothing": 0.1}) != fingerprint(today)
    assert fingerprint({**today, "seed": 1}) != fingerprint(today)
