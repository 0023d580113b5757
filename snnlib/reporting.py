"""Render the notebooks headless into ``reports/``: jupytext -> papermill -> nbconvert -> index.

For every ``notebooks/NN_topic.py`` (jupytext percent source):

1. jupytext turns it into ``reports/build/NN_topic.ipynb``;
2. papermill executes it with the parameters of ``notebooks/params/NN_topic.<preset>.yaml``
   (if present), writing ``reports/build/NN_topic.executed.ipynb``;
3. nbconvert renders ``reports/NN_topic.html`` (also for a failed run: its partial output);
4. ``reports/index.html`` and ``reports/summary.json`` list every notebook with its status,
   run time and the key metrics it saved with :func:`save_metrics`.

``run_reports`` returns a non-zero exit code when any notebook failed.
"""

from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS_ENV = "SNNLIB_METRICS_FILE"
HEADLESS_ENV = "SNNLIB_HEADLESS"
PRESETS = ("tiny", "full")
BROWSER_DIR = "browser"  # screenshots of JupyterLab written by the browser test (tests/test_lab.py)


def save_metrics(**metrics) -> dict:
    """Record a notebook's key metrics for the report index (no-op outside the pipeline).

    Values must be JSON-serialisable numbers or strings. Returns ``metrics``.
    """
    path = os.environ.get(METRICS_ENV)
    if path:
        from snnlib.atomic import write_atomic

        existing = {}
        if Path(path).exists():
            existing = json.loads(Path(path).read_text())
        write_atomic(Path(path), json.dumps({**existing, **metrics}, indent=2, default=float))
    return metrics


def is_headless() -> bool:
    """True when running inside the report pipeline (widgets fall back to static figures)."""
    return os.environ.get(HEADLESS_ENV) == "1"


def discover_notebooks(nb_dir: Path) -> list[Path]:
    """The notebook sources ``NN_topic.py`` in ``nb_dir``, in number order."""
    return sorted(p for p in Path(nb_dir).glob("[0-9][0-9]_*.py"))


def load_parameters(source: Path, preset: str) -> dict:
    """Parameters of ``params/<stem>.<preset>.yaml`` beside the notebook, or ``{}``."""
    import yaml

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid choices: {', '.join(PRESETS)}")
    path = source.parent / "params" / f"{source.stem}.{preset}.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of parameter names to values")
    return data


def render_notebook(source: Path, out_dir: Path, preset: str = "tiny", timeout_s: int = 3600) -> dict:
    """Execute one notebook and render its HTML; never raises for a failing notebook.

    Returns:
        ``{"name", "status" ("ok" | "failed"), "runtime_s", "metrics", "html", "error"}``.
    """
    import jupytext
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    source, out_dir = Path(source), Path(out_dir)
    build = out_dir / "build"
    build.mkdir(parents=True, exist_ok=True)
    name = source.stem
    raw, executed = build / f"{name}.ipynb", build / f"{name}.executed.ipynb"
    metrics_file = build / f"{name}.metrics.json"
    metrics_file.unlink(missing_ok=True)
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, raw)
    env_before = {k: os.environ.get(k) for k in (METRICS_ENV, HEADLESS_ENV)}
    os.environ[METRICS_ENV], os.environ[HEADLESS_ENV] = str(metrics_file), "1"
    status, error = "ok", None
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(str(raw), str(executed), parameters=load_parameters(source, preset),
                                   kernel_name="python3", cwd=str(source.parent),
                                   progress_bar=False, execution_timeout=timeout_s)
    except Exception as err:  # a failing notebook is reported, not fatal to the others
        status, error = "failed", f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    runtime = time.perf_counter() - t0
    html_path = out_dir / f"{name}.html"
    rendered = executed if executed.exists() else raw
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(rendered, as_version=4))
    from snnlib.atomic import write_atomic

    write_atomic(html_path, body)
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return {"name": name, "status": status, "runtime_s": round(runtime, 2), "metrics": metrics,
            "html": html_path.name, "error": error}


