"""One benchmark case in a process of its own: ``python -m snnlib.bench.worker SPEC``.

``SPEC`` is the JSON of :func:`snnlib.bench.runner.run_case_isolated` (case, modes, warmup,
repeats, steps); the records come back as one JSON line on standard output. A TensorFlow case
imports the runner (and TensorFlow); a peer case (``peer:<name>``, started with
``SNNLIB_PEER_WORKER=1``) imports only :mod:`snnlib.bench.peers` and torch, never TensorFlow.
"""

from __future__ import annotations

import json
import sys
from typing import Sequence

from snnlib.bench.cases import BenchCase
from snnlib.bench.peers import run_peer_case


def main(argv: Sequence[str]) -> int:
    """Run the case of ``argv[0]`` and write ``{"records": [...]}`` as one line."""
    spec = json.loads(argv[0])
    case = BenchCase(**spec["case"])
    options = dict(modes=spec["modes"], warmup=spec["warmup"], repeats=spec["repeats"],
                   steps=spec["steps"], memory_method="subprocess")
    if case.impl.startswith("peer:"):
        records = run_peer_case(case, **options)
    else:
        from snnlib.bench.runner import run_case  # TensorFlow: only for the TF cases

        records = run_case(case, **options)
    sys.stdout.write(json.dumps({"records": records}, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
