"""The lenscribe language server (pygls 2.x): the server object and what its features share.

The features live one per module, each registering with ``register(server)`` (``cli.create_server`` calls them all):
its handlers, its own state (a ``FeatureState``, stopped with the server) and the events it subscribes to
(``SETTINGS_CHANGED``, ``MODEL_LOADED``, ``SUMMARIES_ADDED``, published by ``configuration``): ``lifecycle``
(initialize, shutdown, exit, the client process), ``configuration`` (settings, the model they name), ``documents``
(open/change/close, debounced re-chunking, visible ranges), ``hover``, ``code_lens`` (and throttled
``workspace/codeLens/refresh``), ``commands`` (summarizeFile, showSummary, stats), ``workspace_run``
(summarizeWorkspace with work-done progress) and ``code_actions``; ``protocol`` answers what pygls would drop.
The server keeps the engine (made with it, on the default settings until ``initialize``), whose settings are the one
settings object, the thread pools and messaging.  Handlers are thin: they turn LSP params into calls on ``Engine``
(a summary is one call, ``Engine.ask``) and its answers into LSP results.  No model logic lives here.

Threads: the asyncio event loop (pygls) answers every message and never blocks; chunking runs on two
``lenscribe-chunk`` threads (one document at a time each: its lock in ``documents``, and the newest text always wins),
each document in at most ``sources.CHUNK_TIMEOUT_S`` (a huge one is skipped; while tree-sitter parses it, other threads
get the GIL), so one document never holds the others; model loading and the workspace walk run on their own
threads; inference runs on the scheduler's threads.  Results come back to the loop with
``call_soon_threadsafe`` and turn into (throttled) ``workspace/codeLens/refresh`` requests.

Edits: pygls applies each didChange to its copy of the document at once; lenscribe re-chunks ``debounceMs`` after the
last change, or at once when a hover / code lens request needs the new text.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, TypeVar, cast

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import FeatureRequestError, JsonRpcException, JsonRpcParseError
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from lenscribe.engine import Document, Engine
from lenscribe.lsp.positions import ColumnConverter
from lenscribe.lsp.protocol import CappedReader, LenscribeProtocol, make_converter
from lenscribe.lsp.texts import open_text_document
from lenscribe.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["MODEL_LOADED", "SETTINGS_CHANGED", "SUMMARIES_ADDED", "FeatureState", "LenscribeServer"]

try:
    from importlib.metadata import version as _pkg_version

    VERSION = _pkg_version("lenscribe")
except Exception:  # noqa: BLE001
    VERSION = "0.0.0"

UTF16 = types.PositionEncodingKind.Utf16.value
JOIN_TIMEOUT_S = 10.0  # at exit, how long the inference threads get to finish their decoder step


def uri_path(uri: str) -> str | None:
    """The file system path of a ``file:`` uri, else None."""
    try:
        return to_fs_path(uri) if uri.startswith("file:") else None
    except Exception:  # noqa: BLE001
        return None


def log_task_error(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


class FeatureState:
    """One feature's own state (its timers, locks, tasks), kept by the server (``LenscribeServer.add_state``) and
    stopped with it (``stop``); esbonio's ``LanguageFeature`` is one model of this."""

    def __init__(self, server: LenscribeServer) -> None:
        self.server = server

    def stop(self) -> None:
        """Cancel what the feature has running (idempotent; the event loop may be gone)."""


S = TypeVar("S", bound=FeatureState)

# What the server publishes to the features that subscribe (``subscribe``, ``publish``):
SETTINGS_CHANGED = "settings"  # (old, new, todo: Engine.apply_settings' answer), after configuration did its part
MODEL_LOADED = "model"  # a model load ended (loaded or failed): cached summaries can be shown, work can start
SUMMARIES_ADDED = "summaries"  # summaries came into the cache from outside the queue (LENSCRIBE_CACHE_BUNDLE)


