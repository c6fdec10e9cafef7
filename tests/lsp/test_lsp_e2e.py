"""End to end: pytest-lsp drives ``lenscribe serve`` over stdio with the real tiny model (its memorised summaries)."""

from __future__ import annotations

import asyncio
import time

import pytest
from lsp_support import (
    ADD,
    GREET,
    READ_LINES,
    STACK,
    base_options,
    hover,
    hover_summary,
    lenses,
    open_doc,
    stats,
    stop_client,
    wait_idle,
    wait_until,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

PY_DOC = f"import os\n\n\n{ADD}\n\n\n{READ_LINES}\n\n\n{STACK}\n"
# line numbers in PY_DOC
ADD_LINE, READ_LINES_LINE, STACK_LINE = 3, 7, 12


async def test_hover_shows_the_memorised_summary(client, tmp_path, summary_of):
    uri = open_doc(client, tmp_path / "mod.py", PY_DOC)
    h = await hover(client, uri, ADD_LINE + 1, 8)  # inside the body of add
    assert hover_summary(h) == summary_of(ADD)
    assert h.contents.kind == types.MarkupKind.Markdown
    assert "`add`" in h.contents.value.split("\n\n")[0]
    assert h.range == types.Range(start=types.Position(line=ADD_LINE, character=0),
                                  end=types.Position(line=ADD_LINE + 1, character=16))
    assert hover_summary(await hover(client, uri, READ_LINES_LINE, 4)) == summary_of(READ_LINES)
    # the class, hovered on a line that belongs to no method, is the innermost chunk there
    assert hover_summary(await hover(client, uri, STACK_LINE + 3, 0)) == summary_of(STACK)
    # a method inside it: its own chunk (the model has not memorised it, but answers)
    method = await hover(client, uri, STACK_LINE + 1, 10)
    assert "`Stack.__init__`" in method.contents.value
    assert await hover(client, uri, 0, 3) is None  # `import os`: no chunk
    s = await wait_idle(client)
    assert s["model"]["state"] == "ready" and s["model"]["id"].startswith("tiny-codet5@")
    # a second hover is a cache hit, no model run
    runs = s["chunks_summarized"]
    assert hover_summary(await hover(client, uri, ADD_LINE, 0)) == summary_of(ADD)
    s = await stats(client)
    assert s["chunks_summarized"] == runs and s["counters"]["hover_cache_hits"] >= 1


async def test_code_lenses_arrive_at_once_then_refresh(client, tmp_path, summary_of):
    uri = open_doc(client, tmp_path / "mod.py", PY_DOC)
    # what a client extension may send: the lines in view go first (an unknown notification to other servers)
    client.protocol.notify("lenscribe/visibleRanges", {"uri": uri, "ranges": [
        {"start": {"line": STACK_LINE, "character": 0}, "end": {"line": STACK_LINE + 6, "character": 0}}]})
    started = time.monotonic()
    first = await lenses(client, uri)
    assert time.monotonic() - started < 2.0
    assert [lens.range.start.line for lens in first] == [ADD_LINE, READ_LINES_LINE, STACK_LINE, STACK_LINE + 1,
                                                         STACK_LINE + 4]
    assert all(lens.command.title for lens in first)
    await wait_until(client, lambda s: client.lens_refreshes >= 1 and s["queue"]["queued"] == 0
                     and s["queue"]["running"] == 0, what="a codeLens refresh")
    titles = {lens.range.start.line: lens.command.title for lens in await lenses(client, uri)}
    assert titles[ADD_LINE] == summary_of(ADD) + " · generated"
    assert titles[READ_LINES_LINE] == summary_of(READ_LINES) + " · generated"
    assert titles[STACK_LINE] == summary_of(STACK) + " · generated"
    assert "summarizing" not in " ".join(titles.values())
    s = await stats(client)
    assert s["server"]["lens_refreshes"] == client.lens_refreshes >= 1
    assert not [m for m in client.messages if m.type == types.MessageType.Error]
    assert s["documents"][uri]["visible"] == [[STACK_LINE, STACK_LINE + 6]]


async def test_an_edit_resummarizes_exactly_the_changed_chunk(client, tmp_path, summary_of):
    uri = open_doc(client, tmp_path / "mod.py", PY_DOC)
    s = await wait_until(client, lambda s: s["chunks_summarized"] == 5 and s["queue"]["queued"] == 0
                         and s["queue"]["running"] == 0, what="5 summaries")
    rechunks = s["counters"]["rechunks"]
    # three quick keystrokes inside add's body (`a + b` -> `a - bb`): one debounce, one re-chunk
    edits = [((ADD_LINE + 1, 13), (ADD_LINE + 1, 14), "-"), ((ADD_LINE + 1, 16), (ADD_LINE + 1, 16), "b"),
             ((ADD_LINE + 1, 17), (ADD_LINE + 1, 17), "b")]
    for version, ((l1, c1), (l2, c2), text) in enumerate(edits, start=2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=l1, character=c1),
                                  end=types.Position(line=l2, character=c2)), text=text)]))
    s = await wait_until(client, lambda s: s["chunks_summarized"] >= 6 and s["queue"]["queued"] == 0
                         and s["queue"]["running"] == 0 and s["server"]["pending_debounce"] == 0,
                         what="the edited chunk's summary")
    await asyncio.sleep(0.3)
    s = await stats(client)
    assert s["chunks_summarized"] == 6  # only `add` changed; the other four kept their hashes (cache hits)
    assert s["counters"]["rechunks"] == rechunks + 1
    assert s["documents"][uri]["version"] == 4
    h = await hover(client, uri, ADD_LINE + 1, 4)
    assert "a - bbb" not in h.contents.value and hover_summary(h)  # a summary of the new text
    assert hover_summary(await hover(client, uri, READ_LINES_LINE, 0)) == summary_of(READ_LINES)
    # a hover right after an edit sees the new text at once (no waiting for the debounce)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=5),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
            text="\n\n")]))
    h = await hover(client, uri, ADD_LINE + 2, 4)  # add moved down two lines
    assert hover_summary(h) and "`add`" in h.contents.value
    assert (await stats(client))["documents"][uri]["version"] == 5


