"""Tree-sitter grammars, definition queries and parsers, by language id.

Thread safety: ``Language`` and compiled ``Query`` objects are immutable and shared (created lazily under a lock);
a tree-sitter ``Parser`` is not safe to share, so each thread gets its own, lazily, per language
(``threading.local``).  Both ``treesitter.py`` (chunking) and ``docs.py`` (docstring removal) parse through here.
"""

from __future__ import annotations

import importlib
import threading

from tree_sitter import Language, Parser, Query, Tree

from .base import ChunkingError
from .languages import OPTIONAL_PINS, LanguageSpec, spec_for, supported_languages

__all__ = ["get_language", "get_parser", "get_query", "parse", "spec_or_error"]

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


def parse(data: bytes, language: str) -> Tree:
    return get_parser(language).parse(data)
