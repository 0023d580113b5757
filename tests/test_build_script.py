"""build.sh stops at the first failing step with one clear line."""

import os
import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def run_build(*args, **env):
    return subprocess.run([str(ROOT / "build.sh"), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300, cwd=ROOT)


def test_unknown_command_lists_the_valid_ones():
    proc = run_build("frobnicate")
    assert proc.returncode != 0
    assert "unknown command 'frobnicate'" in proc.stderr and "test" in proc.stderr


def test_missing_compiler_is_one_clear_line():
    proc = run_build("codelets", CXX="no-such-compiler-xyz")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("build.sh: error")]
    assert errors == ["build.sh: error: C++ compiler no-such-compiler-xyz not found: install g++ "
                      "(apt-get install g++)"]


def test_missing_python_is_one_clear_line(tmp_path):
    # A copy of the script in an empty folder has no .venv, and the only candidate
    # interpreter does not exist.
    script = tmp_path / "build.sh"
    script.write_text((ROOT / "build.sh").read_text())
    script.chmod(0o755)
    bin_dir = tmp_path / "bin"  # bash and dirname only: no python on PATH
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    proc = subprocess.run([str(script), "setup"], capture_output=True, text=True, timeout=60,
                          env={"PATH": str(bin_dir), "SNNLIB_PYTHON": "/nonexistent/python3.11",
                               "HOME": str(tmp_path)})
    assert proc.returncode != 0
    assert "Python 3.11 (or 3.12) not found" in proc.stderr


def _lock_pins():
    """``{name: (version, marker or None)}`` of requirements.lock."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "==" not in line:
            continue
        spec, _, marker = line.partition(";")
        name, version = (part.strip() for part in spec.split("=="))
        pins[canonicalize_name(name)] = (version, marker.strip() or None)
    return pins


def test_lock_pins_every_dependency_of_pyproject_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["notebooks"],
              *project["optional-dependencies"]["dev"]]
    pins = _lock_pins()
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock: ./build.sh lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), (name, pins[name][0])


def test_the_environment_has_the_locked_versions():
    wrong = {}
    for name, (version, marker) in _lock_pins().items():
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (installed, version)
    assert not wrong, f"installed vs locked: {wrong}; run ./build.sh setup"
