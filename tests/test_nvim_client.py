"""Headless Neovim end to end: client-nvim/lenscribe.lua against the real server and a real (tiny) model.

Runs ``nvim --headless -u client-nvim/test/init.lua`` for every Neovim it finds (``nvim`` on PATH, plus the paths in
``$LENSCRIBE_NVIM``, separated by ``os.pathsep``): it opens a Python file in a project whose path has a space and a
non-ASCII letter (``my proj é``: escaped uris), waits for the code lenses (refreshed by the
server's ``workspace/codeLens/refresh``), presses K for the hover, runs :LenscribeSummarizeFile and
:LenscribeSummarizeWorkspace, and checks the error message when the server cannot start. The tiny model of
tests/conftest.py has memorised the file's functions, so the texts are known sentences.

The model is ``$LENSCRIBE_E2E_MODEL_DIR`` when set (client-vscode/ci.sh builds it once for both editors), else the
``tiny_model_dir`` fixture. Skipped when no nvim is installed (``apt-get install neovim``; client-vscode/ci.sh installs
it and sets ``LENSCRIBE_REQUIRE_NVIM=1``, which turns the skip into a failure).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INIT = REPO / "client-nvim" / "test" / "init.lua"
SAMPLE = REPO / "client-vscode" / "test" / "e2e" / "workspace" / "shapes.py"
TIMEOUT_S = 240
EXPECT = {
    "add": "Add two numbers and return the sum.",
    "read_lines": "Read a file and return its lines.",
}


def _nvims() -> list[str]:
    found = []
    for path in [shutil.which("nvim"), *os.environ.get("LENSCRIBE_NVIM", "").split(os.pathsep)]:
        if path and os.access(path, os.X_OK) and os.path.realpath(path) not in map(os.path.realpath, found):
            found.append(path)
    return found


def _version(nvim: str) -> str:
    try:
        out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.splitlines()[0].split()[-1] if out else "unknown"


def _min_version_ok(version: str) -> bool:
    try:
        major, minor = (int(x) for x in version.lstrip("v").split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (0, 7)


NVIMS = _nvims()


@pytest.fixture
def model_dir(request: pytest.FixtureRequest) -> Path:
    env = os.environ.get("LENSCRIBE_E2E_MODEL_DIR")
    if env:
        path = Path(env)
        if not (path / "manifest.json").is_file():
            pytest.fail(f"LENSCRIBE_E2E_MODEL_DIR={env} has no manifest.json")
        return path
    return request.getfixturevalue("tiny_model_dir")


@pytest.mark.slow
@pytest.mark.skipif(not NVIMS and not os.environ.get("LENSCRIBE_REQUIRE_NVIM"),
                    reason="nvim is not installed (apt-get install neovim; client-vscode/ci.sh installs it)")
@pytest.mark.parametrize("nvim", NVIMS or ["nvim"], ids=lambda p: f"nvim-{_version(p)}")
def test_nvim_hover_lenses_and_commands(nvim: str, model_dir: Path, tmp_path: Path) -> None:
    if not NVIMS:
        pytest.fail("LENSCRIBE_REQUIRE_NVIM is set but no nvim was found (PATH, $LENSCRIBE_NVIM)")
    version = _version(nvim)
    if not _min_version_ok(version):
        pytest.skip(f"{nvim} is Neovim {version}; client-nvim/lenscribe.lua needs 0.7 or newer")
    project = tmp_path / "my proj é"  # a space and a non-ASCII letter: the uris the client sends carry escapes
    project.mkdir()
    (project / "pyproject.toml").write_text("")  # a root marker: the project root is this directory
    sample = project / SAMPLE.name
    shutil.copy(SAMPLE, sample)
    bad = tmp_path / "bad-project"
    bad.mkdir()
    (bad / "pyproject.toml").write_text("")
    (bad / "bad.py").write_text("def f(x):\n    return x\n")
    result_file = tmp_path / "result.json"
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "LENSCRIBE_NVIM_TEST_FILE": str(sample),
        "LENSCRIBE_PYTHON": sys.executable,
        "LENSCRIBE_E2E_MODEL_DIR": str(model_dir),
        "LENSCRIBE_CACHE_DIR_TEST": str(tmp_path / "summary-cache"),
        "LENSCRIBE_NVIM_RESULT": str(result_file),
        "LENSCRIBE_NVIM_BAD_ROOT": str(bad),
    }
    try:
        run = subprocess.run(
            [nvim, "--headless", "-i", "NONE", "-n", "-u", str(INIT)],
            cwd=project, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"nvim did not finish in {TIMEOUT_S} s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}")
    output = f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    print(output)
    assert result_file.is_file(), output
    result = json.loads(result_file.read_text())
    assert run.returncode == 0 and result.get("ok"), output + f"\nresult: {json.dumps(result, indent=1)}"

    # What the editor showed, checked again here.
    lens_text = "\n".join(t["text"] for t in result["lenses"])
    for summary in EXPECT.values():
        assert summary in lens_text
    assert result["lens_refresh_requests"] >= 1
    assert EXPECT["add"] in "\n".join(result["hover"])
    outline = "\n".join(result["outline"])
    for name, summary in EXPECT.items():
        assert f"`{name}`" in outline and summary in outline
    assert result["workspace"]["files"] >= 1 and not result["workspace"].get("error")
    assert "/nonexistent/bin/python" in result["start_error"]
    # the code actions: copy, insert as docstring (undone in one step), regenerate with a beam search
    assert result["copied"] == result["register"] == EXPECT["add"]
    assert result["docstring_line"] == '    """' + EXPECT["add"] + '"""'
    assert any(t.startswith("Regenerate summary with beam search") for t in result["code_actions"])
    assert result["regenerated"]
    assert not [m for m in result["messages"] if "deprecated" in m], result["messages"]


TRUST_SCRIPT = r"""
package.path = os.getenv('LENSCRIBE_LUA_DIR') .. '/?.lua;' .. package.path
local lenscribe = require('lenscribe')
local root, marker = os.getenv('LENSCRIBE_PROJECT'), os.getenv('LENSCRIBE_MARKER')
vim.g.python3_host_prog = os.getenv('LENSCRIBE_PYTHON')
local out = { secure = vim.secure ~= nil and vim.secure.trust ~= nil, asked = 0 }
if out.secure then
  -- vim.secure.read asks with confirm(): answer "ignore" (trust nothing, remember nothing) and count the questions.
  vim.fn.confirm = function()
    out.asked = out.asked + 1
    return 1
  end
