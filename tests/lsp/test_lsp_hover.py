"""A hover's way through the code (issue 27): in-process, the modules of lenscribe a hover enters on the event loop's
thread, for a chunk not yet summarized and for a cached one.  One engine call (``Engine.ask``) gives the summary or a
ticket: no module is entered twice (the document comes from ``open_documents``, the summary from ``Engine.ask``)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter
from pathlib import Path

from lsprotocol import types
from pygls.workspace import TextDocument

import lenscribe
import lenscribe.engine
from lenscribe.engine import Engine
from lenscribe.lsp import hover
from lenscribe.lsp.cli import create_server
from lenscribe.lsp.documents import fresh_document
from lenscribe.settings import Settings

PACKAGE = str(Path(lenscribe.__file__).parent) + "/"
CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
URI = "file:///t.py"


class FakeSummarizer:
    """Summarizes once ``gate`` is open: the first hover finds its chunk still queued."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def summarize(self, codes, timeout=None):
        assert self.gate.wait(10)
        return ["Add a and b." for _ in codes]


class FakeFiles:
    summary_id = "fake@1"


async def _entered(coro) -> tuple[object, list[str]]:
    """What ``coro`` returns, and the modules of lenscribe it enters (a call from another module) on this thread."""
    entered: list[str] = []
    seen: set = set()

    def profile(frame, event, arg):
        name = frame.f_code.co_filename
        if event != "call" or not name.startswith(PACKAGE) or frame in seen:
            return  # not lenscribe, or a coroutine resumed
        seen.add(frame)
        caller = frame.f_back.f_code.co_filename if frame.f_back is not None else None
        if caller != name:
            entered.append(name[len(PACKAGE):])

    sys.setprofile(profile)
    try:
        return await coro, entered
    finally:
        sys.setprofile(None)


async def _hover_paths(tmp_path, monkeypatch) -> dict[str, list[str]]:
    monkeypatch.setattr(lenscribe.engine, "open_model", lambda model_dir, beams: FakeFiles())
    ls = create_server()
    ls.loop = asyncio.get_running_loop()
    settings = Settings(model_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"), workers=1,
                        grounding_check=False, hover_timeout_ms=10_000)
    fake = FakeSummarizer()
    ls.engine.shutdown()  # the server's own, on the default settings: this one loads the fake
    ls.engine = Engine(settings, load_summarizer=lambda files, workers: fake)
    monkeypatch.setattr(ls, "open_document", lambda uri: TextDocument(URI, CODE, version=1, language_id="python"))
    try:
        assert ls.engine.load_model() is None
        await fresh_document(ls, URI)  # didOpen: chunked before the hovers
        paths: dict[str, list[str]] = {}
        for case in ("uncached", "cached"):
            ls.loop.call_soon(fake.gate.set)  # runs once the hover awaits its ticket
            found, paths[case] = await _entered(hover.describe(ls, URI, types.Position(line=0, character=5)))
            assert found is not None and found.summary is not None and found.summary.text == "Add a and b."
        return paths
    finally:
        fake.gate.set()
        ls.shutdown_engine(wait=True)


def test_a_hover_enters_each_module_once(tmp_path, monkeypatch):
    paths = asyncio.run(_hover_paths(tmp_path, monkeypatch))
    for case, entered in paths.items():
        assert all(n == 1 for n in Counter(entered).values()), (case, entered)
        after = entered[entered.index("lsp/hover.py") + 1:]
        assert after.index("open_documents.py") < after.index("engine.py"), (case, entered)  # the document, then ask
    assert "scheduling.py" in paths["uncached"] and "scheduling.py" not in paths["cached"]
