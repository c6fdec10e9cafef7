"""Tree-sitter grammars, definition queries and parsers, by language id.

Thread safety: ``Language`` and compiled ``Query`` objects are immutable and shared (created lazily under a lock);
a tree-sitter ``Parser`` is not safe to share, so each thread gets its own, lazily, per language
(``threading.local``).  Both ``treesitter.py`` (chunking) and ``docs.py`` (docstring removal) parse through here.

Time: tree-sitter holds the GIL while it parses (36 s for 20 MB of minified JS on a busy machine: every other thread,
the language server's event loop too, stood still).  ``parse(..., deadline=)`` parses a large text through tree-sitter's
progress callback instead: it lets the other threads run every ``YIELD_EVERY_S`` and gives up at the deadline
(``ChunkingTimeout``).
"""

from __future__ import annotations

import importlib
import threading
import time

from tree_sitter import Language, Parser, Query, Tree

from .base import ChunkingError, ChunkingTimeout
from .languages import OPTIONAL_PINS, LanguageSpec, spec_for, supported_languages

__all__ = ["check_time", "get_language", "get_parser", "get_query", "parse", "spec_or_error"]

STREAM_BYTES = 256 * 1024  # a text this large is parsed with the progress callback when there is a deadline
READ_BYTES = 64 * 1024
YIELD_EVERY_S = 0.005  # how often a long parse or query lets the other threads have the GIL

_lock = threading.Lock()
_languages: dict[str, Language] = {}
_queries: dict[str, Query] = {}
_local = threading.local()


def spec_or_error(language: str | None) -> LanguageSpec:
    """The language's description; ChunkingError for an unknown one or one whose grammar is not installed."""
    spec = spec_for(language) if language is not None else None
    if spec is None:
        if language in OPTIONAL_PINS:
            raise ChunkingError(f"no grammar installed for {language!r}: pip install {OPTIONAL_PINS[language]}")
        raise ChunkingError(
            f"unsupported language {language!r}; supported: {', '.join(supported_languages())}"
        )
    return spec


def get_language(language: str) -> Language:
    lang = _languages.get(language)
    if lang is None:
        spec = spec_or_error(language)
        with _lock:
            lang = _languages.get(language)
            if lang is None:
                try:
                    module = importlib.import_module(spec.module)
                    lang = Language(getattr(module, spec.factory)())
                except Exception as e:  # missing or incompatible grammar wheel
                    raise ChunkingError(f"cannot load the tree-sitter grammar for {language!r}: {e}") from e
                _languages[language] = lang
    return lang


def get_query(language: str) -> Query:
    query = _queries.get(language)
    if query is None:
        spec = spec_or_error(language)
        lang = get_language(language)
        with _lock:
            query = _queries.get(language)
            if query is None:
                query = Query(lang, spec.query)
                _queries[language] = query
    return query


def get_parser(language: str) -> Parser:
    """This thread's parser for ``language`` (created on first use)."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = Parser(get_language(language))
    return parser


def check_time(deadline: float | None, until: list[float] | None = None) -> None:
    """Raise ChunkingTimeout past ``deadline``; with ``until`` ([next yield time]) let other threads run when due."""
    if deadline is None:
        return
    now = time.monotonic()
    if until is not None and now >= until[0]:
        time.sleep(0)  # releases the GIL
        until[0] = now + YIELD_EVERY_S
    if now >= deadline:
        raise ChunkingTimeout("chunking took too long")


def parse(data: bytes, language: str, deadline: float | None = None) -> Tree:
    """``data`` parsed; with ``deadline`` (``time.monotonic()``), a large text yields the GIL as it goes and raises
    ChunkingTimeout once the deadline has passed."""
    parser = get_parser(language)
    if deadline is None or len(data) < STREAM_BYTES:
        return parser.parse(data)
    until = [time.monotonic() + YIELD_EVERY_S]

    def read(offset: int, _point: object) -> bytes:
        return data[offset : offset + READ_BYTES]

    def progress(_offset: int, _has_error: bool) -> bool:  # True: stop (it must never raise: tree-sitter calls it)
        now = time.monotonic()
        if now >= until[0]:
            time.sleep(0)
            until[0] = now + YIELD_EVERY_S
        return now >= deadline

    try:
        return parser.parse(read, progress_callback=progress)
    except ValueError:  # "Parsing failed": stopped by progress()
        parser.reset()  # else the next parse would resume this one
        if time.monotonic() >= deadline:
            raise ChunkingTimeout("chunking took too long") from None
        raise