end
local function case(name, opts)
  lenscribe.config = vim.tbl_deep_extend('force', vim.deepcopy(lenscribe.defaults), opts)
  local cmd, why = lenscribe.server_cmd(root)
  out[name] = { cmd = cmd or vim.NIL, why = why or vim.NIL, ran = vim.fn.filereadable(marker) == 1 }
end
local ok, err = pcall(function()
  case('default', {})
  out.asked_default = out.asked
  case('never', { trust_workspace_python = false })
  if out.secure then
    vim.secure.trust({ action = 'deny', path = root .. '/.venv/pyvenv.cfg' })
    case('denied', {})
    vim.cmd('edit ' .. vim.fn.fnameescape(root .. '/.venv/pyvenv.cfg'))
    vim.secure.trust({ action = 'allow', bufnr = vim.api.nvim_get_current_buf() })  -- :trust in that buffer
    case('trusted', {})
  end
  case('always', { trust_workspace_python = true })
end)
out.error = ok and vim.NIL or tostring(err)
local f = io.open(os.getenv('LENSCRIBE_NVIM_RESULT'), 'w')
f:write(vim.fn.json_encode(out))
f:close()
vim.cmd('qa!')
"""


@pytest.mark.skipif(not NVIMS and not os.environ.get("LENSCRIBE_REQUIRE_NVIM"),
                    reason="nvim is not installed (apt-get install neovim; client-vscode/ci.sh installs it)")
@pytest.mark.parametrize("nvim", NVIMS or ["nvim"], ids=lambda p: f"nvim-{_version(p)}")
def test_nvim_runs_a_project_python_only_when_trusted(nvim: str, tmp_path: Path) -> None:
    """The project's .venv/bin/python runs the project's code: server_cmd neither runs (probes) nor picks it unless
    trusted (vim.secure on 0.9+, or trust_workspace_python = true); otherwise the global Python, started with -I."""
    if not NVIMS:
        pytest.fail("LENSCRIBE_REQUIRE_NVIM is set but no nvim was found (PATH, $LENSCRIBE_NVIM)")
    project = tmp_path / "project"
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).parent}\n")
    marker = tmp_path / "project-python-ran"
    venv_python = project / ".venv" / "bin" / "python"
    venv_python.write_text(f"#!/bin/sh\necho ran >> '{marker}'\nexec '{sys.executable}' \"$@\"\n")
    venv_python.chmod(0o755)
    script = tmp_path / "trust.lua"
    script.write_text(TRUST_SCRIPT)
    result_file = tmp_path / "result.json"
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_DATA_HOME": str(home / "data"), "XDG_STATE_HOME": str(home / "state"),
           "XDG_CACHE_HOME": str(home / "cache"), "LENSCRIBE_LUA_DIR": str(REPO / "client-nvim"),
           "LENSCRIBE_PROJECT": str(project), "LENSCRIBE_MARKER": str(marker),
           "LENSCRIBE_PYTHON": sys.executable, "LENSCRIBE_NVIM_RESULT": str(result_file)}
    run = subprocess.run([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {script}"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                         check=False)
    output = f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert result_file.is_file(), output
    result = json.loads(result_file.read_text())
    assert result["error"] is None, result["error"]
    global_cmd = [sys.executable, "-I", "-m", "lenscribe", "serve"]
    for case in ["default", "never", *(["denied"] if result["secure"] else [])]:
        assert result[case]["cmd"] == global_cmd and not result[case]["ran"], (case, result)
    if result["secure"]:
        assert result["asked_default"] == 1 and result["asked"] == 1, result  # asked once; not after a deny / allow
        assert result["trusted"]["cmd"] == [str(venv_python), "-I", "-m", "lenscribe", "serve"], result
    assert result["always"]["cmd"] == [str(venv_python), "-I", "-m", "lenscribe", "serve"] and result["always"]["ran"]


BACKEND_SCRIPT = r"""
package.path = os.getenv('LENSCRIBE_LUA_DIR') .. '/?.lua;' .. package.path
local lenscribe = require('lenscribe')
local out = {}
local function run()
  lenscribe.setup({
    python = os.getenv('LENSCRIBE_PYTHON'),
    settings = {
      modelDir = os.getenv('LENSCRIBE_E2E_MODEL_DIR'),
      cacheDir = os.getenv('LENSCRIBE_CACHE_DIR_TEST'),
      workspaceOnOpen = false,
      groundingCheck = false,
      ['backend.url'] = os.getenv('LENSCRIBE_BACKEND_URL'),
      ['backend.model'] = 'tiny',
    },
  })
  vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('LENSCRIBE_NVIM_TEST_FILE')))
  local buf = vim.api.nvim_get_current_buf()
  local function lens_texts()
    local texts = {}
    for name, ns in pairs(vim.api.nvim_get_namespaces()) do
      if name:match('codelens') then
        for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
          local d, line = mark[4] or {}, {}
          for _, chunk in ipairs(d.virt_text or {}) do table.insert(line, chunk[1]) end
          for _, vl in ipairs(d.virt_lines or {}) do
            for _, chunk in ipairs(vl) do table.insert(line, chunk[1]) end
          end
          table.insert(texts, table.concat(line))
        end
      end
    end
    return texts
  end
  vim.wait(120000, function()
    out.lenses = lens_texts()
    for _, t in ipairs(out.lenses) do
      if t:find('generated by tiny', 1, true) then return true end
    end
    return false
  end, 100)
