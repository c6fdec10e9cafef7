"""``textDocument/hover``: the summary of the innermost function, method or class at the position, computed ahead of
everything else when it is not cached (waiting at most ``hoverTimeoutMs``), or why there is none.

``describe`` finds what a hover shows; ``text`` renders it (``lenscribe.render``), as markdown or plain text.  The
``lenscribe.showSummary`` command (a lens click) shows the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from lenscribe.engine import Document, ModelUnavailable
from lenscribe.lsp.documents import fresh_document
from lenscribe.lsp.server import LenscribeServer
from lenscribe.render import Summary, hover_markdown, hover_plain
from lenscribe.scheduling import Priority

log = logging.getLogger(__name__)

__all__ = ["Described", "describe", "hover", "register", "text"]

PENDING_HOVER = "summarizing…"


@dataclass(frozen=True)
class Described:
    """What a hover at a position shows: the chunk there, its summary or why there is none, the chunk's range."""

    kind: str
    qualname: str
    summary: Summary | None
    note: str | None
    range: types.Range


async def describe(ls: LenscribeServer, uri: str, position: types.Position) -> Described | None:
    """The summary of the chunk at ``position`` (in the client's encoding), or None where there is no chunk."""
    assert ls.engine is not None
    e = ls.engine
    doc = await fresh_document(ls, uri)
    if doc is None or not doc.chunks:
        return None
    conv = ls.converter(doc)
    line = position.line
    chunk = doc.chunk_at(line, conv.to_utf16(line, position.character))
    if chunk is None:
        return None
    e.counters["hovers"] += 1
    summary = e.summary(chunk)
    note = None
    if summary is not None:
        e.counters["hover_cache_hits"] += 1
    elif not e.can_summarize:
        note = f"model unavailable: {e.model.error}"
    elif (failed := e.failure(chunk)) is not None:
        note = f"no summary: {failed}"
    else:
        found, note = await wait_for_summary(ls, doc, chunk)
        summary = None if found is None else e.generated(chunk, found)
    return Described(chunk.kind, chunk.qualname, summary, note, conv.range(chunk.start, chunk.end))


def text(ls: LenscribeServer, d: Described, markdown: bool) -> str:
    render = hover_markdown if markdown else hover_plain
    return render(d.kind, d.qualname, d.summary, d.note, ls.engine.model.summary_id if ls.engine else None)


async def wait_for_summary(ls: LenscribeServer, doc: Document, chunk: Any) -> tuple[str | None, str | None]:
    """The chunk's summary, computed ahead of everything else, waiting at most hoverTimeoutMs."""
    e = ls.engine
    assert e is not None
    timeout = ls.settings.hover_timeout_ms / 1000
    started = time.monotonic()
    if await ls.wait_for_summary_id(timeout):
        timeout = max(0.0, timeout - (time.monotonic() - started))
        if (summary := e.cached_summary(chunk)) is not None:
            return summary, None
    e.request(chunk, Priority.OPEN, owner=doc.uri, generation=doc.generation)  # keeps it queued after a timeout
    ticket = e.request(chunk, Priority.HOVER, owner=("hover", doc.uri), generation=doc.generation)
    if ticket is None:
        if e.model.error:
            return None, f"model unavailable: {e.model.error}"
        return None, "loading the model…"
    try:
        # $/cancelRequest cancels this task, which cancels the wrapper and so the ticket: the job drops back to
        # open-document priority
        return await asyncio.wait_for(asyncio.wrap_future(ticket), timeout), None
    except TimeoutError:
        e.counters["hover_timeouts"] += 1
        return None, PENDING_HOVER
    except ModelUnavailable as err:
        return None, f"model unavailable: {err}"
    except Exception as err:  # noqa: BLE001 - inference failed: say so, keep serving
        log.warning("summary for %s failed: %s", chunk.qualname, err)
        return None, f"no summary: {err}"


# ------------------------------------------------------------------------------------------------ the handlers


async def hover(ls: LenscribeServer, params: types.HoverParams) -> types.Hover | None:
    d = await describe(ls, params.text_document.uri, params.position)
    if d is None:
        return None
    markdown = ls.markdown_hover
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText,
                                     value=text(ls, d, markdown)),
        range=d.range,
    )


def register(server: LenscribeServer) -> None:
    server.feature(types.TEXT_DOCUMENT_HOVER)(hover)
