"""Open documents: ``didOpen`` / ``didChange`` / ``didClose``, debounced re-chunking, and the extension notification
``lenscribe/visibleRanges`` (the lines in view are summarized first).

pygls applies each didChange to its copy of the document at once; the engine re-chunks it ``debounceMs`` after the
last change, or at once when a request needs the new text (``fresh_document``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from lsprotocol import types

from lenscribe.engine import Document
from lenscribe.lsp.server import SETTINGS_CHANGED, UTF16, FeatureState, LenscribeServer, uri_path
from lenscribe.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["NOTIFY_VISIBLE_RANGES", "DocumentSync", "fresh_document", "register"]

NOTIFY_VISIBLE_RANGES = "lenscribe/visibleRanges"  # {uri, ranges: [{start: {line}, end: {line}}]} from an extension


class DocumentSync(FeatureState):
    """The open documents' debounce timers and chunking locks, and the skipped documents already told about."""

    def __init__(self, server: LenscribeServer) -> None:
        super().__init__(server)
        self.debounce: dict[str, asyncio.TimerHandle] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.told_skipped: set[tuple[str, str]] = set()

    def lock_for(self, uri: str) -> asyncio.Lock:
        lock = self.locks.get(uri)
        if lock is None:
            lock = self.locks[uri] = asyncio.Lock()
        return lock

    def cancel_debounce(self, uri: str) -> None:
        if (handle := self.debounce.pop(uri, None)) is not None:
            handle.cancel()

    def stop(self) -> None:
        for handle in self.debounce.values():
            handle.cancel()
        self.debounce.clear()

    async def settings_changed(self, old: Settings, new: Settings, todo: dict[str, bool]) -> None:
        if todo["rechunk"]:  # the limits or the chunking options changed: every open document again
            for doc in self.server.engine.documents.all():
                await fresh_document(self.server, doc.uri, force=True)


def _current(ls: LenscribeServer, uri: str, force: bool):
    """(the editor's document, None) when it must be chunked, else (None, the engine's document: up to date, or
    the last one of a document that is not open)."""
    text_doc = ls.open_document(uri)
    doc = ls.engine.documents.get(uri)
    if text_doc is None or (not force and doc is not None and doc.version == text_doc.version):
        return None, doc
    return text_doc, doc


async def fresh_document(ls: LenscribeServer, uri: str, force: bool = False) -> Document | None:
    """The engine's view of an open document, re-chunked first when its text changed since."""
    assert ls.loop is not None
    text_doc, doc = _current(ls, uri, force)
    if text_doc is None:
        return doc
    sync = ls.state(DocumentSync)
    async with sync.lock_for(uri):
        text_doc, doc = _current(ls, uri, force)  # again: another task may have chunked it meanwhile
        if text_doc is None:
            return doc
        sync.cancel_debounce(uri)
        job = functools.partial(ls.engine.update_document, uri, uri_path(uri), text_doc.source,
                                text_doc.version, text_doc.language_id, ls.encoding != UTF16)
        doc = await ls.loop.run_in_executor(ls.chunk_pool, job)
        if ls.open_document(uri) is None:  # closed while it was being chunked
            ls.engine.close_document(uri)
            return None
    _tell_skipped(ls, doc)
    return doc


def _tell_skipped(ls: LenscribeServer, doc: Document) -> None:
    if not doc.skipped or doc.skipped.startswith(("unknown language", "language ")):
        return  # not our language: silence
    key = (doc.uri, doc.skipped)
    told = ls.state(DocumentSync).told_skipped
    if key not in told:
        told.add(key)
        ls.log_to_client(f"lenscribe: no summaries for {doc.uri}: {doc.skipped}")


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a custom notification's params (pygls hands them over as objects; a dict is taken too)."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


# ------------------------------------------------------------------------------------------------ the handlers


async def did_open(ls: LenscribeServer, params: types.DidOpenTextDocumentParams) -> None:
    await fresh_document(ls, params.text_document.uri)


def did_change(ls: LenscribeServer, params: types.DidChangeTextDocumentParams) -> None:
    assert ls.loop is not None
    uri = params.text_document.uri
    sync = ls.state(DocumentSync)
    sync.cancel_debounce(uri)
    delay = ls.settings.debounce_ms / 1000

    def fire() -> None:
        sync.debounce.pop(uri, None)
        ls.spawn(fresh_document(ls, uri))

    sync.debounce[uri] = ls.loop.call_later(delay, fire)


def did_close(ls: LenscribeServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    sync = ls.state(DocumentSync)
    sync.cancel_debounce(uri)
    sync.locks.pop(uri, None)
    ls.engine.close_document(uri)


def visible_ranges(ls: LenscribeServer, params: Any) -> None:
    uri = _get(params, "uri")
    ranges = []
    for r in _get(params, "ranges", None) or []:
        start, end = _get(r, "start"), _get(r, "end")
        ranges.append((int(_get(start, "line", 0)), int(_get(end, "line", 0))))
    if uri:
        ls.engine.set_visible(uri, ranges)


def register(server: LenscribeServer) -> None:
    sync = server.add_state(DocumentSync(server))
    server.subscribe(SETTINGS_CHANGED, sync.settings_changed)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(NOTIFY_VISIBLE_RANGES)(visible_ranges)
