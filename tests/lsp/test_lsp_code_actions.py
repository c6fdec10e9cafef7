"""Code actions end to end: pytest-lsp drives ``lenscribe serve`` with the real tiny model (its memorised summaries):
insert the summary as a docstring (edit in the action, resolved lazily, or through workspace/applyEdit), regenerate
with a beam search, copy."""

from __future__ import annotations

from lsp_support import (
    ADD,
    READ_LINES,
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
from pytest_lsp import client_capabilities

from lenscribe.cache import SummaryCache
from lenscribe.chunking import chunk_hash
from lenscribe.decoding import GenerationOptions, decoding_id
from lenscribe.docstring_insert import TextEdit, apply_edit
from lenscribe.modelfiles import load_manifest

DOCUMENTED = 'def documented(x):\n    """Already said."""\n    return x'
PY_DOC = f"import os\n\n\n@staticmethod\n{ADD}\n\n\n{READ_LINES}\n\n\n{DOCUMENTED}\n"
ADD_LINE, READ_LINES_LINE, DOCUMENTED_LINE = 4, 8, 13  # the def lines
KINDS = ["refactor.rewrite.lenscribe.docstring", "lenscribe.regenerate", "lenscribe.copy"]


async def code_actions(client, uri: str, line: int, character: int = 4, only: list[str] | None = None):
    """The server's answer as CodeActions. Read raw: lsprotocol turns every item with a ``command`` field into a
    Command, dropping a CodeAction's kind and edit (VS Code and Neovim tell them apart by the field's type)."""
    pos = types.Position(line=line, character=character)
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(start=pos, end=pos),
        context=types.CodeActionContext(diagnostics=[], only=only))
    proto = client.protocol
    typed = proto.get_result_type
    proto.get_result_type = lambda method: None if method == types.TEXT_DOCUMENT_CODE_ACTION else typed(method)
    try:
        raw = await proto.send_request_async(types.TEXT_DOCUMENT_CODE_ACTION, params)
    finally:
        proto.get_result_type = typed
    items = raw.result if hasattr(raw, "result") else raw
    assert all(isinstance(item.get("command"), (dict, type(None))) for item in items or [])
    return [proto._converter.structure(item, types.CodeAction) for item in items or []]


def apply_workspace_edit(text: str, edit: types.WorkspaceEdit, uri: str, version: int | None = 1) -> str:
    if edit.document_changes is not None:
        assert len(edit.document_changes) == 1
        change = edit.document_changes[0]
        assert change.text_document.uri == uri and change.text_document.version == version
        edits = change.edits
    else:
        edits = edit.changes[uri]
    assert len(edits) == 1  # one edit: one undo step
    r = edits[0].range
    return apply_edit(text, TextEdit((r.start.line, r.start.character), (r.end.line, r.end.character),
                                     edits[0].new_text))


async def test_insert_docstring_from_a_cached_summary(client, tmp_path, summary_of):
    uri = open_doc(client, tmp_path / "mod.py", PY_DOC)
    # the hover waits for add's summary: cached from then on
    assert hover_summary(await hover(client, uri, ADD_LINE + 1, 8)) == summary_of(ADD)
    actions = await code_actions(client, uri, ADD_LINE + 1)
    assert [a.kind for a in actions] == KINDS
    insert, regen, copy = actions
    assert insert.title == "Insert summary as docstring (add)"
    assert insert.edit is not None and insert.command is None
    done = apply_workspace_edit(PY_DOC, insert.edit, uri)
    assert done == PY_DOC.replace(f"{ADD}\n", f'def add(a, b):\n    """{summary_of(ADD)}"""\n    return a + b\n')
    assert regen.command.command == "lenscribe.regenerateSummary"
    assert list(regen.command.arguments) == [uri, ADD_LINE + 1, 4]
    assert copy.command.command == "lenscribe.client.copySummary"
    assert list(copy.command.arguments) == [uri, ADD_LINE + 1, 4, summary_of(ADD)]
    # the client asks for a kind: only that one
    only = await code_actions(client, uri, ADD_LINE, only=["refactor.rewrite"])
    assert [a.kind for a in only] == KINDS[:1]
    # a documented function: no docstring action; outside any chunk: nothing
    assert [a.kind for a in await code_actions(client, uri, DOCUMENTED_LINE + 2)] == KINDS[1:]
    assert await code_actions(client, uri, 0) == []


