#!/usr/bin/env bash
# Screenshot of client-nvim/lenscribe.lua at work: Neovim in tmux (a real terminal UI) with the summary code lenses and
# the hover (K) over add(); the tmux screen is rendered to HTML and photographed by headless Chromium.
#
#   bash client-nvim/test/screenshot.sh [OUT.png]      (default client-nvim/test-artifacts/neovim.png)
#   SHOT=code-actions bash client-nvim/test/screenshot.sh OUT.png    the code action menu on add() instead of the hover
#
# Environment: NVIM (default: nvim on PATH), LENSCRIBE_PYTHON (default .venv/bin/python), LENSCRIBE_E2E_MODEL_DIR (default:
# the tests' tiny model, built into ~/.cache/lenscribe-e2e/tiny-model; the README's shot: models/lenscribe-small). Installs
# tmux and chromium with apt-get if absent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$(realpath -m "${1:-$REPO/client-nvim/test-artifacts/neovim.png}")"
NVIM="${NVIM:-$(command -v nvim || true)}"
PY="${LENSCRIBE_PYTHON:-$REPO/.venv/bin/python}"
CACHE="${LENSCRIBE_E2E_CACHE:-$HOME/.cache/lenscribe-e2e}"
SESSION="lenscribe-shot-$$"
COLS=96
ROWS=24

for tool in tmux chromium; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
done
[ -n "$NVIM" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null; NVIM=$(command -v nvim); }
MODEL="${LENSCRIBE_E2E_MODEL_DIR:-}"
if [ -z "$MODEL" ]; then
  MODEL="$CACHE/tiny-model"
  (cd "$REPO" && PYTHONPATH="$REPO/tests" timeout 600 "$PY" "$REPO/client-vscode/test/e2e/build_tiny_model.py" "$MODEL" \
    >/dev/null)
fi

# what to wait for on the screen: the model's own first lines for add() and Stack, asked of `lenscribe summarize` (one
# run, one line each)
FIRST_LINES="$("$PY" -m lenscribe summarize --json --model "$MODEL" "$REPO/client-vscode/test/e2e/workspace/shapes.py" |
  "$PY" -c 'import json, sys; c = {c["name"]: c["summary"] for c in json.load(sys.stdin)["chunks"]}
for name in ("add", "Stack"): print(c.get(name, "").split("\n")[0].strip())')"
ADD="$(sed -n 1p <<<"$FIRST_LINES")"
STACK="$(sed -n 2p <<<"$FIRST_LINES")"
[ -n "$ADD" ] && [ -n "$STACK" ] || { echo "screenshot: the model gave no summary for add or Stack" >&2; exit 1; }

TMP="$(mktemp -d)"
cleanup() { tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/project" "$(dirname "$OUT")"
cp "$REPO/client-vscode/test/e2e/workspace/shapes.py" "$TMP/project/"
touch "$TMP/project/pyproject.toml"
cat >"$TMP/init.lua" <<LUA
package.path = '$REPO/client-nvim/?.lua;' .. package.path
vim.o.termguicolors = true
vim.o.number = true
vim.o.laststatus = 2
vim.o.shortmess = vim.o.shortmess .. 'I'
if vim.fn.has('nvim-0.11') == 1 then vim.o.winborder = 'rounded' end
require('lenscribe').setup({
  python = '$PY',
  settings = { modelDir = '$MODEL', cacheDir = '$TMP/cache', workspaceOnOpen = false },
})
LUA

wait_for() { # wait_for SECONDS COUNT TEXT: until TEXT is on the screen COUNT times
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(tmux capture-pane -t "$SESSION" -p | grep -o -F "$3" | wc -l)" -lt "$2" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { tmux capture-pane -t "$SESSION" -p >&2; echo "screenshot: timed out waiting for '$3'" >&2; exit 1; }
    sleep 0.3
  done
}

cd "$TMP/project"
tmux -f /dev/null new-session -d -s "$SESSION" -x "$COLS" -y "$ROWS" \
  "env COLORTERM=truecolor TERM=tmux-256color HOME=$TMP XDG_CONFIG_HOME=$TMP/config XDG_STATE_HOME=$TMP/state '$NVIM' -i NONE -n -u '$TMP/init.lua' shapes.py"
tmux set -t "$SESSION" -as terminal-features ',*:RGB' >/dev/null
wait_for 90 1 "$ADD"   # the code lens
wait_for 30 1 "$STACK"
if [ "${SHOT:-hover}" = code-actions ]; then
  tmux send-keys -t "$SESSION" '5G' 'w' ':lua vim.lsp.buf.code_action()' Enter
  wait_for 30 1 "Copy summary (add)"   # the menu (vim.ui.select)
  WHAT="code actions (vim.lsp.buf.code_action())"
else
  tmux send-keys -t "$SESSION" '4G' 'w'
  sleep 0.5
  tmux send-keys -t "$SESSION" 'K'
  wait_for 30 2 "$ADD"   # lens + hover
  WHAT="code lenses and hover (K)"
fi
sleep 0.5
tmux capture-pane -t "$SESSION" -e -p >"$TMP/screen.ansi"
VERSION="$("$NVIM" --version | head -1)"
python3 "$HERE/ansi_to_html.py" "$TMP/screen.ansi" "$TMP/screen.html" --title "$VERSION — client-nvim/lenscribe.lua: $WHAT"
W=$(( COLS * 9 + 40 )); H=$(( ROWS * 19 + 40 ))
timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$TMP/chromium" \
  --window-size="$W,$H" --screenshot="$OUT" "file://$TMP/screen.html" >/dev/null 2>&1
[ -s "$OUT" ] || { echo "screenshot: chromium wrote no $OUT" >&2; exit 1; }
echo "$OUT"
