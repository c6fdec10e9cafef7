"""The editor's documents (lenscribe.lsp.texts), in process: one spelling per uri, and pygls' document model with
LSP's lines (issue 24). The end-to-end tests are test_lsp_uris_lines.py and test_lsp_documents_fuzz.py."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import PositionCodec

from lenscribe.lsp.code_actions import PositionArgs
from lenscribe.lsp.commands import ShowSummaryArgs
from lenscribe.lsp.protocol import DocumentTarget, make_converter, structure_arguments
from lenscribe.lsp.texts import LspTextDocument, canonical_uri

# (spellings of one document, its path)
SAME_DOCUMENT = [
    (["file:///home/u/my%20project/a.py", "file:///home/u/my project/a.py"], "/home/u/my project/a.py"),
    (["file:///home/u/caf%C3%A9.py", "file:///home/u/café.py", "file:///home/u/caf%c3%a9.py"], "/home/u/café.py"),
    (["file:///c%3A/Users/me/a.py", "file:///C:/Users/me/a.py", "file:///c:/Users/me/a.py",
      "file:///C%3A/Users/me/a.py"], "c:/Users/me/a.py"),
    (["file:///home/c%23/x.py"], "/home/c#/x.py"),
    (["file:///home/x%5B1%5D.py", "file:///home/x[1].py"], "/home/x[1].py"),
    (["file:///home/%F0%9F%98%80%20%25.py", "file:///home/😀 %25.py"], "/home/😀 %.py"),
]


@pytest.mark.parametrize(("spellings", "path"), SAME_DOCUMENT, ids=lambda v: v[0] if isinstance(v, list) else None)
def test_one_spelling_per_document(spellings, path):
    canonical = {canonical_uri(u) for u in spellings}
    assert len(canonical) == 1, canonical
    (uri,) = canonical
    assert canonical_uri(uri) == uri and to_fs_path(uri) == path


def test_what_is_not_a_file_uri_keeps_its_meaning():
    assert canonical_uri("untitled:Untitled-1") == "untitled:Untitled-1"
    assert canonical_uri("not a uri") == "not a uri"
    assert canonical_uri("file:///a%23b") != canonical_uri("file:///a#b")  # %23 is a name, # starts a fragment


def _doc(text: str, encoding: types.PositionEncodingKind = types.PositionEncodingKind.Utf16) -> LspTextDocument:
    return LspTextDocument("file:///m.py", text, version=1, position_codec=PositionCodec(encoding))


def _change(doc: LspTextDocument, start: tuple[int, int], end: tuple[int, int], text: str) -> str:
    doc.apply_change(types.TextDocumentContentChangePartial(
        range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text))
    return doc.source


@pytest.mark.parametrize("other", ["\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_an_edit_after_a_character_python_breaks_lines_at(other):
    doc = _doc(f"# page{other}break\ndef old(a):\n    return a\n")
    assert len(doc.lines) == 3
    assert _change(doc, (1, 4), (1, 7), "new") == f"# page{other}break\ndef new(a):\n    return a\n"


@pytest.mark.parametrize("nl", ["\r", "\r\n", "\n"])
def test_edits_in_every_line_ending(nl):
    doc = _doc(f"a{nl}bb{nl}ccc")
    assert _change(doc, (1, 1), (2, 1), "X") == f"a{nl}bXcc"
    assert _change(doc, (1, 0), (1, 0), f"0{nl}") == f"a{nl}0{nl}bXcc"


def test_a_reversed_range_is_the_same_range():
    """As vscode-languageserver-textdocument: start and end swapped (was: the text between duplicated)."""
    doc = _doc("def old(a):\n    return a\n")
    assert _change(doc, (0, 7), (0, 4), "new") == "def new(a):\n    return a\n"
    assert _change(doc, (1, 4), (0, 11), "") == "def new(a):return a\n"


def test_positions_past_the_end_are_clamped():
    doc = _doc("ab\r\ncd\n")
    assert _change(doc, (0, 99), (0, 99), "!") == "ab!\r\ncd\n"  # not inside the CRLF, not on the next line
    assert _change(doc, (9, 0), (9, 5), "e") == "ab!\r\ncd\ne"
    assert _change(doc, (0, 3), (1, 99), "") == "ab!\ne"


def test_utf16_and_utf8_columns():
    assert _change(_doc("x = '😀'\u2028y\n"), (0, 7), (0, 8), "z") == "x = '😀z\u2028y\n"
    doc = _doc("é😀\x0cé\n", types.PositionEncodingKind.Utf8)
    assert _change(doc, (0, 6), (0, 7), "") == "é😀é\n"  # é: 2 bytes, 😀: 4


def test_command_arguments_name_documents_canonically():
    c = make_converter()
    want = "file:///c:/my%20proj/x.py"
    assert structure_arguments(c, "x", ["file:///C%3A/my proj/x.py", 1, 2], PositionArgs).uri == want
    assert structure_arguments(c, "x", ["file:///c%3a/my%20proj/x.py", 1], ShowSummaryArgs).uri == want
    assert c.structure({"uri": "file:///C:/my%20proj/x.py"}, DocumentTarget).uri == want
    assert structure_arguments(c, "x", [], ShowSummaryArgs).uri is None