class LenscribeServer(LanguageServer):
    """What the features share (the settings, the engine, thread pools, messaging, the features' states and the
    events they subscribe to) and small helpers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("protocol_cls", LenscribeProtocol)
        kwargs.setdefault("converter_factory", make_converter)
        kwargs.setdefault("text_document_sync_kind", types.TextDocumentSyncKind.Incremental)
        super().__init__("lenscribe", VERSION, *args, **kwargs)
        # lifecycle
        self.exit_code = 0  # what the process exits with: 1 after `exit` without `shutdown` or a lost connection
        self.exit_reason: str | None = None
        self.initialized = False
        self.shutdown_requested = False
        self.closed = False  # background work stopped (shutdown, exit, lost connection)
        self._joined = False
        self.parent_watch: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # the engine, made with the server on the default settings (its cache in memory only: the configured one opens
        # at initialize); its settings are the one settings object (``settings``), changed by ``configuration``
        self.engine = Engine(Settings(), open_cache=False)
        # threads
        self.chunk_pool = ThreadPoolExecutor(2, thread_name_prefix="lenscribe-chunk")
        self.io_pool = ThreadPoolExecutor(2, thread_name_prefix="lenscribe-io")  # model loading, reading files
        self.workspace_pool = ThreadPoolExecutor(1, thread_name_prefix="lenscribe-workspace")
        # each feature's own state (``FeatureState``: debounce timers, the lens refresh, the workspace run, ...)
        self.states: dict[type, FeatureState] = {}
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        # messages
        self._error_popups = 0
        self._reporting = False
        self._shown_errors: set[str] = set()

    @property
    def settings(self) -> Settings:
        """The settings: the engine's, the one settings object (``configuration`` changes them)."""
        return self.engine.settings

    # ------------------------------------------------------------------------------------------------ features

    def add_state(self, state: S) -> S:
        """Keep a feature's state (one per class), stopped with the server."""
        self.states[type(state)] = state
        return state

    def state(self, cls: type[S]) -> S:
        """The feature state of class ``cls`` (its feature registered it)."""
        return cast(S, self.states[cls])

    def subscribe(self, event: str, listener: Callable[..., Any]) -> None:
        """Call ``listener(*args)`` (a coroutine function is awaited) on each ``publish(event, *args)``."""
        self._listeners.setdefault(event, []).append(listener)

    async def publish(self, event: str, *args: Any) -> None:
        """Tell the subscribers, in the order they subscribed; one failing is logged and the others still hear."""
        for listener in self._listeners.get(event, []):
            try:
                result = listener(*args)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - one feature's failure must not stop the others
                log.exception("a %s listener failed", event)

    # ------------------------------------------------------------------------------------------------ capabilities

    @property
    def encoding(self) -> str:
        """The negotiated position encoding (pygls' workspace keeps it)."""
        try:
            return str(self.workspace.position_encoding or UTF16)
        except RuntimeError:
            return UTF16

    def client_supports(self, path: str) -> bool:
        """Whether the client's capability at ``path`` (e.g. ``"workspace.configuration"``) is there and true."""
        try:
            return bool(get_capability(self.client_capabilities, path))
        except Exception:  # noqa: BLE001 - before initialize
            return False

    @property
    def markdown_hover(self) -> bool:
        formats = get_capability(self.client_capabilities, "text_document.hover.content_format")
        return formats is None or types.MarkupKind.Markdown in formats

    def open_document(self, uri: str) -> TextDocument | None:
        """The editor's copy of the open document ``uri`` (a canonical uri: ``texts.canonical_uri``), else None."""
        try:
            return open_text_document(self.workspace, uri)
        except RuntimeError:  # before initialize
            return None

    def converter(self, doc: Document) -> ColumnConverter:
        return ColumnConverter(self.encoding, doc.lines)

    def workspace_roots(self) -> list[str]:
        roots = []
        try:
            for folder in self.workspace.folders.values():
                if (p := uri_path(folder.uri)) is not None:
                    roots.append(p)
            if not roots and self.workspace.root_path:
                roots.append(self.workspace.root_path)
        except RuntimeError:
            pass
        return roots

    # ------------------------------------------------------------------------------------------------ messages

    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log_to_client(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def show_error_once(self, message: str) -> None:
        if message in self._shown_errors:
            return
        self._shown_errors.add(message)
        self.show(message, types.MessageType.Error)
        self.log_to_client(message, types.MessageType.Error)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls' out-of-band errors. A body that is not JSON gets -32700 with a null id (pygls only logs it); no
        error pops up a message per bad message: the first one is shown, every one goes to the log."""
        if source is FeatureRequestError or self._reporting:
            return  # answered in the response already; or reporting failed to send (the connection is gone)
        if source is JsonRpcException and isinstance(error, ValueError):  # json.loads: JSONDecodeError, bad UTF-8
            log.warning("unparsable message: %s", error)
            cast(LenscribeProtocol, self.protocol).send_raw_error(None, JsonRpcParseError(f"Parse error: {error}"))
            return
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)
        if self.closed:
            return
        self._reporting = True
        try:
            self.log_to_client(f"lenscribe: error: {error}", types.MessageType.Error)
            if self._error_popups == 0:
                self._error_popups += 1
                self.show(f"lenscribe: error: {error} (later errors only go to the log)", types.MessageType.Error)
        except Exception as err:  # noqa: BLE001 - the connection may be gone
            log.debug("cannot report the error to the client: %s", err)
        finally:
            self._reporting = False

    # ------------------------------------------------------------------------------------------------ tasks

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run ``coro`` on the event loop in the background; a failure is logged."""
        task = asyncio.ensure_future(coro)
        task.add_done_callback(log_task_error)
        return task

    # ------------------------------------------------------------------------------------------------ connection

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """pygls' stdio loop, reading through a size cap (CappedReader)."""
        super().start_io(CappedReader(stdin or sys.stdin.buffer, self.connection_lost), stdout)  # type: ignore[arg-type]

    def connection_lost(self, reason: str) -> None:
        """The connection cannot go on (an over-long message): remember why; the process exits with status 1."""
        log.error("lenscribe: %s", reason)
        self.exit_code, self.exit_reason = 1, reason

    def shutdown_engine(self, wait: bool = False) -> None:
        """Stop background work (idempotent): the shutdown request (quick: the model stops at its next decoder step),
        then with ``wait`` when the connection ends (joins the inference threads, before the interpreter exits)."""
        if not self.closed:
            self._stop_background()
        if wait and not self._joined:
            self._joined = True
            if self.parent_watch is not None and self.loop is not None and not self.loop.is_closed():
                try:
                    self.parent_watch.cancel()
                except RuntimeError:
                    pass
            self.engine.shutdown(wait=True, timeout=JOIN_TIMEOUT_S)

    def _stop_background(self) -> None:
        self.closed = True
        for state in self.states.values():
            try:
                state.stop()
            except Exception:  # noqa: BLE001 - stopping goes on
                log.exception("stopping %s failed", type(state).__name__)
        self.engine.shutdown(wait=False)
        self.chunk_pool.shutdown(wait=False, cancel_futures=True)
        self.io_pool.shutdown(wait=False, cancel_futures=True)
        self.workspace_pool.shutdown(wait=False, cancel_futures=True)
