"""TensorFlow starts without its noise; files are written atomically and readable."""

import os
import stat
import subprocess
import sys

import pytest

from snnlib.atomic import atomic_path, write_atomic
from snnlib.runtime import _filtered_stderr, is_startup_noise

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795939629.100861    3537 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1795939690.635429    4103 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "2026-11-29 08:00:00.000000: I tensorflow/core/util/port.cc:153] oneDNN custom operations "
    "are on.",
]
REAL = [
    "E0000 00:00:1795939690.635429    4103 op_kernel.cc:1818] OP_REQUIRES failed: bad input",
    "Traceback (most recent call last):",
    "error: unknown dataset 'x'",
]


def test_noise_is_recognised_and_real_messages_are_not():
    assert all(is_startup_noise(line) for line in NOISE)
    assert not any(is_startup_noise(line) for line in REAL)


def test_filtered_stderr_replays_everything_but_the_noise(capfd):
    with _filtered_stderr():
        os.write(2, ("\n".join(NOISE + REAL) + "\n").encode())
    err = capfd.readouterr().err
    assert err.splitlines() == REAL


def test_importing_snnlib_in_a_clean_environment_prints_nothing():
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": os.environ.get("PATH", "")}
    proc = subprocess.run([sys.executable, "-c", "import snnlib, tensorflow as tf; "
                           "print(tf.constant(2).numpy())"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0 and proc.stdout == "2\n"
    assert proc.stderr == ""


def test_atomic_writes_get_the_permissions_of_a_plain_open(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.txt", "x")
        write_atomic(tmp_path / "b.txt", b"y", 0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
    assert (tmp_path / "a.txt").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_atomic_path_replaces_the_target_only_when_the_writer_completes(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.suffix == ".keras" and tmp.parent == tmp_path
            tmp.write_text("half")
            raise RuntimeError("killed mid-save")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.keras"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1
