"""lenscribe.lsp.workspace_run: end to end, summarizing the workspace on open, with work-done progress, .gitignore and
cancellation; in process, the start-up run leaves disk roots and home out."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from lsp_support import ADD, GREET, base_options, hover, hover_summary, open_doc, stats, wait_idle, wait_until
from lsprotocol import types

from lenscribe.settings import Settings


def _make_tree(root):
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text(f"{ADD}\n")
    (root / "src" / "b.js").write_text(f"{GREET}\n")
    (root / ".gitignore").write_text("ignored/\n*.gen.py\n")
    (root / "ignored").mkdir()
    (root / "ignored" / "c.py").write_text("def hidden(a):\n    return a\n")
    (root / "src" / "x.gen.py").write_text("def generated(a):\n    return a\n")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "m.js").write_text("function vendored(a) {\n  return a;\n}\n")
    (root / "data.py").write_bytes(b"def f(x):\n    return x\n" + b"\0" * 64)
    (root / "big.py").write_text("def big(a):\n" + "    a += 1\n" * 400 + "    return a\n")
    (root / "README.md").write_text("# hello\n")


def _progress(client) -> tuple[str, list]:
    ((token, events),) = [
        (t, e) for t, e in client.progress_reports.items() if str(t).startswith("lenscribe-workspace")
    ]
    return token, events


@pytest.fixture(params=[False, True], ids=["gitignore-matcher", "git-ls-files"])
def workspace_tree(request, tmp_path):
    root = tmp_path / "ws"
    _make_tree(root)
    if request.param:
        if shutil.which("git") is None:
            pytest.skip("no git")
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "src/a.py"], check=True)  # tracked + untracked both count
    return root


async def test_workspace_on_open_with_progress(lsp_client, tiny_model_dir, tmp_path, summary_of, workspace_tree):
    root = workspace_tree
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache", workspaceOnOpen=True,
                                           maxFileBytes=2000), root=root)
    s = await wait_until(client, lambda s: s["workspace"] is not None and not s["server"]["workspace_running"],
                         what="the workspace run")
    ws = s["workspace"]
    # a.py, b.js, data.py (binary: skipped), big.py (too large: skipped); .gitignore'd, node_modules, md: not listed
    assert ws["files"] == 4 and ws["skipped"] == 2
    assert ws["chunks"] == 2 and ws["summarized"] == 2 and not ws["cancelled"]
    _, events = _progress(client)
    assert isinstance(events[0], types.WorkDoneProgressBegin) and events[0].cancellable
    assert isinstance(events[-1], types.WorkDoneProgressEnd) and "2 summarized" in events[-1].message
    reports = [e for e in events if isinstance(e, types.WorkDoneProgressReport)]
    assert reports and reports[-1].percentage == 100
    # the workspace results are in the cache: opening a file costs no model run
    runs = s["chunks_summarized"]
    uri = open_doc(client, root / "src" / "a.py", f"{ADD}\n")
    assert hover_summary(await hover(client, uri, 0, 1)) == summary_of(ADD)
    assert (await stats(client))["chunks_summarized"] == runs
    # the command: a second run finds everything cached
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="lenscribe.summarizeWorkspace"))
    assert result["cached"] == 2 and result["summarized"] == 0
    assert any("workspace" in m.message for m in client.log_messages)
async def test_workspace_run_is_cancellable(lsp_client, tiny_model_dir, tmp_path, summary_of):
    root = tmp_path / "ws"
    root.mkdir()
    for i in range(150):
        (root / f"m{i:03}.py").write_text("".join(
            f"def f_{i}_{j}(a, b):\n    c = a * {j} + b\n    return c - {i}\n\n\n" for j in range(20)))
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache", workspaceOnOpen=True), root=root)
    await wait_until(client, lambda s: any(str(t).startswith("lenscribe-workspace")
                                           and any(isinstance(e, types.WorkDoneProgressReport) for e in ev)
                                           for t, ev in client.progress_reports.items()), what="progress")
    token, _ = _progress(client)
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    s = await wait_until(client, lambda s: s["workspace"] is not None and not s["server"]["workspace_running"],
                         what="the cancelled run to end")
    assert s["workspace"]["cancelled"]
    _, events = _progress(client)
    assert isinstance(events[-1], types.WorkDoneProgressEnd) and "cancelled" in events[-1].message
    s = await wait_idle(client, timeout=10)  # the queued backlog was dropped, not worked off
    assert s["chunks_summarized"] < 3000 and s["queue"]["cancelled"] > 0
    uri = open_doc(client, tmp_path / "x.py", f"{ADD}\n")
    assert hover_summary(await hover(client, uri, 0, 1)) == summary_of(ADD)


async def test_a_workspace_run_at_its_file_limit_says_so(lsp_client, tiny_model_dir, tmp_path):
    """A run stops at workspaceMaxFiles, and its progress, the log and the result say so."""
    root = tmp_path / "ws"
    _make_tree(root)
    client = await lsp_client(base_options(tiny_model_dir, tmp_path / "cache", workspaceOnOpen=True,
                                           maxFileBytes=2000, workspaceMaxFiles=2), root=root)
    s = await wait_until(client, lambda s: s["workspace"] is not None and not s["server"]["workspace_running"],
                         what="the workspace run")
    ws = s["workspace"]
    assert ws["files"] == 2 and ws["listed"] == 3 and ws["stopped"].startswith("workspaceMaxFiles: the first 2 ")
    _, events = _progress(client)
    assert isinstance(events[-1], types.WorkDoneProgressEnd) and "stopped at workspaceMaxFiles" in events[-1].message
    assert any("limit: workspaceMaxFiles" in e.message for e in events if isinstance(e, types.WorkDoneProgressReport))
    assert any("stopped at workspaceMaxFiles" in m.message for m in client.log_messages)


def test_workspace_on_open_never_walks_a_disk_root_or_home(tmp_path, monkeypatch):
    """`file:///` as the workspace folder with workspaceOnOpen listed 59,381 files; now the start-up run leaves such
    roots out (and says so); the command still runs over every folder when the user asks."""
    from types import SimpleNamespace

    from lenscribe.lsp import workspace_run

    monkeypatch.setenv("HOME", str(tmp_path))
    started, logged = [], []
    monkeypatch.setattr(workspace_run, "start_workspace", lambda ls, roots=None: started.append(roots))

    def server(roots):
        run = SimpleNamespace(started=False)
        return SimpleNamespace(
            state=lambda cls: run, initialized=True, engine=SimpleNamespace(model=SimpleNamespace(state="ready")),
            settings=Settings(workspace_on_open=True), workspace_roots=lambda: roots,
            log_to_client=lambda message, kind=None: logged.append(message))

    ls = server(["/", str(tmp_path)])
    workspace_run.maybe_start_workspace(ls)
    assert started == [] and ls.state(workspace_run.WorkspaceRun).started
    assert "not summarizing /, " in logged[0] and "Summarize Workspace" in logged[0]
    project = tmp_path / "proj"
    workspace_run.maybe_start_workspace(server(["/", str(project)]))
    assert started == [[str(project)]]
