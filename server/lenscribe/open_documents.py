"""The documents open in the editor, as the engine chunked them (``OpenDocuments``): one ``Document`` per URI, the
generation of its text, and the lines in view of each (a client may say what is in view before it opens the file).
No LSP, no model; thread-safe (documents are installed from chunking threads, looked up on the event loop, and
matched against results on scheduler threads)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from lenscribe.document import Document

__all__ = ["OpenDocuments"]


class OpenDocuments:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._docs: dict[str, Document] = {}
        self._visible: dict[str, list[tuple[int, int]]] = {}  # uri -> line ranges in view

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def __len__(self) -> int:
        return len(self._docs)

    def all(self) -> list[Document]:
        with self._lock:
            return list(self._docs.values())

    def install(self, doc: Document) -> Document:
        """Make ``doc`` the current text of its URI, one generation after the last, with the lines in view; the one
        installed is returned: the document already there when ``doc`` is of an older version (chunked late)."""
        with self._lock:
            old = self._docs.get(doc.uri)
            if old is not None and old.version is not None and doc.version is not None and doc.version < old.version:
                return old
            doc.generation = (old.generation if old else 0) + 1
            doc.visible = self._visible.get(doc.uri, [])
            self._docs[doc.uri] = doc
            return doc

    def close(self, uri: str) -> None:
        with self._lock:
            self._docs.pop(uri, None)
            self._visible.pop(uri, None)

    def set_visible(self, uri: str, ranges: Iterable[tuple[int, int]]) -> Document | None:
        """The lines in view of ``uri``: its document (None when not open yet; the ranges wait for it)."""
        visible = [(int(a), int(b)) for a, b in ranges]
        with self._lock:
            self._visible[uri] = visible
            doc = self._docs.get(uri)
            if doc is not None:
                doc.visible = visible
            return doc

    def containing(self, hashes: set[str]) -> set[str]:
        """The URIs of the open documents with a chunk of one of these hashes."""
        with self._lock:
            return {d.uri for d in self._docs.values() if not hashes.isdisjoint(d.hashes)}
