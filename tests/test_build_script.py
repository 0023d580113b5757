"""build.sh stops at the first failing step with one clear line."""

import os
import shutil
import subprocess
from pathlib import Path

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
