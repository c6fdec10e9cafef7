"""A hostile workspace runs no code and the server sends nothing: the server as the clients start it (``python -I``,
the workspace as its working directory), a workspace whose .git/config names commands, a FIFO named ``*.py``, a
symlink out of the workspace, and no network at all (the server traced with strace over a real session).

These drive ``lenscribe serve`` over raw stdio JSON-RPC rather than pytest-lsp, so that the exact command line, working
directory and environment are the test's (and the server can run under strace).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "inventory.py"
# What both clients run (client-vscode/src/serverCommand.ts, client-nvim/lenscribe.lua): -I keeps the working directory
# (the workspace) and PYTHON* variables off sys.path.
SERVE_ARGS = ["-I", "-m", "lenscribe", "serve"]
PROBE_ARGS = ["-I", "-c", "import lenscribe.cli"]
# Variables that make onnxruntime's telemetry stand down by itself (a CI run): cleared, so the test sees what a user's
# machine does.
CI_VARS = ["CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL", "CODEBUILD_BUILD_ID",
           "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER", "ORT_DISABLE_TELEMETRY"]


class RawSession:
    """A language server over stdio: requests, notifications, answers to the server's own requests."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], options: dict[str, Any],
                 stderr_path: Path) -> None:
        self.options = options
        self.stderr = open(stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.replies: dict[int, dict] = {}
        self.cond = threading.Condition()
        self.next_id = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self.cond:
                        self.cond.notify_all()
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            msg = json.loads(out.read(length))
            if "id" in msg and "method" in msg:  # the server asks: configuration, progress tokens, refreshes
                result = [self.options] * len(msg["params"].get("items", [])) \
                    if msg["method"] == "workspace/configuration" else None
                self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            elif "id" in msg:
                with self.cond:
                    self.replies[msg["id"]] = msg
                    self.cond.notify_all()

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any = None, timeout: float = 60) -> Any:
        self.next_id += 1
        rid = self.next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        with self.cond:
            while rid not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no answer to {method} (server exit {self.proc.poll()})")
                self.cond.wait(min(left, 0.5))
        reply = self.replies.pop(rid)
        assert "error" not in reply, reply
        return reply.get("result")

    def initialize(self, root: Path) -> dict:
        result = self.request("initialize", {
            "processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {},
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "initializationOptions": {"lenscribe": self.options},
        })
        self.notify("initialized", {})
        return result

    def stats(self) -> dict:
        return self.request("workspace/executeCommand", {"command": "lenscribe.stats", "arguments": []})

    def wait_stats(self, pred, what: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if pred(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last stats: {s}")
            time.sleep(0.1)

    def close(self, timeout: float = 30) -> int:
        """shutdown + exit; the exit status (the process must end by itself)."""
        try:
            if self.proc.poll() is None:
                self.request("shutdown", timeout=timeout)
                self.notify("exit")
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.stderr.close()


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CI_VARS and not k.startswith(("XDG_", "PYTHON"))}
    env.update(HOME=str(home), OMP_NUM_THREADS="1")
    return env


def _options(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    # no modelDir: the shipped model, as a user gets it
    return {"cacheDir": str(tmp_path / "cache"), "workers": 1, "workspaceOnOpen": False, "hoverTimeoutMs": 30000,
            **extra}


def _plant(directory: Path, marker: Path, names: list[str]) -> None:
    """Modules that shadow the standard library or lenscribe's dependencies: importing one appends to ``marker``."""
    for name in names:
        (directory / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n")


def test_probe_and_server_ignore_the_working_directory(tmp_path):
    """The workspace is the working directory of the probe and of the server: its .py files must not be imported."""
    ws = tmp_path / "ws"
    ws.mkdir()
    marker = tmp_path / "imported"
    _plant(ws, marker, ["argparse", "platformdirs", "json", "logging", "typing", "pygls", "lenscribe"])
    env = _env(tmp_path / "home")
    probe = subprocess.run([sys.executable, *PROBE_ARGS], cwd=ws, env=env, capture_output=True, text=True, timeout=120,
                           check=False)
    assert probe.returncode == 0, probe.stderr
    assert not marker.exists(), f"the probe imported the workspace's {marker.read_text().split()}"

    session = RawSession([sys.executable, *SERVE_ARGS], ws, env, _options(tmp_path), tmp_path / "stderr.log")
    try:
        assert session.initialize(ws)["capabilities"]["hoverProvider"]
    finally:
        code = session.close()
    assert not marker.exists(), f"the server imported the workspace's {marker.read_text().split()}"
    assert code == 0, (tmp_path / "stderr.log").read_text()[-3000:]


def test_clients_start_python_isolated():
    """The argv the clients build: every ``-m lenscribe serve`` and ``-c 'import lenscribe.cli'`` comes with ``-I``."""
    ts = (REPO / "client-vscode" / "src" / "serverCommand.ts").read_text()
    lua = (REPO / "client-nvim" / "lenscribe.lua").read_text()
    for source in (ts, lua):
        serve_lists = re.findall(r"\[?\{?([^\[\]{}]*'-m',\s*'lenscribe',\s*'serve')", source)
        listed = [re.sub(r"\s+", " ", m) for m in serve_lists]
        assert listed and all("'-I'" in m for m in listed), listed
        probes = re.findall(r"([^\[\]{}]*'-c',\s*'import lenscribe\.cli')", source)
        assert probes and all("'-I'" in m for m in probes), probes


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_hostile_workspace_run(tmp_path):
    """Workspace on open in a work tree whose .git/config runs a command on any git status-like call, with a FIFO
    named ``*.py`` and links out of the workspace: the run lists a.py only, runs nothing, ends, and the server exits."""
    ws = tmp_path / "ws"
    marker = tmp_path / "git-ran"
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "a.py").write_text("def add(a, b):\n    return a + b\n")
    hook = f"echo ran >> '{marker}'; false"
    for key, value in [("core.fsmonitor", hook), ("core.hooksPath", str(ws)), ("core.untrackedCache", "true")]:
        subprocess.run(["git", "-C", str(ws), "config", key, value], check=True)
    for hook_name in ["post-checkout", "post-index-change", "fsmonitor-watchman"]:
        (ws / hook_name).write_text(f"#!/bin/sh\n{hook}\n")
        (ws / hook_name).chmod(0o755)
    os.mkfifo(ws / "pipe.py")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def secret():\n    return 1\n")
    (ws / "secret.py").symlink_to(outside / "secret.py")
    (ws / "outside").symlink_to(outside)

    session = RawSession([sys.executable, *SERVE_ARGS], ws, _env(tmp_path / "home"),
                         _options(tmp_path, workspaceOnOpen=True), tmp_path / "stderr.log")
    try:
        session.initialize(ws)
        s = session.wait_stats(lambda s: s["workspace"] is not None and not s["server"]["workspace_running"],
                               what="the workspace run")
        assert s["workspace"]["files"] == 1 and s["workspace"]["chunks"] == 1, s["workspace"]
    finally:
        code = session.close()
    assert not marker.exists(), "the server ran a command named by the workspace's .git/config"
    assert code == 0, (tmp_path / "stderr.log").read_text()[-3000:]


# ---------------------------------------------------------------------------------------------------- network

SESSION_S = 20.0


@pytest.mark.slow
def _traced(tmp_path):
    """The workspace, the server's home, its strace output file and the traced command line of a session."""
    ws = tmp_path / "ws"
    ws.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    trace = tmp_path / "trace.txt"
    argv = ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=connect,sendto,sendmsg,sendmmsg",
            sys.executable, *SERVE_ARGS]
    return ws, home, trace, argv


def _hover_total_price(session, ws) -> dict:
    """initialize, open the example, hover total_price: the hover's answer."""
    session.initialize(ws)
    text = EXAMPLE.read_text()
    uri = (ws / "inventory.py").as_uri()
    session.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": text}})
    line = next(i for i, t in enumerate(text.splitlines()) if t.startswith("def total_price"))
    return session.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                  "position": {"line": line + 1, "character": 8}})


