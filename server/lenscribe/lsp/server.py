"""The lenscribe language server (pygls 2.x): hover and code lens summaries, commands, progress, configuration.

Handlers are thin: they turn LSP params into calls on ``Engine`` (documents, chunks, cache, scheduler) and its answers
into LSP results.  No model logic lives here.

Threads: the asyncio event loop (pygls) answers every message and never blocks; chunking runs on one
``lenscribe-chunk`` thread (serialised, so the newest text always wins); model loading and the workspace walk run on
their own threads; inference runs on the scheduler's threads.  Results come back to the loop with
``call_soon_threadsafe`` and turn into (throttled) ``workspace/codeLens/refresh`` requests.

Edits: pygls applies each didChange to its copy of the document at once; lenscribe re-chunks ``debounceMs`` after the
last change, or at once when a hover / code lens request needs the new text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import stat
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, cast

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from lenscribe.engine import Document, Engine, ModelUnavailable
from lenscribe.files import read_source
from lenscribe.lsp.positions import ColumnConverter
from lenscribe.render import GENERATED, Summary, hover_markdown, hover_plain, lens_title, outline_markdown
from lenscribe.scheduling import Priority
from lenscribe.settings import SECTION, Settings, parse_settings, section_of

log = logging.getLogger(__name__)

__all__ = ["LenscribeServer", "create_server"]

try:
    from importlib.metadata import version as _pkg_version

    VERSION = _pkg_version("lenscribe")
except Exception:  # noqa: BLE001
    VERSION = "0.0.0"

PENDING_TITLE = "lenscribe: summarizing…"
PENDING_HOVER = "summarizing…"
FAILED_TITLE = "lenscribe: no summary (failed; hover for why)"
UTF16 = types.PositionEncodingKind.Utf16.value

CMD_SUMMARIZE_FILE = "lenscribe.summarizeFile"
CMD_SUMMARIZE_WORKSPACE = "lenscribe.summarizeWorkspace"
CMD_STATS = "lenscribe.stats"
CMD_SHOW_SUMMARY = "lenscribe.showSummary"
NOTIFY_VISIBLE_RANGES = "lenscribe/visibleRanges"  # {uri, ranges: [{start: {line}, end: {line}}]} from an extension

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a larger Content-Length ends the connection (a broken or hostile client)
MAX_HEADER_LINE = 64 * 1024
PARENT_POLL_S = 2.0  # how often the client process named in initialize (processId) is checked
JOIN_TIMEOUT_S = 10.0  # at exit, how long the inference threads get to finish their decoder step


_NO_ID = object()


class _Malformed:
    """A message pygls could not structure (bad params, bad envelope): answered with ``error`` when it has an id."""

    def __init__(self, msg_id: Any, method: Any, error: JsonRpcException) -> None:
        self.id, self.method, self.error = msg_id, method, error


def _valid_id(msg_id: Any) -> bool:
    return isinstance(msg_id, (str, int)) and not isinstance(msg_id, bool)


class LenscribeProtocol(LanguageServerProtocol):
    """pygls' protocol, answering what it would drop: a request whose params do not structure gets -32602
    InvalidParams (pygls raises out of ``json.loads``, so nobody answers), a request after ``shutdown`` gets -32600
    InvalidRequest (pygls ignores it), a JSON value that is not a message gets -32600."""

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "method" not in data:
                raise  # a response to one of our requests: pygls logs it
            method, msg_id = data.get("method"), data.get("id", _NO_ID)
            cause = exc.__cause__
            try:
                where = "; ".join(cattrs.transform_error(cause)) if cause is not None else str(exc)
            except Exception:  # noqa: BLE001 - not a cattrs error
                where = str(cause or exc)
            if not isinstance(method, str):
                return _Malformed(msg_id, method, JsonRpcInvalidRequest(f"Invalid Request: method {method!r}"))
            return _Malformed(msg_id, method, JsonRpcInvalidParams(f"Invalid params for {method}: {where}"))

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Malformed):
            log.warning("%s (id %r)", message.error.message, message.id)
            if _valid_id(message.id):
                self._send_response(message.id, error=message.error.to_response_error())
            elif message.id is not _NO_ID:  # a request with an id that cannot be echoed
                self._send_raw_error(None, message.error)
            return  # a notification: nobody to answer
        if not hasattr(message, "jsonrpc"):
            msg_id = message.get("id") if isinstance(message, dict) else None
            log.warning("not a JSON-RPC message: %.200r", message)
            self._send_raw_error(msg_id if _valid_id(msg_id) else None, JsonRpcInvalidRequest(
                "Invalid Request: not a JSON-RPC 2.0 message"))
            return
        if (self._shutdown and getattr(message, "method", None) not in (None, types.EXIT)
                and _valid_id(getattr(message, "id", None))):
            log.warning("request %r after shutdown refused", message.method)
            self._send_response(message.id, error=JsonRpcInvalidRequest(
                f"Invalid Request: {message.method} after shutdown").to_response_error())
            return
        super().handle_message(message)

    def _send_raw_error(self, msg_id: Any, error: JsonRpcException) -> None:
        """An error response written as a plain dict: lsprotocol's ResponseErrorMessage drops ``"id": null``."""
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": error.code, "message": error.message}})


