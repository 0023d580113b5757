"""Command line: ``python -m snnlib train|evaluate|bench|report|export|replica ...``.

Examples::

    python -m snnlib train --dataset randman --impl dense --epochs 5
    python -m snnlib train --preset tiny --out runs/tiny
    python -m snnlib evaluate --run runs/tiny --split train
    python -m snnlib train --preset randman --rule eprop
    python -m snnlib bench --preset tiny --out runs/bench
    python -m snnlib report --preset tiny
    python -m snnlib export --run runs/tiny --format nir --out tiny.nir
    python -m snnlib train --preset tiny --init-from tiny.nir
"""

from __future__ import annotations

import argparse
import json
import sys

from snnlib.bench import command as bench_command
from snnlib.runtime import device_line


def _train_parser(sub) -> None:
    from snnlib.layers.classifier import READOUTS
    from snnlib.learning import FEEDBACKS, RULES
    from snnlib.network import IMPLS
    from snnlib.train.config import PRESETS, parse_th2

    p = sub.add_parser("train", help="train and evaluate a network (one run)")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="starting configuration; other flags override it (default: the preset "
                        "named like --dataset if there is one, else randman)")
    p.add_argument("--dataset", help="dataset name (see --list-datasets)")
    p.add_argument("--impl", choices=IMPLS, help="network implementation")
    p.add_argument("--readout", choices=READOUTS, help="spike-count or leaky-integrator readout")
    p.add_argument("--rule", choices=RULES,
                   help="learning rule: bptt (default), or online eprop / decolle (dense, spikes readout)")
    p.add_argument("--feedback", choices=FEEDBACKS, help="e-prop feedback (default symmetric)")
    p.add_argument("--hidden", type=int, nargs="+", help="hidden layer widths, e.g. --hidden 128 128")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-schedule", choices=("constant", "cosine"),
                   help="learning rate over the run: constant, or cosine decay to 0")
    p.add_argument("--weight-decay", type=float, help="AdamW's decoupled decay (0: plain Adam)")
    p.add_argument("--label-smoothing", type=float,
                   help="eps of the smoothed targets (1 - eps) onehot + eps / classes (0: none)")
    p.add_argument("--seed", type=int)
    p.add_argument("--alpha", type=float)
    p.add_argument("--weight-mul", type=float, help="scale of the initial weights (LIFParams)")
    p.add_argument("--th2", type=parse_th2, default=argparse.SUPPRESS,
                   help="gradient mask of the hidden layers, e.g. 0.9, or one per hidden layer: "
                        "0.5,0.9; none: no mask; a spiking output is never masked")
    p.add_argument("--max-activity", type=float, help="capacity rule of the sparse implementations")
    p.add_argument("--input-capacity", type=int, help="input spike capacity S (sparse implementations)")
    p.add_argument("--no-delay", action="store_true", help="stack layers within a step (no one-step delay)")
    p.add_argument("--data", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset option, e.g. --data n_samples_per_class=200 (repeatable)")
    p.add_argument("--augment", action="append", default=[], metavar="KEY=VALUE",
                   help="per-epoch event augmentation with tonic (neuromorphic sets), e.g. "
                        "--augment shift=2 --augment drop_event=0.1 (keys: shift, "
                        "spatial_jitter, time_jitter_us, drop_event); --augment none: none")
    p.add_argument("--conv", action="append", default=[], metavar="KEY=VALUE",
                   help="conv LIF layers first, e.g. --conv channels=8 --conv kernel=5 --conv stride=2 "
                        "--conv init_scale=2; lists: one per layer (channels=[16,32]); none: no conv")
    p.add_argument("--cv", type=int, metavar="K",
                   help="K-fold cross-validation instead of one run (nmnist-small): trains K "
                        "times and prints the mean and sd of the test accuracy")
    p.add_argument("--out", help="run directory: config.json, history.csv, metrics.json and "
                                 "the trained model.keras (see evaluate --run)")
    p.add_argument("--strategy", choices=("mirrored", "multiworker"),
                   help="tf.distribute data parallelism (multiworker reads TF_CONFIG)")
    p.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                   help="write a checkpoint every STEPS training steps (and at every epoch end)")
    p.add_argument("--checkpoint-dir", help="checkpoint directory (default: OUT/checkpoints)")
    p.add_argument("--keep-checkpoints", type=int, help="how many checkpoints to keep (default 3)")
    p.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint "
                   "(corrupt ones are skipped); with --cv, finished folds are read back")
    p.add_argument("--tensorboard-dir", help="write TensorBoard scalars there")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list-datasets", action="store_true", help="print the dataset names and exit")
    p.add_argument("--init-from", metavar="FILE.nir",
                   help="start from a NIR graph's network: its widths, readout, constants and "
                        "weights (its input width and classes must match the dataset)")


