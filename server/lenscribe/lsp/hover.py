"""``textDocument/hover``: the summary of the innermost function, method or class at the position, computed ahead of
everything else when it is not cached (waiting at most ``hoverTimeoutMs``), or why there is none.

``describe`` finds what a hover shows; ``text`` renders it (``lenscribe.render``), as markdown or plain text.  The
``lenscribe.showSummary`` command (a lens click) shows the same.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lsprotocol import types

from lenscribe.engine import ModelUnavailable
from lenscribe.lsp.documents import fresh_document
from lenscribe.lsp.positions import chunk_at
from lenscribe.lsp.server import LenscribeServer
from lenscribe.render import Summary, hover_markdown, hover_plain
from lenscribe.summary_requests import HOVER

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
    """The summary of the chunk at ``position`` (in the client's encoding), or None where there is no chunk: one engine
    call (``Engine.ask``) gives it, or a ticket awaited at most hoverTimeoutMs."""
    doc = await fresh_document(ls, uri)
    if doc is None or not doc.chunks:
        return None
    if (found := chunk_at(ls.encoding, doc, position)) is None:
        return None
    chunk, where = found
    ask = ls.engine.ask(chunk, HOVER, doc.uri, doc.generation)  # waited for at most hoverTimeoutMs (ask.timeout)
    summary, note = ask.summary, ask.note
    if ask.ticket is not None:
        try:
            # $/cancelRequest cancels this task, which cancels the wrapper and so the ticket: the job drops back to
            # open-document priority
            summary = await asyncio.wait_for(asyncio.wrap_future(ask.ticket), ask.timeout)
        except TimeoutError:
            note = "loading the model…" if ask.loading else PENDING_HOVER
        except ModelUnavailable as err:
            note = f"model unavailable: {err}"
        except Exception as err:  # noqa: BLE001 - inference failed: say so, keep serving
            log.warning("summary for %s failed: %s", chunk.qualname, err)
            note = f"no summary: {err}"
    return Described(chunk.kind, chunk.qualname, summary, note, where)


def text(ls: LenscribeServer, d: Described, markdown: bool) -> str:
    render = hover_markdown if markdown else hover_plain
    return render(d.kind, d.qualname, d.summary, d.note, ls.engine.model.summary_id)


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
