"""The report index: ``reports/index.html`` and ``reports/summary.json`` of rendered notebooks.

:func:`write_index` writes one row per notebook (status, run time, headline thumbnail linking
to the notebook, key metrics) and the browser test's screenshots; :func:`with_earlier_results`
keeps the rows of notebooks not rendered this time. Every file is written atomically and
readable by others (:data:`REPORT_MODE`).
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

REPORT_MODE = 0o644
BROWSER_DIR = "browser"  # screenshots of JupyterLab written by the browser test (tests/test_lab.py)


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
    """Write ``index.html`` and ``summary.json`` for the rendered notebooks: one row per
    notebook with its status, run time, headline thumbnail (a link to the notebook) and key
    metrics."""
    from snnlib.atomic import write_atomic

    rows = []
    for r in results:
        color = "#e6f4ea" if r["status"] == "ok" else "#fce8e6"
        err = f"<br><small>{html.escape(r['error'])}</small>" if r.get("error") else ""
        link = html.escape(r["html"])
        thumb = (f'<a href="{link}"><img src="{html.escape(r["thumbnail"])}" '
                 f'alt="headline figure of {html.escape(r["name"])}"></a>'
                 if r.get("thumbnail") else "")
        rows.append(
            f'<tr style="background:{color}"><td><a href="{link}">'
            f'{html.escape(r["name"])}</a></td><td>{r["status"]}{err}</td>'
            f'<td>{r["runtime_s"]:.1f} s</td><td>{thumb}</td>'
            f'<td>{_format_metrics(r["metrics"])}</td></tr>'
        )
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>snnlib reports</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.4em .8em;border:1px solid #ccc;"
        "vertical-align:top}table{border-collapse:collapse}img{max-width:360px;max-height:240px}"
        "</style></head><body>"
        f"<h1>snnlib workbook reports</h1><p>Preset <b>{html.escape(preset)}</b>, rendered {stamp}.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>run time</th><th>headline figure</th>"
        "<th>key metrics</th></tr>"
        + "".join(rows) + "</table>" + browser_screenshots_html(out_dir) + "</body></html>"
    )
    index = Path(out_dir) / "index.html"
    write_atomic(index, page, REPORT_MODE)
    write_atomic(Path(out_dir) / "summary.json",
                 json.dumps({"preset": preset, "rendered": stamp, "notebooks": results}, indent=2),
                 REPORT_MODE)
    return index


def with_earlier_results(results: list[dict], out_dir: Path, preset: str) -> list[dict]:
    """``results`` plus the rows of an earlier ``summary.json`` of the same preset for the
    notebooks not rendered now (and whose HTML is still there), in name order: rendering a
    few notebooks keeps the others in the index."""
    try:
        earlier = json.loads((Path(out_dir) / "summary.json").read_text())
    except (OSError, ValueError):
        return results
    if earlier.get("preset") != preset:
        return results
    names = {r["name"] for r in results}
    kept = [r for r in earlier.get("notebooks", [])
            if r.get("name") not in names and (Path(out_dir) / r.get("html", "")).is_file()]
    return sorted(results + kept, key=lambda r: r["name"])
