"""The options of the ``bench`` subcommand of the command line (``python -m snnlib bench
...``, run by :mod:`snnlib.__main__`). Building the parser loads no TensorFlow.
"""

from __future__ import annotations

from snnlib.bench.cases import BENCH_IMPLS, BENCH_PRESETS, MODES


def add_parser(sub, count) -> None:
    """Add the ``bench`` subcommand to the subparsers ``sub``; ``count(minimum)`` is the
    command line's argparse type of an integer ``>= minimum``."""
    p = sub.add_parser("bench", help="time training steps and inference of every implementation")
    p.add_argument("--preset", choices=list(BENCH_PRESETS), default="tiny")
    p.add_argument("--sweeps", nargs="+", help="only these sweeps of the preset "
                   "(activity, layers, batch, neurons, seq_len)")
    p.add_argument("--impls", nargs="+", default=list(BENCH_IMPLS),
                   help=f"implementations (default: {' '.join(BENCH_IMPLS)})")
    p.add_argument("--peers", nargs="*", metavar="PEER",
                   help="also time peer libraries (torch snntorch norse spikingjelly; "
                        "no names: all); missing ones are reported, not fatal")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--warmup", type=count(0), default=2)
    p.add_argument("--repeats", type=count(1), default=5)
    p.add_argument("--steps", type=count(1), default=3, help="steps per timed repeat")
    p.add_argument("--weight-mul", type=float, default=1.0,
                   help="initialisation scale of every case (how active the network is)")
    p.add_argument("--th2", default="0.9",
                   help="second threshold of the hidden layers ('none': no mask)")
    p.add_argument("--isolate", action="store_true",
                   help="run every case in a fresh subprocess (accurate peak memory)")
    p.add_argument("--rounds", type=count(1), default=1,
                   help="passes over all the cases, one after the other; ratios are taken within "
                        "each pass and summarised over them (steadier on a machine whose speed "
                        "drifts)")
    p.add_argument("--out", default="runs/bench", help="directory for bench.json and bench.csv")
