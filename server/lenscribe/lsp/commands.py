"""Server commands (``workspace/executeCommand``):

* ``lenscribe.summarizeFile(uri | {uri})``: every chunk's summary of an open document, or of a regular file inside
  the workspace folders, and the file's markdown outline (``FileSummaries``);
* ``lenscribe.showSummary(uri, line, character)`` (a code lens click): shows the summary there in a message and
  returns the hover's text;
* ``lenscribe.stats()``: the engine's counters and the server's (``lenscribe.summarizeWorkspace`` is in
  ``workspace_run``).

pygls structures the arguments by the handlers' annotations (``DocumentTarget`` takes a uri or ``{"uri": uri}``);
``showSummary``'s position may be left out, which pygls' typed arguments cannot say, so it structures its arguments
itself (``structure_arguments``).
"""

from __future__ import annotations

import asyncio
import logging
import stat
import uuid
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from lenscribe.lsp import hover
from lenscribe.lsp.code_lens import LensRefresh
from lenscribe.lsp.command_names import CMD_SHOW_SUMMARY, CMD_STATS, CMD_SUMMARIZE_FILE
from lenscribe.lsp.documents import DocumentSync, fresh_document
from lenscribe.lsp.protocol import DocumentTarget, structure_arguments, uri_argument
from lenscribe.lsp.server import LenscribeServer, uri_path
from lenscribe.lsp.workspace_run import WorkspaceRun
from lenscribe.render import outline_markdown
from lenscribe.summary_requests import FILE

log = logging.getLogger(__name__)

__all__ = ["CMD_SHOW_SUMMARY", "CMD_STATS", "CMD_SUMMARIZE_FILE", "FileSummaries", "OutlineRow", "register"]

USE = "summarize_file"  # Settings.backend_summarize_file: whether Summarize File asks the summarizer backend


class OutlineRow(TypedDict):
    """One chunk of a ``lenscribe.summarizeFile`` result (positions in UTF-16 columns)."""

    name: str
    qualname: str
    kind: str
    language: str
    line: int
    start: list[int]
    end: list[int]
    depth: int  # how many chunks enclose it (Chunk.depth)
    summary: str | None
    source: str | None  # "docstring" | "generated" | "name" (lenscribe.render)
    written_by: NotRequired[str | None]  # with a summarizer backend: its model, or "local model (fallback)"


class FileSummaries(TypedDict):
    """The result of ``lenscribe.summarizeFile``."""

    uri: str
    model: str | None
    summaries: list[OutlineRow]
    markdown: str
    skipped: NotRequired[str | None]  # why the file has no chunks


class ServerStats(TypedDict):
    """The ``server`` part of ``lenscribe.stats`` (the rest is ``Engine.stats()``)."""

    lens_refreshes: int
    position_encoding: str
    open_documents: int
    workspace_running: bool
    pending_debounce: int


@attrs.frozen
class ShowSummaryArgs:
    """``lenscribe.showSummary``'s arguments: without a line (or a uri) there is nothing to show."""

    uri: str | None = attrs.field(default=None, converter=uri_argument)
    line: int | None = None
    character: int = 0


def workspace_file(ls: LenscribeServer, path: str) -> tuple[str | None, str | None]:
    """(real path, None) for a regular file inside a workspace folder (symlinks resolved), else (None, why)."""
    roots = []
    for r in ls.workspace_roots():
        try:
            roots.append(Path(r).resolve())
        except (OSError, RuntimeError):
            continue
    if not roots:
        return None, "no workspace folder is open"
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError) as err:
        return None, f"cannot be resolved ({getattr(err, 'strerror', None) or err})"
    if not any(real == r or real.is_relative_to(r) for r in roots):
        return None, "outside the workspace folders"
    try:
        st = real.stat()
    except OSError as err:
        return None, f"unreadable ({err.strerror or err})"
    if not stat.S_ISREG(st.st_mode):
        return None, "not a regular file"
    return str(real), None


# ------------------------------------------------------------------------------------------------ the handlers


