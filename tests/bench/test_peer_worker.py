"""A peer benchmark worker never imports TensorFlow (a CUDA build of torch imported after
TensorFlow dies of SIGSEGV on a machine without a GPU). torch itself is not needed here: the
worker's own imports and every ``snnlib`` module the peer modules import are loaded in a
fresh process marked as a peer worker, which must end without ``tensorflow`` loaded."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from snnlib.runtime import PEER_WORKER_ENV

ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = ROOT / "snnlib" / "bench" / "peers"


def snnlib_imports_of_peers() -> list[str]:
    """Every ``snnlib`` module a peer module imports (at any depth of its code)."""
    found = set()
    for path in sorted(PEERS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("snnlib"):
                if not node.module.startswith("snnlib.bench.peers._torch_common"):
                    found.add(node.module)
    return sorted(found)


PROBE = """
import json, sys
import importlib
import snnlib.bench.worker                      # the worker's own imports
from snnlib.bench.cases import BenchCase, bench_inputs
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
case = BenchCase(impl="peer:torch", n_in=8, hidden=(4,), n_steps=3, batch_size=2,
                 input_capacity=2)
x, y = bench_inputs(case)                       # the data a peer times
from snnlib import LIFParams, init_weights      # what the peers build their networks from
init_weights(case.sizes, weight_mul=LIFParams().weight_mul)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow")))
"""


def run_probe(env_value):
    env = {k: v for k, v in os.environ.items() if k != PEER_WORKER_ENV}
    if env_value is not None:
        env[PEER_WORKER_ENV] = env_value
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(snnlib_imports_of_peers())],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_peer_worker_process_never_imports_tensorflow():
    assert "snnlib.functional.params" in snnlib_imports_of_peers()
    assert run_probe("1") == []


def test_other_processes_still_start_tensorflow_quietly():
    assert "tensorflow" in run_probe(None)
