"""The package's layering (DESIGN.md section 5) holds: no import cycle, no upward import, no
module over 400 lines.

Every ``import`` / ``from ... import`` of every module under ``snnlib/`` is read with ``ast``,
including imports inside functions, and resolved to the module it loads (``from snnlib.bench
import peers`` loads ``snnlib.bench.peers``; ``from snnlib.bench import run_case`` loads the
package ``snnlib.bench``).

The layer order, bottom to top; a module may import its own layer or any layer below it:

0. ``runtime``, ``atomic``, ``spikes``, ``figure``, ``presets``: utilities, the sparse spike
   format and the one preset lookup rule.
1. ``functional`` (the neuron model), ``ops`` (the sparse ops), ``data`` (datasets): three
   independent bases; none of them imports another.
2. ``network``: ``snn_forward`` and its implementations, the one place that imports both
   ``functional`` and ``ops``.
3. ``learning``: e-prop, DECOLLE and their BPTT references, pure functions of weights and
   inputs (below ``layers``, because the classifier's ``train_step`` calls the online rules).
4. ``layers``: the Keras layers and the classifier.
5. ``train``: configuration, presets and the training loop.
6. ``interop``: NIR export and import of the classifier (the command line loads runs for it).
7. ``bench``: the benchmark harness (builds classifiers; never imports ``train``).
8. ``notebook_presets``: the notebooks' parameters per report preset (data only).
9. ``report_index``: the report's index page and summary (HTML and JSON only).
10. ``plotting``, ``reporting``: what the notebooks use besides the layers above.
11. ``__main__``: the command line.

The package root ``snnlib`` (``__init__``) is a facade above everything: it names the public
API lazily and imports only ``runtime`` at load time.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "snnlib"
MAX_LINES = 400

LAYERS = [
    {"runtime", "atomic", "spikes", "figure", "presets"},
    {"functional", "ops", "data"},
    {"network"},
    {"learning"},
    {"layers"},
    {"train"},
    {"interop"},
    {"bench"},
    {"notebook_presets"},
    {"report_index"},
    {"plotting", "reporting"},
    {"__main__"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
ROOT_RANK = len(LAYERS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(importer: str, node: ast.AST) -> list[str]:
    """The ``snnlib`` modules one import statement of ``importer`` loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "snnlib"]
    if node.level:
        base = importer.split(".")
        if not is_package(importer):
            base = base[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "snnlib":
        return []
    found = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        found.append(sub if sub in MODULES else target)
    return found


def imports_of(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(m for m in resolve(name, node) if m != name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> tuple[int, str]:
    """``(rank, top-level part)`` of a module; the package root ranks above everything."""
    parts = name.split(".")
    if len(parts) == 1:
        return ROOT_RANK, "snnlib"
    return RANK[parts[1]], parts[1]


def test_every_module_has_a_layer():
    unknown = sorted({n.split(".")[1] for n in MODULES if "." in n} - set(RANK))
    assert not unknown, f"add these to LAYERS in {__file__}: {unknown}"


def test_no_upward_or_sideways_import():
    bad = []
    for name, targets in GRAPH.items():
        rank, part = layer(name)
        for target in sorted(targets):
            t_rank, t_part = layer(target)
            if part == "snnlib" or t_part == part:
                continue
            if t_rank > rank or (t_rank == rank and t_part != part):
                bad.append(f"{name} -> {target}")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_import_cycle():
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt not in GRAPH:
                continue
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (at most {MAX_LINES}): split it"


def test_the_checker_sees_function_level_imports(tmp_path):
    source = "def f():\n    from snnlib.bench import runner\n    import snnlib.ops\n"
    tree = ast.parse(source)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(resolve("snnlib.functional.lif", node))
    assert found == {"snnlib.bench.runner", "snnlib.ops"}