def _format_metrics(metrics: dict) -> str:
    parts = []
    for key, value in metrics.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{html.escape(str(key))} = {html.escape(text)}")
    return "<br>".join(parts)


def browser_screenshots_html(out_dir: Path) -> str:
    """An index section linking the browser test's screenshots ``<out_dir>/browser/*.png`` in the
    order they were taken (notebook 01 in JupyterLab before and after a slider moved); ``""``
    when there are none."""
    shots = sorted((Path(out_dir) / BROWSER_DIR).glob("*.png"), key=lambda p: p.stat().st_mtime)
    if not shots:
        return ""
    links = "".join(
        f'<a href="{BROWSER_DIR}/{html.escape(p.name)}" title="{html.escape(p.name)}">'
        f'<img src="{BROWSER_DIR}/{html.escape(p.name)}" alt="{html.escape(p.stem)}" width="420" '
        f'style="margin:0 1em 1em 0;border:1px solid #ccc"></a>'
        for p in shots)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(max(p.stat().st_mtime for p in shots)))
    return ("<h2>The workbook in JupyterLab</h2><p>Screenshots of the browser test "
            f"(<code>tests/test_lab.py</code>, {stamp}): notebook 01 opened with "
            "<code>./build.sh lab</code>, before and after a slider of its panel moved.</p>"
            f"<p>{links}</p>")


def write_index(results: list[dict], out_dir: Path, preset: str) -> Path:
    """Write ``index.html`` and ``summary.json`` for the rendered notebooks."""
    from snnlib.atomic import write_atomic

    rows = []
    for r in results:
        color = "#e6f4ea" if r["status"] == "ok" else "#fce8e6"
        err = f"<br><small>{html.escape(r['error'])}</small>" if r.get("error") else ""
        rows.append(
            f'<tr style="background:{color}"><td><a href="{html.escape(r["html"])}">'
            f'{html.escape(r["name"])}</a></td><td>{r["status"]}{err}</td>'
            f'<td>{r["runtime_s"]:.1f} s</td><td>{_format_metrics(r["metrics"])}</td></tr>'
        )
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>snnlib reports</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.4em .8em;border:1px solid #ccc;"
        "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
        f"<h1>snnlib workbook reports</h1><p>Preset <b>{html.escape(preset)}</b>, rendered {stamp}.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>run time</th><th>key metrics</th></tr>"
        + "".join(rows) + "</table>" + browser_screenshots_html(out_dir) + "</body></html>"
    )
    index = Path(out_dir) / "index.html"
    write_atomic(index, page)
    write_atomic(Path(out_dir) / "summary.json",
                 json.dumps({"preset": preset, "rendered": stamp, "notebooks": results}, indent=2))
    return index


def run_reports(preset: str = "tiny", nb_dir: Path | None = None, out_dir: Path | None = None,
                only: list[str] | None = None, log=print) -> int:
    """Render every notebook (or those whose name starts with an entry of ``only``).

    Returns 0 when all succeeded, 1 otherwise. ``log`` receives one line per notebook.
    """
    nb_dir = Path(nb_dir or ROOT / "notebooks")
    out_dir = Path(out_dir or ROOT / "reports")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid choices: {', '.join(PRESETS)}")
    sources = discover_notebooks(nb_dir)
    if only:
        sources = [s for s in sources if any(s.stem.startswith(o) for o in only)]
    if not sources:
        raise ValueError(f"no notebooks NN_topic.py found in {nb_dir}" + (f" matching {only}" if only else ""))
    results = []
    for source in sources:
        log(f"report: running {source.name} (preset {preset}) ...")
        result = render_notebook(source, out_dir, preset)
        log(f"report: {source.name}: {result['status']} in {result['runtime_s']:.1f} s"
            + (f" ({result['error']})" if result["error"] else ""))
        results.append(result)
    index = write_index(results, out_dir, preset)
    log(f"report: wrote {index}")
    return 0 if all(r["status"] == "ok" for r in results) else 1
