#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need into .venv, then runs them.
#   bash scripts/test.sh [pytest args...]
# Then the editor clients' checks (client-vscode/ci.sh: extension lint/compile/unit tests/.vsix, VS Code end to end in
# code-server + headless Chromium, headless Neovim). CODESUM_SKIP_CLIENTS=1 runs the Python tests only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch==2.13.0 first: it is the CPU build this machine keeps locally (the [build] extra pins the same version).
.venv/bin/python -m pip install -q "torch==2.13.0"
# [ray]: the --executor ray tests run, not skip (a local Ray of 1-2 workers).
.venv/bin/python -m pip install -q -e ".[build,test,ray]"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || exit "$rc"
if [ "${CODESUM_SKIP_CLIENTS:-0}" != 1 ]; then
  bash client-vscode/ci.sh
fi
