import json
import os
import subprocess
import sys

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "snnlib", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=600)


def test_train_smoke_run(tmp_path):
    proc = run_cli("train", "--preset", "tiny", "--epochs", "1", "--no-progress",
                   "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert (tmp_path / "run" / "metrics.json").exists()


def test_unknown_choices_list_the_valid_ones():
    proc = run_cli("train", "--dataset", "imagenet")
    assert proc.returncode == 2 and "valid choices" in proc.stderr and "randman" in proc.stderr
    proc = run_cli("train", "--impl", "quantum")
    assert proc.returncode == 2 and "dense" in proc.stderr and "sparse_layer" in proc.stderr
    proc = run_cli("report", "--preset", "huge")
    assert proc.returncode == 2 and "tiny" in proc.stderr