def _parse_data_options(items: list[str], flag: str = "--data") -> dict:
    import yaml

    options = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"error: {flag} expects KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        options[key.strip()] = yaml.safe_load(value)
    return options


def _cmd_train(args) -> int:
    from snnlib.data import DATASETS
    from snnlib.train import PRESETS, TrainConfig, train_and_evaluate

    if args.list_datasets:
        print("\n".join(sorted(DATASETS)))
        return 0
    if args.dataset is not None and args.dataset not in DATASETS:
        print(f"error: unknown dataset {args.dataset!r}; valid choices: {', '.join(sorted(DATASETS))}",
              file=sys.stderr)
        return 2
    if args.preset is None:
        args.preset = args.dataset if args.dataset in PRESETS else "randman"
    overrides = dict(dataset=args.dataset, impl=args.impl, readout=args.readout,
                     hidden=tuple(args.hidden) if args.hidden else None, epochs=args.epochs,
                     batch_size=args.batch_size, lr=args.lr, lr_schedule=args.lr_schedule,
                     weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
                     seed=args.seed, alpha=args.alpha,
                     weight_mul=args.weight_mul, th2=getattr(args, "th2", None),
                     max_activity=args.max_activity, input_capacity=args.input_capacity,
                     out_dir=args.out, rule=args.rule, feedback=args.feedback,
                     strategy=args.strategy, checkpoint_every=args.checkpoint_every,
                     checkpoint_dir=args.checkpoint_dir, keep_checkpoints=args.keep_checkpoints,
                     tensorboard_dir=args.tensorboard_dir, resume=args.resume or None,
                     progress=False if args.no_progress else None,
                     layer_delay=False if args.no_delay else None)  # None: the preset's
    if hasattr(args, "th2") and args.th2 is None:  # --th2 none: no mask, whatever the preset's
        overrides["lif"] = PRESETS[args.preset].lif.replace(th2=None)
    data = _parse_data_options(args.data)
    if args.dataset is not None and args.dataset != PRESETS[args.preset].dataset:
        overrides["data"] = data  # the preset's data options belong to its own dataset
    elif data:
        overrides["data"] = {**PRESETS[args.preset].data, **data}
    for field in ("augment", "conv"):  # KEY=VALUE options merged into the preset's; none: off
        items = getattr(args, field)
        if items == ["none"]:
            overrides[field] = {}
        elif options := _parse_data_options(items, f"--{field}"):
            overrides[field] = {**getattr(PRESETS[args.preset], field), **options}
    try:
        initialize = _init_from_nir(args, overrides) if args.init_from else None
        config = TrainConfig.from_preset(args.preset, **overrides)
        if args.cv is not None:
            if initialize is not None:
                raise ValueError("--cv starts every fold from a fresh network: it does not take "
                                 "--init-from")
            from snnlib.train.crossval import cross_validate

            summary = cross_validate(config, args.cv, log=print)
            print(f"{args.cv}-fold test accuracy {summary['mean']:.4f} +- {summary['sd']:.4f} "
                  f"(best epoch {summary['best_mean']:.4f} +- {summary['best_sd']:.4f})")
            print(json.dumps({k: summary[k] for k in ("mean", "sd", "best_mean", "best_sd")}))
            return 0
        result = train_and_evaluate(config, initialize=initialize)
    except (ValueError, FileNotFoundError) as err:  # bad options, a dataset not on disk
        print(f"error: {err}", file=sys.stderr)
        return 2
    for row in result["history"]:
        print(f"epoch {row['epoch']:3d}  train loss {row.get('train_loss', float('nan')):.4f} "
              f"acc {row.get('train_accuracy', float('nan')):.4f}  test loss "
              f"{row.get('test_loss', float('nan')):.4f} acc {row.get('test_accuracy', float('nan')):.4f}"
              f"  ({row['epoch_time_s']:.1f} s)")
    print(json.dumps({k: result[k] for k in ("test_accuracy", "test_loss", "wall_time_s")}))
    return 0


