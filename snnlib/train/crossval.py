"""K-fold cross-validation of a training configuration: ``cross_validate(config, n_folds)``.

Fold ``k`` trains on the other ``K - 1`` folds and tests on fold ``k`` (the dataset's loader
deals the samples into stratified folds seeded by ``config.seed``: the same folds for every
recipe compared with the same seed). The summary is the mean and the sample standard deviation
of the final test accuracy over the folds,

    mean = (1/K) sum_k a_k,      sd = sqrt( sum_k (a_k - mean)^2 / (K - 1) ),

and the same for the best epoch (an optimistic figure: it picks the epoch on the test fold).

An interrupted cross-validation loses nothing with ``config.resume``: a fold whose run
directory holds a finished run of the same recipe (its ``metrics.json``, written last) is read
back instead of trained again, and an unfinished fold continues from its newest checkpoint
(``checkpoint_every``; each fold keeps its checkpoints under its own directory).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from pathlib import Path

from snnlib.atomic import write_atomic
from snnlib.data import DATASETS
from snnlib.train.checkpoint import fingerprint
from snnlib.train.config import TrainConfig
from snnlib.train.loop import train_and_evaluate
from snnlib.train.run import METRICS_FILE


def mean_sd(values) -> tuple[float, float]:
    """``(mean, sample standard deviation)`` of ``values`` (sd 0 for one value)."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def finished_fold(config: TrainConfig) -> dict | None:
    """The result of a finished run of ``config``'s recipe in ``config.out_dir`` (its
    ``metrics.json``), or ``None``: no such file, one that does not parse, or one written by
    another recipe (its training fields or its epochs differ; the fields that do not change
    the run, such as ``progress``, may)."""
    if not config.out_dir:
        return None
    try:
        result = json.loads((Path(config.out_dir) / METRICS_FILE).read_text())
        saved = result["config"]
        same = (fingerprint(saved) == fingerprint(config.to_dict())
                and saved["epochs"] == config.epochs)
        if same and result["history"] and "wall_time_s" in result:
            return result
    except (OSError, ValueError, KeyError, TypeError):  # missing, partial or foreign file
        pass
    return None


def cross_validate(config: TrainConfig, n_folds: int = 5, folds=None, log=None) -> dict:
    """Train ``config`` once per fold and summarise the test accuracies.

    Args:
        config: the recipe; its ``out_dir`` (if set) gets one run directory per fold,
            ``fold_<k>``, and ``cv.json``.
        n_folds: ``K``.
        folds: the folds to run (default all ``0 .. K-1``).
        log: called with one line per finished fold.

    With ``config.resume``, finished folds are read back (:func:`finished_fold`; their row
    says ``"reused": True``) and unfinished ones continue from their checkpoints.

    Returns:
        ``{"config", "n_folds", "folds": [{"fold", "test_accuracy", "best_test_accuracy",
        "test_curve", "epoch_time_s", "wall_time_s", "activity", "reused"}], "mean", "sd",
        "best_mean", "best_sd"}``; ``test_curve`` is the test accuracy after every epoch,
        ``epoch_time_s`` the mean over the epochs after the first (which also traces the step),
        ``activity`` the last epoch's training activity per layer.
    """
    with_folds = [n for n, f in DATASETS.items() if "fold" in inspect.signature(f).parameters]
    if config.dataset not in with_folds:
        raise ValueError(f"dataset {config.dataset!r} has no cross-validation folds; datasets "
                         f"with folds: {with_folds}")
    if int(n_folds) < 2:
        raise ValueError(f"n_folds must be >= 2; got {n_folds!r}")
    folds = list(range(int(n_folds))) if folds is None else [int(k) for k in folds]
    rows = []
    for k in folds:
        out = str(Path(config.out_dir) / f"fold_{k}") if config.out_dir else None
        checkpoints = (str(Path(config.checkpoint_dir) / f"fold_{k}") if config.checkpoint_dir
                       else None)
        fold_config = dataclasses.replace(
            config, out_dir=out, checkpoint_dir=checkpoints,
            data={**config.data, "fold": k, "n_folds": int(n_folds)})
        result = finished_fold(fold_config) if config.resume else None
        reused = result is not None
        if not reused:
            result = train_and_evaluate(fold_config)
        history = result["history"]
        rows.append({
            "fold": k, "test_accuracy": result["test_accuracy"],
            "best_test_accuracy": max(h.get("test_accuracy", 0.0) for h in history),
            "test_curve": [h.get("test_accuracy") for h in history],
            "epoch_time_s": sum(h["epoch_time_s"] for h in history[1:]) / max(len(history) - 1, 1),
            "wall_time_s": result["wall_time_s"],
            "activity": {key: value for key, value in history[-1].items()
                         if key.startswith("train_activity")},
            "reused": reused,
        })
        if log is not None:
            how = f"read back from {out}" if reused else f"{rows[-1]['wall_time_s']:.0f} s"
            log(f"fold {k}: test accuracy {rows[-1]['test_accuracy']:.4f} "
                f"(best {rows[-1]['best_test_accuracy']:.4f}), {how}")
    mean, sd = mean_sd(r["test_accuracy"] for r in rows)
    best_mean, best_sd = mean_sd(r["best_test_accuracy"] for r in rows)
    summary = {"config": config.to_dict(), "n_folds": int(n_folds), "folds": rows,
               "mean": mean, "sd": sd, "best_mean": best_mean, "best_sd": best_sd}
    if config.out_dir:
        write_atomic(Path(config.out_dir) / "cv.json", json.dumps(summary, indent=2))
    return summary
