#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need into .venv, runs the ruff and mypy gates,
# then the tests.
#   bash scripts/test.sh [pytest args...]
# Then the editor clients' checks (client-vscode/ci.sh: extension lint/compile/unit tests/.vsix, VS Code end to end in
# code-server + headless Chromium, headless Neovim). LENSCRIBE_SKIP_CLIENTS=1 runs the Python tests only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Say what this does to the machine before doing it (README: "What the test command installs").
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo "; fi
echo "[test.sh] installs Python packages into $(pwd)/.venv: torch==2.13.0, then this project with its build, test, ray" \
  "and backend-test extras (llama-cpp-python builds from source: 10-15 minutes the first time); as root, strace" \
  "through apt-get when it is missing (the no-network test)"
if [ "${LENSCRIBE_SKIP_CLIENTS:-0}" != 1 ]; then
  echo "[test.sh] then client-vscode/ci.sh installs what is missing of: Debian packages through ${SUDO}apt-get (nodejs npm" \
    "when there is no node; neovim; for the VS Code end to end, which LENSCRIBE_CI_SKIP_E2E=1 skips: chromium" \
    "build-essential pkg-config python3 libkrb5-dev git), npm packages into client-vscode/node_modules, and Node 24," \
    "code-server, Neovim 0.11 and the tests' tiny model into ${LENSCRIBE_E2E_CACHE:-$HOME/.cache/lenscribe-e2e}." \
    "The tests and editors run with temporary homes, config and profile directories: nothing is written in $HOME" \
    "but pip's and npm's download caches and that cache directory." \
    "LENSCRIBE_SKIP_CLIENTS=1 runs the Python tests only."
fi
# The run leaves $HOME as it was, apart from the download caches the README names (pip's, npm's,
# $LENSCRIBE_E2E_CACHE): tests/home_guard.py snapshots it now and checks it at the end (pytest itself runs with a
# temporary HOME and fails on a write to the real one).
HOME_SNAPSHOT="$(mktemp "${TMPDIR:-/tmp}/lenscribe-home-XXXXXX.json")"
trap 'rm -f "$HOME_SNAPSHOT"' EXIT
"$PY" tests/home_guard.py snapshot "$HOME_SNAPSHOT"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch==2.13.0 first: it is the CPU build this machine keeps locally (the [build] extra pins the same version).
.venv/bin/python -m pip install -q "torch==2.13.0"
# [ray]: the --executor ray tests run, not skip (a local Ray of 1-2 workers). [backend-test]: llama_cpp.server, which
# the summarizer backend's tests start on loopback (a from-source build of llama-cpp-python the first time).
.venv/bin/python -m pip install -q -e ".[build,test,ray,backend-test]"
# strace: tests/lsp/test_lsp_security.py traces the server's connect calls (no network at run time); skipped without it.
if ! command -v strace >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "scripts/test.sh: apt-get install strace (for tests/lsp/test_lsp_security.py)" >&2
  { timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq strace >/dev/null; } \
    || echo "scripts/test.sh: could not install strace; the no-network test will be skipped" >&2
fi
# The gates, before the tests: ruff (the rule set in pyproject.toml's [tool.ruff.lint]) and mypy on the package and the
# training package ([tool.mypy]: check_untyped_defs). Either failing stops here, with its findings above the message.
LINT_PATHS=(server tests models/lenscribe_training benchmarks)
echo "[test.sh] ruff check ${LINT_PATHS[*]}"
if ! .venv/bin/python -m ruff check "${LINT_PATHS[@]}"; then
  echo "scripts/test.sh: the ruff gate failed (see above; .venv/bin/ruff check --fix fixes the [*] ones); pytest not run" >&2
  exit 1
fi
echo "[test.sh] mypy (server/lenscribe, models/lenscribe_training)"
if ! .venv/bin/python -m mypy; then
  echo "scripts/test.sh: the mypy gate failed (see above); pytest not run" >&2
  exit 1
fi
set +e
# -ra: every skipped (and failed, xfailed...) test is listed with its reason at the end
.venv/bin/python -m pytest -ra "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || exit "$rc"
if [ "${LENSCRIBE_SKIP_CLIENTS:-0}" != 1 ]; then
  bash client-vscode/ci.sh
fi
if ! "$PY" tests/home_guard.py check "$HOME_SNAPSHOT"; then
  echo "scripts/test.sh: the run wrote to $HOME (listed above)" >&2
  exit 1
fi