def _evaluate_parser(sub) -> None:
    from snnlib.train.run import SPLITS

    p = sub.add_parser("evaluate", help="evaluate the trained model of a run directory "
                                        "(train --out DIR) without retraining")
    p.add_argument("--run", required=True, metavar="DIR", help="the run directory")
    p.add_argument("--dataset", help="dataset name (default: the run's own)")
    p.add_argument("--data", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset option (repeatable); with the run's dataset they update the "
                        "run's options, with another dataset they replace them")
    p.add_argument("--split", choices=SPLITS, default="test", help="which split (default test)")
    p.add_argument("--batch-size", type=_count(1),
                   help="evaluation batch size (default: the run's; the loss depends on it)")
    p.add_argument("--json", action="store_true", help="print one JSON record only")


def _cmd_evaluate(args) -> int:
    from snnlib.data import DATASETS
    from snnlib.train import evaluate_run, load_run

    if args.dataset is not None and args.dataset not in DATASETS:
        print(f"error: unknown dataset {args.dataset!r}; valid choices: "
              f"{', '.join(sorted(DATASETS))}", file=sys.stderr)
        return 2
    data = _parse_data_options(args.data)
    try:
        run = load_run(args.run)
        result = evaluate_run(run, dataset=args.dataset, data=data, split=args.split,
                              batch_size=args.batch_size)
    except (ValueError, FileNotFoundError) as err:  # not a run, bad options, data not on disk
        print(f"error: {err}", file=sys.stderr)
        return 2
    result["run"] = str(run.path)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{run.path}: {run.config.impl} {run.model.sizes}, {result['dataset']} "
          f"{result['split']} split, {result['n_samples']} samples, batch {result['batch_size']}")
    print(f"accuracy {result['accuracy']!r}  loss {result['loss']!r}")
    for layer, (rate, dropped) in enumerate(zip(result["activity"], result["overflow"])):
        print(f"layer {layer}: activity {rate:.6f}  overflow {dropped:.6f} spikes/step/sample")
    return 0


def _init_from_nir(args, overrides: dict):
    """Set ``overrides`` to the network of the graph ``args.init_from``; return the function
    that copies its weights into the built model."""
    from snnlib.interop import assign_weights, from_nir

    flags = {"--hidden": args.hidden, "--readout": args.readout, "--alpha": args.alpha,
             "--no-delay": args.no_delay, "--conv": args.conv}
    clash = [flag for flag, value in flags.items() if value]
    if clash:
        raise ValueError(f"{', '.join(clash)}: the network comes from --init-from")
    source = from_nir(args.init_from)
    p = source.params
    overrides.update(hidden=tuple(source.sizes[1:-1]), readout=source.readout_kind,
                     alpha=p.alpha, gain=p.gain, th1=p.th1, layer_delay=p.layer_delay,
                     beta=p.beta, weight_mul=p.weight_mul)
    if not hasattr(args, "th2"):  # the graph's mask, None included
        overrides["lif"] = p
    return lambda model: assign_weights(model, source)


def _export_parser(sub) -> None:
    p = sub.add_parser("export", help="write a trained run's network as a NIR graph")
    p.add_argument("--run", required=True, metavar="DIR",
                   help="run directory of train --out (model.keras + config.json)")
    p.add_argument("--format", choices=("nir",), default="nir")
    p.add_argument("--out", required=True, metavar="FILE.nir")
    p.add_argument("--dt", type=float, default=1e-3,
                   help="seconds per step (NIR is continuous-time: tau = dt / (1 - alpha))")
    p.add_argument("--fold-gain", action="store_true",
                   help="gain into the weights, r = 1 (for importers that ignore r, e.g. Norse)")
    p.add_argument("--allow-capacity", action="store_true",
                   help="export a sparse run whose capacity is below its width as uncapped")


def _cmd_export(args) -> int:
    from snnlib.interop import write_nir
    from snnlib.train.run import load_run

    try:
        write_nir(load_run(args.run), args.out, dt=args.dt, fold_gain=args.fold_gain,
                  allow_capacity=args.allow_capacity)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"format": args.format, "out": str(args.out)}))
    return 0


def _report_parser(sub) -> None:
    from snnlib.notebook_presets import REPORT_PRESETS
    from snnlib.reporting import DEFAULT_JOBS

    p = sub.add_parser("report", help="run the notebooks headless and render reports/")
    p.add_argument("--preset", choices=REPORT_PRESETS, default="tiny")
    p.add_argument("--only", nargs="+", help="notebook number prefixes, e.g. --only 01 02")
    p.add_argument("--out", help="output directory (default: reports/)")
    p.add_argument("--jobs", type=_count(1), default=DEFAULT_JOBS,
                   help=f"notebooks rendered at once (default here: {DEFAULT_JOBS})")