async def test_resolve_computes_the_edit_lazily(client, tmp_path, summary_of):
    uri = open_doc(client, tmp_path / "lazy.py", PY_DOC)
    # what the client sends back for an action offered before the summary was there: no edit, the data
    action = types.CodeAction(title="Insert summary as docstring (read_lines)", kind=KINDS[0],
                              data={"uri": uri, "line": READ_LINES_LINE, "character": 0})
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is not None
    done = apply_workspace_edit(PY_DOC, resolved.edit, uri)
    assert f'def read_lines(path):\n    """{summary_of(READ_LINES)}"""\n    with open' in done
    assert done.count('"""') == PY_DOC.count('"""') + 2


async def test_without_resolve_support_the_command_applies_the_edit(lsp_client, tiny_model_dir, tmp_path, summary_of):
    caps = client_capabilities("visual-studio-code")
    caps.text_document.code_action.resolve_support = None
    c = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"), capabilities=caps)
    applied: list[types.ApplyWorkspaceEditParams] = []

    @c.feature(types.WORKSPACE_APPLY_EDIT)
    def _apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    uri = open_doc(c, tmp_path / "cmd.py", PY_DOC)
    actions = await code_actions(c, uri, ADD_LINE)
    insert = actions[0]
    assert insert.kind == KINDS[0]
    if insert.edit is None:  # not cached yet: the action runs the server command
        assert insert.command.command == "lenscribe.insertDocstring"
    result = await c.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.insertDocstring", arguments=[uri, ADD_LINE, 0]))
    assert result == {"applied": True, "summary": summary_of(ADD), "error": None}
    assert len(applied) == 1
    done = apply_workspace_edit(PY_DOC, applied[0].edit, uri)
    assert f'    """{summary_of(ADD)}"""\n    return a + b' in done
    # a documented function: nothing applied, the reason said
    result = await c.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.insertDocstring", arguments=[uri, DOCUMENTED_LINE, 0]))
    assert result["applied"] is False and "already has a docstring" in result["error"]
    assert len(applied) == 1
async def test_regenerate_with_beam_search_updates_lens_and_hover(client, tmp_path, tiny_model_dir, summary_of):
    uri = open_doc(client, tmp_path / "regen.py", PY_DOC)
    assert hover_summary(await hover(client, uri, READ_LINES_LINE + 1, 8)) == summary_of(READ_LINES)
    s = await wait_idle(client)
    model_id = s["model"]["id"]
    refreshes = client.lens_refreshes
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.regenerateSummary", arguments=[uri, READ_LINES_LINE + 1, 8]))
    assert result["qualname"] == "read_lines" and result["beams"] == 4
    assert result["previous"] == summary_of(READ_LINES)
    beam_summary = result["summary"]
    assert beam_summary  # the tiny model's beam search finds a sentence too
    s = await stats(client)
    assert s["counters"]["regenerated"] == 1
    assert hover_summary(await hover(client, uri, READ_LINES_LINE, 4)) == beam_summary
    titles = {lens.range.start.line: lens.command.title for lens in await lenses(client, uri)}
    assert titles[READ_LINES_LINE] == beam_summary.splitlines()[0] + " · generated"
    # the server asks the client to re-request its lenses (throttled: lensRefreshMs after the last request)
    await wait_until(client, lambda s: client.lens_refreshes > refreshes, what="a codeLens refresh")
    await stop_client(client)  # the cache file is read below, with the server gone
    # stored under the current decoding's id (what lens and hover read) and under the beam decoding's own id
    cache = SummaryCache.open(tmp_path / "cache")
    try:
        h = chunk_hash("python", READ_LINES)
        base = load_manifest(tiny_model_dir, check_hashes=False).model_id
        assert model_id == decoding_id(base, GenerationOptions())
        assert cache.get(model_id, h) == beam_summary
        assert cache.get(decoding_id(base, GenerationOptions(num_beams=4)), h) == beam_summary
    finally:
        cache.close()


async def test_summary_at_for_the_clients_copy(client, tmp_path, summary_of):
    uri = open_doc(client, tmp_path / "copy.py", PY_DOC)
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summaryAt", arguments=[uri, ADD_LINE + 1, 4]))
    assert result == {"qualname": "add", "kind": "function", "summary": summary_of(ADD)}
    for one_object in ({"uri": uri, "position": {"line": ADD_LINE + 1, "character": 4}},
                       {"uri": uri, "line": ADD_LINE + 1}):  # a client's own arguments, the character left out
        assert await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="lenscribe.summaryAt", arguments=[one_object])) == result
    assert await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summaryAt", arguments=[uri, 0, 0])) is None


