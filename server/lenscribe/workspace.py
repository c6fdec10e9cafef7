"""Summarizing a whole workspace through the engine: the source files under its roots (``workspace_files``), then
every chunk of theirs at workspace priority (``summarize_paths``, blocking: for a worker thread), counted in a
``WorkspaceReport`` it returns (the server keeps the last one for its stats).

A run is bounded by the settings ``workspaceMaxFiles``, ``workspaceMaxBytes`` and ``workspaceMaxSeconds``: it stops at
the first one it reaches and says so (``WorkspaceReport.stopped``).  ``broad_roots`` names the roots that are a disk
root, the home directory or above it: the server never walks those unless the user asks for the run.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lenscribe.files import list_source_files
from lenscribe.model_slot import ModelUnavailable
from lenscribe.scheduling import Priority
from lenscribe.sources import read_file

if TYPE_CHECKING:
    from lenscribe.engine import Engine

log = logging.getLogger(__name__)

__all__ = ["WorkspaceReport", "broad_roots", "summarize_paths", "workspace_files"]

_runs = itertools.count(1)  # each run's tickets have their own owner, so a run's leftovers can be cancelled


@dataclass
class WorkspaceReport:
    files: int = 0
    skipped: int = 0
    chunks: int = 0
    cached: int = 0
    summarized: int = 0
    documented: int = 0  # chunks that show their own docstring (settings.prefer_docstrings): no model run
    failed: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    listed: int = 0  # source files under the roots; ``files``: those the run took (at most workspaceMaxFiles)
    bytes_read: int = 0
    stopped: str | None = None  # the limit that ended the run before its last file, said for a user
    backend_requests: int = 0  # chunks sent to the summarizer backend (lenscribe.backend.workspace)
    warning: str | None = None  # e.g. the run stopped sending to the backend at backend.workspaceMaxRequests

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def broad_roots(roots: Iterable[str | Path]) -> list[str]:
    """The roots that are a disk root (``/``, ``C:\\``), the home directory or a directory above it."""
    home = Path(os.path.expanduser("~")).resolve()
    out = []
    for root in roots:
        p = Path(root).resolve()
        if p == p.parent or p == home or p in home.parents:
            out.append(str(root))
    return out


def workspace_files(roots: Iterable[str | Path], languages: Collection[str] | None = None, *,
                    limit: int | None = None, deadline: float | None = None,
                    cancel: threading.Event | None = None) -> list[Path]:
    """The source files under ``roots`` in a language the chunker knows (and, if given, one of ``languages``); the
    walk ends at ``limit`` files, at ``deadline`` (``time.monotonic()``) or once ``cancel`` is set."""
    from lenscribe.chunking import language_for_path

    def keep(p: Path) -> bool:
        lang = language_for_path(p)
        return lang is not None and (languages is None or lang in languages)

    def stop() -> bool:
        return (cancel is not None and cancel.is_set()) or (deadline is not None and time.monotonic() >= deadline)

    files: dict[Path, None] = {}
    for root in roots:
        left = None if limit is None else limit - len(files)
        if left is not None and left <= 0:
            break
        for p in list_source_files(root, keep, limit=left, stop=stop):
            files.setdefault(p, None)
    return list(files)


def summarize_paths(
    engine: Engine,
    paths: list[Path],
    *,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int, WorkspaceReport], None] | None = None,
    deadline: float | None = None,
) -> WorkspaceReport:
    """Summarize every chunk of ``paths`` at workspace priority (blocking); files done -> ``progress``.  The run
    stops at the settings' limits (files, bytes read, seconds from now or until ``deadline``, the run's, listing
    included): ``WorkspaceReport.stopped`` says which."""
    s = engine.settings
    report = WorkspaceReport(listed=len(paths))
    if len(paths) > s.workspace_max_files:
        report.stopped = f"workspaceMaxFiles: the first {s.workspace_max_files} files (the workspace has more)"
        paths = paths[: s.workspace_max_files]
    report.files = len(paths)
    started = time.perf_counter()
    if deadline is None:
        deadline = time.monotonic() + s.workspace_max_seconds
    cancel = cancel or threading.Event()
    owner = ("workspace", next(_runs))
    use = "workspace" if engine.uses_backend("workspace") else "local"
    options = engine.read_options()
    window = max(16, 4 * s.batch_size * max(1, s.workers))  # tickets in flight: bounded memory
    pending: dict[cf.Future, int] = {}  # ticket -> file index
    left = [0] * len(paths)  # unfinished tickets per file
    files_done = 0

    def settle(done: Iterable[cf.Future]) -> None:
        nonlocal files_done
        for t in done:
            i = pending.pop(t)
            if t.cancelled():
                pass
            elif t.exception() is not None:
                report.failed += 1
            else:
                report.summarized += 1
            left[i] -= 1
            if left[i] == 0:
                files_done += 1
                if progress:
                    progress(files_done, len(paths), report)

    def out_of_time() -> bool:
        if time.monotonic() < deadline:
            return False
        report.stopped = f"workspaceMaxSeconds: {s.workspace_max_seconds}s"
        return True

    def wait(limit: int) -> None:
        while len(pending) > limit and not cancel.is_set() and not out_of_time():
            done, _ = cf.wait(list(pending), timeout=0.2, return_when=cf.FIRST_COMPLETED)
            settle(done)

    try:
        for i, path in enumerate(paths):
            if cancel.is_set() or out_of_time():
                break
            if not engine.can_summarize:
                raise ModelUnavailable(engine.model.error or "no model")
            try:
                size = min(os.stat(path).st_size, options.max_bytes)  # a larger file is refused unread
            except OSError:
                size = 0  # read_file says why
            if report.bytes_read + size > s.workspace_max_bytes:
                report.stopped = f"workspaceMaxBytes: {s.workspace_max_bytes} bytes read in {i} files"
                break
            report.bytes_read += size
            src = read_file(path, options)
            chunks = src.chunks
            if src.skipped:
                report.skipped += 1
                log.debug("workspace: skipped %s: %s", path, src.skipped)
            report.chunks += len(chunks)
            undocumented = [c for c in chunks if engine.authored(c) is None]
            report.documented += len(chunks) - len(undocumented)
            chunks = undocumented
            cached = engine.cached_summaries(chunks, use)
            report.cached += sum(1 for c in chunks if c.hash in cached)
            for c in {c.hash: c for c in chunks if c.hash not in cached}.values():
                if use == "workspace" and report.backend_requests >= s.backend_workspace_max_requests:
                    use = "local"  # never more requests than the user allowed: the rest goes to the local model
                    report.warning = (f"the workspace run would send more than {s.backend_workspace_max_requests}"
                                      f" requests to {s.backend_url} (lenscribe.backend.workspaceMaxRequests); the"
                                      " shipped model summarizes the rest")
                    log.warning("workspace: %s", report.warning)
                report.backend_requests += use == "workspace"
                t = engine.request(c, Priority.WORKSPACE, owner=owner, use=use)
                if t is None:
                    raise ModelUnavailable(engine.model.error or "no model")
                pending[t] = i
                left[i] += 1
            if left[i] == 0:
                files_done += 1
                if progress:
                    progress(files_done, len(paths), report)
            wait(window)
        wait(0)
    finally:
        if cancel.is_set() or pending:
            report.cancelled = cancel.is_set()
            engine.cancel_owner(owner)
        report.seconds = time.perf_counter() - started
    if report.stopped:
        log.warning("workspace run stopped at %s", report.stopped)
    return report
