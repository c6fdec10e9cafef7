"""Code actions that turn a summary into code (``textDocument/codeAction``), for the function, method or class at
the cursor (the innermost chunk at the range's start):

* **Insert summary as docstring** (kind ``refactor.rewrite.lenscribe.docstring``), for a chunk without a docstring or
  doc comment in a language ``lenscribe.docstring_insert`` knows: one WorkspaceEdit (one undo step), versioned when the
  client takes ``documentChanges``.  With the summary cached and a client that takes versioned edits the edit comes
  with the action (a client refuses it once the document has changed); otherwise the edit is
  resolved lazily (``codeAction/resolve``, the summary computed then, waiting at most ``INSERT_TIMEOUT_S``), or, for a
  client that cannot resolve edits, the action runs the server command ``lenscribe.insertDocstring`` which computes the
  summary and sends ``workspace/applyEdit``.  The action's ``data`` carries the document version and the chunk's hash:
  a resolve for a chunk that is no longer the one at that position (edited, or another function there now) is
  refused, never inserted into another function; and ``docstring_insert`` refuses an edit that would break the
  file's parse.  A summary the grounding check withholds (``lenscribe.groundingCheck``:
  it names what the code never mentions) is not written into the code: the action is not offered, or the edit is
  refused with the words that withheld it.
* **Regenerate summary with beam search** (``lenscribe.regenerate``): the server command ``lenscribe.regenerateSummary``
  runs a beam search (``REGENERATE_BEAMS`` beams) for that one chunk, stores the result as the chunk's summary under
  the current decoding id (the lens and the hover show it) and under the beam decoding's id, pins it against queued
  greedy results, asks for a code lens refresh and shows it.
* **Copy summary** (``lenscribe.copy``): the client command ``lenscribe.client.copySummary(uri, line, character,
  summary|null)`` which the clients implement (VS Code: the clipboard; Neovim: the ``+`` and ``"`` registers); with
  no summary yet they ask the server command ``lenscribe.summaryAt``. Both copy what the lens shows.

Every command takes ``(uri, line, character)`` with the client's position encoding (``PositionArgs``, structured
through pygls' converter: a wrong argument is an InvalidParams error naming it), so the clients' palette commands
call them with the cursor.  The actions are offered only when a model is loaded or loading.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import attrs
from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcInvalidParams

from lenscribe.chunking import doc_of
from lenscribe.docstring_insert import SUPPORTED_LANGUAGES, TextEdit, docstring_edit
from lenscribe.engine import ModelUnavailable
from lenscribe.lsp.code_lens import request_lens_refresh
from lenscribe.lsp.command_names import CLIENT_COPY, CMD_INSERT_DOCSTRING, CMD_REGENERATE, CMD_SUMMARY_AT
from lenscribe.lsp.configuration import Configuration
from lenscribe.lsp.documents import fresh_document
from lenscribe.lsp.protocol import structure_arguments, uri_argument
from lenscribe.lsp.server import LenscribeServer
from lenscribe.summary_requests import ACTION, PREFETCH

log = logging.getLogger(__name__)

__all__ = ["register"]

KIND_DOCSTRING = "refactor.rewrite.lenscribe.docstring"
KIND_REGENERATE = "lenscribe.regenerate"
KIND_COPY = "lenscribe.copy"
RESOLVE_PROPERTIES = "text_document.code_action.resolve_support.properties"  # what codeAction/resolve may fill in
REGENERATE_BEAMS = 4
INSERT_TIMEOUT_S = 30.0
REGENERATE_TIMEOUT_S = 120.0


def _title_insert(language: str) -> str:
    return "Insert summary as docstring" if language == "python" else "Insert summary as doc comment"


def _wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == k or kind.startswith(k + ".") for k in only)


@attrs.frozen
class PositionArgs:
    """The commands' ``(uri, line, character)``, positions in the client's encoding; ``character`` may be left out."""

    uri: str = attrs.field(converter=uri_argument)
    line: int
    character: int = 0


def _position_args(ls: LenscribeServer, command: str, args: tuple[Any, ...]) -> PositionArgs:
    """``args`` as PositionArgs (JsonRpcInvalidParams says which argument is wrong); one object ``{uri, line,
    character}`` or ``{uri, position: {line, character}}`` is taken as well (a client's own command arguments)."""
    if len(args) == 1 and isinstance(args[0], dict):
        a = args[0]
        pos = a["position"] if isinstance(a.get("position"), dict) else {}
        args = (a.get("uri"), pos.get("line", a.get("line")), pos.get("character", a.get("character")))
    if len(args) > 2 and args[2] is None:
        args = args[:2]
    if args and not isinstance(args[0], str):  # the converter would make a uri of 42
        raise JsonRpcInvalidParams(f"{command}(uri, line, character): the uri must be a string, not {args[0]!r}")
    target = structure_arguments(ls.protocol.fm.converter, command, args, PositionArgs)
    if target.line < 0 or target.character < 0:
        raise JsonRpcInvalidParams(f"{command}(uri, line, character): no position ({target.line}, "
                                   f"{target.character})")
    return target


async def _chunk_at(ls: LenscribeServer, uri: str, line: int, character: int):
    doc = await fresh_document(ls, uri)
    if doc is None or not doc.chunks:
        return None, None
    chunk = doc.chunk_at(line, ls.converter(doc).to_utf16(line, character))
    if (chunk is not None and not doc.docs and chunk.language in SUPPORTED_LANGUAGES
            and (text := _document_text(ls, uri)) is not None):
        # chunked without docs (preferDocstrings off): whether it has a docstring decides the actions
        chunk = dataclasses.replace(chunk, doc=doc_of(text, chunk))
    return doc, chunk


async def _summary(ls: LenscribeServer, doc, chunk, timeout: float) -> str:
    """The chunk's summary: cached, or computed ahead of other work, waiting at most ``timeout`` seconds."""
    ask = ls.engine.ask(chunk, ACTION, doc.uri, doc.generation)
    if ask.text is not None:
        return ask.text
    if ask.ticket is None:
        raise ask.error or ModelUnavailable("no model")
    try:
        return await asyncio.wait_for(asyncio.wrap_future(ask.ticket), timeout)
    except TimeoutError:
        raise TimeoutError(f"no summary of {chunk.qualname} after {timeout:.0f}s; try again shortly") from None


def _workspace_edit(ls: LenscribeServer, doc, edit: TextEdit) -> types.WorkspaceEdit:
    conv = ls.converter(doc)
    text_edit = types.TextEdit(range=conv.range(edit.start, edit.end), new_text=edit.new_text)
    if ls.client_supports("workspace.workspace_edit.document_changes"):
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version),
            edits=[text_edit])])
    return types.WorkspaceEdit(changes={doc.uri: [text_edit]})


