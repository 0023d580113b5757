"""Every notebook renders headless through the report pipeline with its tiny preset.

Notebook 01 is checked in detail in test_reporting.py and 07 in tests/data/test_notebook.py;
this module covers the others.
"""

import json
from pathlib import Path

import pytest

from snnlib.reporting import discover_notebooks, run_reports

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
COVERED_ELSEWHERE = {"01", "07"}


@pytest.mark.parametrize("prefix", [p.stem[:2] for p in discover_notebooks(NOTEBOOKS)
                                    if p.stem[:2] not in COVERED_ELSEWHERE])
def test_notebook_renders_with_tiny_preset(tmp_path, prefix):
    code = run_reports("tiny", nb_dir=NOTEBOOKS, out_dir=tmp_path, only=[prefix], log=lambda s: None)
    (entry,) = json.loads((tmp_path / "summary.json").read_text())["notebooks"]
    assert code == 0, entry["error"]
    assert entry["metrics"], "the notebook must record its key metrics"
    assert "data:image/png" in (tmp_path / entry["html"]).read_text()


def test_every_notebook_has_both_presets():
    for source in discover_notebooks(NOTEBOOKS):
        for preset in ("tiny", "full"):
            assert (NOTEBOOKS / "params" / f"{source.stem}.{preset}.yaml").exists(), (source.name, preset)