async def test_close_drops_the_document(client, tmp_path):
    uri = open_doc(client, tmp_path / "mod.py", PY_DOC)
    await wait_idle(client)
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    s = await wait_until(client, lambda s: uri not in s["documents"], what="the document to close")
    assert s["server"]["open_documents"] == 0


async def test_summarize_file_command(client, tmp_path, summary_of):
    uri = open_doc(client, tmp_path / "mod.py", PY_DOC)
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summarizeFile", arguments=[uri]))
    rows = {r["qualname"]: r for r in result["summaries"]}
    assert list(rows) == ["add", "read_lines", "Stack", "Stack.__init__", "Stack.push"]
    assert rows["add"]["summary"] == summary_of(ADD)
    assert rows["Stack.push"]["depth"] == 1 and rows["Stack.push"]["kind"] == "method"
    assert f"**function `add`** (line {ADD_LINE + 1}): {summary_of(ADD)}" in result["markdown"]
    # a file that is not open is read from disk only inside a workspace folder (test_lsp_protocol); none is open here
    other = tmp_path / "other.js"
    other.write_text(f"// util\n{GREET}\n")
    with pytest.raises(JsonRpcInvalidParams, match="no workspace folder is open"):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="lenscribe.summarizeFile", arguments=[other.as_uri()]))


async def test_second_server_answers_from_the_shared_cache(lsp_client, tiny_model_dir, tmp_path, summary_of):
    opts = base_options(tiny_model_dir, tmp_path / "shared-cache")
    first = await lsp_client(opts)
    uri = open_doc(first, tmp_path / "mod.py", PY_DOC)
    s = await wait_until(first, lambda s: s["chunks_summarized"] == 5 and s["queue"]["queued"] == 0
                         and s["queue"]["running"] == 0, what="the first server's summaries")
    assert s["model_runs"] >= 1
    second = await lsp_client(opts)  # both processes run at once on one cache file
    uri2 = open_doc(second, tmp_path / "mod.py", PY_DOC)
    assert hover_summary(await hover(second, uri2, ADD_LINE, 2)) == summary_of(ADD)
    titles = [lens.command.title for lens in await lenses(second, uri2)]
    assert titles[:3] == [summary_of(c) + " · generated" for c in (ADD, READ_LINES, STACK)]
    s2 = await wait_idle(second)
    assert s2["model_runs"] == 0 and s2["chunks_summarized"] == 0
    assert s2["cache"]["disk_hits"] >= 5 and s2["cache"]["errors"] == 0
    assert uri == uri2


async def test_cancelled_hover_leaves_the_server_answering(client, tmp_path, summary_of):
    uri = open_doc(client, tmp_path / "mod.py", PY_DOC)
    fut = client.protocol.send_request(types.TEXT_DOCUMENT_HOVER, types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=ADD_LINE, character=1)),
        msg_id="hover-to-cancel")
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="hover-to-cancel"))
    try:
        result = await asyncio.wait_for(asyncio.wrap_future(fut), 10)
        assert result is None or hover_summary(result) is not None  # answered before the cancel arrived
    except Exception as e:  # noqa: BLE001 - cancelled: a RequestCancelled error
        assert "cancel" in str(e).lower()
    assert hover_summary(await hover(client, uri, ADD_LINE, 1)) == summary_of(ADD)


DOCUMENTED = ('def add(a, b):\n    """Sum two numbers, honouring :class:`Decimal` operands.\n\n'
              '    Args:\n        a: one.\n'
              '    """\n    return a + b\n\n\n' + READ_LINES + "\n")