class _CappedReader:
    """stdin for pygls' reader: a body larger than ``limit`` is refused (pygls would read it into memory whole, and a
    Content-Length of 1e11 dies with MemoryError): the read returns b"", pygls' loop ends, the server exits with a
    logged reason. Header lines are bounded too."""

    def __init__(self, stream: BinaryIO, server: LenscribeServer, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.stream, self.server, self.limit = stream, server, limit

    def readline(self) -> bytes:
        return self.stream.readline(MAX_HEADER_LINE)

    def read(self, n: int) -> bytes:
        if n > self.limit:
            self.server.connection_lost(f"a message of {n} bytes is over the {self.limit}-byte limit: closing the "
                                        "connection")
            return b""
        return self.stream.read(n)


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


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _cap(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def uri_path(uri: str) -> str | None:
    try:
        return to_fs_path(uri) if uri.startswith("file:") else None
    except Exception:  # noqa: BLE001
        return None


class LenscribeServer(LanguageServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("protocol_cls", LenscribeProtocol)
        kwargs.setdefault("text_document_sync_kind", types.TextDocumentSyncKind.Incremental)
        super().__init__("lenscribe", VERSION, *args, **kwargs)
        self.exit_code = 0  # what the process exits with: 1 after `exit` without `shutdown` or a lost connection
        self.exit_reason: str | None = None
        self._shutdown_requested = False
        self._joined = False
        self._error_popups = 0
        self._reporting = False
        self._parent_watch: asyncio.Task | None = None
        self.settings = Settings()
        self.engine: Engine | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.chunk_pool = ThreadPoolExecutor(1, thread_name_prefix="lenscribe-chunk")
        self.io_pool = ThreadPoolExecutor(2, thread_name_prefix="lenscribe-io")  # model loading, reading files
        self.workspace_pool = ThreadPoolExecutor(1, thread_name_prefix="lenscribe-workspace")
        self._debounce: dict[str, asyncio.TimerHandle] = {}
        self._doc_locks: dict[str, asyncio.Lock] = {}
        self._pending_warnings: list[str] = []
        self._had_init_options = False
        self._shown_errors: set[str] = set()
        self._told_skipped: set[tuple[str, str]] = set()
        self._refresh_handle: asyncio.TimerHandle | None = None
        self._last_refresh = 0.0
        self.lens_refreshes = 0
        self._model_task: asyncio.Task | None = None
        self._workspace_task: asyncio.Task | None = None
        self._workspace_cancel: threading.Event | None = None
        self._workspace_started = False
        self._closed = False
        self._initialized = False
        self._last_progress = 0.0

    # ------------------------------------------------------------------------------------------------ capabilities

    @property
    def encoding(self) -> str:
        try:
            return str(self.workspace.position_encoding or UTF16)
        except RuntimeError:
            return UTF16

    def client_supports(self, path: str) -> bool:
        try:
            return bool(_cap(self.client_capabilities, path))
        except Exception:  # noqa: BLE001 - before initialize
            return False

    @property
    def markdown_hover(self) -> bool:
        formats = _cap(self.client_capabilities, "text_document.hover.content_format")
        return formats is None or types.MarkupKind.Markdown in formats

    def converter(self, doc: Document) -> ColumnConverter:
        return ColumnConverter(self.encoding, doc.lines)

    # ------------------------------------------------------------------------------------------------ messages

    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log_to_client(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls' out-of-band errors. A body that is not JSON gets -32700 with a null id (pygls only logs it); no
        error pops up a message per bad message: the first one is shown, every one goes to the log."""
        from pygls.exceptions import FeatureRequestError

        if source is FeatureRequestError or self._reporting:
            return  # answered in the response already; or reporting failed to send (the connection is gone)
        if source is JsonRpcException and isinstance(error, ValueError):  # json.loads: JSONDecodeError, bad UTF-8
            log.warning("unparsable message: %s", error)
            cast(LenscribeProtocol, self.protocol)._send_raw_error(None, JsonRpcParseError(f"Parse error: {error}"))
            return
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)
        if self._closed:
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

    def show_error_once(self, message: str) -> None:
        if message in self._shown_errors:
            return
        self._shown_errors.add(message)
        self.show(message, types.MessageType.Error)
        self.log_to_client(message, types.MessageType.Error)

    # ------------------------------------------------------------------------------------------------ lifecycle

    def on_initialize(self, params: types.InitializeParams) -> None:
        self.loop = asyncio.get_running_loop()
        options = params.initialization_options
        self._had_init_options = section_of(options) is not None
        self.settings, warnings = parse_settings(options, Settings())
        self._pending_warnings += warnings
        self.engine = Engine(self.settings, on_summaries=self._summaries_landed_threadsafe)
        self._model_task = asyncio.ensure_future(self.load_model())
        self._model_task.add_done_callback(_log_task_error)
        pid = params.process_id
        if isinstance(pid, int) and pid > 0 and pid != os.getpid():
            self._parent_watch = asyncio.ensure_future(self._watch_parent(pid))
            self._parent_watch.add_done_callback(_log_task_error)

    async def _watch_parent(self, pid: int) -> None:
        """LSP: the server exits when the process that started it (initialize's processId) is gone."""
        while True:
            await asyncio.sleep(PARENT_POLL_S)
            if not process_alive(pid):
                self.terminate(0 if self._shutdown_requested else 1, f"the client process {pid} is gone")
                return

    def connection_lost(self, reason: str) -> None:
        """The connection cannot go on (an over-long message): remember why; the process exits with status 1."""
        log.error("lenscribe: %s", reason)
        self.exit_code, self.exit_reason = 1, reason

    def on_exit(self) -> None:
        """LSP ``exit``: status 0 after ``shutdown``, 1 without (pygls then ends its loop)."""
        self.exit_code = 0 if self._shutdown_requested else 1
        if not self._shutdown_requested:
            self.exit_reason = "exit without shutdown"

    def terminate(self, code: int, reason: str) -> None:
        """Exit the process now (from the event loop): stop and join inference, flush, ``os._exit``."""
        log.warning("lenscribe: exiting: %s", reason)
        self.exit_code, self.exit_reason = code, reason
        self.shutdown_engine(wait=True)
        flush_and_exit(code)

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """pygls' stdio loop, reading through a size cap (_CappedReader)."""
        super().start_io(_CappedReader(stdin or sys.stdin.buffer, self), stdout)  # type: ignore[arg-type]

    async def on_initialized(self) -> None:
        self._initialized = True
        if self._pending_warnings:
            self.show("\n".join(self._pending_warnings))
            self._pending_warnings.clear()
        if not self._had_init_options and self.client_supports("workspace.configuration"):
            await self.pull_configuration()
        self.maybe_start_workspace()

    async def load_model(self) -> None:
        assert self.engine is not None and self.loop is not None
        error = await self.loop.run_in_executor(self.io_pool, self.engine.load_model)
        if error:
            self.show_error_once(f"lenscribe: model unavailable: {error}. Summaries are off until lenscribe.modelDir "
                                 "points to a working model (build one with `lenscribe model build`).")
        else:
            e, m = self.engine, self.engine.model
            self.log_to_client(f"lenscribe: model {m.summary_id} loaded from {m.dir} in {m.load_seconds:.2f}s")
            e.schedule_all()
        self.request_lens_refresh()  # cached summaries can be shown now (or pending titles dropped)
        self.maybe_start_workspace()

    def shutdown_engine(self, wait: bool = False) -> None:
        """Stop background work (idempotent): the shutdown request (quick: the model stops at its next decoder step),
        then with ``wait`` when the connection ends (joins the inference threads, before the interpreter exits)."""
        if not self._closed:
            self._stop_background()
        if wait and not self._joined:
            self._joined = True
            if self._parent_watch is not None and self.loop is not None and not self.loop.is_closed():
                try:
                    self._parent_watch.cancel()
                except RuntimeError:
                    pass
            if self.engine is not None:
                self.engine.shutdown(wait=True, timeout=JOIN_TIMEOUT_S)

    def _stop_background(self) -> None:
        self._closed = True
        if self._workspace_cancel is not None:
            self._workspace_cancel.set()
        if self._workspace_task is not None and not self._workspace_task.done():
            try:
                self._workspace_task.cancel()
            except RuntimeError:  # its loop is gone
                pass
        for handle in self._debounce.values():
            handle.cancel()
        self._debounce.clear()
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
        if self.engine is not None:
            self.engine.shutdown(wait=False)
        self.chunk_pool.shutdown(wait=False, cancel_futures=True)
        self.io_pool.shutdown(wait=False, cancel_futures=True)
        self.workspace_pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------------------------------ configuration

    async def pull_configuration(self) -> None:
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)]))
        except Exception as e:  # noqa: BLE001 - the client may not answer it
            log.info("workspace/configuration failed: %s", e)
            return
        if result and isinstance(result[0], dict) and result[0]:
            await self.apply_configuration({SECTION: result[0]})

    async def on_did_change_configuration(self, params: types.DidChangeConfigurationParams) -> None:
        if section_of(params.settings) is not None:
            await self.apply_configuration(params.settings)
        elif self.client_supports("workspace.configuration"):
            await self.pull_configuration()

    async def apply_configuration(self, raw: Any) -> None:
        assert self.engine is not None
        new, warnings = parse_settings(raw, self.settings)
        if warnings:
            self.show("\n".join(warnings))
        old, self.settings = self.settings, new
        todo = self.engine.apply_settings(new)
        if todo["reload_model"]:
            self._model_task = asyncio.ensure_future(self.load_model())
            self._model_task.add_done_callback(_log_task_error)
        if todo["rechunk"]:
            for uri in list(self.engine.docs):
                await self.fresh_document(uri, force=True)
        if new.cache_dir != old.cache_dir:
            self.engine.schedule_all()
        if new.lenses != old.lenses or todo["rechunk"] or new.cache_dir != old.cache_dir:
            self.request_lens_refresh()
        if new.workspace_on_open and not old.workspace_on_open:
            self.maybe_start_workspace()

    # ------------------------------------------------------------------------------------------------ documents

    def _lock_for(self, uri: str) -> asyncio.Lock:
        lock = self._doc_locks.get(uri)
        if lock is None:
            lock = self._doc_locks[uri] = asyncio.Lock()
        return lock

    async def fresh_document(self, uri: str, force: bool = False) -> Document | None:
        """The engine's view of an open document, re-chunked first when its text changed since."""
        assert self.engine is not None and self.loop is not None
        text_doc = self.workspace.text_documents.get(uri)
        if text_doc is None:
            return self.engine.document(uri)
        doc = self.engine.document(uri)
        if not force and doc is not None and doc.version == text_doc.version:
            return doc
        async with self._lock_for(uri):
            text_doc = self.workspace.text_documents.get(uri)
            if text_doc is None:
                return self.engine.document(uri)
            doc = self.engine.document(uri)
            if not force and doc is not None and doc.version == text_doc.version:
                return doc
            if (handle := self._debounce.pop(uri, None)) is not None:
                handle.cancel()
            job = functools.partial(self.engine.update_document, uri, uri_path(uri), text_doc.source,
                                    text_doc.version, text_doc.language_id, self.encoding != UTF16)
            doc = await self.loop.run_in_executor(self.chunk_pool, job)
            if uri not in self.workspace.text_documents:  # closed while it was being chunked
                self.engine.close_document(uri)
                return None
        self._tell_skipped(doc)
        return doc

    def _tell_skipped(self, doc: Document) -> None:
        if not doc.skipped or doc.skipped.startswith(("unknown language", "language ")):
            return  # not our language: silence
        key = (doc.uri, doc.skipped)
        if key not in self._told_skipped:
            self._told_skipped.add(key)
            self.log_to_client(f"lenscribe: no summaries for {doc.uri}: {doc.skipped}")

    async def on_did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        await self.fresh_document(params.text_document.uri)

    def on_did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        assert self.loop is not None
        uri = params.text_document.uri
        if (handle := self._debounce.pop(uri, None)) is not None:
            handle.cancel()
        delay = self.settings.debounce_ms / 1000

        def fire() -> None:
            self._debounce.pop(uri, None)
            asyncio.ensure_future(self.fresh_document(uri)).add_done_callback(_log_task_error)

        self._debounce[uri] = self.loop.call_later(delay, fire)

    def on_did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        if (handle := self._debounce.pop(uri, None)) is not None:
            handle.cancel()
        self._doc_locks.pop(uri, None)
        if self.engine is not None:
            self.engine.close_document(uri)

    def on_visible_ranges(self, params: Any) -> None:
        uri = _get(params, "uri")
        ranges = []
        for r in _get(params, "ranges", None) or []:
            start, end = _get(r, "start"), _get(r, "end")
            ranges.append((int(_get(start, "line", 0)), int(_get(end, "line", 0))))
        if uri and self.engine is not None:
            self.engine.set_visible(uri, ranges)

    # ------------------------------------------------------------------------------------------------ hover

    async def hover(self, params: types.HoverParams) -> types.Hover | None:
        assert self.engine is not None
        e = self.engine
        uri = params.text_document.uri
        doc = await self.fresh_document(uri)
        if doc is None or not doc.chunks:
            return None
        conv = self.converter(doc)
        line = params.position.line
        chunk = doc.chunk_at(line, conv.to_utf16(line, params.position.character))
        if chunk is None:
            return None
        e.counters["hovers"] += 1
        summary = e.summary(chunk)
        note = None
        if summary is not None:
            e.counters["hover_cache_hits"] += 1
        elif not e.can_summarize:
            note = f"model unavailable: {e.model.error}"
        elif (failed := e.failure(chunk)) is not None:
            note = f"no summary: {failed}"
        else:
            text, note = await self.wait_for_summary(doc, chunk)
            summary = None if text is None else Summary(text, GENERATED)
        render = hover_markdown if self.markdown_hover else hover_plain
        return types.Hover(
            contents=types.MarkupContent(
                kind=types.MarkupKind.Markdown if self.markdown_hover else types.MarkupKind.PlainText,
                value=render(chunk.kind, chunk.qualname, summary, note, e.model.summary_id)),
            range=conv.range(chunk.start, chunk.end),
        )

    async def wait_for_summary_id(self, timeout: float | None = None) -> bool:
        """While the summary id is not known yet (the load has not read the manifest), wait for the load, at most
        ``timeout`` seconds; without the id no summary can be requested. True when it waited."""
        if (self.engine is not None and self.engine.model.summary_id is None and self._model_task is not None
                and not self._model_task.done()):
            await asyncio.wait({self._model_task}, timeout=timeout)
            return True
        return False

    async def wait_for_summary(self, doc: Document, chunk) -> tuple[str | None, str | None]:
        """The chunk's summary, computed ahead of everything else, waiting at most hoverTimeoutMs."""
        e = self.engine
        assert e is not None
        timeout = self.settings.hover_timeout_ms / 1000
        started = time.monotonic()
        if await self.wait_for_summary_id(timeout):
            timeout = max(0.0, timeout - (time.monotonic() - started))
            if (summary := e.cached_summary(chunk)) is not None:
                return summary, None
        e.request(chunk, Priority.OPEN, owner=doc.uri, generation=doc.generation)  # keeps it queued after a timeout
        ticket = e.request(chunk, Priority.HOVER, owner=("hover", doc.uri), generation=doc.generation)
        if ticket is None:
            if e.model.error:
                return None, f"model unavailable: {e.model.error}"
            return None, "loading the model…"
        try:
            # $/cancelRequest cancels this task, which cancels the wrapper and so the ticket: the job drops back to
            # open-document priority
            return await asyncio.wait_for(asyncio.wrap_future(ticket), timeout), None
        except TimeoutError:
            e.counters["hover_timeouts"] += 1
            return None, PENDING_HOVER
        except ModelUnavailable as err:
            return None, f"model unavailable: {err}"
        except Exception as err:  # noqa: BLE001 - inference failed: say so, keep serving
            log.warning("summary for %s failed: %s", chunk.qualname, err)
            return None, f"no summary: {err}"

    # ------------------------------------------------------------------------------------------------ code lens

    async def code_lens(self, params: types.CodeLensParams) -> list[types.CodeLens]:
        assert self.engine is not None
        e = self.engine
        if not self.settings.lenses:
            return []
        uri = params.text_document.uri
        doc = await self.fresh_document(uri)
        if doc is None or not doc.chunks:
            return []
        e.counters["lenses"] += 1
        summaries = e.cached_summaries(doc.chunks)
        conv = self.converter(doc)
        lenses = []
        for chunk in doc.chunks:
            summary = e.summary(chunk, summaries)
            if summary is None and not e.can_summarize:
                continue  # no model: hovers explain why, lenses stay quiet
            failed = e.failure(chunk) if summary is None else None
            title = lens_title(summary) if summary is not None else FAILED_TITLE if failed else PENDING_TITLE
            pos = conv.position(chunk.start)
            lenses.append(types.CodeLens(
                range=types.Range(start=pos, end=pos),
                command=types.Command(title=title, command=CMD_SHOW_SUMMARY,
                                      arguments=[uri, pos.line, pos.character]),
                data={"hash": chunk.hash, "pending": summary is None and not failed, "failed": bool(failed)},
            ))
        return lenses

    # ------------------------------------------------------------------------------------------------ refresh

    def _summaries_landed_threadsafe(self, uris: set[str]) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.request_lens_refresh)
            except RuntimeError:  # loop closed meanwhile: shutting down
                pass

    def request_lens_refresh(self) -> None:
        """Ask the client to re-request code lenses: at most once per lensRefreshMs, trailing edge."""
        if self._closed or not self.settings.lenses or not self.client_supports("workspace.code_lens.refresh_support"):
            return
        if self._refresh_handle is not None or self.loop is None:
            return
        delay = max(0.0, self._last_refresh + self.settings.lens_refresh_ms / 1000 - time.monotonic())
        self._refresh_handle = self.loop.call_later(delay, self._send_lens_refresh)

    def _send_lens_refresh(self) -> None:
        self._refresh_handle = None
        self._last_refresh = time.monotonic()
        self.lens_refreshes += 1
        try:
            fut = self.workspace_code_lens_refresh(None)
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # the answer does not matter
        except Exception as err:  # noqa: BLE001 - e.g. the connection is gone
            log.debug("codeLens/refresh failed: %s", err)

    # ------------------------------------------------------------------------------------------------ commands

    async def summarize_file(self, *args: Any) -> dict[str, Any]:
        """``lenscribe.summarizeFile(uri)``: every chunk's summary (a list) and a markdown outline."""
        assert self.engine is not None and self.loop is not None
        e = self.engine
        uri = args[0] if args else None
        if isinstance(uri, dict):
            uri = uri.get("uri")
        if not isinstance(uri, str):
            raise JsonRpcInvalidParams("lenscribe.summarizeFile needs a document uri as its argument")
        doc = await self.fresh_document(uri)
        if doc is None:  # not open: read it from disk, only a regular file of the workspace
            path = uri_path(uri)
            if path is None:
                raise JsonRpcInvalidParams(f"lenscribe.summarizeFile: not an open document nor a file: {uri}")
            real, refused = self.workspace_file(path)
            if real is None:  # refused says why
                log.warning("lenscribe.summarizeFile refused %s: %s", uri, refused)
                raise JsonRpcInvalidParams(f"lenscribe.summarizeFile refused {uri}: {refused}; only open documents and "
                                           "regular files inside the workspace folders are summarized")
            path = real  # the resolved path
            text, why = await self.loop.run_in_executor(self.io_pool, read_source, path, self.settings.max_file_bytes,
                                                        self.settings.max_file_lines)
            if text is None:
                return {"uri": uri, "model": e.model.summary_id, "summaries": [], "markdown": f"(skipped: {why})\n",
                        "skipped": why}
            doc = await self.loop.run_in_executor(self.chunk_pool, e.make_document, uri, path, text, None)
        if doc.skipped and not doc.chunks:
            return {"uri": uri, "model": e.model.summary_id, "summaries": [], "markdown": f"(skipped: {doc.skipped})\n",
                    "skipped": doc.skipped}
        await self.wait_for_summary_id()  # a command sent right after start-up would otherwise find no model to ask
        cached = e.cached_summaries(doc.chunks)
        owner = ("command", uri, uuid.uuid4().hex)
        tickets = {c.hash: e.request(c, Priority.VISIBLE, owner=owner, generation=doc.generation)
                   for c in doc.chunks if c.hash not in cached and e.authored(c) is None}
        try:
            for h, t in tickets.items():
                if t is None:
                    continue
                try:
                    cached[h] = await asyncio.wrap_future(t)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001
                    log.warning("summary failed: %s", err)
        finally:
            e.scheduler.cancel_owner(owner)
        rows = []
        stack: list[Any] = []
        for c in doc.chunks:
            while stack and not (stack[-1].start <= c.start and c.end <= stack[-1].end):
                stack.pop()
            shown = e.summary(c, cached)
            rows.append({"name": c.name, "qualname": c.qualname, "kind": c.kind, "language": c.language,
                         "line": c.start[0], "start": list(c.start), "end": list(c.end), "depth": len(stack),
                         "summary": shown.text if shown else None, "source": shown.source if shown else None})
            stack.append(c)
        markdown = outline_markdown(doc.path or uri, rows)
        self.log_to_client(markdown)
        return {"uri": uri, "model": e.model.summary_id, "summaries": rows, "markdown": markdown}

    async def show_summary(self, *args: Any) -> str | None:
        """``lenscribe.showSummary(uri, line, character)`` (a lens click): shows and returns the full summary."""
        if len(args) < 2:
            return None
        try:
            params = types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=str(args[0])),
                position=types.Position(line=int(args[1]), character=int(args[2]) if len(args) > 2 else 0))
        except (TypeError, ValueError) as err:
            raise JsonRpcInvalidParams(f"lenscribe.showSummary(uri, line, character): {err}") from err
        hover = await self.hover(params)
        if hover is None:
            return None
        text = hover.contents.value  # type: ignore[union-attr]
        self.show(text.replace("**", "").replace("`", "").replace("  \n", "\n"), types.MessageType.Info)
        return text

    def workspace_file(self, path: str) -> tuple[str | None, str | None]:
        """(real path, None) for a regular file inside a workspace folder (symlinks resolved), else (None, why)."""
        roots = []
        for r in self.workspace_roots():
            try:
                roots.append(Path(r).resolve())
            except (OSError, RuntimeError):
                continue
        if not roots:
            return None, "no workspace folder is open"
        try:
            real = Path(path).resolve(strict=True)
        except (OSError, RuntimeError) as err:
            return None, f"cannot be resolved ({getattr(err, 'strerror', None) or err})"
        if not any(real == r or real.is_relative_to(r) for r in roots):
            return None, "outside the workspace folders"
        try:
            st = real.stat()
        except OSError as err:
            return None, f"unreadable ({err.strerror or err})"
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file"
        return str(real), None

    def stats(self) -> dict[str, Any]:
        assert self.engine is not None
        return {**self.engine.stats(), "server": {
            "lens_refreshes": self.lens_refreshes, "position_encoding": self.encoding,
            "open_documents": len(self.workspace.text_documents) if self._initialized else 0,
            "workspace_running": self._workspace_task is not None and not self._workspace_task.done(),
            "pending_debounce": len(self._debounce),
        }}

    # ------------------------------------------------------------------------------------------------ workspace

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

    def maybe_start_workspace(self) -> None:
        e = self.engine
        if (self._workspace_started or not self._initialized or e is None or e.model.state != "ready"
                or not self.settings.workspace_on_open or not self.workspace_roots()):
            return
        self._workspace_started = True
        self.start_workspace()

    def start_workspace(self) -> asyncio.Task:
        if self._workspace_task is None or self._workspace_task.done():
            self._workspace_task = asyncio.ensure_future(self._run_workspace())
            self._workspace_task.add_done_callback(_log_task_error)
        return self._workspace_task

    async def summarize_workspace(self, *args: Any) -> dict[str, Any]:
        """``lenscribe.summarizeWorkspace()``: summarize every source file of the workspace; returns the counts."""
        task = self._workspace_task
        if task is not None and not task.done():
            return await asyncio.shield(task)  # join the run in progress
        return await self.start_workspace()

    async def _run_workspace(self) -> dict[str, Any]:
        assert self.engine is not None and self.loop is not None
        e, loop = self.engine, self.loop
        if not e.can_summarize:
            return {"error": f"model unavailable: {e.model.error}"}
        cancel = self._workspace_cancel = threading.Event()
        token: str | None = None
        if self.client_supports("window.work_done_progress"):
            token = f"lenscribe-workspace-{uuid.uuid4().hex[:12]}"
            try:
                await self.work_done_progress.create_async(token)
            except Exception as err:  # noqa: BLE001 - no progress then
                log.info("workDoneProgress/create failed: %s", err)
                token = None
        if token is not None:
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                title="lenscribe: summarizing the workspace", message="listing files", percentage=0, cancellable=True))
            cancel_future = self.work_done_progress.tokens.get(token)
            if cancel_future is not None:
                def cancelled(f: Future) -> None:
                    if f.cancelled():
                        cancel.set()

                cancel_future.add_done_callback(cancelled)
        message = "done"
        report = None
        try:
            files = await loop.run_in_executor(self.workspace_pool, e.workspace_files, self.workspace_roots())

            def progress(done: int, total: int, rep: Any) -> None:
                loop.call_soon_threadsafe(self._report_progress, token, done, total, rep.summarized, rep.cached)

            report = await loop.run_in_executor(
                self.workspace_pool, functools.partial(e.summarize_paths, files, cancel=cancel, progress=progress))
            message = (f"{report.files} files, {report.chunks} chunks: {report.summarized} summarized, "
                       f"{report.cached} cached in {report.seconds:.1f}s"
                       + (" (cancelled)" if report.cancelled else ""))
            self.log_to_client(f"lenscribe: workspace: {message}")
            return report.as_dict()
        except asyncio.CancelledError:
            cancel.set()
            message = "cancelled"
            raise
        except ModelUnavailable as err:
            message = f"model unavailable: {err}"
            return {"error": message}
        finally:
            if token is not None:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
                self.work_done_progress.tokens.pop(token, None)

    def _report_progress(self, token: str | None, done: int, total: int, summarized: int, cached: int) -> None:
        if token is None:
            return
        now = time.monotonic()
        if done < total and now - self._last_progress < 0.1:
            return
        self._last_progress = now
        self.work_done_progress.report(token, types.WorkDoneProgressReport(
            message=f"{done}/{total} files ({summarized} summarized, {cached} cached)",
            percentage=int(100 * done / total) if total else 100))


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


