"""The fused layer's narrower builds. Its hot loops are compiled for 64-, 32- and 16-byte
vectors (SNNLIB_BY_WIDTH in codelets/sparse_spikes/simd.h) and the widest the CPU has is run;
SNNLIB_MAX_VECTOR_BYTES caps the width, so a fresh process runs the compiled-vs-reference
tests of the layer on the AVX2 and the baseline build too."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops import require_compiled

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("width", ["16", "32"])
def test_narrower_vector_builds_equal_the_reference(width):
    require_compiled()
    env = {**os.environ, "SNNLIB_MAX_VECTOR_BYTES": width}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/ops/test_sparse_layer_op.py", "-k", "equals_reference and not True"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
