"""The one way a source becomes chunks: read -> language -> limits -> chunks, as one record (``Source``).

    from lenscribe.sources import ReadOptions, read_file, read_text
    options = ReadOptions.from_settings(settings)     # the server; ReadOptions(min_lines=...) for the CLI
    src = read_file(path, options)                    # a file on disk (not open in an editor)
    src = read_text(text, options, path=path, language_id="python")  # an open document: the editor's text
    src.language, src.chunks, src.skipped, src.text

``read_file``: ``files.read_source`` (a regular file only: a FIFO or a device is never opened; the size limit before
reading, then binary probe and line limit), the language from the path (or its ``#!`` line), the allow-list, the
chunker.  ``read_text``: the language from the path or the LSP languageId, the allow-list, size and line limits, the
chunker.  Neither raises for what a file holds: whatever keeps it from being chunked is ``skipped``.  Blocking:
call them off an event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lenscribe.files import over_limits, read_source
from lenscribe.settings import Settings

if TYPE_CHECKING:  # the chunker (tree-sitter) loads on first use
    from lenscribe.chunking import Chunk

log = logging.getLogger(__name__)

__all__ = ["LANGUAGE_IDS", "ReadOptions", "Source", "language_for", "read_file", "read_text"]

# LSP languageId -> chunker language id (for buffers whose file name says nothing, e.g. untitled ones)
LANGUAGE_IDS = {
    "python": "python", "javascript": "javascript", "javascriptreact": "javascript", "typescript": "typescript",
    "typescriptreact": "tsx", "go": "go", "java": "java", "rust": "rust", "c": "c", "cpp": "cpp",
    "csharp": "csharp", "ruby": "ruby", "php": "php",
}

_DEFAULTS = Settings(workers=1)
CHUNK_TIMEOUT_S = 10.0  # the server's bound on chunking one document (a larger one gets no summaries, and says why)


@dataclass(frozen=True)
class ReadOptions:
    """Limits and chunking options; the defaults are the server's (``Settings``), with docs off."""

    max_bytes: int = _DEFAULTS.max_file_bytes  # a larger file is skipped
    max_lines: int = _DEFAULTS.max_file_lines  # ... and one with more lines
    min_lines: int = _DEFAULTS.min_chunk_lines  # shorter chunks are left out
    max_chars: int | None = _DEFAULTS.max_chunk_chars  # a chunk's text is cut to this (its hash too)
    languages: tuple[str, ...] | None = None  # allow-list; None: every supported language
    docs: bool = False  # fill in Chunk.doc (docstrings, doc comments): 4-11% of the chunking (bench_chunk_docs.py)
    timeout: float | None = None  # seconds one text may take to chunk (then it is skipped); None: no bound

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadOptions:
        """The server's: docs are looked for only when documented chunks show their docstring; chunking one document
        takes at most CHUNK_TIMEOUT_S (and lets the server's other threads run meanwhile)."""
        return cls(max_bytes=settings.max_file_bytes, max_lines=settings.max_file_lines,
                   min_lines=settings.min_chunk_lines, max_chars=settings.max_chunk_chars,
                   languages=settings.languages, docs=settings.prefer_docstrings, timeout=CHUNK_TIMEOUT_S)


@dataclass
class Source:
    """One file or document: its language and chunks (sorted by start), or why it has none."""

    path: str | None
    language: str | None
    chunks: list[Chunk] = field(default_factory=list)
    skipped: str | None = None  # unknown language, not a regular file, binary, too large, chunker error...
    text: str | None = None  # read_text: the text given; read_file: the text read, only with keep_text


def language_for(path: str | Path | None, language_id: str | None, text: str) -> str | None:
    """The chunker's language: from the file name (or the ``#!`` line of ``text``), else from the LSP languageId."""
    from lenscribe.chunking import language_for_path

    if path:
        first = text[: text.find("\n")] if "\n" in text[:4096] else text[:4096]
        lang = language_for_path(path, first_line=first)
        if lang:
            return lang
    return LANGUAGE_IDS.get((language_id or "").lower())


def read_file(path: str | Path, options: ReadOptions, *, keep_text: bool = False) -> Source:
    """Read a file from disk and chunk it (refused: anything but a regular file, binary, over the limits)."""
    text, why = read_source(path, options.max_bytes, options.max_lines)
    if text is None:
        return Source(str(path), None, skipped=why)
    src = Source(str(path), language_for(path, None, text), text=text if keep_text else None)
    src.skipped = _refused_language(src.language, options)
    return src if src.skipped else _chunk(src, text, options)


def read_text(text: str, options: ReadOptions, *, path: str | Path | None = None,
              language_id: str | None = None) -> Source:
    """Chunk a text already in memory (an open document); ``path`` and ``language_id`` say its language."""
    src = Source(None if path is None else str(path), language_for(path, language_id, text), text=text)
    src.skipped = _refused_language(src.language, options) or over_limits(text, options.max_bytes, options.max_lines)
    return src if src.skipped else _chunk(src, text, options)


def _refused_language(language: str | None, options: ReadOptions) -> str | None:
    if language is None:
        return "unknown language"
    if options.languages is not None and language not in options.languages:
        return f"language {language} is not in lenscribe.languages"
    return None


def _chunk(src: Source, text: str, options: ReadOptions) -> Source:
    from lenscribe.chunking import ChunkingError, chunk_text

    assert src.language is not None
    try:
        src.chunks = chunk_text(text, src.language, min_lines=options.min_lines, max_chars=options.max_chars,
                                docs=options.docs, timeout=options.timeout)
    except ChunkingError as e:  # binary text, a grammar that is not installed
        src.skipped = str(e)
    except Exception as e:  # a chunker bug must not take the server down
        log.exception("chunking %s failed", src.path or "a document")
        src.skipped = f"chunker failed: {e}"
    return src
