"""Lazy loading, the single fallback warning and the TF-version guard."""

import json
import warnings

import pytest
import tensorflow as tf

from snnlib.ops import _loader


@pytest.fixture
def fresh_loader(monkeypatch, tmp_path):
    """A loader pointed at an empty folder with a state of its own."""
    monkeypatch.delenv("SNNLIB_PURE_PY", raising=False)
    monkeypatch.setattr(_loader, "LIB_DIR", tmp_path)
    monkeypatch.setattr(_loader, "_state", {"loaded": False, "module": None, "reason": None,
                                            "warned": False})
    return tmp_path


def test_missing_library_falls_back_with_exactly_one_warning(fresh_loader):
    with pytest.warns(RuntimeWarning, match=r"\./build\.sh codelets") as record:
        assert _loader.library() is None
        assert _loader.library() is None
        assert _loader.backend() == "reference"
    assert len([w for w in record if "snnlib.ops" in str(w.message)]) == 1


def test_missing_library_makes_require_library_raise(fresh_loader):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(_loader.LibraryUnavailable, match="not found"):
            _loader.require_library()


def test_library_built_for_another_tf_version_is_refused(fresh_loader):
    (fresh_loader / _loader.LIB_NAME).write_bytes(b"not really a library")
    (fresh_loader / "build_info.json").write_text(json.dumps({"tf_version": "1.15.0"}))
    with pytest.raises(_loader.LibraryUnavailable, match=r"TensorFlow '1\.15\.0'.*build\.sh"):
        _loader._load()
    with pytest.warns(RuntimeWarning, match="1.15.0"):
        assert _loader.library() is None


def test_pure_python_env_forces_the_reference(monkeypatch):
    monkeypatch.setenv("SNNLIB_PURE_PY", "1")
    assert _loader.library() is None
    assert _loader.backend() == "reference"
    with pytest.raises(_loader.LibraryUnavailable, match="SNNLIB_PURE_PY"):
        _loader.require_library()


def test_library_matches_the_installed_tf(lib):
    info = json.loads((_loader.LIB_DIR / "build_info.json").read_text())
    assert info["tf_version"] == tf.__version__
    assert _loader.require_library() is lib  # loaded once, gradients registered once
