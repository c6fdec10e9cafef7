"""A real llama.cpp server for the tests: ``python -m llama_cpp.server`` (llama-cpp-python's OpenAI-compatible HTTP
server, the ``backend-test`` extra) on 127.0.0.1 serving a GGUF, usually tests/tiny_gguf.py's.

    with LlamaServer(model_path, alias="tiny", log=tmp_path / "llama.log") as srv:
        srv.url        # http://127.0.0.1:PORT/v1
        srv.pause()    # SIGSTOP: connections are accepted by the kernel, nothing answers (a slow server)
        srv.resume()
        srv.kill()     # gone: the port refuses connections

``require_llama_server()`` skips the calling test with a clear reason when the package or its server extra is absent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


def require_llama_server() -> None:
    import importlib.util

    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama_cpp.server is not installed (missing {', '.join(missing)}): "
                    "pip install -e '.[backend-test]' (scripts/test.sh installs it)")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class LlamaServer:
    def __init__(self, model: Path, alias: str = "tiny", log: Path | None = None, threads: int = 1,
                 ready_s: float = 120.0) -> None:
        self.model, self.alias, self.threads, self.ready_s = model, alias, threads, ready_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> LlamaServer:
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
             "--port", str(self.port), "--model_alias", self.alias, "--n_ctx", "2048",
             "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + self.ready_s
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:  # noqa: S310 - loopback
                    if alias_ok(json.load(r), self.alias):
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-2000:] if self.log else ""
                self.stop()
                raise RuntimeError(f"llama_cpp.server did not come up on {self.url}:\n{tail}")
            time.sleep(0.2)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def alias_ok(models: Any, alias: str) -> bool:
    return any(m.get("id") == alias for m in models.get("data", []))