def _network_calls(trace, tmp_path, code: int) -> list[str]:
    """The traced calls that reached for an IPv4/IPv6 address or DNS (skips when strace could not trace)."""
    calls = trace.read_text(errors="replace")
    if not calls.strip() and code != 0:
        pytest.skip(f"strace could not trace here: {(tmp_path / 'stderr.log').read_text()[-500:]}")
    return [c for c in calls.splitlines() if "AF_INET" in c or "htons(53)" in c]


@pytest.mark.skipif(shutil.which("strace") is None,
                    reason="strace is not installed (apt-get install strace; scripts/test.sh installs it)")
def test_no_network_and_no_telemetry_files(tmp_path):
    """A real session of >= 20 s (initialize, didOpen, hover, shutdown, exit) under strace: no connect or send to an
    IPv4/IPv6 address (DNS included), and nothing under ~/.cache/Microsoft (onnxruntime's telemetry queue)."""
    ws, home, trace, argv = _traced(tmp_path)
    started = time.monotonic()
    session = RawSession(argv, ws, _env(home), _options(tmp_path), tmp_path / "stderr.log")
    try:
        hover = _hover_total_price(session, ws)
        assert hover and "total_price" in hover["contents"]["value"], hover
        while time.monotonic() - started < SESSION_S:
            session.stats()
            time.sleep(1)
    finally:
        code = session.close()
    inet = _network_calls(trace, tmp_path, code)
    assert not inet, "the server reached for the network:\n" + "\n".join(inet[:20])
    assert code == 0, (tmp_path / "stderr.log").read_text()[-3000:]
    written = [p for p in [home / ".cache" / "Microsoft", home / ".local" / "share" / "Microsoft"] if p.exists()]
    assert not written, f"telemetry files written: {written}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None,
                    reason="strace is not installed (apt-get install strace; scripts/test.sh installs it)")
def test_with_a_backend_configured_only_its_address_is_contacted(tmp_path):
    """A session with a summarizer backend on loopback (lenscribe.backend.url): the hover's summary comes from it, and
    the server's only connect is to that address and port (no DNS, no other host)."""
    from fake_openai import FakeOpenAI

    ws, home, trace, argv = _traced(tmp_path)
    with FakeOpenAI() as srv:
        port = int(srv.url.rsplit(":", 1)[1].split("/")[0])
        session = RawSession(argv, ws, _env(home), _options(tmp_path, **{
            "backend.url": srv.url, "backend.model": "tiny", "groundingCheck": False}), tmp_path / "stderr.log")
        try:
            hover = _hover_total_price(session, ws)
            assert hover and "generated by tiny" in hover["contents"]["value"], hover
            session.stats()
        finally:
            code = session.close()
    inet = _network_calls(trace, tmp_path, code)
    allowed = f'sin_port=htons({port}), sin_addr=inet_addr("127.0.0.1")'
    assert inet and srv.requests, "the backend was never contacted"
    others = [c for c in inet if allowed not in c]
    assert not others, "the server reached for another address:\n" + "\n".join(others[:20])
    assert code == 0, (tmp_path / "stderr.log").read_text()[-3000:]
