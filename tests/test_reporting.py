import json
import os
import shutil
from pathlib import Path

from snnlib.reporting import load_parameters, run_reports, write_index

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

FAILING = """# %% tags=["parameters"]
value = 1

# %%
from snnlib.reporting import save_metrics
save_metrics(value=value)
print("before the failure")

# %%
raise RuntimeError("deliberate failure")
"""


def test_notebook_01_renders_with_tiny_preset(tmp_path):
    code = run_reports("tiny", nb_dir=NOTEBOOKS, out_dir=tmp_path, only=["01"], log=lambda s: None)
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    (entry,) = summary["notebooks"]
    assert entry["status"] == "ok" and entry["metrics"]["first_spike_step"] > 0
    assert "data:image/png" in (tmp_path / "01_lif_dynamics.html").read_text()
    assert "01_lif_dynamics.html" in (tmp_path / "index.html").read_text()


def test_failing_notebook_gets_partial_html_and_red_row(tmp_path):
    nb_dir = tmp_path / "nbs"
    (nb_dir / "params").mkdir(parents=True)
    (nb_dir / "01_ok.py").write_text('# %%\nprint("fine")\n')
    (nb_dir / "02_broken.py").write_text(FAILING)
    (nb_dir / "params" / "02_broken.tiny.yaml").write_text("value: 7\n")
    out = tmp_path / "out"
    code = run_reports("tiny", nb_dir=nb_dir, out_dir=out, log=lambda s: None)
    assert code == 1
    summary = {r["name"]: r for r in json.loads((out / "summary.json").read_text())["notebooks"]}
    assert summary["01_ok"]["status"] == "ok"
    broken = summary["02_broken"]
    assert broken["status"] == "failed" and "deliberate failure" in broken["error"]
    assert broken["metrics"] == {"value": 7}
    assert "before the failure" in (out / "02_broken.html").read_text()
    assert "#fce8e6" in (out / "index.html").read_text()


def test_parameters_come_from_the_preset_file():
    assert load_parameters(NOTEBOOKS / "01_lif_dynamics.py", "tiny")["train_preset"] == "tiny"
    try:
        load_parameters(NOTEBOOKS / "01_lif_dynamics.py", "medium")
    except ValueError as err:
        assert "valid choices" in str(err)
    else:
        raise AssertionError("an unknown preset must raise")


def test_index_links_the_browser_screenshots_when_present(tmp_path):
    result = {"name": "01_x", "status": "ok", "runtime_s": 1.0, "metrics": {}, "html": "01_x.html",
              "error": None}
    write_index([result], tmp_path, "tiny")
    assert "browser/" not in (tmp_path / "index.html").read_text()
    (tmp_path / "browser").mkdir()
    for taken, name in enumerate(("01_lif_dynamics_before.png", "01_lif_dynamics_after.png")):
        (tmp_path / "browser" / name).write_bytes(b"\x89PNG")
        os.utime(tmp_path / "browser" / name, (1e9 + taken, 1e9 + taken))
    write_index([result], tmp_path, "tiny")
    page = (tmp_path / "index.html").read_text()
    assert page.index('href="browser/01_lif_dynamics_before.png"') < page.index('href="browser/01_lif_dynamics_after.png"')
