"""Property (issue 24): whatever uri a document is opened under and whatever its line separators, after any sequence of
incremental edits the server's text is the client's -- checked against the real server (``lenscribe serve``): the
outline ``lenscribe.summarizeFile`` gives for the uri (every chunk's name, kind and range) is the one of the client's
text.

The client's document model here is the protocol's, written out independently of the server's: a line ends at CR LF,
CR or LF; a column counts UTF-16 code units; a reversed range is swapped and a position past a line's (or the text's)
end is clamped, as vscode-languageserver-textdocument does.
"""

from __future__ import annotations

import itertools
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsp_support import base_options
from lsprotocol import types

from lenscribe.chunking import chunk_text
from lenscribe.settings import Settings

EXAMPLES = 60  # each is one document opened, edited and outlined on one server: ~0.2 s on 2 cores

BREAKS = ("\n", "\r\n", "\r")
OTHER = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")  # str.splitlines' extra breaks
NAME_CHARS = "ab _-é😀#[]%?;@+&'()=,~!$"

_BREAK = re.compile("\r\n|\r|\n")
_counter = itertools.count()


# ------------------------------------------------------------------------------------------------ the client's model


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _BREAK.finditer(text)]


def _offset(text: str, line: int, character: int) -> int:
    starts = _line_starts(text)
    if line >= len(starts):
        return len(text)
    start = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    while end > start and text[end - 1] in "\r\n":
        end -= 1
    i, units = start, 0
    while i < end and units < character:
        units += 2 if ord(text[i]) > 0xFFFF else 1
        i += 1
    return i


def _apply(text: str, start: tuple[int, int], end: tuple[int, int], new: str) -> str:
    if start > end:
        start, end = end, start
    a, b = _offset(text, *start), _offset(text, *end)
    return text[:a] + new + text[b:]


def _utf16(s: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


# ------------------------------------------------------------------------------------------------ strategies


def _encode(path: str, style: str) -> str:
    """A file uri for ``path`` as a client may spell it: every reserved character escaped (VS Code: the drive
    letter's colon too), or only what must be (Neovim-like), hex digits upper or lower case."""
    if style == "all":
        uri = "file://" + quote(path, safe="/")
    else:
        uri = "file://" + quote(path, safe="/:[]@!$&'()*+,;=~")
    if style == "lower":
        uri = re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), uri)
    return uri


@st.composite
def uris(draw) -> str:
    segments = draw(st.lists(st.text(NAME_CHARS, min_size=1, max_size=6).filter(lambda s: s not in (".", "..")),
                             min_size=1, max_size=3))
    drive = draw(st.sampled_from(["", "", "c:", "C:"]))
    path = f"/{drive}/" + "/".join(segments) if drive else "/tmp/" + "/".join(segments)
    n = next(_counter)
    return _encode(f"{path}/m{n}.py", draw(st.sampled_from(["all", "some", "lower"])))


@st.composite
def texts(draw) -> str:
    nl = draw(st.sampled_from(BREAKS))
    parts = []
    for i in range(draw(st.integers(1, 4))):
        other = draw(st.sampled_from(OTHER))
        mixed = draw(st.sampled_from(BREAKS)) if draw(st.booleans()) else nl
        parts.append(f"# {i}{other}x{nl}def f{i}(a):{mixed}    return '{other}😀é'{nl}{nl}")
    return "".join(parts)


INSERTS = st.one_of(
    st.text(st.sampled_from(["a", "b", "_", " ", "(", ")", ":", "\n", "\r", "\x0c", "\u2028", "\x85", "é", "😀"]),
            max_size=6),
    st.sampled_from(["def g(b):\n    return b\n", "\r\n", "\r", "def", "# \x0c\r"]),
)


@st.composite
def edits(draw, text: str) -> tuple[tuple[int, int], tuple[int, int], str]:
    """An edit on ``text``: positions at character boundaries, sometimes past a line's or the text's end; the range
    sometimes reversed."""
    lines = _BREAK.split(text)

    def position() -> tuple[int, int]:
        line = draw(st.integers(0, len(lines)))  # len(lines): past the end
        body = lines[line] if line < len(lines) else ""
        index = draw(st.integers(0, len(body) + 1))  # len(body) + 1: past the line's end
        return line, _utf16(body[:index]) + (1 if index > len(body) else 0)

    start, end = position(), position()
    if not draw(st.booleans()):  # mostly in order, as editors send them
        start, end = min(start, end), max(start, end)
    return start, end, draw(INSERTS)


@st.composite
def sessions(draw):
    text = draw(texts())
    uri = draw(uris())
    messages = []
    current = text
    for _ in range(draw(st.integers(1, 4))):
        changes = []
        for _ in range(draw(st.integers(1, 3))):
            start, end, new = draw(edits(current))
            changes.append((start, end, new))
            current = _apply(current, start, end, new)
        messages.append(changes)
    return uri, text, messages, current


# ------------------------------------------------------------------------------------------------ the property


def _outline(text: str) -> list[tuple[str, str, list[int], list[int]]]:
    s = Settings()
    return [(c.name, c.kind, list(c.start), list(c.end))
            for c in chunk_text(text, "python", min_lines=s.min_chunk_lines, max_chars=s.max_chunk_chars)]


@pytest.fixture
def shared() -> dict:
    """State the examples of one test share (hypothesis runs them all in one call of the test): one server."""
    return {}


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(session=sessions())
async def test_the_servers_text_is_the_clients(lsp_client, tiny_model_dir, tmp_path, shared, session):
    uri, text, messages, final = session
    if "client" not in shared:
        shared["client"] = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"))
    client = shared["client"]
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    for version, changes in enumerate(messages, 2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=new)
                for start, end, new in changes]))
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summarizeFile", arguments=[uri]))
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    got = [(r["name"], r["kind"], r["start"], r["end"]) for r in result["summaries"]]
    assert got == _outline(final), (uri, final)
