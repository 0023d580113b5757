"""Run directories: a finished training run as an artifact that can be loaded and evaluated.

``train_and_evaluate`` with ``out_dir`` writes, all atomically (temporary file + rename):

* ``config.json``: the run's :class:`TrainConfig` (:meth:`TrainConfig.to_dict`, the neuron
  constants included), written when training starts;
* ``history.csv``: one row per epoch, rewritten after every epoch;
* ``model.keras``: the trained :class:`snnlib.layers.SNNClassifier` in Keras 3's own format
  (its config, its weights and the optimizer's state in one zip), written when training ends;
* ``metrics.json``: the final numbers (``test_accuracy``, ``test_loss``, the history), last.

:func:`load_run` gives the run back as a :class:`Run` and :func:`evaluate_run` evaluates its
model on a split of its own dataset or of another one, without retraining. The test split of
the run's own dataset at the run's batch size gives exactly the run's final ``test_accuracy``
and ``test_loss`` (same data, same weights, same batches, same arithmetic).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import keras

from snnlib.atomic import atomic_path, write_atomic
from snnlib.data import SpikeDataset
from snnlib.data.feed import make_feeds
from snnlib.train.config import TrainConfig, load_config_dataset
from snnlib.train.stream import evaluation_stream, input_form

MODEL_FILE, CONFIG_FILE = "model.keras", "config.json"
METRICS_FILE, HISTORY_FILE = "metrics.json", "history.csv"
SPLITS = ("test", "train")


@dataclasses.dataclass
class Run:
    """A finished training run, as :func:`load_run` reads it from its directory.

    Attributes:
        path: the run directory.
        model: the trained :class:`snnlib.layers.SNNClassifier`, compiled (``model.evaluate``,
            ``model.predict`` and further ``model.fit`` work; Adam's state is restored).
        config: the run's :class:`TrainConfig`.
        metrics: ``metrics.json`` (``test_accuracy``, ``test_loss``, ``history``, ...), or
            ``None`` when the directory has none.
        history: ``history.csv`` as one dict of floats per epoch (``[]`` without the file).
    """

    path: Path
    model: keras.Model
    config: TrainConfig
    metrics: dict | None
    history: list[dict]


def _json_value(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def config_json(config: TrainConfig) -> str:
    """``config.json``'s text. Paths (``data={"root": Path(...)}``) are written as strings;
    any other value JSON cannot hold is a ``ValueError`` naming its field."""
    fields = config.to_dict()
    for name, value in fields.items():
        try:
            json.dumps(value, default=_json_value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"TrainConfig field {name}={value!r} cannot be written to "
                             f"{CONFIG_FILE} ({err}); use numbers, strings, paths, lists and "
                             "dicts") from err
    return json.dumps(fields, indent=2, default=_json_value)


def write_config(out_dir, config: TrainConfig) -> Path:
    """Write ``<out_dir>/config.json`` atomically; returns its path."""
    path = Path(out_dir) / CONFIG_FILE
    write_atomic(path, config_json(config))
    return path


def save_model(out_dir, model: keras.Model) -> Path:
    """Write ``<out_dir>/model.keras`` (Keras 3 format) atomically; returns its path."""
    path = Path(out_dir) / MODEL_FILE
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def _not_a_run(path: Path, missing: str) -> ValueError:
    return ValueError(f"{path} is not a finished training run: it has no {missing} (the run did "
                      "not finish, or was trained with an older snnlib that saved no model); "
                      "train it again with --out (out_dir=...)")


def load_run(run_dir) -> Run:
    """Read the run directory ``run_dir`` that ``train_and_evaluate(out_dir=run_dir)`` wrote.

    Returns:
        a :class:`Run`: ``run.model`` is the trained classifier, ``run.config`` its config.

    Raises:
        ValueError: ``run_dir`` is not a directory, or lacks ``model.keras`` or
            ``config.json`` (an unfinished run, or one of an older snnlib), or its
            ``config.json`` does not parse. The message names the path and the missing file.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise ValueError(f"run_dir {path} is not a directory; give the --out directory of a "
                         "training run")
    for name in (CONFIG_FILE, MODEL_FILE):
        if not (path / name).is_file():
            raise _not_a_run(path, name)
    try:
        config = TrainConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()))
    except ValueError as err:
        raise ValueError(f"{path / CONFIG_FILE} is not a valid run config: {err}") from err
    model = keras.saving.load_model(path / MODEL_FILE)
    metrics_path, history_path = path / METRICS_FILE, path / HISTORY_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    history = []
    if history_path.is_file():
        with history_path.open(newline="") as fh:
            history = [{k: float(v) for k, v in row.items() if v != ""}
                       for row in csv.DictReader(fh)]
    return Run(path=path, model=model, config=config, metrics=metrics, history=history)