async def test_a_documented_chunk_shows_its_docstring_and_skips_the_model(lsp_client, tiny_model_dir, tmp_path,
                                                                          summary_of):
    c = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"))
    uri = open_doc(c, tmp_path / "doc.py", DOCUMENTED)
    s = await wait_idle(c)
    titles = [lens.command.title for lens in await lenses(c, uri)]
    assert titles == ["Sum two numbers, honouring Decimal operands. · docstring",
                      summary_of(READ_LINES) + " · generated"]
    assert s["chunks_summarized"] == 1  # only the undocumented function went through the model
    h = await hover(c, uri, 6, 4)
    assert hover_summary(h) == "Sum two numbers, honouring Decimal operands."
    assert h.contents.value.endswith("*from the docstring*")
    other = await hover(c, uri, 9, 4)
    assert other.contents.value.endswith("may be wrong*") and "tiny-codet5@" in other.contents.value
    result = await c.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summarizeFile", arguments=[uri]))
    rows = {r["name"]: r for r in result["summaries"]}
    assert rows["add"]["source"] == "docstring" and rows["read_lines"]["source"] == "generated"
    assert "Decimal operands. *(docstring)*" in result["markdown"]
    await stop_client(c)  # the first server ends before the second starts
    # the preference off: the model summarizes the documented chunk too
    c = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache2", preferDocstrings=False))
    uri = open_doc(c, tmp_path / "doc.py", DOCUMENTED)
    s = await wait_idle(c)
    titles = [lens.command.title for lens in await lenses(c, uri)]
    assert all(t.endswith(" · generated") for t in titles) and s["chunks_summarized"] == 2


async def test_the_grounding_check_withholds_a_summary_naming_what_the_code_does_not(lsp_client, tiny_model_dir,
                                                                                     tmp_path, summary_of):
    """The tiny model says "Add two numbers and return the sum." of ``add``: "two" and "sum" are nowhere in its code,
    so with the check on the lens shows the name as a sentence and the hover says why; every word of read_lines'
    summary is in its code, so it is shown. Turning the check off shows the cached text, without a model run."""
    opts = base_options(tiny_model_dir, tmp_path / "cache", groundingCheck=True)
    c = await lsp_client(opts)
    uri = open_doc(c, tmp_path / "mod.py", PY_DOC)
    s = await wait_idle(c)
    titles = {lens.range.start.line: lens.command.title for lens in await lenses(c, uri)}
    assert titles[ADD_LINE] == "Add. · from the name"
    assert titles[READ_LINES_LINE] == summary_of(READ_LINES) + " · generated"
    h = await hover(c, uri, ADD_LINE, 1)
    assert hover_summary(h) == "Add."
    assert "withheld: it names two, sum, which this code never mentions" in h.contents.value
    result = await c.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summarizeFile", arguments=[uri]))
    rows = {r["name"]: r for r in result["summaries"]}
    assert rows["add"]["source"] == "name" and rows["add"]["summary"] == "Add."
    assert rows["read_lines"]["source"] == "generated"
    runs = s["chunks_summarized"]
    c.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"lenscribe": {**opts, "groundingCheck": False}}))
    await wait_until(c, lambda s: s["settings"]["grounding_check"] is False, what="the check turned off")
    assert hover_summary(await hover(c, uri, ADD_LINE, 1)) == summary_of(ADD)
    assert (await stats(c))["chunks_summarized"] == runs


async def test_the_server_imports_env_bundles_after_initialize(lsp_client, tiny_model_dir, tmp_path, monkeypatch):
    """LENSCRIBE_CACHE_BUNDLE's bundles are imported on a worker thread once the server is up (a 1e6-entry bundle
    held initialize 14 s); then their summaries are served, and a damaged bundle is only a warning in the log."""
    from lenscribe.bundle import BUNDLE_ENV, export_bundle
    from lenscribe.cache import SummaryCache
    from lenscribe.chunking import chunk_text
    from lenscribe.decoding import GenerationOptions, decoding_id
    from lenscribe.modelfiles import load_manifest

    summary_id = decoding_id(load_manifest(tiny_model_dir).model_id, GenerationOptions())
    (chunk,) = chunk_text(f"{ADD}\n", "python")
    source = SummaryCache.open(tmp_path / "team")
    source.put(summary_id, chunk.hash, "From the team bundle.")
    export_bundle(source, tmp_path / "team.csb")
    source.close()
    (tmp_path / "bad.csb").write_bytes(b"not a bundle")
    monkeypatch.setenv(BUNDLE_ENV, f"{tmp_path / 'bad.csb'}:{tmp_path / 'team.csb'}")
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"))
    deadline = time.monotonic() + 60
    while not any("imported" in m.message and "team.csb" in m.message for m in client.log_messages):
        assert time.monotonic() < deadline, [m.message for m in client.log_messages]
        await asyncio.sleep(0.05)
    uri = open_doc(client, tmp_path / "m.py", f"{ADD}\n")
    assert hover_summary(await hover(client, uri, 0, 1)) == "From the team bundle."
    assert (await stats(client))["chunks_summarized"] == 0
