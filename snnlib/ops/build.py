"""Compile the C++ codelets into TensorFlow op libraries (``./build.sh codelets``).

Each folder ``codelets/<family>/`` with ``*.cc`` sources becomes ``snnlib/_ops/lib<family>.so``,
compiled with the flags of the installed TensorFlow (``tf.sysconfig``): each source into an
object file, as many at once as the machine has cores, then one link. A library is rebuilt
only when a source is newer than it or the TensorFlow version changed. ``build_info.json``
records the TF version, compiler and flags; the loader refuses libraries built for another
TF version.

Usage: ``python -m snnlib.ops.build [--force]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from snnlib.atomic import write_atomic

ROOT = Path(__file__).resolve().parents[2]
CODELETS = ROOT / "codelets"
OUT_DIR = Path(__file__).resolve().parents[1] / "_ops"
INFO_FILE = OUT_DIR / "build_info.json"
OPT_FLAGS = ["-O3", "-march=x86-64-v2", "-fPIC", "-Wall", "-Wno-sign-compare"]


def tf_flags() -> tuple[list[str], list[str], str]:
    """``(compile_flags, link_flags, tf_version)`` of the installed TensorFlow."""
    import tensorflow as tf

    return tf.sysconfig.get_compile_flags(), tf.sysconfig.get_link_flags(), tf.__version__


def families(codelets: Path = CODELETS) -> list[Path]:
    """The codelet folders that hold C++ sources, sorted by name."""
    if not codelets.is_dir():
        return []
    return sorted(p for p in codelets.iterdir() if p.is_dir() and any(p.glob("*.cc")))


def _run_parallel(commands: dict[str, list[str]], jobs: int) -> None:
    """Run the compiler ``commands`` (``{what it builds: command}``), at most ``jobs`` at once;
    raise ``RuntimeError`` with the compiler's message for the first that failed (after all
    have finished)."""
    def run(cmd):
        return subprocess.run(cmd, capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(run, commands.values()))
    for what, result in zip(commands, results):
        if result.returncode != 0:
            raise RuntimeError(f"{what}:\n{result.stderr[-4000:]}")


def compile_library(sources: list[Path], lib: Path, compiler: str, cflags: list[str],
                    lflags: list[str], jobs: int | None = None) -> None:
    """Compile ``sources`` to objects (``jobs`` at once, default: the machine's cores) and link
    them into ``lib``, written atomically (a failed build leaves the old library)."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    sources = sorted(sources, key=lambda src: -src.stat().st_size)  # the longest start first
    with tempfile.TemporaryDirectory(prefix="snnlib-build-") as tmp_dir:
        objects = [Path(tmp_dir) / f"{src.stem}.o" for src in sources]
        try:
            _run_parallel({src.name: [compiler, *OPT_FLAGS, *cflags, "-c", str(src), "-o",
                                      str(obj)] for src, obj in zip(sources, objects)}, jobs)
            tmp = lib.with_suffix(".so.tmp")
            _run_parallel({f"linking {lib.name}": [compiler, "-shared", "-fPIC",
                                                   *map(str, objects), "-o", str(tmp), *lflags]}, 1)
        except RuntimeError as err:
            raise RuntimeError(f"compiling {lib.name} failed: {err}") from None
        os.replace(tmp, lib)


def _read_info() -> dict:
    try:
        return json.loads(INFO_FILE.read_text())
    except (OSError, ValueError):
        return {}


def build(force: bool = False, log=print) -> list[Path]:
    """Compile every codelet family that is out of date; return the library paths."""
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise RuntimeError(f"C++ compiler {compiler!r} not found: install g++ (apt-get install g++)")
    cflags, lflags, tf_version = tf_flags()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    old = _read_info()
    stale_tf = old.get("tf_version") != tf_version
    built, libs = [], {}
    for family in families():
        sources = sorted(family.glob("*.cc"))
        headers = sorted(family.glob("*.h"))
        lib = OUT_DIR / f"lib{family.name}.so"
        newest = max(p.stat().st_mtime for p in sources + headers)
        if not force and not stale_tf and lib.exists() and lib.stat().st_mtime >= newest:
            log(f"codelets: {lib.name} up to date")
        else:
            log(f"codelets: compiling {family.name} ({len(sources)} sources)")
            compile_library(sources, lib, compiler, cflags, lflags)
            built.append(lib)
            log(f"codelets: built {lib.relative_to(ROOT)}")
        libs[family.name] = lib.name
    if not libs:
        log("codelets: no C++ sources under codelets/ (nothing to build)")
    write_atomic(INFO_FILE, json.dumps({
        "tf_version": tf_version, "compiler": compiler,
        "compiler_version": subprocess.run([compiler, "--version"], capture_output=True,
                                           text=True).stdout.splitlines()[0],
        "flags": OPT_FLAGS + cflags + ["-shared"] + lflags, "libraries": libs,
    }, indent=2, sort_keys=True))
    return [OUT_DIR / name for name in libs.values()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild everything")
    args = parser.parse_args(argv)
    try:
        build(force=args.force)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
