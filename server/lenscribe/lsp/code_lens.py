"""``textDocument/codeLens``: one lens per function, method and class, titled with its summary's first line (or
pending / failed); a click runs ``lenscribe.showSummary``.  New summaries turn into ``workspace/codeLens/refresh``
requests, at most one per ``lensRefreshMs`` (trailing edge).
"""

from __future__ import annotations

import asyncio
import logging
import time

from lsprotocol import types

from lenscribe.lsp.command_names import CMD_SHOW_SUMMARY
from lenscribe.lsp.documents import fresh_document
from lenscribe.lsp.server import MODEL_LOADED, SETTINGS_CHANGED, SUMMARIES_ADDED, FeatureState, LenscribeServer
from lenscribe.render import lens_title
from lenscribe.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["LensRefresh", "code_lens", "register", "request_lens_refresh", "request_lens_refresh_threadsafe"]

PENDING_TITLE = "lenscribe: summarizing…"
FAILED_TITLE = "lenscribe: no summary (failed; hover for why)"


class LensRefresh(FeatureState):
    """The throttled ``workspace/codeLens/refresh``: the one waiting, when the last went, how many went."""

    def __init__(self, server: LenscribeServer) -> None:
        super().__init__(server)
        self.handle: asyncio.TimerHandle | None = None
        self.last = 0.0
        self.sent = 0

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()

    def settings_changed(self, old: Settings, new: Settings, todo: dict[str, bool]) -> None:
        if (new.lenses != old.lenses or todo["rechunk"] or new.cache_dir != old.cache_dir or todo["reschedule"]
                or new.grounding_check != old.grounding_check):
            request_lens_refresh(self.server)


async def code_lens(ls: LenscribeServer, params: types.CodeLensParams) -> list[types.CodeLens]:
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
    refresh = ls.state(LensRefresh)
    if refresh.handle is not None or ls.loop is None:
        return
    delay = max(0.0, refresh.last + ls.settings.lens_refresh_ms / 1000 - time.monotonic())
    refresh.handle = ls.loop.call_later(delay, _send_lens_refresh, ls, refresh)


def _send_lens_refresh(ls: LenscribeServer, refresh: LensRefresh) -> None:
    refresh.handle = None
    refresh.last = time.monotonic()
    refresh.sent += 1
    try:
        fut = ls.workspace_code_lens_refresh(None)
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # the answer does not matter
    except Exception as err:  # noqa: BLE001 - e.g. the connection is gone
        log.debug("codeLens/refresh failed: %s", err)


def register(server: LenscribeServer) -> None:
    refresh = server.add_state(LensRefresh(server))
    server.engine.on_summaries = lambda uris: request_lens_refresh_threadsafe(server)  # new summaries landed
    server.subscribe(SETTINGS_CHANGED, refresh.settings_changed)
    server.subscribe(MODEL_LOADED, lambda: request_lens_refresh(server))  # cached ones can show, pending ones go
    server.subscribe(SUMMARIES_ADDED, lambda: request_lens_refresh(server))
    server.feature(types.TEXT_DOCUMENT_CODE_LENS)(code_lens)
