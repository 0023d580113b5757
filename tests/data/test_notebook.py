"""Notebook 07 (datasets) runs headless with its tiny preset."""

import json
from pathlib import Path

import pytest

from snnlib.reporting import run_reports

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.slow
def test_notebook_07_renders_with_tiny_preset(tmp_path):
    code = run_reports("tiny", nb_dir=NOTEBOOKS, out_dir=tmp_path, only=["07"], log=lambda s: None)
    assert code == 0
    (entry,) = json.loads((tmp_path / "summary.json").read_text())["notebooks"]
    assert entry["status"] == "ok", entry.get("error")
    assert entry["metrics"]["capacity_99"] > 0 and entry["metrics"]["test_accuracy"] >= 0.3
    assert "data:image/png" in (tmp_path / "07_datasets.html").read_text()