async def test_without_preferred_docstrings_a_documented_chunk_still_gets_no_docstring_action(
        lsp_client, tiny_model_dir, tmp_path):
    # preferDocstrings off: documents are chunked without docs; the action looks up the one chunk's docstring
    c = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache", preferDocstrings=False))
    uri = open_doc(c, tmp_path / "nodocs.py", PY_DOC)
    assert [a.kind for a in await code_actions(c, uri, DOCUMENTED_LINE + 2)] == KINDS[1:]
    assert [a.kind for a in await code_actions(c, uri, ADD_LINE + 1)] == KINDS
    result = await c.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.insertDocstring", arguments=[uri, DOCUMENTED_LINE, 0]))
    assert result["applied"] is False and "already has a docstring" in result["error"]


async def test_with_the_grounding_check_copy_takes_the_lens_text_and_a_withheld_summary_is_not_inserted(
        lsp_client, tiny_model_dir, tmp_path):
    # add's summary ("Add two numbers and return the sum.") names two and sum, which its code never mentions
    c = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache", groundingCheck=True))
    uri = open_doc(c, tmp_path / "mod.py", PY_DOC)
    assert hover_summary(await hover(c, uri, ADD_LINE + 1, 8)) == "Add."
    actions = await code_actions(c, uri, ADD_LINE + 1)
    assert [a.kind for a in actions] == KINDS[1:]  # no docstring action for a withheld summary
    assert list(actions[1].command.arguments) == [uri, ADD_LINE + 1, 4, "Add."]
    assert await c.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summaryAt", arguments=[uri, ADD_LINE + 1, 4])) == {
        "qualname": "add", "kind": "function", "summary": "Add."}
    result = await c.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.insertDocstring", arguments=[uri, ADD_LINE + 1, 4]))
    assert result["applied"] is False and "names two, sum, which its code never mentions" in result["error"]
    # read_lines' summary is made of its code's words: its docstring action is offered as without the check
    await hover(c, uri, READ_LINES_LINE + 1, 8)
    assert [a.kind for a in await code_actions(c, uri, READ_LINES_LINE + 1)] == KINDS


async def test_a_stale_resolve_never_inserts_into_another_function(client, tmp_path, summary_of):
    """The action was offered for add; the document changed and read_lines is at that line now: resolving the old
    action (its data carries add's hash and the version) is refused, not a docstring for read_lines."""
    uri = open_doc(client, tmp_path / "stale.py", PY_DOC)
    assert hover_summary(await hover(client, uri, ADD_LINE + 1, 8)) == summary_of(ADD)
    insert = (await code_actions(client, uri, ADD_LINE + 1))[0]
    shifted = f"import os\n\n\n@staticmethod\n{READ_LINES}\n\n\n@staticmethod\n{ADD}\n"  # read_lines where add was
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=shifted)]))
    # the action as a client resolves it (offered before the summary was there: no edit in it), for version 1
    stale = types.CodeAction(title=insert.title, kind=insert.kind, data=insert.data)
    resolved = await client.code_action_resolve_async(stale)
    assert resolved.edit is None
    assert insert.data["version"] == 1
    fresh = types.CodeAction(title=insert.title, kind=insert.kind, data={**insert.data, "line": 10, "version": 2})
    resolved = await client.code_action_resolve_async(fresh)  # add, where it is now: inserted there
    done = apply_workspace_edit(shifted, resolved.edit, uri, version=2)
    assert f'def add(a, b):\n    """{summary_of(ADD)}"""\n    return a + b' in done


async def test_without_versioned_edits_the_action_carries_no_edit(lsp_client, tiny_model_dir, tmp_path, summary_of):
    """A client that cannot take documentChanges would apply an edit in the action to whatever the text has become:
    the edit is computed when the action is chosen (resolve), on the text of that moment."""
    caps = client_capabilities("visual-studio-code")
    caps.workspace.workspace_edit.document_changes = False
    c = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache"), capabilities=caps)
    uri = open_doc(c, tmp_path / "plain.py", PY_DOC)
    assert hover_summary(await hover(c, uri, ADD_LINE + 1, 8)) == summary_of(ADD)
    insert = (await code_actions(c, uri, ADD_LINE + 1))[0]
    assert insert.kind == KINDS[0] and insert.edit is None
    resolved = await c.code_action_resolve_async(insert)
    done = apply_workspace_edit(PY_DOC, resolved.edit, uri)
    assert f'def add(a, b):\n    """{summary_of(ADD)}"""\n    return a + b' in done
