"""The editor's documents as the protocol defines them: their uris and their lines.

* ``canonical_uri``: one spelling of each uri, made where a uri comes in (``protocol.LenscribeProtocol`` and the
  command argument types): ``file:///a/my%20proj/x.py`` and ``file:///a/my proj/x.py`` are the same document, and so
  are VS Code's ``file:///c%3A/Users/...`` and ``file:///C:/Users/...``.  pygls' own uri helpers parse (decoding) and
  unparse (encoding) it.
* ``open_text_document``: the editor's copy of an open document, looked up as pygls keys them (by the decoded uri).
* ``LspTextDocument``: pygls' document with LSP's lines (``"\\r\\n"``, ``"\\r"``, ``"\\n"``; pygls splits with
  ``str.splitlines``, which also breaks at form feeds, U+2028 ...), so that incremental edits land where the client
  made them; an edit's range is taken as the client's own document model takes it (reversed: swapped; past the end
  of a line or of the text: clamped), never duplicating or dropping text.  ``LspWorkspace`` makes these documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.uris import uri_with, urlparse, urlunparse
from pygls.workspace import TextDocument, Workspace

from lenscribe.chunking.lines import lines_with_ends

__all__ = ["LspTextDocument", "LspWorkspace", "canonical_uri", "open_text_document"]


def canonical_uri(uri: str) -> str:
    """``uri`` spelled one way: its parts decoded, then encoded again (pygls.uris), a Windows drive letter in lower
    case as VS Code sends it.  Not a uri (no scheme): returned as it is."""
    if not isinstance(uri, str) or ":" not in uri:
        return uri
    try:
        parts = urlparse(uri)
        if not parts[0]:
            return uri
        if parts[0] == "file":
            return uri_with(uri, path=parts[2])  # also drive letters: /C:/x -> /c:/x
        return urlunparse(parts)
    except Exception:  # noqa: BLE001 - a uri pygls cannot take is looked up as it was sent
        return uri


def open_text_document(workspace: Workspace, uri: str) -> TextDocument | None:
    """The editor's copy of the open document ``uri``, else None (pygls' ``get_text_document`` would make one of a
    closed document, reading it from disk)."""
    return workspace.text_documents.get(unquote(uri))  # pygls keys its documents by the decoded uri


class LspTextDocument(TextDocument):
    """pygls' TextDocument with LSP's lines; an incremental change is applied by offsets."""

    @property
    def lines(self) -> Sequence[str]:
        return tuple(lines_with_ends(self.source))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        start, end = change.range.start, change.range.end
        if (start.line, start.character) > (end.line, end.character):  # as vscode-languageserver-textdocument
            start, end = end, start
        lines = self.lines
        source = self.source
        a, b = self._offset(lines, start), self._offset(lines, end)
        self._source = source[:a] + change.text + source[b:]

    def _offset(self, lines: Sequence[str], position: types.Position) -> int:
        """The position as an index into the text; a line past the end is the end, a column past the line's end is
        the line's end (before its break)."""
        if position.line >= len(lines):
            return sum(len(line) for line in lines)
        line = lines[position.line]
        body = line.rstrip("\r\n")
        units = self.position_codec.client_num_units(body)
        clamped = types.Position(line=position.line, character=min(max(position.character, 0), units))
        server = self.position_codec.position_from_client_units(lines, clamped)
        return sum(len(ln) for ln in lines[: position.line]) + min(server.character, len(body))


class LspWorkspace(Workspace):
    """pygls' Workspace making ``LspTextDocument``s."""

    def _create_text_document(self, doc_uri: str, source: str | None = None, version: int | None = None,
                              language_id: str | None = None) -> TextDocument:
        return LspTextDocument(doc_uri, source=source, version=version, language_id=language_id,
                               sync_kind=self._sync_kind, position_codec=self._position_codec)

    @classmethod
    def adopt(cls, workspace: Any) -> LspWorkspace:
        """pygls' workspace (made in its ``initialize`` handler, before any document is open) as an LspWorkspace:
        the same state, shared."""
        if isinstance(workspace, cls):
            return workspace
        adopted = cls.__new__(cls)
        adopted.__dict__ = workspace.__dict__
        return adopted
