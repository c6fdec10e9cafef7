"""The engine's view of a document (``Document``): its chunks (sorted by start), the generation of its text, the lines
in view, and the innermost chunk at a position (``chunk_at``).  No LSP, no model: ``lenscribe.engine`` makes them."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

__all__ = ["Document"]


@dataclass
class Document:
    uri: str
    path: str | None
    language: str | None
    version: int | None
    generation: int = 0
    chunks: list = field(default_factory=list)  # list[lenscribe.chunking.Chunk], sorted by start
    skipped: str | None = None  # why there are no chunks (unknown language, binary, too large...)
    lines: list[str] | None = None  # the chunked text's lines, kept only when columns need converting
    visible: list[tuple[int, int]] = field(default_factory=list)  # (first line, last line) ranges in view
    docs: bool = True  # chunk docs were looked for; if not, a chunk's doc is None even when it has one (doc_of)
    _starts: list[tuple[int, int]] = field(default_factory=list, repr=False)
    hashes: frozenset[str] = field(default_factory=frozenset, repr=False)

    def __post_init__(self) -> None:
        self._starts = [c.start for c in self.chunks]
        self.hashes = frozenset(c.hash for c in self.chunks)

    def chunk_at(self, line: int, col16: int):
        """The innermost chunk containing (line, UTF-16 column), or None."""
        pos = (line, col16)
        i = bisect.bisect_right(self._starts, pos)
        while i > 0:  # walking back, the first chunk that contains pos is the innermost one
            i -= 1
            c = self.chunks[i]
            if c.start <= pos < c.end:
                return c
        return None

    def is_visible(self, chunk) -> bool:
        return any(chunk.start[0] <= last and chunk.end[0] >= first for first, last in self.visible)