def evaluate_run(run: Run, *, dataset: str | SpikeDataset | None = None,
                 data: dict | None = None, split: str = "test", batch_size: int | None = None,
                 progress: bool = False) -> dict:
    """Evaluate a loaded run's model on a dataset split, without training.

    Args:
        run: from :func:`load_run`.
        dataset: dataset name (default: the run's own), or a loaded
            :class:`snnlib.data.SpikeDataset` (then ``data`` is ignored). A run trained on a
            dataset passed to ``train_and_evaluate`` in memory needs it passed here again.
        data: dataset options (``load_dataset`` keywords). With the run's own dataset they
            update the run's options; with another dataset they replace them (the run's
            options belong to its dataset).
        split: ``"test"`` (default) or ``"train"``.
        batch_size: evaluation batch size (default: the run's; the loss is a mean of batch
            means, so only the run's batch size reproduces its ``test_loss`` exactly).
        progress: progress bar while a dataset is binned.

    Returns:
        ``{"accuracy", "loss", "activity": [rate of LIF layer l], "overflow": [spikes dropped
        per step and sample in layer l (0.0 for the dense implementation, which drops
        nothing)], "dataset", "split", "n_samples", "batch_size"}``; accuracy and activity
        are means over the samples (the model's own ``activity_l`` / ``overflow_l`` metrics).

    Raises:
        ValueError: unknown split, batch size < 1, or a dataset whose input width or class
            count differs from the model's.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    batch_size = run.config.batch_size if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    if dataset is None or isinstance(dataset, str):
        name = run.config.dataset if dataset is None else dataset
        options = dict(run.config.data) if name == run.config.dataset else {}
        options.update(data or {})
        config = dataclasses.replace(run.config, dataset=name, data=options)
        loaded = load_config_dataset(config, progress=progress)
    else:
        name, loaded = "(given)", dataset
    sizes = run.model.sizes
    if (loaded.n_in, loaded.n_classes) != (sizes[0], sizes[-1]):
        raise ValueError(f"dataset {name!r} has {loaded.n_in} inputs and {loaded.n_classes} "
                         f"classes but the model of {run.path} takes {sizes[0]} inputs and has "
                         f"{sizes[-1]} outputs; choose a dataset (or --data options) of that shape")
    train_feed, test_feed = make_feeds(loaded, seed=run.config.seed)
    feed, y = (test_feed, loaded.y_test) if split == "test" else (train_feed, loaded.y_train)
    form = input_form(run.config.impl)
    capacity = run.model.sparse_sizes[0] if form == "sparse" else None
    stream = evaluation_stream(feed, y, batch_size, form=form, capacity=capacity)
    logs = run.model.evaluate(stream, verbose=0, return_dict=True)
    n_lif = len(run.model.stack.sizes) - 1
    return {
        "accuracy": float(logs["accuracy"]), "loss": float(logs["loss"]),
        "activity": [float(logs[f"activity_{l}"]) for l in range(n_lif)],
        "overflow": [float(logs.get(f"overflow_{l}", 0.0)) for l in range(n_lif)],
        "dataset": name, "split": split, "n_samples": int(len(y)), "batch_size": batch_size,
    }
