"""Every notebook renders headless with its tiny preset, exactly as ``./build.sh`` renders it.

One subprocess runs ``python -m snnlib report --preset tiny`` (the command ``./build.sh``
runs; ``conftest.py`` starts it in the background as soon as these tests are selected, so the
rest of the suite runs meanwhile) in an environment scrubbed like CI's (``env -i HOME PATH
LANG``): no ``TF_*``, ``KERAS_*``, ``SNNLIB_*`` or ``PYTHON*`` variable of the test runner
reaches it. That is how a brand-new machine renders the reports, so a notebook that needs
something of the developer's shell (e.g. an allocator setting for its memory figures) fails
here. The tests below read the one rendering.
"""

import json
import re
import stat
from pathlib import Path

import pytest

from snnlib.reporting import discover_notebooks
from snnlib.runtime import is_startup_noise

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = [p.stem for p in discover_notebooks(NOTEBOOKS)]
NOISE_IN_HTML = ("All log messages before absl::InitializeLog", "cudart_stub", "cuInit",
                 "running over TCP")


@pytest.fixture(scope="module")
def rendered(notebook_rendering):
    """``(out_dir, {name: summary entry}, combined output of the report command)``."""
    out, output = notebook_rendering
    summary = json.loads((out / "summary.json").read_text())
    entries = {e["name"]: e for e in summary["notebooks"]}
    return out, entries, output


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_renders_with_tiny_preset(rendered, name):
    out, entries, _ = rendered
    entry = entries[name]
    assert entry["status"] == "ok", entry["error"]
    assert entry["metrics"], "the notebook must record its key metrics"
    page = (out / entry["html"]).read_text()
    assert "data:image/png" in page
    assert entry["thumbnail"] and (out / entry["thumbnail"]).stat().st_size > 0


@pytest.mark.slow
def test_benchmark_notebook_writes_beside_its_report_not_into_the_checkout(rendered):
    out, entries, _ = rendered
    assert entries["04_benchmarks"]["status"] == "ok"
    assert (out / "bench" / "bench.json").exists() and (out / "bench" / "bench.csv").exists()


@pytest.mark.slow
def test_notebook_specific_results(rendered):
    _, entries, _ = rendered
    assert entries["01_lif_dynamics"]["metrics"]["first_spike_step"] > 0
    datasets = entries["07_datasets"]["metrics"]
    assert datasets["capacity_99"] > 0 and datasets["test_accuracy"] >= 0.3


@pytest.mark.slow
@pytest.mark.parametrize("name, rules", [("05_decolle", ("decolle", "bptt")),
                                         ("06_eprop", ("eprop", "bptt"))])
def test_memory_figures_are_measured_in_a_clean_environment(rendered, name, rules):
    _, entries, _ = rendered
    metrics = entries[name]["metrics"]
    for rule in rules:
        peak = metrics[f"{rule}_alloc_peak_mb_tmax"]
        assert peak is not None and peak > 0, f"{rule}: allocator peak not measured ({peak!r})"
    assert metrics[f"bptt_alloc_peak_mb_tmax"] > metrics[f"{rules[0]}_alloc_peak_mb_tmax"]


@pytest.mark.slow
def test_no_startup_noise_in_reports_or_output(rendered):
    out, entries, output = rendered
    noisy = [line for line in output.splitlines() if is_startup_noise(line)
             or "Parent appears to have exited" in line or "running over TCP" in line]
    assert not noisy, noisy
    for entry in entries.values():
        page = (out / entry["html"]).read_text()
        found = [s for s in NOISE_IN_HTML if s in page]
        assert not found, (entry["name"], found)


@pytest.mark.slow
def test_pages_load_nothing_from_the_network_and_equations_render_offline(rendered):
    out, entries, _ = rendered
    assert (out / "mathjax" / "MathJax.js").is_file()
    for entry in entries.values():
        page = (out / entry["html"]).read_text()
        urls = re.findall(r'<script[^>]+src="([^"]*MathJax[^"]*)"', page)
        assert urls and all(u.startswith("mathjax/MathJax.js") for u in urls), urls
        remote = re.findall(r'(?:src=|import\(|Url = )["\']?(https?://[^"\' )]+)', page)
        assert not remote, (entry["name"], remote)


@pytest.mark.slow
def test_every_report_file_is_world_readable(rendered):
    out, _, _ = rendered
    private = [str(p.relative_to(out)) for p in out.rglob("*")
               if not p.stat().st_mode & (stat.S_IROTH | (stat.S_IXOTH if p.is_dir() else 0))]
    assert not private, private[:10]


@pytest.mark.slow
def test_index_shows_each_headline_figure_beside_its_numbers(rendered):
    out, entries, _ = rendered
    index = (out / "index.html").read_text()
    for entry in entries.values():
        assert f'<a href="{entry["html"]}"><img src="{entry["thumbnail"]}"' in index

