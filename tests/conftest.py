"""Shared test set-up: quiet TensorFlow, one import for the whole session."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1)


# --- the notebooks' one rendering, started early (read by tests/test_notebooks.py) ---------

ROOT = Path(__file__).resolve().parents[1]
# What a brand-new machine's shell has: no TF_*, KERAS_*, SNNLIB_* or PYTHON* of the test runner.
CI_LIKE_ENV = {"HOME": os.environ.get("HOME", "/root"), "PATH": os.environ.get("PATH", ""),
               "LANG": "C.UTF-8"}
_RENDER = pytest.StashKey[dict]()


def _start_render() -> dict:
    """``python -m snnlib report --preset tiny`` (what ``./build.sh`` runs) as a background
    process in a CI-like environment; its combined output goes to a file (a pipe nobody reads
    while the kernels run would fill and stall it)."""
    root = Path(tempfile.mkdtemp(prefix="snnlib-reports-"))
    log = (root / "output.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "snnlib", "report", "--preset", "tiny",
                             "--out", str(root / "reports")], cwd=ROOT, env=CI_LIKE_ENV,
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    log.close()
    return {"root": root, "proc": proc}


def pytest_collection_modifyitems(config, items):
    """When the notebook tests are selected, start their rendering (about 4 minutes of kernels
    on 2 cores) before the first test, so the other tests run meanwhile."""
    if any(item.path.name == "test_notebooks.py" for item in items):
        config.stash[_RENDER] = _start_render()


def pytest_sessionfinish(session):
    render = session.config.stash.get(_RENDER, None)
    if render is not None:
        if render["proc"].poll() is None:
            render["proc"].kill()
            render["proc"].wait()
        shutil.rmtree(render["root"], ignore_errors=True)


@pytest.fixture(scope="session")
def notebook_rendering(request):
    """``(reports dir, combined output)`` of the one rendering, once it has finished."""
    render = request.config.stash.get(_RENDER, None) or _start_render()
    request.config.stash[_RENDER] = render
    render["proc"].wait(timeout=3600)
    return render["root"] / "reports", (render["root"] / "output.txt").read_text()
