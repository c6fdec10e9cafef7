"""Lines are LSP's lines everywhere (issue 24): a line ends at CR LF, CR or LF and nowhere else -- not at the form
feed, U+2028, U+0085 ... that ``str.splitlines`` breaks at, and not only at the LF that tree-sitter counts rows by.
The chunker's positions, the CLI's reading, the engine's lines and the docstring edit all agree on them."""

from __future__ import annotations

import re

import pytest

from lenscribe.chunking import chunk_text
from lenscribe.chunking.lines import lf_rows, line_count, lines_with_ends, newline_of, split_lines
from lenscribe.docstring_insert import apply_edit, docstring_edit
from lenscribe.engine import Engine
from lenscribe.settings import Settings
from lenscribe.sources import ReadOptions, read_file

BREAKS = ("\n", "\r\n", "\r")
# what str.splitlines also breaks at; LSP does not (inside a line: in a comment or a string)
NOT_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _lsp_lines(text: str) -> list[str]:
    """The spec's definition, written out independently of lenscribe's."""
    return re.split("\r\n|\r|\n", text)


def _source(nl: str, other: str = "\x0c") -> str:
    return nl.join([
        f"# page{other}break",
        "def first(a):",
        "    return a",
        "",
        f"x = 'one{other}two'",
        "def second(b):",
        "    return b",
        "",
    ])


def _def_lines(text: str) -> dict[str, int]:
    return {m: i for i, line in enumerate(_lsp_lines(text)) for m in ("first", "second") if f"def {m}(" in line}


@pytest.mark.parametrize("other", NOT_BREAKS, ids=[f"U+{ord(c):04X}" for c in NOT_BREAKS])
@pytest.mark.parametrize("nl", BREAKS, ids=["LF", "CRLF", "CR"])
def test_chunk_positions_are_lsp_lines(nl, other):
    text = _source(nl, other)
    chunks = chunk_text(text, "python")
    lines = _def_lines(text)
    assert [(c.name, c.start, c.end) for c in chunks] == [
        ("first", (lines["first"], 0), (lines["first"] + 1, 12)),
        ("second", (lines["second"], 0), (lines["second"] + 1, 12)),
    ]
    assert [c.text for c in chunks] == [f"def first(a):{nl}    return a", f"def second(b):{nl}    return b"]


def test_mixed_line_endings_keep_functions_apart():
    text = "def a(x):\r    return x\r\ndef b(y):\n    return y\rdef c(z):\r\n    return z\n"
    assert [(c.name, c.start[0], c.end[0]) for c in chunk_text(text, "python")] == [
        ("a", 0, 1), ("b", 2, 3), ("c", 4, 5)]


@pytest.mark.parametrize("nl", BREAKS, ids=["LF", "CRLF", "CR"])
def test_the_cli_reads_every_line_ending(tmp_path, nl):
    """A CR-only file had no chunks (and no message), CLI and server alike."""
    path = tmp_path / "m.py"
    path.write_bytes(_source(nl).encode())
    src = read_file(path, ReadOptions())
    assert src.skipped is None
    assert [(c.name, c.start[0]) for c in src.chunks] == [("first", 1), ("second", 5)]


@pytest.mark.parametrize("nl", BREAKS, ids=["LF", "CRLF", "CR"])
def test_engine_lines_are_lsp_lines(tmp_path, nl):
    e = Engine(Settings(cache_dir=str(tmp_path / "cache")))
    try:
        text = _source(nl, "\u2028")
        doc = e.make_document("file:///m.py", "/m.py", text, 1, "python", keep_lines=True)
        assert doc.lines == _lsp_lines(text)
    finally:
        e.shutdown()


@pytest.mark.parametrize("other", NOT_BREAKS, ids=[f"U+{ord(c):04X}" for c in NOT_BREAKS])
@pytest.mark.parametrize("nl", BREAKS, ids=["LF", "CRLF", "CR"])
def test_docstring_edit_lands_on_the_chunks_line(nl, other):
    text = _source(nl, other)
    chunk = next(c for c in chunk_text(text, "python") if c.name == "second")
    edit = docstring_edit(text, chunk, "Return b.")
    assert edit is not None
    new = apply_edit(text, edit)
    lines = _lsp_lines(new)
    row = _def_lines(text)["second"]
    assert lines[row] == "def second(b):" and lines[row + 1] == '    """Return b."""' and lines[row + 2] == \
        "    return b"
    assert new.count(nl) == text.count(nl) + 1 and ("\n" not in new if nl == "\r" else True)


def test_the_helpers_match_the_spec():
    for text in ("", "a", "a\n", "a\r\n\r\nb", "a\rb\r", "\r\r\n\n", "x\x0cy\u2028z\x85", "a\n\r"):
        assert split_lines(text) == _lsp_lines(text)
        assert line_count(text) == len(_lsp_lines(text))
        assert "".join(lines_with_ends(text)) == text
        assert [ln.rstrip("\r\n") for ln in lines_with_ends(text)] == (_lsp_lines(text)[:-1] if re.search(
            "[\r\n]$", text) or not text else _lsp_lines(text))
        rows = lf_rows(text)
        assert len(rows) == len(text) and [r.removesuffix("\r") for r in rows.split("\n")] == _lsp_lines(text)
    assert newline_of("a\rb\nc") == "\r" and newline_of("a\r\nb") == "\r\n" and newline_of("ab") == "\n"
