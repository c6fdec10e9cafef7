"""``textDocument/codeLens``: one lens per function, method and class, titled with its summary's first line (or
pending / failed); a click runs ``lenscribe.showSummary``.  New summaries turn into ``workspace/codeLens/refresh``
requests, at most one per ``lensRefreshMs`` (trailing edge).
"""

from __future__ import annotations

import logging
import time

from lsprotocol import types

from lenscribe.lsp.commands import CMD_SHOW_SUMMARY
from lenscribe.lsp.documents import fresh_document
from lenscribe.lsp.server import LenscribeServer
from lenscribe.render import lens_title

log = logging.getLogger(__name__)

__all__ = ["code_lens", "register", "request_lens_refresh", "request_lens_refresh_threadsafe"]

PENDING_TITLE = "lenscribe: summarizing…"
FAILED_TITLE = "lenscribe: no summary (failed; hover for why)"


async def code_lens(ls: LenscribeServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    assert ls.engine is not None
    e = ls.engine
    if not ls.settings.lenses:
        return []
    uri = params.text_document.uri
    doc = await fresh_document(ls, uri)
    if doc is None or not doc.chunks:
        return []
    summaries = e.lens_summaries(doc.chunks)
    conv = ls.converter(doc)
    lenses = []
    for chunk in doc.chunks:
        summary = e.summary(chunk, summaries)
        if summary is None and not e.can_summarize:
            continue  # no model: hovers explain why, lenses stay quiet
        failed = e.failure(chunk) if summary is None else None
        title = lens_title(summary) if summary is not None else FAILED_TITLE if failed else PENDING_TITLE
        pos = conv.position(chunk.start)
        lenses.append(types.CodeLens(
            range=types.Range(start=pos, end=pos),
            command=types.Command(title=title, command=CMD_SHOW_SUMMARY, arguments=[uri, pos.line, pos.character]),
            # read by tests (tests/lsp/test_lsp_protocol.py: no lens left pending), not by the clients
            data={"hash": chunk.hash, "pending": summary is None and not failed, "failed": bool(failed)},
        ))
    return lenses


# ------------------------------------------------------------------------------------------------ refresh


def request_lens_refresh_threadsafe(ls: LenscribeServer) -> None:
    """``request_lens_refresh`` from another thread (the engine's, when summaries land)."""
    loop = ls.loop
    if loop is not None and not loop.is_closed():
        try:
            loop.call_soon_threadsafe(request_lens_refresh, ls)
        except RuntimeError:  # loop closed meanwhile: shutting down
            pass


def request_lens_refresh(ls: LenscribeServer) -> None:
    """Ask the client to re-request code lenses: at most once per lensRefreshMs, trailing edge."""
    if ls.closed or not ls.settings.lenses or not ls.client_supports("workspace.code_lens.refresh_support"):
        return
    if ls.refresh_handle is not None or ls.loop is None:
        return
    delay = max(0.0, ls.last_refresh + ls.settings.lens_refresh_ms / 1000 - time.monotonic())
    ls.refresh_handle = ls.loop.call_later(delay, _send_lens_refresh, ls)


def _send_lens_refresh(ls: LenscribeServer) -> None:
    ls.refresh_handle = None
    ls.last_refresh = time.monotonic()
    ls.lens_refreshes += 1
    try:
        fut = ls.workspace_code_lens_refresh(None)
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # the answer does not matter
    except Exception as err:  # noqa: BLE001 - e.g. the connection is gone
        log.debug("codeLens/refresh failed: %s", err)


def register(server: LenscribeServer) -> None:
    server.feature(types.TEXT_DOCUMENT_CODE_LENS)(code_lens)