def _log_task_error(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


def create_server() -> LenscribeServer:
    """A server with every feature registered (one per connection / process)."""
    server = LenscribeServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: LenscribeServer, params: types.InitializeParams) -> None:
        ls.on_initialize(params)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: LenscribeServer, params: types.InitializedParams) -> None:
        await ls.on_initialized()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: LenscribeServer, *args: Any) -> None:
        ls._shutdown_requested = True
        ls.shutdown_engine()

    @server.feature(types.EXIT)
    def exit_(ls: LenscribeServer, *args: Any) -> None:
        ls.on_exit()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: LenscribeServer, params: types.DidChangeConfigurationParams) -> None:
        await ls.on_did_change_configuration(params)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: LenscribeServer, params: types.DidOpenTextDocumentParams) -> None:
        await ls.on_did_open(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LenscribeServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.on_did_change(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LenscribeServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.on_did_close(params)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: LenscribeServer, params: types.HoverParams) -> types.Hover | None:
        return await ls.hover(params)

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    async def code_lens(ls: LenscribeServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        return await ls.code_lens(params)

    @server.feature(NOTIFY_VISIBLE_RANGES)
    def visible_ranges(ls: LenscribeServer, params: Any) -> None:
        ls.on_visible_ranges(params)

    @server.command(CMD_SUMMARIZE_FILE)
    async def summarize_file(ls: LenscribeServer, *args: Any) -> dict[str, Any]:
        return await ls.summarize_file(*args)

    @server.command(CMD_SUMMARIZE_WORKSPACE)
    async def summarize_workspace(ls: LenscribeServer, *args: Any) -> dict[str, Any]:
        return await ls.summarize_workspace(*args)

    @server.command(CMD_STATS)
    def stats(ls: LenscribeServer, *args: Any) -> dict[str, Any]:
        return ls.stats()

    @server.command(CMD_SHOW_SUMMARY)
    async def show_summary(ls: LenscribeServer, *args: Any) -> str | None:
        return await ls.show_summary(*args)

    from lenscribe.lsp import code_actions  # insert as docstring, regenerate, copy (its own module)

    code_actions.register(server)
    return server