async def summarize_file(ls: LenscribeServer, target: DocumentTarget | None = None) -> FileSummaries:
    """``lenscribe.summarizeFile(uri)``: every chunk's summary (a list) and a markdown outline."""
    assert ls.loop is not None
    e = ls.engine
    if target is None:
        raise JsonRpcInvalidParams(f"{CMD_SUMMARIZE_FILE} needs a document uri as its argument")
    uri = target.uri
    doc = await fresh_document(ls, uri)
    if doc is None:  # not open: read it from disk, only a regular file of the workspace
        path = uri_path(uri)
        if path is None:
            raise JsonRpcInvalidParams(f"{CMD_SUMMARIZE_FILE}: not an open document nor a file: {uri}")
        real, refused = workspace_file(ls, path)
        if real is None:  # refused says why
            log.warning("%s refused %s: %s", CMD_SUMMARIZE_FILE, uri, refused)
            raise JsonRpcInvalidParams(f"{CMD_SUMMARIZE_FILE} refused {uri}: {refused}; only open documents and "
                                       "regular files inside the workspace folders are summarized")
        doc = await ls.loop.run_in_executor(ls.chunk_pool, e.read_document, uri, real)  # the resolved path
    if doc.skipped and not doc.chunks:
        return FileSummaries(uri=uri, model=e.summary_id_for(USE), summaries=[],
                             markdown=f"(skipped: {doc.skipped})\n",
                             skipped=doc.skipped)
    # one ask per chunk: the cached text, or a ticket (one made right after start-up waits for the model's id)
    owner = ("command", uri, uuid.uuid4().hex)
    asks = {h: e.ask(c, FILE, uri, doc.generation, owner=owner) for h, c in {c.hash: c for c in doc.chunks}.items()}
    cached = {h: a.text for h, a in asks.items() if a.text is not None}
    try:
        for h, a in asks.items():
            if a.ticket is None:
                continue
            try:
                cached[h] = await asyncio.wrap_future(a.ticket)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001
                log.warning("summary failed: %s", err)
    finally:
        e.cancel_owner(owner)
    rows: list[OutlineRow] = []
    for c in doc.chunks:
        shown = e.summary(c, cached, USE)
        rows.append(OutlineRow(name=c.name, qualname=c.qualname, kind=c.kind, language=c.language, line=c.start[0],
                               start=list(c.start), end=list(c.end), depth=c.depth,
                               summary=shown.text if shown else None, source=shown.source if shown else None,
                               written_by=shown.model if shown else None))
    markdown = outline_markdown(doc.path or uri, rows)
    ls.log_to_client(markdown)
    return FileSummaries(uri=uri, model=e.summary_id_for(USE), summaries=rows, markdown=markdown)


async def show_summary(ls: LenscribeServer, *args: Any) -> str | None:
    """``lenscribe.showSummary(uri, line, character)`` (a lens click): shows the full summary (plain text) and returns
    the hover's text (markdown when the client takes it)."""
    a = structure_arguments(ls.protocol.fm.converter, CMD_SHOW_SUMMARY, args, ShowSummaryArgs)
    if a.uri is None or a.line is None:
        return None
    try:
        position = types.Position(line=a.line, character=a.character)
    except (TypeError, ValueError) as err:
        raise JsonRpcInvalidParams(f"{CMD_SHOW_SUMMARY}(uri, line, character): {err}") from err
    found = await hover.describe(ls, a.uri, position)
    if found is None:
        return None
    ls.show(hover.text(ls, found, markdown=False), types.MessageType.Info)
    return hover.text(ls, found, markdown=ls.markdown_hover)


def stats(ls: LenscribeServer) -> dict[str, Any]:
    """``lenscribe.stats()``: ``Engine.stats()`` and the server's own (``ServerStats``)."""
    run = ls.state(WorkspaceRun)
    server = ServerStats(
        lens_refreshes=ls.state(LensRefresh).sent, position_encoding=ls.encoding,
        open_documents=len(ls.workspace.text_documents) if ls.initialized else 0,
        workspace_running=run.running, pending_debounce=len(ls.state(DocumentSync).debounce))
    workspace = run.last_report.as_dict() if run.last_report is not None else None
    return {**ls.engine.stats(), "workspace": workspace, "server": server}


def register(server: LenscribeServer) -> None:
    server.command(CMD_SUMMARIZE_FILE)(summarize_file)
    server.command(CMD_SHOW_SUMMARY)(show_summary)
    server.command(CMD_STATS)(stats)
