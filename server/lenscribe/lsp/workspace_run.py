"""Summarizing the whole workspace: ``lenscribe.summarizeWorkspace()`` (or at start-up with ``workspaceOnOpen``), one
run at a time, with work-done progress the user can cancel when the client supports it.  The result is the run's
``WorkspaceReport`` as a dict, or ``{"error": why}``.

A run stops at the ``workspaceMax*`` limits (the progress, the log and the result say so).  The run at start-up leaves
out a workspace folder that is a disk root or the home directory (``broad_roots``): only the command walks those.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import uuid
from concurrent.futures import Future
from typing import Any, TypedDict

from lsprotocol import types

from lenscribe.engine import ModelUnavailable
from lenscribe.lsp.command_names import CMD_SUMMARIZE_WORKSPACE
from lenscribe.lsp.server import MODEL_LOADED, SETTINGS_CHANGED, FeatureState, LenscribeServer
from lenscribe.settings import Settings
from lenscribe.workspace import WorkspaceReport, broad_roots, summarize_paths, workspace_files

log = logging.getLogger(__name__)

__all__ = ["CMD_SUMMARIZE_WORKSPACE", "WorkspaceRun", "maybe_start_workspace", "register", "start_workspace"]

PROGRESS_EVERY_S = 0.1  # at most one progress report per this many seconds (the last one always goes)


class RunError(TypedDict):
    """The result of a run that could not start or stopped: no model."""

    error: str


WorkspaceResult = dict[str, Any] | RunError  # WorkspaceReport.as_dict(), or why there is none


class WorkspaceRun(FeatureState):
    """The run in progress (its task and cancel event), whether the start-up run began, the last run's report."""

    def __init__(self, server: LenscribeServer) -> None:
        super().__init__(server)
        self.task: asyncio.Task | None = None
        self.cancel: threading.Event | None = None
        self.started = False  # the workspaceOnOpen run began (once per server)
        self.last_progress = 0.0
        self.last_report: WorkspaceReport | None = None  # for lenscribe.stats

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def stop(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
        if self.running:
            assert self.task is not None
            try:
                self.task.cancel()
            except RuntimeError:  # its loop is gone
                pass

    def settings_changed(self, old: Settings, new: Settings, todo: dict[str, bool]) -> None:
        if new.workspace_on_open and not old.workspace_on_open:
            maybe_start_workspace(self.server)


def maybe_start_workspace(ls: LenscribeServer) -> None:
    """With ``workspaceOnOpen``: the first run, once the client is initialized and the model is ready."""
    run = ls.state(WorkspaceRun)
    if (run.started or not ls.initialized or ls.engine.model.state != "ready"
            or not ls.settings.workspace_on_open or not ls.workspace_roots()):
        return
    run.started = True
    roots = ls.workspace_roots()
    broad = broad_roots(roots)
    if broad:
        message = (f"lenscribe: workspaceOnOpen: not summarizing {', '.join(broad)} (a disk root or the home "
                   "directory) on open; run Lenscribe: Summarize Workspace to summarize it anyway")
        log.warning("%s", message)
        ls.log_to_client(message, types.MessageType.Warning)
        roots = [r for r in roots if r not in broad]
        if not roots:
            return
    start_workspace(ls, roots)


def start_workspace(ls: LenscribeServer, roots: list[str] | None = None) -> asyncio.Task:
    """A run over ``roots`` (default: every workspace folder), unless one is running already."""
    run = ls.state(WorkspaceRun)
    if run.task is None or run.task.done():
        run.task = ls.spawn(_run_workspace(ls, ls.workspace_roots() if roots is None else roots))
    return run.task


async def _run_workspace(ls: LenscribeServer, roots: list[str]) -> WorkspaceResult:
    assert ls.loop is not None
    e, loop, state = ls.engine, ls.loop, ls.state(WorkspaceRun)
    if not e.can_summarize:
        return RunError(error=f"model unavailable: {e.model.error}")
    cancel = state.cancel = threading.Event()
    token = await _begin_progress(ls, cancel)
    message = "done"
    report = None
    try:
        s = ls.settings
        deadline = time.monotonic() + s.workspace_max_seconds  # listing included
        files = await loop.run_in_executor(ls.workspace_pool, functools.partial(
            workspace_files, roots, s.languages, limit=s.workspace_max_files + 1, deadline=deadline, cancel=cancel))

        def progress(done: int, total: int, rep: Any) -> None:
            loop.call_soon_threadsafe(_report_progress, ls, token, done, total, rep.summarized, rep.cached,
                                      rep.stopped)

        run = ls.workspace_pool.submit(summarize_paths, e, files, cancel=cancel, progress=progress,
                                       deadline=deadline)
        run.add_done_callback(functools.partial(_keep_report, state))  # also when this task is cancelled meanwhile
        report = await asyncio.wrap_future(run)
        message = (f"{report.files} files, {report.chunks} chunks: {report.summarized} summarized, "
                   f"{report.cached} cached in {report.seconds:.1f}s"
                   + (" (cancelled)" if report.cancelled else "")
                   + (f"; stopped at {report.stopped}" if report.stopped else ""))
        ls.log_to_client(f"lenscribe: workspace: {message}",
                         types.MessageType.Warning if report.stopped else types.MessageType.Info)
        if report.warning:
            ls.show(f"lenscribe: {report.warning}", types.MessageType.Warning)
        return report.as_dict()
    except asyncio.CancelledError:
        cancel.set()
        message = "cancelled"
        raise
    except ModelUnavailable as err:
        message = f"model unavailable: {err}"
        return RunError(error=message)
    finally:
        if token is not None:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
            ls.work_done_progress.tokens.pop(token, None)


def _keep_report(state: WorkspaceRun, run: Future) -> None:
    """The run's report, for ``lenscribe.stats``."""
    if not run.cancelled() and run.exception() is None:
        state.last_report = run.result()


# ------------------------------------------------------------------------------------------------ progress


async def _begin_progress(ls: LenscribeServer, cancel: threading.Event) -> str | None:
    """A work-done progress the user can cancel (which sets ``cancel``); None when the client has none."""
    if not ls.client_supports("window.work_done_progress"):
        return None
    token = f"lenscribe-workspace-{uuid.uuid4().hex[:12]}"
    try:
        await ls.work_done_progress.create_async(token)
    except Exception as err:  # noqa: BLE001 - no progress then
        log.info("workDoneProgress/create failed: %s", err)
        return None
    ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(
        title="lenscribe: summarizing the workspace", message="listing files", percentage=0, cancellable=True))
    cancel_future = ls.work_done_progress.tokens.get(token)
    if cancel_future is not None:
        def cancelled(f: Future) -> None:
            if f.cancelled():
                cancel.set()

        cancel_future.add_done_callback(cancelled)
    return token


