"""Fixtures for the language server tests (helpers live in ``lsp_support.py``).

One pytest-lsp client factory for every test that talks to ``lenscribe serve`` (as esbonio's tests share theirs):
``lsp_client(options, root=None, capabilities=None)`` starts a server and its client, and stops each one it started
when the test ends; ``client`` is the common case, the real tiny model with a private cache and no workspace folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from lsp_support import base_options, start_client, stop_client
from lsprotocol import types
from pytest_lsp import LanguageClient

ClientFactory = Callable[..., Awaitable[LanguageClient]]


@pytest.fixture
def summary_of(tiny_pairs) -> Callable[[str], str]:
    table = dict(tiny_pairs)
    return lambda code: table[code]


@pytest.fixture
async def lsp_client() -> AsyncIterator[ClientFactory]:
    started: list[LanguageClient] = []

    async def start(options: dict[str, Any], root: Path | None = None,
                    capabilities: types.ClientCapabilities | None = None) -> LanguageClient:
        c = await start_client(options, root=root, capabilities=capabilities)
        started.append(c)
        return c

    try:
        yield start
    finally:
        for c in started:  # in start order; one a test stopped itself (stop_client) is skipped
            await stop_client(c)


@pytest.fixture
async def client(lsp_client: ClientFactory, tiny_model_dir: Path, tmp_path: Path) -> LanguageClient:
    return await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"))
