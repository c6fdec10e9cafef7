"""Lines as the Language Server Protocol counts them: a line ends at ``"\\r\\n"``, ``"\\r"`` or ``"\\n"`` and nowhere
else.  ``str.splitlines`` also breaks at U+000B, U+000C, U+001C-U+001E, U+0085, U+2028 and U+2029, and tree-sitter
counts rows at ``"\\n"`` only; positions, chunk lines and edits all use this module's lines instead, so they agree
with the editor's.
"""

from __future__ import annotations

import re

__all__ = ["LINE_BREAK", "lf_rows", "line_count", "lines_with_ends", "newline_of", "split_lines"]

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_LONE_CR = re.compile(r"\r(?!\n)")


def split_lines(text: str) -> list[str]:
    """The lines without their breaks; a text ending in a break has an empty last line (``"a\\n"`` -> ``["a",
    ""]``), as ``str.split("\\n")``."""
    return LINE_BREAK.split(text)


def lines_with_ends(text: str) -> list[str]:
    """The lines with their breaks, as ``str.splitlines(keepends=True)`` but at LSP's breaks only (``""`` -> ``[]``,
    ``"a\\n"`` -> ``["a\\n"]``)."""
    return _LINE.findall(text)


def line_count(text: str) -> int:
    """How many lines ``text`` has (``len(split_lines(text))``), without splitting it."""
    crlf = text.count("\r\n")
    return text.count("\n") + text.count("\r") - crlf + 1


def lf_rows(text: str) -> str:
    """``text`` with each lone ``"\\r"`` made ``"\\n"``: the same length and offsets (in characters and in UTF-8
    bytes), and a parser that counts rows at ``"\\n"`` (tree-sitter) counts LSP's lines."""
    return _LONE_CR.sub("\n", text) if "\r" in text else text


def newline_of(text: str) -> str:
    """The text's first line break (``"\\n"`` when it has none): what an inserted line ends with."""
    m = LINE_BREAK.search(text)
    return m.group() if m else "\n"
