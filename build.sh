#!/usr/bin/env bash
# The single entry point of the workbook.
#
#   ./build.sh                  set-up, compile codelets, render every notebook -> reports/index.html
#   ./build.sh test             set-up, compile codelets, run the whole test suite
#   ./build.sh setup            create .venv (or use the active conda env) and install snnlib
#                               with the versions pinned in requirements.lock
#   ./build.sh lock             regenerate requirements.lock from pyproject.toml (uv pip compile)
#   ./build.sh codelets         compile the C++ ops in codelets/ into snnlib/_ops/
#   ./build.sh reports [--preset tiny|full] [--only 01 02] [--jobs N]
#   ./build.sh clean            remove generated files (reports, compiled ops, caches)
#   ./build.sh lab [--port N] [--ip ADDR] [--root DIR] [jupyter lab options]
#                               JupyterLab on notebooks/ (127.0.0.1:8888): NN_topic.py open as
#                               notebooks (jupytext), the kernel is this environment's Python
#
# Environment: SNNLIB_PYTHON (interpreter to create .venv with), SNNLIB_PRESET (default preset
# of the main job, "tiny").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(pwd)"
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements.lock"
EXTRAS="notebooks,dev"

die() { echo "build.sh: error: $*" >&2; exit 1; }
step() { echo "==> $*"; }

find_python() {
  local candidates=("${SNNLIB_PYTHON:-}" python3.11 python3.12 python3 python)
  for py in "${candidates[@]}"; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null; then
      command -v "$py"; return 0
    fi
  done
  return 1
}

python_bin() {
  if [ -n "${CONDA_PREFIX:-}" ] && [ "${CONDA_DEFAULT_ENV:-}" = "snnlib" ]; then
    echo "$CONDA_PREFIX/bin/python"
  else
    echo "$VENV/bin/python"
  fi
}

cmd_setup() {
  local py stamp_file want
  if [ -n "${CONDA_PREFIX:-}" ] && [ "${CONDA_DEFAULT_ENV:-}" = "snnlib" ]; then
    step "using the active conda env $CONDA_PREFIX"
  elif [ ! -x "$VENV/bin/python" ]; then
    py="$(find_python)" || die "Python 3.11 (or 3.12) not found: install python3.11 (e.g. apt-get install python3.11 python3.11-venv) or set SNNLIB_PYTHON"
    step "creating .venv with $py"
    "$py" -m venv "$VENV" || die "could not create .venv (on Debian: apt-get install python3-venv)"
  fi
  local pybin; pybin="$(python_bin)"
  "$pybin" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)' \
    || die "$pybin is not Python 3.11/3.12: remove .venv and set SNNLIB_PYTHON to a Python 3.11"
  stamp_file="$("$pybin" -c 'import sys; print(sys.prefix)')/.snnlib-install-stamp"
  [ -f "$LOCK" ] || die "requirements.lock is missing: run ./build.sh lock"
  want="$(cat pyproject.toml "$LOCK" | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ] && "$pybin" -c 'import snnlib' 2>/dev/null; then
    step "dependencies up to date"
    return 0
  fi
  step "installing snnlib and its dependencies (pip install -c requirements.lock -e .[$EXTRAS])"
  if ! "$pybin" -m pip install -q --upgrade pip >"$ROOT/.pip.log" 2>&1 \
     || ! "$pybin" -m pip install -q -c "$LOCK" -e ".[$EXTRAS]" >>"$ROOT/.pip.log" 2>&1; then
    tail -20 "$ROOT/.pip.log" >&2
    die "pip install failed (full log: .pip.log)"
  fi
  echo "$want" >"$stamp_file"
}

cmd_lock() {
  local pybin; pybin="$(python_bin)"
  "$pybin" -m uv --version >/dev/null 2>&1 || "$pybin" -m pip install -q uv \
    || die "could not install uv (pip install uv)"
  step "resolving pyproject.toml [$EXTRAS] into requirements.lock (Python 3.11 and 3.12)"
  "$pybin" -m uv pip compile pyproject.toml --extra notebooks --extra dev --universal \
    --python-version 3.11 --quiet -o "$LOCK" || die "uv pip compile failed"
}

