import json
import os
import subprocess
import sys

from snnlib.__main__ import main

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "snnlib", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=600)


def cli_in_process(capsys, *args):
    """``(exit code, stdout, stderr)`` of ``main(args)`` in this process: usage errors need no
    fresh interpreter (the subprocess tests cover what a whole process prints)."""
    try:
        code = main(list(args))
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def test_train_smoke_run(tmp_path):
    proc = run_cli("train", "--preset", "tiny", "--epochs", "1", "--no-progress",
                   "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert (tmp_path / "run" / "metrics.json").exists()


def test_no_progress_run_in_a_clean_environment_writes_nothing_to_stderr(tmp_path):
    # A clean environment as on a brand-new machine: TensorFlow's start-up lines, the dataset
    # binning bar and the training bar must all stay away with --no-progress.
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": os.environ.get("PATH", ""),
           "SNNLIB_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "snnlib", "train", "--dataset", "nmnist-small",
                           "--data", "limit=20", "--data", "n_test=10", "--epochs", "1",
                           "--no-progress"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""
    assert (tmp_path / "cache").is_dir(), "the recordings must have been binned in this run"


def test_unknown_choices_list_the_valid_ones(capsys):
    code, _, err = cli_in_process(capsys, "train", "--dataset", "imagenet")
    assert code == 2 and "valid choices" in err and "randman" in err
    code, _, err = cli_in_process(capsys, "train", "--impl", "quantum")
    assert code == 2 and "dense" in err and "sparse_layer" in err
    code, _, err = cli_in_process(capsys, "report", "--preset", "huge")
    assert code == 2 and "tiny" in err
    code, _, err = cli_in_process(capsys, "train", "--conv", "filters=8")
    assert code == 2 and "unknown conv fields ['filters']" in err
    code, _, err = cli_in_process(capsys, "train", "--preset", "nmnist-small", "--conv",
                                  "channels=[8,16]", "--conv", "kernel=[5,3,3]")
    assert code == 2 and "one value per layer" in err


def test_conv_augment_th2_and_smoothing_flags_reach_the_config(capsys, monkeypatch):
    import snnlib.train
    from snnlib.train import PRESETS

    seen = []

    def fake_run(config, initialize=None):
        seen.append(config)
        return {"history": [], "test_accuracy": 0.5, "test_loss": 1.0, "wall_time_s": 0.0}

    monkeypatch.setattr(snnlib.train, "train_and_evaluate", fake_run)
    code, _, err = cli_in_process(capsys, "train", "--preset", "nmnist-small", "--conv", "none",
                                  "--augment", "none", "--readout", "spikes", "--resume",
                                  "--out", "unused", "--no-progress")
    assert code == 0, err
    assert seen[-1].conv == {} and seen[-1].augment == {} and seen[-1].readout == "spikes"
    assert seen[-1].resume and not seen[-1].progress and seen[-1].lif.layer_delay
    code, _, err = cli_in_process(capsys, "train", "--preset", "nmnist-small", "--conv",
                                  "channels=8", "--no-delay")
    assert code == 0, err
    assert seen[-1].conv == {"channels": 8} and seen[-1].augment == {"shift": 2}
    assert not seen[-1].lif.layer_delay and not seen[-1].resume and seen[-1].progress
    assert seen[-1].lif.th2 == PRESETS["nmnist-small"].lif.th2  # not given: the preset's
    for flag, want in (("none", None), ("0.5", 0.5)):  # none overrides a preset's mask too
        code, _, err = cli_in_process(capsys, "train", "--preset", "nmnist-small", "--th2", flag,
                                      "--alpha", "0.9")
        assert code == 0, err
        assert seen[-1].lif.th2 == want and seen[-1].lif.alpha == 0.9
    code, _, err = cli_in_process(capsys, "train", "--preset", "tiny", "--label-smoothing", "0.05")
    assert code == 0 and seen[-1].label_smoothing == 0.05, err
    code, _, err = cli_in_process(capsys, "train", "--preset", "tiny", "--label-smoothing", "1.5")
    assert code == 2 and "label_smoothing must be a number in [0, 1)" in err


def test_missing_dataset_is_one_error_line_not_a_traceback(tmp_path):
    env = {**ENV, "SNNLIB_DATA_DIR": str(tmp_path / "empty")}
    proc = subprocess.run([sys.executable, "-m", "snnlib", "train", "--dataset", "shd",
                           "--no-progress"], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: dataset 'shd' not found")
    assert str(tmp_path / "empty") in lines[0]


def test_sparse_impl_without_max_activity_is_rejected_like_the_benchmark(capsys):
    code, _, err = cli_in_process(capsys, "train", "--preset", "tiny", "--impl", "sparse_layer",
                                  "--no-progress")
    assert code == 2 and "error:" in err and "max-activity" in err


def test_bench_zero_steps_repeats_or_rounds_is_a_usage_error(tmp_path, capsys):
    for flag in ("--steps", "--repeats", "--rounds"):
        code, _, err = cli_in_process(capsys, "bench", "--preset", "tiny", flag, "0", "--out",
                                      str(tmp_path))
        assert code == 2 and f"argument {flag}: must be >= 1" in err
        assert not (tmp_path / "bench.json").exists()


def test_evaluate_prints_the_runs_test_accuracy(tmp_path):
    from snnlib.train import TrainConfig, train_and_evaluate

    out = tmp_path / "run"
    result = train_and_evaluate(TrainConfig.from_preset("tiny", epochs=1, progress=False,
                                                        out_dir=str(out)))
    proc = run_cli("evaluate", "--run", str(out), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(proc.stdout)
    assert record["accuracy"] == result["test_accuracy"]
    assert record["loss"] == result["test_loss"]
    assert len(record["activity"]) == len(record["overflow"]) == 2


def test_evaluate_human_output_and_errors(tmp_path, capsys):
    from snnlib.__main__ import main
    from snnlib.train import TrainConfig, train_and_evaluate

    out = tmp_path / "run"
    result = train_and_evaluate(TrainConfig.from_preset("tiny", epochs=1, progress=False,
                                                        out_dir=str(out)))
    assert main(["evaluate", "--run", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"accuracy {result['test_accuracy']!r}" in lines[1]
    assert lines[2].startswith("layer 0: activity ") and "overflow" in lines[2]
    (out / "model.keras").unlink()
    assert main(["evaluate", "--run", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"error: {out} is not a finished training run")
    assert "model.keras" in err[0]
    assert main(["evaluate", "--run", str(tmp_path), "--dataset", "imagenet"]) == 2
    assert "valid choices" in capsys.readouterr().err
