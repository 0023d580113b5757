"""Data-parallel training with tf.distribute equals single-device training on the same
global batch (MirroredStrategy over 2 logical CPUs; MultiWorkerMirroredStrategy with 2
worker processes on localhost). Each run is a subprocess: logical devices and TF_CONFIG must
be set before TensorFlow initialises."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("dist_worker.py")
ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
TIMEOUT_S = 180


def _start(mode, out, impl, n_cpus=1, env=None):
    return subprocess.Popen([sys.executable, str(WORKER), mode, str(out), impl, str(n_cpus)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env or ENV, cwd=ROOT)


def _finish(proc):
    try:
        _, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"worker timed out after {TIMEOUT_S} s")
    assert proc.returncode == 0, err[-3000:]


def _weights(path):
    with np.load(path) as f:
        return [f[k] for k in sorted(k for k in f.files if k.startswith("arr_"))], float(f["loss"])


def _assert_same(a, b):
    (wa, la), (wb, lb) = _weights(a), _weights(b)
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=2e-5)
    assert la == pytest.approx(lb, rel=1e-5)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.parametrize("impl", ["dense", "sparse_layer"])
def test_mirrored_two_logical_cpus_equals_single_device(tmp_path, impl):
    single = _start("single", tmp_path / "single.npz", impl)
    mirrored = _start("mirrored", tmp_path / "mirrored.npz", impl, n_cpus=2)
    _finish(single)
    _finish(mirrored)
    _assert_same(tmp_path / "single.npz", tmp_path / "mirrored.npz")


def test_multiworker_two_processes_equals_single_device(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env = {**ENV, "TF_CONFIG": tf_config}
        workers.append(_start("multiworker", tmp_path / f"worker{index}.npz", "sparse_ops", env=env))
    single = _start("single", tmp_path / "single.npz", "sparse_ops")
    for proc in [*workers, single]:
        _finish(proc)
    _assert_same(tmp_path / "single.npz", tmp_path / "worker0.npz")
    _assert_same(tmp_path / "worker0.npz", tmp_path / "worker1.npz")


def test_unknown_strategy_is_rejected():
    from snnlib.train import TrainConfig

    with pytest.raises(ValueError, match="strategy"):
        TrainConfig(strategy="parameter_server")
