"""Fixtures for dataset tests: a private cache folder and fake data folders per test."""

import pytest


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    """Never touch the user's cache or data folders from a test."""
    monkeypatch.setenv("SNNLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SNNLIB_DATA_DIR", str(tmp_path / "data"))
