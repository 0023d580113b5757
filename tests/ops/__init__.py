"""Tests of the sparse spike ops; helpers shared with the network tests."""

import pytest

from snnlib.ops import _loader


def require_compiled():
    """Skip under ``SNNLIB_PURE_PY=1``; otherwise the compiled library must load (CI builds
    the codelets before the tests, so a missing library is a failure, not a skip)."""
    if _loader.pure_python_forced():
        pytest.skip("SNNLIB_PURE_PY=1: the compiled ops are disabled")
    return _loader.require_library()
