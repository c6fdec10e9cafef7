"""The session's life: ``initialize`` (settings, the engine, the model load, the client process watch),
``initialized``, ``shutdown``, ``exit`` and leaving the process.

LSP: ``exit`` after ``shutdown`` ends with status 0, without it 1; the server also exits (1, or 0 after ``shutdown``)
when the process that started it (initialize's ``processId``) is gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from lsprotocol import types

from lenscribe.lsp import configuration, workspace_run
from lenscribe.lsp.server import LenscribeServer

log = logging.getLogger(__name__)

__all__ = ["flush_and_exit", "process_alive", "register"]

PARENT_POLL_S = 2.0  # how often the client process named in initialize (processId) is checked


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone). Unknown platforms: assume alive."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def flush_and_exit(code: int) -> None:
    """Flush the log and stdio, then leave at once (``os._exit``): no thread left blocked reading stdin, a file or
    the model can hold the exit or abort the interpreter's teardown. Call it after ``shutdown_engine(wait=True)``."""
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001, S110 - exiting anyway
            pass
    for stream in (sys.stderr, sys.__stderr__, sys.__stdout__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # noqa: BLE001, S110 - closed by `exit`
            pass
    os._exit(code)


def terminate(ls: LenscribeServer, code: int, reason: str) -> None:
    """Exit the process now (from the event loop): stop and join inference, flush, ``os._exit``."""
    log.warning("lenscribe: exiting: %s", reason)
    ls.exit_code, ls.exit_reason = code, reason
    ls.shutdown_engine(wait=True)
    flush_and_exit(code)


async def watch_parent(ls: LenscribeServer, pid: int) -> None:
    """LSP: the server exits when the process that started it (initialize's processId) is gone."""
    while True:
        await asyncio.sleep(PARENT_POLL_S)
        if not process_alive(pid):
            terminate(ls, 0 if ls.shutdown_requested else 1, f"the client process {pid} is gone")
            return


# ------------------------------------------------------------------------------------------------ the handlers


def initialize(ls: LenscribeServer, params: types.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    configuration.start(ls, params.initialization_options)
    pid = params.process_id
    if isinstance(pid, int) and pid > 0 and pid != os.getpid():
        ls.parent_watch = ls.spawn(watch_parent(ls, pid))


async def initialized(ls: LenscribeServer, params: types.InitializedParams) -> None:
    ls.initialized = True
    config = ls.state(configuration.Configuration)
    if config.pending_warnings:
        ls.show("\n".join(config.pending_warnings))
        config.pending_warnings.clear()
    if not config.had_init_options and ls.client_supports("workspace.configuration"):
        await configuration.pull_configuration(ls)
    workspace_run.maybe_start_workspace(ls)


def shutdown(ls: LenscribeServer, *args: Any) -> None:
    ls.shutdown_requested = True
    ls.shutdown_engine()


def exit_(ls: LenscribeServer, *args: Any) -> None:
    """LSP ``exit``: status 0 after ``shutdown``, 1 without (pygls then ends its loop)."""
    ls.exit_code = 0 if ls.shutdown_requested else 1
    if not ls.shutdown_requested:
        ls.exit_reason = "exit without shutdown"


def register(server: LenscribeServer) -> None:
    server.feature(types.INITIALIZE)(initialize)
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.SHUTDOWN)(shutdown)
    server.feature(types.EXIT)(exit_)