cmd_codelets() {
  command -v "${CXX:-g++}" >/dev/null 2>&1 || die "C++ compiler ${CXX:-g++} not found: install g++ (apt-get install g++)"
  step "compiling codelets"
  "$(python_bin)" -m snnlib.ops.build "$@" || die "compiling codelets failed (see the compiler output above)"
}

cmd_reports() {
  step "rendering notebooks into reports/"
  "$(python_bin)" -m snnlib report "$@" || die "a notebook failed (see reports/index.html)"
}

cmd_test() {
  step "running the test suite"
  "$(python_bin)" -m pytest -q "$@" || die "tests failed"
}

cmd_clean() {
  step "removing generated files"
  find "$ROOT/reports" -mindepth 1 ! -name .gitkeep -exec rm -rf {} + 2>/dev/null || true
  rm -rf "$ROOT/snnlib/_ops" "$ROOT/.pytest_cache" "$ROOT/.pip.log"
  find "$ROOT" -name __pycache__ -type d -prune -not -path "$VENV/*" -exec rm -rf {} + 2>/dev/null || true
  find "$ROOT/notebooks" -name '*.ipynb' -delete 2>/dev/null || true
}

cmd_lab() {
  local py prefix port=8888 ip=127.0.0.1 root="$ROOT/notebooks" token
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) [ $# -ge 2 ] || die "--port needs a value"; port="$2"; shift 2 ;;
      --port=*) port="${1#--port=}"; shift ;;
      --ip) [ $# -ge 2 ] || die "--ip needs a value"; ip="$2"; shift 2 ;;
      --ip=*) ip="${1#--ip=}"; shift ;;
      --root) [ $# -ge 2 ] || die "--root needs a value"; root="$2"; shift 2 ;;
      --root=*) root="${1#--root=}"; shift ;;
      *) break ;;
    esac
  done
  py="$(python_bin)"
  "$py" -c 'import jupyterlab, jupytext, ipywidgets' 2>/dev/null \
    || die "JupyterLab is missing from $py: run ./build.sh setup (installs the notebooks extra)"
  prefix="$("$py" -c 'import sys; print(sys.prefix)')"
  # This environment's Python as kernel "python3" (display name as in the notebook headers),
  # found before any other kernel of that name (JUPYTER_PATH below).
  "$py" -m ipykernel install --sys-prefix --display-name "Python 3" >/dev/null \
    || die "could not register the kernel"
  token="${JUPYTER_TOKEN:-$("$py" -c 'import secrets; print(secrets.token_hex(24))')}"
  step "JupyterLab on http://$ip:$port/lab?token=$token"
  echo "    open that URL; stop with Ctrl-C twice (or: kill $$, this process, from elsewhere)"
  local as_root=(); [ "$(id -u)" = 0 ] && as_root=(--allow-root)
  export JUPYTER_TOKEN="$token"
  export JUPYTER_PATH="$prefix/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
  export JUPYTER_CONFIG_PATH="$ROOT/jupyter${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
  exec "$py" -m jupyterlab --ServerApp.root_dir="$root" --ServerApp.ip="$ip" \
    --ServerApp.port="$port" --ServerApp.port_retries=0 --no-browser "${as_root[@]}" "$@"
}

export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
cmd="${1:-all}"
[ $# -gt 0 ] && shift
case "$cmd" in
  all)      cmd_setup; cmd_codelets; cmd_reports --preset "${SNNLIB_PRESET:-tiny}" "$@" ;;
  setup)    cmd_setup ;;
  lock)     cmd_setup; cmd_lock ;;
  codelets) cmd_setup; cmd_codelets "$@" ;;
  reports)  cmd_setup; cmd_reports "$@" ;;
  test)     cmd_setup; cmd_codelets; cmd_test "$@" ;;
  clean)    cmd_clean ;;
  lab)      cmd_setup; cmd_lab "$@" ;;
  -h|--help|help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd'; valid: all (default), setup, lock, codelets, reports, test, clean, lab" ;;
esac
