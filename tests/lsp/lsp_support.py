"""Helpers for the language server's end-to-end tests: a pytest-lsp client talking to ``lenscribe serve`` over stdio.

``start_client`` starts the real server (``sys.executable -I -m lenscribe serve``, as the clients do) with the real tiny
model and a private cache dir (tests start it through conftest's ``lsp_client`` factory, which also stops it);
``wait_until`` polls the server's ``lenscribe.stats`` command.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

# This checkout's server (``PYTHONPATH``): ``-I``, as the clients run it, would ignore PYTHONPATH and import the
# installed package, which is an editable install of another checkout when several share one virtualenv.
SERVER_DIR = Path(__file__).resolve().parents[2] / "server"
SERVER_CMD = [sys.executable, "-m", "lenscribe", "serve"]
TIMEOUT = 30.0


# The sources of the tiny test model (tests/conftest.py TINY_PAIRS) that the LSP tests open
ADD = "def add(a, b):\n    return a + b"
READ_LINES = "def read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()"
STACK = ("class Stack:\n    def __init__(self):\n        self.items = []\n\n"
         "    def push(self, x):\n        self.items.append(x)")
GREET = "function greet(name) {\n  return `Hello, ${name}!`;\n}"


def server_env() -> dict[str, str]:
    """The server process' environment: this checkout's ``server`` first on its path, unbuffered, one OpenMP
    thread."""
    path = os.pathsep.join(p for p in (str(SERVER_DIR), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def server_config() -> ClientServerConfig:
    return ClientServerConfig(server_command=SERVER_CMD, server_env=server_env())


def init_params(options: dict[str, Any], root: Path | None = None, capabilities: types.ClientCapabilities | None = None,
                ) -> types.InitializeParams:
    caps = capabilities or client_capabilities("visual-studio-code")
    folders = [types.WorkspaceFolder(uri=root.as_uri(), name=root.name)] if root else None
    return types.InitializeParams(
        capabilities=caps,
        process_id=os.getpid(),
        root_uri=root.as_uri() if root else None,
        workspace_folders=folders,
        initialization_options={"lenscribe": options},
    )


def base_options(model_dir: Path | str, cache_dir: Path, **extra: Any) -> dict[str, Any]:
    # groundingCheck off: the tiny model's memorised sentences name words its code does not ("two", "sum"); the
    # check itself has its own tests (test_lsp_e2e.py, test_grounding.py)
    opts = {"modelDir": str(model_dir), "cacheDir": str(cache_dir), "workers": 1, "debounceMs": 100,
            "workspaceOnOpen": False, "hoverTimeoutMs": 10000, "lensRefreshMs": 100, "groundingCheck": False}
    opts.update(extra)
    return opts


def add_refresh_counter(client: LanguageClient) -> None:
    """Answer workspace/codeLens/refresh (the stock test client does not) and count the requests."""
    client.lens_refreshes = 0  # type: ignore[attr-defined]

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def _refresh(params: Any) -> None:
        client.lens_refreshes += 1  # type: ignore[attr-defined]


async def start_client(options: dict[str, Any], root: Path | None = None,
                       capabilities: types.ClientCapabilities | None = None) -> LanguageClient:
    client = await server_config().start()
    add_refresh_counter(client)
    await client.initialize_session(init_params(options, root, capabilities))
    return client


async def stop_client(client: LanguageClient) -> None:
    """Shut the session down and stop the server; a second call does nothing (the ``lsp_client`` fixture stops every
    client it started that a test did not stop itself)."""
    if getattr(client, "lenscribe_stopped", False):
        return
    client.lenscribe_stopped = True  # type: ignore[attr-defined]
    await client.shutdown_session()
    await client.stop()


async def stats(client: LanguageClient) -> dict[str, Any]:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="lenscribe.stats"))


async def wait_until(client: LanguageClient, pred: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT,
                     what: str = "condition") -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        s = await stats(client)
        if pred(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last stats: {s}")
        await asyncio.sleep(0.05)


def idle(s: dict[str, Any]) -> bool:
    q = s["queue"]
    return s["model"]["state"] in ("ready", "error") and q["queued"] == 0 and q["running"] == 0 \
        and s["server"]["pending_debounce"] == 0


async def wait_idle(client: LanguageClient, timeout: float = TIMEOUT) -> dict[str, Any]:
    return await wait_until(client, idle, timeout, "an idle server")


def open_doc(client: LanguageClient, path: Path, text: str, language_id: str = "python", version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)))
    return uri


async def hover(client: LanguageClient, uri: str, line: int, character: int) -> types.Hover | None:
    return await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)))


async def lenses(client: LanguageClient, uri: str) -> list[types.CodeLens]:
    return await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri))) or []


def hover_summary(h: types.Hover | None) -> str | None:
    """The summary lines of a lenscribe hover (after its title), joined by newline."""
    if h is None:
        return None
    value = h.contents.value  # type: ignore[union-attr]
    _title, _, rest = value.partition("\n\n")
    body, _, _source = rest.partition("\n\n")  # the last paragraph says where the text comes from
    return "\n".join(line.rstrip() for line in body.split("\n"))
