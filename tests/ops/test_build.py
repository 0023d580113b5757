"""The codelet build: sources compiled to objects in parallel, then linked atomically."""

import shutil
import subprocess

import pytest

from snnlib.ops.build import compile_library

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")


def _sources(tmp_path, bodies):
    paths = []
    for name, body in bodies.items():
        path = tmp_path / name
        path.write_text(body)
        paths.append(path)
    return paths


def test_sources_compile_in_parallel_into_one_library(tmp_path):
    sources = _sources(tmp_path, {f"part{i}.cc": f'extern "C" int part{i}() {{ return {i}; }}\n'
                                  for i in range(3)})
    lib = tmp_path / "libparts.so"
    compile_library(sources, lib, "g++", [], [], jobs=2)
    symbols = subprocess.run(["nm", "-D", str(lib)], capture_output=True, text=True).stdout
    assert all(f"part{i}" in symbols for i in range(3))
    assert not lib.with_suffix(".so.tmp").exists()


def test_a_compile_error_names_the_source_and_keeps_the_old_library(tmp_path):
    sources = _sources(tmp_path, {"good.cc": "int good() { return 1; }\n",
                                  "bad.cc": "int bad() { return undeclared_name; }\n"})
    lib = tmp_path / "libmixed.so"
    lib.write_bytes(b"the previous build")
    with pytest.raises(RuntimeError, match=r"libmixed\.so failed: bad\.cc:(.|\n)*undeclared_name"):
        compile_library(sources, lib, "g++", [], [], jobs=2)
    assert lib.read_bytes() == b"the previous build"
