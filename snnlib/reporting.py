"""Render the notebooks headless into ``reports/``: jupytext -> papermill -> nbconvert -> index.

For every ``notebooks/NN_topic.py`` (jupytext percent source):

1. jupytext turns it into ``reports/build/NN_topic.ipynb``;
2. papermill executes it with the notebook's parameters of the preset
   (:data:`snnlib.notebook_presets.NOTEBOOK_PRESETS`), writing
   ``reports/build/NN_topic.executed.ipynb``;
3. nbconvert renders ``reports/NN_topic.html`` (also for a failed run: its partial output);
4. ``reports/index.html`` and ``reports/summary.json`` list every notebook with its status,
   run time, its headline figure (:func:`save_headline_figure`, else its first figure) as a
   thumbnail that links to the notebook, and the key metrics it saved with
   :func:`save_metrics`.

The same function renders for ``./build.sh`` and for the test suite, with the same kernel
environment (:func:`kernel_environment`): the caller's ``TF_*``, ``KERAS_*``, ``XLA_*`` and
``SNNLIB_*`` variables do not reach the notebooks (except the locations and the backend switch
of :data:`PASSED_THROUGH`), so a report does not depend on how the shell was set up. Kernels talk
to papermill over local IPC sockets, not TCP. The pages load nothing from the network:
equations render with the MathJax that the ``jupyter-server-mathjax`` package ships, copied to
``reports/mathjax/``, and the template leaves out the CDN scripts it does not need. Every file the
pipeline writes under ``reports/`` is readable by others (``0o644``), and written atomically.

``run_reports`` returns a non-zero exit code when any notebook failed.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from snnlib.notebook_presets import NOTEBOOK_PRESETS, TIMED_NOTEBOOKS
from snnlib.presets import choose
from snnlib.report_index import REPORT_MODE, with_earlier_results, write_index

ROOT = Path(__file__).resolve().parents[1]
METRICS_ENV = "SNNLIB_METRICS_FILE"
HEADLINE_ENV = "SNNLIB_HEADLINE_FILE"
HEADLESS_ENV = "SNNLIB_HEADLESS"
SCRUBBED_PREFIXES = ("TF_", "KERAS_", "XLA_", "SNNLIB_")
PASSED_THROUGH = ("SNNLIB_PURE_PY", "SNNLIB_DATA_DIR", "SNNLIB_CACHE_DIR")
MATHJAX_DIR = "mathjax"
MATHJAX_QUERY = "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
THUMB_DIR = "thumbs"
DEFAULT_JOBS = max(1, min(4, os.cpu_count() or 1))  # notebooks at once: the cores, at most 4


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
        write_atomic(Path(path), json.dumps({**existing, **metrics}, indent=2, default=float),
                     REPORT_MODE)
    return metrics


def output_dir(name: str) -> Path:
    """A folder for a notebook's data files: ``<reports>/<name>`` of the report being rendered
    (next to its HTML, e.g. a temporary folder under the tests), else ``reports/<name>`` of the
    checkout (interactive use)."""
    metrics = os.environ.get(METRICS_ENV)
    reports = Path(metrics).resolve().parents[1] if metrics else ROOT / "reports"
    return reports / name


def save_headline_figure(fig) -> None:
    """Mark ``fig`` (a Matplotlib figure) as the notebook's headline figure: the report index
    shows it as a thumbnail. No-op outside the pipeline."""
    path = os.environ.get(HEADLINE_ENV)
    if path:
        import io

        from snnlib.atomic import write_atomic

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=60)
        write_atomic(Path(path), buf.getvalue(), REPORT_MODE)


def kernel_environment(base: dict | None = None, **settings: str) -> dict:
    """The environment notebook kernels run with: ``base`` (default ``os.environ``) without
    the variables of :data:`SCRUBBED_PREFIXES` (but with those of :data:`PASSED_THROUGH`),
    plus ``SNNLIB_HEADLESS=1``, quiet TensorFlow logging and ``settings``."""
    base = dict(os.environ if base is None else base)
    env = {k: v for k, v in base.items()
           if k in PASSED_THROUGH or not k.startswith(SCRUBBED_PREFIXES)}
    env.update({HEADLESS_ENV: "1", "TF_CPP_MIN_LOG_LEVEL": "2"}, **settings)
    return env


@contextlib.contextmanager
def _process_environment(env: dict):
    """Replace ``os.environ`` by ``env`` inside the block (kernels inherit it), then restore."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _ipc_kernel_manager_class(socket_dir: str):
    """A kernel manager class whose kernels listen on IPC sockets in ``socket_dir`` (the
    executing client creates, owns and shuts down the manager)."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(transport="ipc", ip=os.path.join(socket_dir, "kernel"), **kwargs)

    return IPCKernelManager


# JupyterLab's HTML template without the two scripts it would fetch from a CDN: require.js
# (used only by embedded widget state, which headless runs do not produce) and mermaid (used only
# by mermaid diagrams, which the notebooks do not have). MathJax comes from reports/mathjax,
# told to use the one web font the bundled copy has (STIX-Web).
OFFLINE_TEMPLATE = (
    "{%- extends 'lab/index.html.j2' -%}"
    "{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}"
    "{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}"
    "{%- block html_head_js_mathjax -%}{{ super() }}"
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], '
    'preferredFont: null, webFont: "STIX-Web", imageFont: null}});</script>'
    "{%- endblock html_head_js_mathjax -%}")


def _offline_html_exporter(mathjax_url: str):
    """An nbconvert HTML exporter whose pages load nothing from the network."""
    import jinja2
    from nbconvert import HTMLExporter

    return HTMLExporter(extra_loaders=[jinja2.DictLoader({"snnlib.html.j2": OFFLINE_TEMPLATE})],
                        template_file="snnlib.html.j2", mathjax_url=mathjax_url)


def install_mathjax(out_dir: Path) -> str:
    """Copy the bundled MathJax (package ``jupyter-server-mathjax``) to ``out_dir/mathjax``
    once; return the relative URL the HTML pages load it from."""
    import shutil

    import jupyter_server_mathjax

    target = Path(out_dir) / MATHJAX_DIR
    if not (target / "MathJax.js").exists():
        source = Path(jupyter_server_mathjax.__file__).parent / "static"
        tmp = Path(out_dir) / f".{MATHJAX_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        for path in [tmp, *tmp.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else REPORT_MODE)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    return f"{MATHJAX_DIR}/{MATHJAX_QUERY}"


def is_headless() -> bool:
    """True when running inside the report pipeline (widgets fall back to static figures)."""
    return os.environ.get(HEADLESS_ENV) == "1"


def discover_notebooks(nb_dir: Path) -> list[Path]:
    """The notebook sources ``NN_topic.py`` in ``nb_dir``, in number order."""
    return sorted(p for p in Path(nb_dir).glob("[0-9][0-9]_*.py"))


def parameter_names(source: Path) -> set[str]:
    """The names assigned in the cell tagged ``parameters`` of a jupytext percent source."""
    import ast

    import jupytext

    cells = [c for c in jupytext.read(source).cells if "parameters" in c.metadata.get("tags", ())]
    if not cells:
        return set()
    return {t.id for node in ast.walk(ast.parse(cells[0].source))
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)}


def load_parameters(source: Path, preset: str, presets: dict = NOTEBOOK_PRESETS) -> dict:
    """The parameters of the notebook ``source`` in the report preset ``preset`` (``{}`` for a
    notebook the preset does not list).

    Raises ``ValueError`` for an unknown preset, and for a parameter that the notebook's
    ``parameters`` cell does not define (papermill would inject it unused).
    """
    source = Path(source)
    values = dict(choose(presets, preset, "report preset").get(source.stem, {}))
    unknown = sorted(set(values) - parameter_names(source))
    if unknown:
        raise ValueError(f"preset {preset!r} sets {unknown} for {source.name}, whose parameters "
                         "cell does not define them: add them to that cell or remove them from "
                         "snnlib/notebook_presets.py")
    return values


def render_notebook(source: Path, out_dir: Path, preset: str = "tiny", timeout_s: int = 3600,
                    presets: dict = NOTEBOOK_PRESETS) -> dict:
    """Execute one notebook and render its HTML; never raises for a failing notebook.

    The kernel runs with :func:`kernel_environment` on IPC sockets; the HTML loads MathJax
    from ``out_dir/mathjax`` (:func:`install_mathjax`). Parameters: :func:`load_parameters`.

    Returns:
        ``{"name", "status" ("ok" | "failed"), "runtime_s", "metrics", "html", "thumbnail",
        "error"}`` (``thumbnail``: path of the headline PNG relative to ``out_dir``, or None).
    """
    import jupytext
    import nbformat
    import papermill

    from snnlib.atomic import write_atomic

    source, out_dir = Path(source), Path(out_dir)
    build = out_dir / "build"
    build.mkdir(parents=True, exist_ok=True)
    name = source.stem
    raw, executed = build / f"{name}.ipynb", build / f"{name}.executed.ipynb"
    metrics_file = build / f"{name}.metrics.json"
    thumb = out_dir / THUMB_DIR / f"{name}.png"
    thumb.parent.mkdir(exist_ok=True)
    for stale in (metrics_file, thumb, executed):
        stale.unlink(missing_ok=True)
    parameters = load_parameters(source, preset, presets)
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, raw)
    env = kernel_environment(**{METRICS_ENV: str(metrics_file), HEADLINE_ENV: str(thumb)})
    status, error = "ok", None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="snnlib-kernel-") as sockets, _process_environment(env):
        try:
            papermill.execute_notebook(str(raw), str(executed),
                                       parameters=parameters,
                                       kernel_name="python3", cwd=str(source.parent),
                                       progress_bar=False, execution_timeout=timeout_s,
                                       kernel_manager_class=_ipc_kernel_manager_class(sockets))
        except Exception as err:  # a failing notebook is reported, not fatal to the others
            lines = str(err).strip().splitlines()
            status, error = "failed", f"{type(err).__name__}: {lines[-1] if lines else ''}"
    runtime = time.perf_counter() - t0
    rendered = nbformat.read(executed if executed.exists() else raw, as_version=4)
    body, _ = _offline_html_exporter(install_mathjax(out_dir)).from_notebook_node(rendered)
    html_path = out_dir / f"{name}.html"
    write_atomic(html_path, body, REPORT_MODE)
    if not thumb.exists():
        _write_first_figure(rendered, thumb)
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return {"name": name, "status": status, "runtime_s": round(runtime, 2), "metrics": metrics,
            "html": html_path.name,
            "thumbnail": f"{THUMB_DIR}/{thumb.name}" if thumb.exists() else None, "error": error}


def _write_first_figure(nb, path: Path) -> None:
    """Write the first PNG output of notebook ``nb`` to ``path`` (nothing if it has none)."""
    from snnlib.atomic import write_atomic

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("image/png")
            if data:
                write_atomic(path, base64.b64decode(data), REPORT_MODE)
                return


def run_reports(preset: str = "tiny", nb_dir: Path | None = None, out_dir: Path | None = None,
                only: list[str] | None = None, log=print,
                presets: dict = NOTEBOOK_PRESETS, jobs: int = 1) -> int:
    """Render every notebook (or those whose name starts with an entry of ``only``; the index
    then keeps the earlier rows of the other notebooks).

    ``jobs > 1`` renders up to ``jobs`` notebooks at once, each in its own worker process; the
    notebooks that time something (:data:`TIMED_NOTEBOOKS`) are rendered first and alone, so
    that no other kernel competes with their measurements. Returns 0 when all rendered
    notebooks succeeded, 1 otherwise. ``log`` receives two lines per notebook (start, end).
    ``presets``: the notebooks' parameters (:func:`load_parameters`).
    """
    nb_dir = Path(nb_dir or ROOT / "notebooks")
    out_dir = Path(out_dir or ROOT / "reports")
    choose(presets, preset, "report preset")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1 (notebooks rendered at once); got {jobs!r}")
    sources = discover_notebooks(nb_dir)
    if only:
        sources = [s for s in sources if any(s.stem.startswith(o) for o in only)]
    if not sources:
        raise ValueError(f"no notebooks NN_topic.py found in {nb_dir}" + (f" matching {only}" if only else ""))
    timed = [s for s in sources if s.stem in TIMED_NOTEBOOKS] if jobs > 1 else []
    results = [_render_logged(s, out_dir, preset, presets, log) for s in timed]
    rest = [s for s in sources if s not in timed]
    if jobs > 1 and len(rest) > 1:
        out_dir.mkdir(parents=True, exist_ok=True)
        install_mathjax(out_dir)  # once, here: workers that both found it missing would race
        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(jobs, len(rest)), mp_context=spawn) as pool:
            for source in rest:
                log(f"report: queued {source.name} (preset {preset}, {jobs} at once)")
            futures = {pool.submit(render_notebook, s, out_dir, preset, presets=presets): s
                       for s in rest}
            for future in concurrent.futures.as_completed(futures):
                results.append(_logged_result(futures[future], future.result(), log))
    else:
        results += [_render_logged(s, out_dir, preset, presets, log) for s in rest]
    results.sort(key=lambda r: r["name"])
    code = 0 if all(r["status"] == "ok" for r in results) else 1
    if only:
        results = with_earlier_results(results, out_dir, preset)
    index = write_index(results, out_dir, preset)
    log(f"report: wrote {index}")
    return code


def _render_logged(source: Path, out_dir: Path, preset: str, presets: dict, log) -> dict:
    """:func:`render_notebook` in this process, with its start and end logged."""
    log(f"report: running {source.name} (preset {preset}) ...")
    return _logged_result(source, render_notebook(source, out_dir, preset, presets=presets), log)


def _logged_result(source: Path, result: dict, log) -> dict:
    log(f"report: {source.name}: {result['status']} in {result['runtime_s']:.1f} s"
        + (f" ({result['error']})" if result["error"] else ""))
    return result