def _cmd_report(args) -> int:
    from snnlib.reporting import run_reports

    try:
        return run_reports(args.preset, out_dir=args.out, only=args.only, jobs=args.jobs)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _count(minimum: int):
    """An argparse type: an integer ``>= minimum`` (a usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {value}")
        return value

    return parse


def _cmd_bench(args) -> int:
    from snnlib.bench import PEERS, preset_cases, run_benchmark, write_results
    from snnlib.bench import peer_status as _peer_status
    from snnlib.bench.figures import speedup_summary

    impls = list(args.impls)
    peer_status = None
    if args.peers is not None:
        names = args.peers or list(PEERS)
        unknown = sorted(set(names) - set(PEERS))
        if unknown:
            print(f"error: unknown peers {unknown}; valid choices: {', '.join(PEERS)}", file=sys.stderr)
            return 2
        peer_status = _peer_status(names)
        impls += [f"peer:{n}" for n in names if peer_status[n]["available"]]
    try:
        cases = preset_cases(args.preset, impls, args.sweeps, weight_mul=args.weight_mul,
                             th2=None if args.th2.lower() == "none" else float(args.th2))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    def progress(i, n, case):
        print(f"bench: [{i + 1}/{n}] {case.sweep} {case.impl} sizes={case.sizes} T={case.n_steps} "
              f"B={case.batch_size} max_activity={case.max_activity}", file=sys.stderr)

    result = run_benchmark(cases, modes=args.modes, warmup=args.warmup, repeats=args.repeats,
                           steps=args.steps, isolate=args.isolate, progress=progress,
                           rounds=args.rounds)
    result["preset"] = args.preset
    if peer_status is not None:
        result["peers"] = peer_status
    paths = write_results(result, args.out)
    for r in result["records"]:
        if "error" in r:
            print(f"{r['impl']:>16} FAILED: {r['error']}")
            continue
        print(f"{r['impl']:>16} {r['mode']:>5} act={r.get('max_activity')} "
              f"{r['step_ms_median']:9.2f} ms/step  {r['samples_per_s']:9.1f} samples/s")
    summary = speedup_summary(result["records"]) if args.rounds > 1 else []
    for row in summary:  # the calibrated networks' train speed-ups, summarised over the rounds
        print(f"{row['impl']:>16} train target={row['target']}: median {row['speedup']:.2f}x over "
              f"{row['rounds']} rounds ({row['speedup_min']:.2f}-{row['speedup_max']:.2f}x)")
    errors = sum("error" in r for r in result["records"])
    print(json.dumps({"records": len(result["records"]), "errors": errors,
                      "json": str(paths["json"]), "csv": str(paths["csv"])}))
    return 1 if errors else 0


def _replica_parser(sub) -> None:
    p = sub.add_parser("replica", help="write a full-size N-MNIST stand-in (the real file layout, "
                                       "hard links to the embedded recordings)")
    p.add_argument("data_dir", help="folder that gets NMNIST/{Train,Test}/<label>/<id>.bin")
    p.add_argument("--train", type=int, default=60_000, help="training recordings (60,000)")
    p.add_argument("--test", type=int, default=10_000, help="test recordings (10,000)")
    p.add_argument("--copy", action="store_true", help="copy the files instead of hard links")


def _cmd_replica(args) -> int:
    from snnlib.data.replica import write_nmnist_replica

    try:
        root = write_nmnist_replica(args.data_dir, args.train, args.test, link=not args.copy)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{root}: {sum(1 for _ in root.rglob('*.bin'))} recordings")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnlib", description="sparse SNN workbook")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser in (_train_parser, _evaluate_parser, _report_parser, _replica_parser,
                       _export_parser):
        add_parser(sub)
    bench_command.add_parser(sub, _count)
    args = parser.parse_args(argv)
    if args.command in ("train", "evaluate", "bench") and (gpu := device_line()):
        print(gpu, file=sys.stderr)  # on a machine with a GPU: which one TensorFlow uses
    commands = {"train": _cmd_train, "evaluate": _cmd_evaluate, "bench": _cmd_bench,
                "report": _cmd_report, "replica": _cmd_replica, "export": _cmd_export}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
