"""End to end (issue 24): documents under any uri a client sends (escapes, non-ASCII, drive letters, ``#``, ``[``),
texts with any line separator, edits with any range, and a workspace whose ignore file has a rule that does not
compile -- each is served as a plain one is."""

from __future__ import annotations

from lsp_support import (
    ADD,
    READ_LINES,
    base_options,
    hover,
    hover_summary,
    lenses,
    wait_until,
)
from lsprotocol import types

# as VS Code spells them: every reserved character escaped, the drive letter's colon too
URIS = (
    "my%20project/a.py",
    "caf%C3%A9.py",
    "c%23/add.py",
    "x%5B1%5D.py",
    "my%20proj%20%C3%A9/%F0%9F%98%80.py",
)
DRIVE_URI = "file:///c%3A/Users/me/my%20project/add.py"


def _open(client, uri: str, text: str, version: int = 1) -> str:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))
    return uri


def _change(client, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text)]))


async def _outline(client, uri: str) -> list[tuple[str, int]]:
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summarizeFile", arguments=[uri]))
    return [(row["name"], row["line"]) for row in result["summaries"]]


async def test_every_uri_form_is_served(lsp_client, tiny_model_dir, tmp_path, summary_of):
    """Was: hover null, no lenses, summarizeFile refused ("only open documents ...") for any escaped uri."""
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"))
    base = tmp_path.as_uri()
    uris = [_open(client, f"{base}/{rel}", f"{ADD}\n") for rel in URIS] + [_open(client, DRIVE_URI, f"{ADD}\n")]
    for uri in uris:
        assert hover_summary(await hover(client, uri, 0, 1)) == summary_of(ADD), uri
        (lens,) = await lenses(client, uri)
        assert lens.range.start.line == 0
        assert await _outline(client, uri) == [("add", 0)], uri
    # an edit reaches the document too
    _change(client, uris[0], 2, (0, 0), (1, 16), READ_LINES)
    assert hover_summary(await hover(client, uris[0], 1, 4)) == summary_of(READ_LINES)
    # the same document spelled otherwise (decoded; an upper-case drive letter)
    assert await _outline(client, f"{base}/my project/a.py") == [("read_lines", 0)]
    assert await _outline(client, "file:///C:/Users/me/my project/add.py") == [("add", 0)]
    s = await wait_until(client, lambda s: True)
    assert s["server"]["open_documents"] == len(uris) == len(s["documents"])


SEPARATORS = {"FF": "\x0c", "LS": "\u2028", "NEL": "\x85", "VT": "\x0b", "FS": "\x1c", "PS": "\u2029"}


async def test_edits_after_any_line_separator(lsp_client, tiny_model_dir, tmp_path):
    """Was: after ``# page<FF>break`` the rename of ``old`` to ``new`` landed a line too high (hover and outline still
    said ``old``): pygls split lines with str.splitlines."""
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"))
    for name, sep in SEPARATORS.items():
        uri = _open(client, (tmp_path / f"{name}.py").as_uri(), f"# page{sep}break\ndef old(a, b):\n    return a + b\n")
        assert await _outline(client, uri) == [("old", 1)], name
        _change(client, uri, 2, (1, 4), (1, 7), "new")
        assert await _outline(client, uri) == [("new", 1)], name
        h = await hover(client, uri, 1, 5)
        assert h is not None and "new" in h.contents.value.split("\n", 1)[0], name  # type: ignore[union-attr]


async def test_cr_only_and_mixed_line_endings(lsp_client, tiny_model_dir, tmp_path):
    """Was: a CR-only file had no chunk (no lens, no hover, no message); mixed endings merged two functions."""
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"))
    text = "def add(a, b):\r    return a + b\r\rdef sub(a, b):\r    return a - b\r"
    cr = _open(client, (tmp_path / "cr.py").as_uri(), text)
    assert await _outline(client, cr) == [("add", 0), ("sub", 3)]
    assert [lens.range.start.line for lens in await lenses(client, cr)] == [0, 3]
    assert await hover(client, cr, 4, 5) is not None
    mixed = _open(client, (tmp_path / "mixed.py").as_uri(), "def a(x):\r    return x\r\ndef b(y):\n    return y\n")
    assert await _outline(client, mixed) == [("a", 0), ("b", 2)]
    _change(client, cr, 2, (3, 4), (3, 7), "minus")  # an edit on a CR-only line
    assert await _outline(client, cr) == [("add", 0), ("minus", 3)]


async def test_a_reversed_range_is_not_duplicated(lsp_client, tiny_model_dir, tmp_path):
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"))
    uri = _open(client, (tmp_path / "r.py").as_uri(), "def old(a, b):\n    return a + b\n")
    _change(client, uri, 2, (0, 7), (0, 4), "new")  # end before start: the range from (0, 4) to (0, 7)
    assert await _outline(client, uri) == [("new", 0)]  # was: "oldnewold"


async def test_workspace_with_a_space_an_accent_and_a_bad_ignore_rule(lsp_client, tiny_model_dir, tmp_path):
    """Was: ``[z-a]`` in .gitignore killed the run ("background task failed", nothing summarized)."""
    root = tmp_path / "my proj é"
    (root / "build").mkdir(parents=True)
    (root / ".gitignore").write_text("[z-a]\nbuild/\n")
    (root / "a.py").write_text(f"{ADD}\n")
    (root / "build" / "gen.py").write_text("def gen(a):\n    return a\n")
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache", workspaceOnOpen=True), root=root)
    s = await wait_until(client, lambda s: s["workspace"] is not None and not s["server"]["workspace_running"],
                         what="the workspace run")
    assert s["workspace"]["files"] == 1 and s["workspace"]["chunks"] == 1 and s["workspace"]["summarized"] == 1
    uri = (root / "a.py").as_uri()
    assert "my%20proj%20%C3%A9" in uri
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summarizeFile", arguments=[uri]))  # not open: read from the workspace folder
    assert [row["name"] for row in result["summaries"]] == ["add"]
