import json
import os
from pathlib import Path

from snnlib.reporting import kernel_environment, load_parameters, run_reports, write_index

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


ENV_PROBE = """# %%
import os

from snnlib.reporting import save_headline_figure, save_metrics
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
save_headline_figure(fig)
save_metrics(bfc=os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "unset"),
             keras=os.environ.get("KERAS_BACKEND", "unset"),
             pure=os.environ.get("SNNLIB_PURE_PY", "unset"))

# %% [markdown]
# An equation: $a = b^2$.
"""


def test_kernels_do_not_inherit_the_callers_tf_and_snnlib_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CPU_ALLOCATOR_USE_BFC", "false")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setenv("SNNLIB_PURE_PY", "1")
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    (nb_dir / "01_env.py").write_text(ENV_PROBE)
    out = tmp_path / "out"
    assert run_reports("tiny", nb_dir=nb_dir, out_dir=out, log=lambda s: None) == 0
    (entry,) = json.loads((out / "summary.json").read_text())["notebooks"]
    assert entry["metrics"] == {"bfc": "unset", "keras": "unset", "pure": "1"}
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == "false"  # the caller's own env is kept
    assert entry["thumbnail"] == "thumbs/01_env.png" and (out / entry["thumbnail"]).exists()
    assert oct((out / "01_env.html").stat().st_mode & 0o777) == oct(0o644)


def test_kernel_environment_scrubs_settings_but_keeps_the_documented_ones():
    env = kernel_environment({"TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_HOME": "/x", "XLA_FLAGS": "-x",
                              "SNNLIB_PRESET": "full", "SNNLIB_PURE_PY": "1",
                              "SNNLIB_DATA_DIR": "/data", "HOME": "/h", "PATH": "/bin"},
                             SNNLIB_METRICS_FILE="/m.json")
    assert env == {"SNNLIB_PURE_PY": "1", "SNNLIB_DATA_DIR": "/data", "HOME": "/h", "PATH": "/bin",
                   "SNNLIB_HEADLESS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                   "SNNLIB_METRICS_FILE": "/m.json"}


def test_failing_notebook_gets_partial_html_and_red_row(tmp_path):
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    (nb_dir / "01_ok.py").write_text('# %%\nprint("fine")\n')
    (nb_dir / "02_broken.py").write_text(FAILING)
    out = tmp_path / "out"
    code = run_reports("tiny", nb_dir=nb_dir, out_dir=out, log=lambda s: None,
                       presets={"tiny": {"02_broken": {"value": 7}}})
    assert code == 1
    summary = {r["name"]: r for r in json.loads((out / "summary.json").read_text())["notebooks"]}
    assert summary["01_ok"]["status"] == "ok"
    broken = summary["02_broken"]
    assert broken["status"] == "failed" and "deliberate failure" in broken["error"]
    assert broken["metrics"] == {"value": 7}
    assert "before the failure" in (out / "02_broken.html").read_text()
    assert "#fce8e6" in (out / "index.html").read_text()


def test_parallel_report_renders_timed_notebooks_alone_then_the_rest_at_once(tmp_path, monkeypatch):
    from snnlib import reporting

    monkeypatch.setattr(reporting, "TIMED_NOTEBOOKS", ("03_timed",))
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    for name in ("01_ok", "03_timed", "04_ok"):
        (nb_dir / f"{name}.py").write_text(f'# %%\nprint("{name} fine")\n')
    (nb_dir / "02_broken.py").write_text(FAILING)
    out, lines = tmp_path / "out", []
    code = run_reports("tiny", nb_dir=nb_dir, out_dir=out, log=lines.append, jobs=2,
                       presets={"tiny": {"02_broken": {"value": 7}}})
    assert code == 1
    assert lines[0].startswith("report: running 03_timed.py") and "03_timed.py: ok" in lines[1]
    assert sum("queued" in line for line in lines) == 3  # the others, after the timed one ended
    rows = json.loads((out / "summary.json").read_text())["notebooks"]
    assert [(r["name"], r["status"]) for r in rows] == [
        ("01_ok", "ok"), ("02_broken", "failed"), ("03_timed", "ok"), ("04_ok", "ok")]
    assert rows[1]["metrics"] == {"value": 7}  # parameters and metrics reach the worker's kernel
    assert "04_ok fine" in (out / "04_ok.html").read_text()
    fresh = tmp_path / "fresh"  # no timed notebook first: MathJax is copied once, before the pool
    assert run_reports("tiny", nb_dir=nb_dir, out_dir=fresh, only=["01", "04"], jobs=2,
                       log=lines.append) == 0
    assert (fresh / "mathjax" / "MathJax.js").exists() and not (fresh / ".mathjax.tmp").exists()
    for jobs in (0, 1.5, True):
        try:
            run_reports("tiny", nb_dir=nb_dir, out_dir=out, log=lines.append, jobs=jobs)
        except ValueError as err:
            assert "jobs must be an integer >= 1" in str(err)
        else:
            raise AssertionError(f"jobs={jobs!r} must raise")


def test_parameters_come_from_the_notebook_presets():
    assert load_parameters(NOTEBOOKS / "01_lif_dynamics.py", "tiny")["train_preset"] == "tiny"
    try:
        load_parameters(NOTEBOOKS / "01_lif_dynamics.py", "medium")
    except ValueError as err:
        assert "valid choices" in str(err)
    else:
        raise AssertionError("an unknown preset must raise")


def test_output_dir_is_beside_the_report_being_rendered(tmp_path, monkeypatch):
    from snnlib.reporting import METRICS_ENV, ROOT, output_dir

    monkeypatch.delenv(METRICS_ENV, raising=False)
    assert output_dir("bench") == ROOT / "reports" / "bench"
    monkeypatch.setenv(METRICS_ENV, str(tmp_path / "out" / "build" / "04_benchmarks.metrics.json"))
    assert output_dir("bench") == (tmp_path / "out" / "bench").resolve()


def test_rendering_some_notebooks_keeps_the_others_in_the_index(tmp_path):
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    for name in ("01_a", "02_b"):
        (nb_dir / f"{name}.py").write_text('# %%\nprint("fine")\n')
    out = tmp_path / "out"
    assert run_reports("tiny", nb_dir=nb_dir, out_dir=out, log=lambda s: None) == 0
    (nb_dir / "01_a.py").write_text('# %%\nraise RuntimeError("now broken")\n')
    assert run_reports("tiny", nb_dir=nb_dir, out_dir=out, only=["01"], log=lambda s: None) == 1
    rows = json.loads((out / "summary.json").read_text())["notebooks"]
    assert [(r["name"], r["status"]) for r in rows] == [("01_a", "failed"), ("02_b", "ok")]
    assert "02_b.html" in (out / "index.html").read_text()


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