def _document_text(ls: LenscribeServer, uri: str) -> str | None:
    text_doc = ls.open_document(uri)
    return None if text_doc is None else text_doc.source


async def docstring_workspace_edit(ls: LenscribeServer, uri: str, line: int, character: int,
                                   timeout: float = INSERT_TIMEOUT_S,
                                   expect_hash: str | None = None) -> tuple[types.WorkspaceEdit, str]:
    """The edit inserting the summary of the chunk at (line, character) as its docstring, and the summary;
    ``expect_hash``: the chunk the action was offered for, which must still be the one there."""
    doc, chunk = await _chunk_at(ls, uri, line, character)
    if chunk is None:
        raise ValueError(f"no function, method or class at {uri}:{line + 1}")
    if expect_hash is not None and chunk.hash != expect_hash:
        raise ValueError(f"the code at {uri}:{line + 1} changed since the action was offered; ask for it again")
    if chunk.doc is not None:
        raise ValueError(f"{chunk.qualname} already has a docstring")
    if chunk.language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"inserting docstrings is not supported for {chunk.language}")
    summary = await _summary(ls, doc, chunk, timeout)
    if withheld := ls.engine.generated(chunk, summary).withheld:
        raise ValueError(f"the generated summary of {chunk.qualname} names {', '.join(withheld)}, which its code "
                         "never mentions: not inserted (lenscribe.groundingCheck)")
    doc2, chunk2 = await _chunk_at(ls, uri, line, character)  # the text may have changed while it was computed
    text = _document_text(ls, uri)
    if chunk2 is None or text is None or chunk2.hash != chunk.hash:
        raise ValueError(f"{chunk.qualname} changed meanwhile; try again")
    edit = docstring_edit(text, chunk2, summary)
    if edit is None:
        raise ValueError(f"no place for a docstring in {chunk.qualname}")
    return _workspace_edit(ls, doc2, edit), summary


