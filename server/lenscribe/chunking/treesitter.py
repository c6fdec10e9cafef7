"""The walking logic: parse with tree-sitter, run the language's definition query, turn matches into Chunks.

The grammars, queries and per-thread parsers are ``parsers.py``'s (re-exported here: ``get_parser``, ``parse``), so
``chunk_text`` can be called from any number of threads at once.
"""

from __future__ import annotations

import bisect
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tree_sitter import Node, QueryCursor, Tree

from . import docs
from .base import Chunk, ChunkingError, ChunkingTimeout, chunk_hash
from .languages import LanguageSpec, Naming
from .lines import lf_rows
from .parsers import STREAM_BYTES, YIELD_EVERY_S, check_time, get_parser, get_query, parse, spec_or_error

__all__ = ["chunk_text", "doc_of", "get_parser", "parse"]

log = logging.getLogger(__name__)

_CAPTURE_KINDS = ("class", "function", "method")
_WHITESPACE = b" \t\r\n\f\v"
_PLAIN_PREFIX = re.compile(rb"[\w \t]*")  # what may precede a chunk on its first line for a doc above to count
_MAX_PREFIX = 200
MAX_DEPTH = 32  # a definition inside this many others is left out (its enclosing ones are chunks as usual)
MAX_QUALNAME = 256  # a longer qualname keeps its end, after "\u2026" (depth and written qualifiers bound the parts)


@dataclass(slots=True)
class _Def:
    node: Node
    kind: str
    naming: Naming
    start_node: Node  # first node of the chunk (decorators, attributes, `export` ...)
    end_node: Node  # last node of the chunk (the outermost wrapper)
    start_byte: int
    end_byte: int
    qualname: str = ""
    depth: int = 0  # enclosing chunks that are emitted (a parent below min_lines is not counted)
    emitted: bool = False


def _utf16_len(seg: bytes) -> int:
    if seg.isascii():
        return len(seg)
    s = seg.decode("utf-8", "surrogatepass")
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


