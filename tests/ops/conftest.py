import pytest

from tests.ops import require_compiled


@pytest.fixture(params=["reference", "compiled"])
def backend_name(request):
    """Each test runs on both backends (the compiled one is skipped under SNNLIB_PURE_PY=1)."""
    if request.param == "compiled":
        require_compiled()
    return request.param


@pytest.fixture
def lib():
    """The raw compiled op module."""
    return require_compiled()
