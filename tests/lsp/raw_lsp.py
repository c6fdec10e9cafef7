"""A raw stdio LSP peer for tests that must send what no well-behaved client sends (bad JSON, bad params, huge
Content-Length, requests after shutdown) and watch the process itself (its exit status)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lsp_support import server_env

SERVER_CMD = [sys.executable, "-m", "lenscribe", "serve"]


class RawServer:
    def __init__(self, stderr_path: Path) -> None:
        env = server_env()  # this checkout's server
        self._stderr = open(stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.stderr_path = stderr_path
        self.proc = subprocess.Popen(SERVER_CMD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=env)
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []  # everything read so far
        self._next_id = 1000
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                continue
            self.messages.put(json.loads(out.read(length)))

    # -------------------------------------------------------------------------------------------- writing

    def send_bytes(self, body: bytes, length: int | None = None) -> None:
        assert self.proc.stdin is not None
        header = f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode("ascii")
        self.proc.stdin.write(header + body)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8"))

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"method": method, **({} if params is None else {"params": params})})

    def request(self, method: str, params: Any = None, *, omit_params: bool = False) -> int:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method}
        if not omit_params:
            msg["params"] = params
        self.send(msg)
        return self._next_id

    # -------------------------------------------------------------------------------------------- reading

    def next_message(self, timeout: float = 30.0) -> dict[str, Any]:
        msg = self.messages.get(timeout=timeout)
        self.seen.append(msg)
        if "method" in msg and "id" in msg:  # a request from the server: answer it (refresh, progress...)
            self.send({"id": msg["id"], "result": None})
        return msg

    def response(self, msg_id: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next_message(max(0.01, deadline - time.monotonic()))
            if "method" not in msg and msg.get("id") == msg_id:
                return msg

    def call(self, method: str, params: Any = None, timeout: float = 30.0, **kw: Any) -> dict[str, Any]:
        return self.response(self.request(method, params, **kw), timeout)

    def drain(self, seconds: float) -> list[dict[str, Any]]:
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.next_message(left))
            except queue.Empty:
                break
        return out

    # -------------------------------------------------------------------------------------------- session

    def initialize(self, options: dict[str, Any], root: Path | None = None, process_id: int | None = None,
                   capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"processId": process_id if process_id is not None else os.getpid(),
                                  "capabilities": capabilities or {},
                                  "initializationOptions": {"lenscribe": options}}
        if root is not None:
            params["rootUri"] = root.as_uri()
            params["workspaceFolders"] = [{"uri": root.as_uri(), "name": root.name}]
        result = self.call("initialize", params)
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str, language_id: str = "python") -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language_id, "version": 1,
                                                              "text": text}})
        return uri

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        if not self._stderr.closed:
            self._stderr.close()