class _Columns:
    """Byte column -> UTF-16 column, remembering what it measured on each line so that many chunks on one long
    line (minified code) cost linear, not quadratic, time."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ascii = data.isascii()
        self.known: dict[int, tuple[list[int], list[int]]] = {}  # line start -> (byte cols, utf-16 cols), sorted

    def __call__(self, line_start: int, byte_col: int) -> int:
        if self.ascii or byte_col == 0:
            return byte_col
        bcols, ucols = self.known.setdefault(line_start, ([0], [0]))
        i = bisect.bisect_right(bcols, byte_col) - 1
        base_b, base_u = bcols[i], ucols[i]
        if base_b == byte_col:
            return base_u
        u = base_u + _utf16_len(self.data[line_start + base_b : line_start + byte_col])
        bcols.insert(i + 1, byte_col)
        ucols.insert(i + 1, u)
        return u


def _naming(spec: LanguageSpec, data: bytes, node: Node, name_node: Node | None) -> Naming | None:
    namer = spec.namers.get(node.type)
    if namer is not None:
        return namer(node)
    if name_node is None:
        name_node = node.child_by_field_name("name")
    name = data[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace").strip() if name_node else ""
    return Naming(name or "<anonymous>")


def _extent(spec: LanguageSpec, node: Node) -> tuple[Node, Node]:
    """(first node, outermost node) of the chunk for definition ``node``."""
    outer = node
    while True:
        parent = outer.parent
        if parent is None:
            break
        pred = spec.wrappers.get(parent.type)
        if pred is None or not pred(parent, outer):
            break
        outer = parent
    first = outer
    if spec.absorb_before:
        sib = outer.prev_named_sibling
        while sib is not None and (sib.type in spec.absorb_before or sib.type in spec.skip_before):
            if sib.type in spec.absorb_before:
                first = sib
            sib = sib.prev_named_sibling
    return first, outer


QUERY_SLICE = STREAM_BYTES  # with a deadline, a large text's query runs over byte ranges of this size


def _matches(spec: LanguageSpec, tree: Tree, size: int, deadline: float | None) -> Iterator[tuple[int, Any]]:
    """The definition query's matches; with a deadline, range by range (tree-sitter holds the GIL while it runs a
    query), letting other threads run between ranges.  A match across ranges comes once per range (``_collect``
    keeps one)."""
    cursor = QueryCursor(get_query(spec.id))
    if deadline is None or size <= QUERY_SLICE:
        yield from cursor.matches(tree.root_node)
        return
    until = [time.monotonic() + YIELD_EVERY_S]
    for start in range(0, size, QUERY_SLICE):
        check_time(deadline, until)
        cursor.set_byte_range(start, min(start + QUERY_SLICE, size))
        yield from cursor.matches(tree.root_node)


def _collect(spec: LanguageSpec, data: bytes, tree: Tree, deadline: float | None = None) -> list[_Def]:
    # per definition node, its matches' (kind, name node) in order: the first that names it counts
    found: dict[tuple[int, int, int], list[tuple[Node, str, Node | None]]] = {}
    for _pattern, caps in _matches(spec, tree, len(data), deadline):
        node = kind = None
        for cap in _CAPTURE_KINDS:
            nodes = caps.get(cap)
            if nodes:
                node, kind = nodes[0], cap
                break
        if node is None or kind is None:
            continue
        key = (node.start_byte, node.end_byte, node.kind_id)
        names = caps.get("name")
        candidate = (node, kind, names[0] if names else None)
        same = found.setdefault(key, [])
        if candidate not in same:  # a match over several query ranges comes once per range
            same.append(candidate)
    defs: list[_Def] = []
    enclosing: list[int] = []  # end bytes of the definitions around the current one
    until = [time.monotonic() + YIELD_EVERY_S]
    for (_start, end, _), candidates in sorted(found.items(), key=lambda i: (i[0][0], -i[0][1])):
        check_time(deadline, until)
        while enclosing and not end <= enclosing[-1]:
            enclosing.pop()
        if len(enclosing) >= MAX_DEPTH:
            continue  # too deep: left out before any per-node work (a node's parent costs its depth in tree-sitter)
        enclosing.append(end)
        for node, kind, name_node in candidates:
            try:
                naming = _naming(spec, data, node, name_node)
                if naming is None:
                    continue
                first, outer = _extent(spec, node)
            except Exception:  # a grammar surprise must never take the language server down
                log.warning("chunking: skipped a %s node at %s", node.type, node.start_point, exc_info=True)
                continue
            defs.append(_Def(node, kind, naming, first, outer, first.start_byte, outer.end_byte))
            break
    return sorted(defs, key=lambda d: (d.start_byte, -d.end_byte))


def _qualname(outer: tuple[str, ...], naming: Naming) -> str:
    """The enclosing chunk's qualname, the qualifiers written in the code and the name, joined by "."; at most
    MAX_QUALNAME characters (so the names of nested definitions cost linear, not quadratic, space)."""
    name = ".".join((*outer, *(q for q in naming.qualifier if q), naming.name))
    return name if len(name) <= MAX_QUALNAME else "\u2026" + name[len(name) - MAX_QUALNAME + 1 :]


def _truncate(text: str, max_chars: int | None) -> tuple[str, bool]:
    if max_chars is None or len(text) <= max_chars:
        return text, False
    cut = text.rfind("\n", 0, max_chars + 1)
    if cut < max_chars // 2:  # no line break in the second half: cut mid-line
        cut = max_chars
    return text[:cut].rstrip(), True


def chunk_text(text: str, language: str | None, *, min_lines: int = 2, max_chars: int | None = None,
               docs: bool = False, timeout: float | None = None) -> list[Chunk]:
    """Functions, methods and classes of ``text`` (source in ``language``), sorted by start position.

    Chunks spanning fewer than ``min_lines`` lines are left out (their nested chunks are still considered; a
    chunk's ``depth`` counts only the enclosing chunks that are in the result).
    A chunk longer than ``max_chars`` characters keeps its full range but its ``text`` is cut (``truncated=True``;
    the hash is of the cut text, the text the model sees).  ``docs``: fill in ``Chunk.doc`` (docstrings and doc
    comments; 4-11% of the chunking time), else it is None (``doc_of`` finds one chunk's later).
    Syntax errors never raise: whatever tree-sitter recognises comes out.  Raises ChunkingError for an unknown
    language (None: none was detected) or binary text (NUL characters), ChunkingTimeout when chunking takes longer
    than ``timeout`` seconds (a large text then lets other threads run as it is parsed and queried).
    """
    spec = spec_or_error(language)
    if not isinstance(text, str):
        raise TypeError(f"chunk_text() needs str, not {type(text).__name__}")
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul)
        raise ChunkingError(f"binary input: NUL character at line {line + 1}; refusing to chunk it as {language}")
    if max_chars is not None and max_chars < 1:
        raise ValueError("max_chars must be positive or None")
    deadline = None if timeout is None else time.monotonic() + timeout
    source = text.encode("utf-8", "surrogatepass")
    data = lf_rows(text).encode("utf-8", "surrogatepass") if "\r" in text else source  # rows: LSP's lines
    try:
        return _chunks(spec, data, source, min_lines, max_chars, docs, deadline)
    except ChunkingTimeout:
        raise ChunkingTimeout(f"chunking took over {timeout:g}s ({len(text)} characters); no summaries for it") \
            from None


def _chunks(spec: LanguageSpec, data: bytes, source: bytes, min_lines: int, max_chars: int | None, docs: bool,
            deadline: float | None) -> list[Chunk]:
    """The chunks of ``source``, parsed as ``data`` (``source`` with lone CRs as LFs: the same offsets)."""
    tree = parse(data, spec.id, deadline)
    defs = _collect(spec, data, tree, deadline)
    until = [time.monotonic() + YIELD_EVERY_S]
    chunks: list[Chunk] = []
    stack: list[_Def] = []
    ctx = _Context(spec, data, source, min_lines, max_chars, docs)
    for d in defs:
        check_time(deadline, until)
        while stack and not (stack[-1].start_byte <= d.start_byte and d.end_byte <= stack[-1].end_byte):
            stack.pop()
        parent = stack[-1] if stack else None
        d.depth = (parent.depth + parent.emitted) if parent else 0
        stack.append(d)
        naming = d.naming
        if d.kind == "function":
            if naming.kind:
                d.kind = naming.kind
            elif parent is not None and parent.kind == "class":
                d.kind = "method"
        d.qualname = _qualname((parent.qualname,) if parent else (), naming)

        try:
            chunk = _make_chunk(ctx, d)
        except Exception:
            log.warning("chunking: skipped %s %s", d.kind, d.qualname, exc_info=True)
            continue
        if chunk is not None:
            d.emitted = True
            chunks.append(chunk)
    return chunks


class _Context:
    """What one chunk_text call shares between its chunks."""

    __slots__ = ("columns", "data", "docs", "docs_by_line", "max_chars", "min_lines", "source", "spec")

    def __init__(self, spec: LanguageSpec, data: bytes, source: bytes, min_lines: int, max_chars: int | None,
                 docs: bool) -> None:
        self.spec = spec
        self.data = data  # what was parsed: ``source`` with lone CRs as LFs (lines.lf_rows), the same offsets
        self.source = source
        self.min_lines = min_lines
        self.max_chars = max_chars
        self.docs = docs
        self.columns = _Columns(data)
        self.docs_by_line: dict[int, str | None] = {}  # doc comment above each line start, once per line


def _make_chunk(ctx: _Context, d: _Def) -> Chunk | None:
    spec, data = ctx.spec, ctx.data
    first, outer = d.start_node, d.end_node
    start_byte = d.start_byte
    start_row, start_bcol = first.start_point
    end_byte = d.end_byte
    while end_byte > start_byte and data[end_byte - 1] in _WHITESPACE:
        end_byte -= 1
    if end_byte == outer.end_byte:
        end_row, end_bcol = outer.end_point
        end_line_start = end_byte - end_bcol
    else:
        end_row = outer.end_point[0] - data.count(b"\n", end_byte, outer.end_byte)
        end_line_start = data.rfind(b"\n", 0, end_byte) + 1
        end_bcol = end_byte - end_line_start
    if end_row - start_row + 1 < ctx.min_lines:
        return None

    line_start = start_byte - start_bcol
    start = (start_row, ctx.columns(line_start, start_bcol))
    end = (end_row, ctx.columns(end_line_start, end_bcol))
    full = ctx.source[start_byte:end_byte].decode("utf-8", "surrogatepass")
    text, truncated = _truncate(full, ctx.max_chars)

    doc = None
    if not ctx.docs:
        pass
    elif spec.doc.python_docstring:
        doc = docs.python_docstring(d.node)
    elif _doc_may_be_above(data, line_start, start_byte):
        if line_start in ctx.docs_by_line:
            doc = ctx.docs_by_line[line_start]
        else:
            doc = ctx.docs_by_line[line_start] = docs.doc_comment_above(data, line_start, spec.doc)

    return Chunk(
        kind=d.kind,
        name=d.naming.name,
        qualname=d.qualname,
        language=spec.id,
        start=start,
        end=end,
        text=text,
        hash=chunk_hash(spec.id, text),
        doc=doc,
        truncated=truncated,
        depth=d.depth,
    )


def _doc_may_be_above(data: bytes, line_start: int, start_byte: int) -> bool:
    """Only words may precede a chunk on its first line (`private def x`), not code (`x = 1; def y`), for the
    comment above that line to be the chunk's."""
    return start_byte - line_start <= _MAX_PREFIX and _PLAIN_PREFIX.fullmatch(data[line_start:start_byte]) is not None


def doc_of(text: str, chunk: Chunk) -> str | None:
    """The doc of one chunk of ``text`` (the text it was chunked from), found now: what ``chunk_text(...,
    docs=True)`` gives as ``chunk.doc``, for a chunk made without docs.  A Python docstring is read from the chunk's
    own text (a docstring cut by ``max_chars`` is not found); a doc comment from the lines of ``text`` above it."""
    if chunk.doc is not None:
        return chunk.doc
    spec = spec_or_error(chunk.language)
    if spec.doc.python_docstring:
        code = lf_rows(chunk.text)
        rest = code.split("\n", 1)[1] if "\n" in code else ""
        prefix = ("\t" if rest.startswith("\t") else " ") * chunk.start[1]  # as strip_doc: the body parses as it was
        tree = parse((prefix + code).encode("utf-8", "surrogatepass"), spec.id)
        node = docs._first_definition(tree.root_node)
        return None if node is None else docs.python_docstring(node)
    data = lf_rows(text).encode("utf-8", "surrogatepass")
    line_start = 0
    for _ in range(chunk.start[0]):
        line_start = data.find(b"\n", line_start) + 1
        if line_start == 0:
            return None  # the text has fewer lines: not the text of this chunk
    # a plain (ASCII) prefix has as many UTF-16 units as bytes; any other prefix fails _PLAIN_PREFIX anyway
    start_byte = line_start + chunk.start[1]
    head = chunk.text[:200].encode("utf-8", "surrogatepass")
    if not data.startswith(head, start_byte) or not _doc_may_be_above(data, line_start, start_byte):
        return None
    return docs.doc_comment_above(data, line_start, spec.doc)