# ------------------------------------------------------------------------------------------------ the handlers


async def code_actions(ls: LenscribeServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    e = ls.engine
    if not e.can_summarize:
        return None
    uri = params.text_document.uri
    line, character = params.range.start.line, params.range.start.character
    doc, chunk = await _chunk_at(ls, uri, line, character)
    if chunk is None:
        return None
    only = list(params.context.only or []) if params.context else []
    # cached, or likely asked for next: computed ahead of the document's other chunks
    summary = e.ask(chunk, PREFETCH, doc.uri, doc.generation).text
    shown = None if summary is None else e.generated(chunk, summary)  # what the lens shows (the grounding check)
    args = [uri, line, character]
    actions: list[types.CodeAction] = []
    if (chunk.doc is None and chunk.language in SUPPORTED_LANGUAGES and _wanted(KIND_DOCSTRING, only)
            and not (shown and shown.withheld)):  # a withheld summary is not written into the code
        title = f"{_title_insert(chunk.language)} ({chunk.qualname})"
        action = types.CodeAction(title=title, kind=KIND_DOCSTRING,
                                  data={"uri": uri, "line": line, "character": character, "hash": chunk.hash,
                                        "version": doc.version})
        text = _document_text(ls, uri)
        # an edit in the action only when it is versioned (the client refuses it once the document changed): a plain
        # one would be applied as it is to whatever the text has become; resolve or the command compute it then
        versioned = ls.client_supports("workspace.workspace_edit.document_changes")
        edit = (docstring_edit(text, chunk, summary) if versioned and summary is not None and text is not None
                else None)
        if edit is not None:
            action.edit = _workspace_edit(ls, doc, edit)
        elif "edit" not in (get_capability(ls.client_capabilities, RESOLVE_PROPERTIES) or []):
            action.command = types.Command(title=title, command=CMD_INSERT_DOCSTRING, arguments=args)
        actions.append(action)
    if _wanted(KIND_REGENERATE, only):
        how = f"with {e.writer('regenerate')}" if e.uses_backend("regenerate") else "summary with beam search"
        title = f"Regenerate {how} ({chunk.qualname})"
        actions.append(types.CodeAction(title=title, kind=KIND_REGENERATE,
                                        command=types.Command(title=title, command=CMD_REGENERATE, arguments=args)))
    if _wanted(KIND_COPY, only):
        title = f"Copy summary ({chunk.qualname})"
        actions.append(types.CodeAction(title=title, kind=KIND_COPY, command=types.Command(
            title=title, command=CLIENT_COPY, arguments=[*args, shown.text if shown else None])))
    return actions


async def resolve_code_action(ls: LenscribeServer, action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    if action.kind != KIND_DOCSTRING or action.edit is not None or "uri" not in data:
        return action
    try:
        expect = data.get("hash") if isinstance(data.get("hash"), str) else None
        action.edit, _ = await docstring_workspace_edit(ls, data["uri"], int(data["line"]), int(data["character"]),
                                                        expect_hash=expect)
    except (ValueError, TimeoutError, ModelUnavailable) as err:
        ls.show(f"lenscribe: {err}", types.MessageType.Warning)
    return action


async def insert_docstring(ls: LenscribeServer, *args: Any) -> dict[str, Any]:
    """``lenscribe.insertDocstring(uri, line, character)``: computes the edit and sends it (workspace/applyEdit)."""
    a = _position_args(ls, CMD_INSERT_DOCSTRING, args)
    try:
        edit, summary = await docstring_workspace_edit(ls, a.uri, a.line, a.character)
    except (ValueError, TimeoutError, ModelUnavailable) as err:
        ls.show(f"lenscribe: {err}", types.MessageType.Warning)
        return {"applied": False, "error": str(err)}
    try:  # a client that never answers must not hold the command for ever
        result = await asyncio.wait_for(ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(
            edit=edit, label="lenscribe: insert summary as docstring")), INSERT_TIMEOUT_S)
    except TimeoutError:
        return {"applied": False, "summary": summary,
                "error": f"the client did not answer workspace/applyEdit in {INSERT_TIMEOUT_S:.0f}s"}
    return {"applied": bool(result and result.applied), "summary": summary,
            "error": None if result and result.applied else getattr(result, "failure_reason", None)}


async def regenerate(ls: LenscribeServer, *args: Any) -> dict[str, Any]:
    """``lenscribe.regenerateSummary(uri, line, character)``: the chunk's summary again, with a beam search."""
    assert ls.loop is not None
    e = ls.engine
    a = _position_args(ls, CMD_REGENERATE, args)
    _doc, chunk = await _chunk_at(ls, a.uri, a.line, a.character)
    if chunk is None:
        raise JsonRpcInvalidParams(f"{CMD_REGENERATE}: no function, method or class at {a.uri}:{a.line + 1}")
    load = ls.state(Configuration).model_task
    if e.model.state in ("not loaded", "loading") and load is not None:  # a beam search needs the loaded model
        await asyncio.wait({load}, timeout=INSERT_TIMEOUT_S)
    previous = e.cached_summary(chunk)
    try:
        summary = await ls.loop.run_in_executor(ls.io_pool, e.regenerate, chunk, REGENERATE_BEAMS,
                                                REGENERATE_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 - no model, a timeout: say so
        ls.show(f"lenscribe: regenerating the summary of {chunk.qualname} failed: {err}", types.MessageType.Warning)
        return {"qualname": chunk.qualname, "summary": None, "previous": previous, "error": str(err)}
    request_lens_refresh(ls)
    by = e.writer("regenerate") if e.uses_backend("regenerate") else f"{REGENERATE_BEAMS} beams"
    ls.show(f"lenscribe: {chunk.qualname} ({by}): {' '.join(summary.split())}", types.MessageType.Info)
    return {"qualname": chunk.qualname, "summary": str(summary), "previous": previous, "beams": REGENERATE_BEAMS,
            "written_by": getattr(summary, "written_by", e.model.summary_id)}


async def summary_at(ls: LenscribeServer, *args: Any) -> dict[str, Any] | None:
    """``lenscribe.summaryAt(uri, line, character)``: the summary of the chunk there as its lens shows it (computed
    when not cached, waiting at most INSERT_TIMEOUT_S), for the clients' Copy summary."""
    a = _position_args(ls, CMD_SUMMARY_AT, args)
    doc, chunk = await _chunk_at(ls, a.uri, a.line, a.character)
    if chunk is None:
        return None
    try:
        summary = await _summary(ls, doc, chunk, INSERT_TIMEOUT_S)
    except (TimeoutError, ModelUnavailable) as err:
        return {"qualname": chunk.qualname, "kind": chunk.kind, "summary": None, "error": str(err)}
    return {"qualname": chunk.qualname, "kind": chunk.kind, "summary": ls.engine.generated(chunk, summary).text}


def register(server: LenscribeServer) -> None:
    server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[KIND_DOCSTRING, KIND_REGENERATE, KIND_COPY], resolve_provider=True))(code_actions)
    server.feature(types.CODE_ACTION_RESOLVE)(resolve_code_action)
    server.command(CMD_INSERT_DOCSTRING)(insert_docstring)
    server.command(CMD_REGENERATE)(regenerate)
    server.command(CMD_SUMMARY_AT)(summary_at)