end
-- after start-up, as client-nvim/test/init.lua: the FileType autocommands attach the client to the buffer
vim.api.nvim_create_autocmd('VimEnter', { once = true, callback = function()
  vim.schedule(function()
    local ok, err = pcall(run)
    out.error = ok and vim.NIL or tostring(err)
    out.messages = vim.fn.execute('messages')
    local f = io.open(os.getenv('LENSCRIBE_NVIM_RESULT'), 'w')
    f:write(vim.fn.json_encode(out))
    f:close()
    vim.cmd('qa!')
  end)
end })
"""


@pytest.mark.slow
@pytest.mark.skipif(not NVIMS and not os.environ.get("LENSCRIBE_REQUIRE_NVIM"),
                    reason="nvim is not installed (apt-get install neovim; client-vscode/ci.sh installs it)")
@pytest.mark.parametrize("nvim", NVIMS[-1:] or ["nvim"], ids=lambda p: f"nvim-{_version(p)}")
def test_nvim_lens_from_a_llama_server_backend(nvim: str, model_dir: Path, tmp_path: Path) -> None:
    """Two settings (backend.url, backend.model) in the Neovim client's setup(): a lens written by a real llama.cpp
    server (tests/tiny_gguf.py's model), marked with its model."""
    from llama_server import LlamaServer, require_llama_server
    from tiny_gguf import reply_text, write_tiny_gguf

    if not NVIMS:
        pytest.fail("LENSCRIBE_REQUIRE_NVIM is set but no nvim was found (PATH, $LENSCRIBE_NVIM)")
    if not _min_version_ok(_version(nvim)):
        pytest.skip(f"{nvim} is too old for client-nvim/lenscribe.lua")
    require_llama_server()
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    sample = project / SAMPLE.name
    shutil.copy(SAMPLE, sample)
    script = tmp_path / "backend.lua"
    script.write_text(BACKEND_SCRIPT)
    result_file = tmp_path / "result.json"
    home = tmp_path / "home"
    with LlamaServer(write_tiny_gguf(tmp_path / "tiny.gguf"), alias="tiny", log=tmp_path / "llama.log") as srv:
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
               "XDG_DATA_HOME": str(home / "data"), "XDG_STATE_HOME": str(home / "state"),
               "XDG_CACHE_HOME": str(home / "cache"), "LENSCRIBE_LUA_DIR": str(REPO / "client-nvim"),
               "LENSCRIBE_NVIM_TEST_FILE": str(sample), "LENSCRIBE_PYTHON": sys.executable,
               "LENSCRIBE_E2E_MODEL_DIR": str(model_dir), "LENSCRIBE_CACHE_DIR_TEST": str(tmp_path / "cache"),
               "LENSCRIBE_NVIM_RESULT": str(result_file), "LENSCRIBE_BACKEND_URL": srv.url}
        run = subprocess.run([nvim, "--headless", "-i", "NONE", "-n", "-u", str(script)], cwd=project, env=env,
                             capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    output = f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert result_file.is_file(), output
    result = json.loads(result_file.read_text())
    assert result["error"] is None, output + json.dumps(result)
    assert f"{reply_text()} · generated by tiny" in result["lenses"], result