def _report_progress(ls: LenscribeServer, token: str | None, done: int, total: int, summarized: int,
                     cached: int, stopped: str | None = None) -> None:
    if token is None:
        return
    now = time.monotonic()
    state = ls.state(WorkspaceRun)
    if done < total and now - state.last_progress < PROGRESS_EVERY_S:
        return
    state.last_progress = now
    ls.work_done_progress.report(token, types.WorkDoneProgressReport(
        message=f"{done}/{total} files ({summarized} summarized, {cached} cached)"
        + (f"; limit: {stopped}" if stopped else ""),
        percentage=int(100 * done / total) if total else 100))


# ------------------------------------------------------------------------------------------------ the handlers


async def summarize_workspace(ls: LenscribeServer) -> WorkspaceResult:
    """``lenscribe.summarizeWorkspace()``: summarize every source file of the workspace; returns the counts."""
    task = ls.state(WorkspaceRun).task
    if task is not None and not task.done():
        return await asyncio.shield(task)  # join the run in progress
    return await start_workspace(ls)


def register(server: LenscribeServer) -> None:
    run = server.add_state(WorkspaceRun(server))
    server.subscribe(SETTINGS_CHANGED, run.settings_changed)
    server.subscribe(MODEL_LOADED, lambda: maybe_start_workspace(server))
    server.command(CMD_SUMMARIZE_WORKSPACE)(summarize_workspace)
