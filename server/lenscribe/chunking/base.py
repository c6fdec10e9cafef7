"""The chunk record and the chunker's error type."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["Chunk", "ChunkingError", "ChunkingTimeout", "chunk_hash"]

KINDS = ("function", "method", "class")


class ChunkingError(ValueError):
    """The input cannot be chunked: unknown language or binary (NUL-containing) text."""


class ChunkingTimeout(ChunkingError):
    """Chunking took longer than the ``timeout`` it was given (a huge document): nothing came out."""


def chunk_hash(language: str, text: str) -> str:
    """sha256 hex of ``language + "\\0" + text`` (UTF-8): the cache key part that identifies a chunk's content."""
    return hashlib.sha256((language + "\0" + text).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """One function, method or class of a document.

    Positions follow LSP: ``(line, character)``, both 0-based, ``character`` counted in UTF-16 code units;
    ``end`` is exclusive (just after the last character of the chunk, trailing whitespace excluded).
    """

    kind: str  # "function" | "method" | "class"
    name: str  # the bare name, e.g. "parse"
    qualname: str  # dotted path of enclosing chunks (and written qualifiers), e.g. "Parser.parse"
    language: str  # language id, see supported_languages()
    start: tuple[int, int]  # first character (decorators / attributes / `export` included)
    end: tuple[int, int]  # exclusive end
    text: str  # source text of [start, end), cut to max_chars when truncated
    hash: str  # chunk_hash(language, text)
    doc: str | None = None  # docstring / leading doc comment, comment markers removed (only with docs=True)
    truncated: bool = False  # text was cut to max_chars
    depth: int = 0  # how many chunks (of the same result) enclose this one: 0 at top level, 1 for a method...

    @property
    def line_count(self) -> int:
        """Number of source lines the chunk spans (counted on the full range, not the truncated text)."""
        return self.end[0] - self.start[0] + 1
