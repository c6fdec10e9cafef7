"""The wire: what pygls' JSON-RPC layer would drop or choke on, and how lenscribe's command arguments are structured.

* ``LenscribeProtocol`` answers every request pygls would leave unanswered (params that do not structure, a request
  after ``shutdown``, a JSON value that is not a message, a notification's method sent with an id), takes a client's
  answer that does not structure (``null`` to ``workspace/applyEdit``) as ``null`` instead of leaving the request
  waiting for ever, and logs a request refused for its params in one line (pygls logs a traceback).
* ``CappedReader`` bounds what one message may make the server read into memory.
* ``make_converter()`` is the server's cattrs converter (pygls' ``converter_factory``): pygls structures a command's
  arguments with it, by the handler's annotations; it knows lenscribe's own argument types (``DocumentTarget``).
  pygls needs every annotated argument, though: a command whose trailing arguments may be left out structures them
  with ``structure_arguments`` into an attrs class with defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, TypeVar

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage

from lenscribe.lsp.texts import LspWorkspace, canonical_uri

log = logging.getLogger(__name__)

__all__ = ["CappedReader", "DocumentTarget", "LenscribeProtocol", "make_converter", "structure_arguments",
           "uri_argument"]

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a larger Content-Length ends the connection (a broken or hostile client)
MAX_HEADER_LINE = 64 * 1024

_NO_ID = object()
A = TypeVar("A", bound=attrs.AttrsInstance)


# ------------------------------------------------------------------------------------------------ messages


def _why(exc: BaseException) -> str:
    try:
        return "; ".join(cattrs.transform_error(exc))
    except Exception:  # noqa: BLE001 - not a cattrs error
        return str(exc)


class _Malformed:
    """A message pygls could not structure (bad params, bad envelope): answered with ``error`` when it has an id."""

    def __init__(self, msg_id: Any, method: Any, error: JsonRpcException) -> None:
        self.id, self.method, self.error = msg_id, method, error


class _NotificationWithId:
    """A notification's method sent with an id: handled as the notification, then answered (``null``)."""

    def __init__(self, msg_id: Any, notification: Any) -> None:
        self.id, self.notification = msg_id, notification


def _valid_id(msg_id: Any) -> bool:
    return isinstance(msg_id, (str, int)) and not isinstance(msg_id, bool)


class LenscribeProtocol(LanguageServerProtocol):
    """pygls' protocol, answering what it would drop: a request whose params do not structure gets -32602
    InvalidParams (pygls raises out of ``json.loads``, so nobody answers), a request after ``shutdown`` gets -32600
    InvalidRequest (pygls ignores it), a JSON value that is not a message gets -32600.  A second ``initialize`` gets
    -32600 and changes nothing (pygls would make a new workspace, dropping the open documents, and lenscribe a new
    engine, its threads and its cache)."""

    _initialize_seen = False

    def structure_message(self, data: dict[str, Any]):
        """pygls' structuring (``JsonRPCProtocol.structure_message``) without its traceback per bad message; a
        document uri in its one spelling first (``_canonical_uris``)."""
        if "jsonrpc" not in data:
            return data
        _canonical_uris(data)
        conv = self._converter
        if "id" in data and "method" not in data:  # a response
            if "error" in data:
                return conv.structure(data, types.ResponseErrorMessage)
            response_type = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
            try:
                return conv.structure(data, response_type)
            except Exception as exc:  # noqa: BLE001 - e.g. null for an ApplyWorkspaceEditResult
                log.warning("the client's answer to request %r does not structure (%s): taken as null", data["id"],
                            _why(exc))
                return conv.structure({**data, "result": None}, JsonRPCResponseMessage)
        method, msg_id = data.get("method"), data.get("id", _NO_ID)
        if not isinstance(method, str):
            return _Malformed(msg_id, method, JsonRpcInvalidRequest(f"Invalid Request: method {method!r}"))
        message_type = self.get_message_type(method) or (
            JsonRPCRequestMessage if msg_id is not _NO_ID else JsonRPCNotification)
        try:
            message = conv.structure(data, message_type)
        except Exception as exc:  # noqa: BLE001 - cattrs' errors, said plainly
            return _Malformed(msg_id, method, JsonRpcInvalidParams(f"Invalid params for {method}: {_why(exc)}"))
        if msg_id is not _NO_ID and not hasattr(message, "id"):  # a notification's method sent with an id
            return _NotificationWithId(msg_id, message)
        return message

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Malformed):
            log.warning("%s (id %r)", message.error.message, message.id)
            if _valid_id(message.id):
                self._send_response(message.id, error=message.error.to_response_error())
            elif message.id is not _NO_ID:  # a request with an id that cannot be echoed
                self.send_raw_error(None, message.error)
            return  # a notification: nobody to answer
        if isinstance(message, _NotificationWithId):
            log.warning("notification %r sent with id %r: handled, answered with null", message.notification.method,
                        message.id)
            super().handle_message(message.notification)
            if _valid_id(message.id):
                self._send_response(message.id, result=None)
            else:
                self.send_raw_error(None, JsonRpcInvalidRequest(f"Invalid Request: id {message.id!r}"))
            return
        if not hasattr(message, "jsonrpc"):
            msg_id = message.get("id") if isinstance(message, dict) else None
            log.warning("not a JSON-RPC message: %.200r", message)
            self.send_raw_error(msg_id if _valid_id(msg_id) else None, JsonRpcInvalidRequest(
                "Invalid Request: not a JSON-RPC 2.0 message"))
            return
        if (self._shutdown and getattr(message, "method", None) not in (None, types.EXIT)
                and _valid_id(getattr(message, "id", None))):
            log.warning("request %r after shutdown refused", message.method)
            self._send_response(message.id, error=JsonRpcInvalidRequest(
                f"Invalid Request: {message.method} after shutdown").to_response_error())
            return
        if getattr(message, "method", None) == types.INITIALIZE and _valid_id(getattr(message, "id", None)):
            if self._initialize_seen:
                log.warning("a second initialize request refused")
                self._send_response(message.id, error=JsonRpcInvalidRequest(
                    "Invalid Request: the server is already initialized").to_response_error())
                return
            self._initialize_seen = True
        super().handle_message(message)

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        """A handler that refused its request (a JsonRpcException: InvalidParams for a wrong argument) is answered with
        that error and logged in one line; anything else as pygls does (an internal error, with its traceback)."""
        exc = None if future.cancelled() else future.exception()
        if isinstance(exc, JsonRpcException):
            self._request_futures.pop(msg_id, None)
            log.warning("request %r refused: %s", msg_id, exc.message)
            self._send_response(msg_id, error=exc.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        """pygls' initialize; its workspace then makes documents with LSP's lines (``texts.LspWorkspace``)."""
        result = yield from super().lsp_initialize(params)
        self._workspace = LspWorkspace.adopt(self._workspace)
        return result

    def send_raw_error(self, msg_id: Any, error: JsonRpcException) -> None:
        """An error response written as a plain dict: lsprotocol's ResponseErrorMessage drops ``"id": null``."""
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": error.code, "message": error.message}})


def _canonical_uris(data: Any) -> None:
    """A message's document uri (``params.textDocument.uri``, or ``params.uri`` of lenscribe's notifications) in its
    one spelling (``texts.canonical_uri``), before pygls structures it: its own document handlers and ours see the
    same uri.  Command arguments are made canonical by their types (``DocumentTarget``, ``uri_argument``)."""
    params = data.get("params") if isinstance(data, dict) else None
    if not isinstance(params, dict):
        return
    doc = params.get("textDocument")
    if isinstance(doc, dict) and isinstance(doc.get("uri"), str):
        doc["uri"] = canonical_uri(doc["uri"])
    if isinstance(params.get("uri"), str):
        params["uri"] = canonical_uri(params["uri"])


class CappedReader:
    """stdin for pygls' reader: a body larger than ``limit`` is refused (pygls would read it into memory whole, and a
    Content-Length of 1e11 dies with MemoryError): the read returns b"", pygls' loop ends, the server exits with a
    logged reason (``connection_lost(reason)``: the server's). Header lines are bounded too."""

    def __init__(self, stream: BinaryIO, connection_lost: Callable[[str], None],
                 limit: int = MAX_MESSAGE_BYTES) -> None:
        self.stream, self.connection_lost, self.limit = stream, connection_lost, limit

    def readline(self) -> bytes:
        return self.stream.readline(MAX_HEADER_LINE)

    def read(self, n: int) -> bytes:
        if n > self.limit:
            self.connection_lost(f"a message of {n} bytes is over the {self.limit}-byte limit: closing the "
                                 "connection")
            return b""
        return self.stream.read(n)


# ------------------------------------------------------------------------------------------------ command arguments


@attrs.frozen
class DocumentTarget:
    """A command argument naming a document: its uri, sent as ``"file:///..."`` or as ``{"uri": "file:///..."}``."""

    uri: str


def _structure_document_target(value: Any, _type: type) -> DocumentTarget:
    if isinstance(value, dict):
        value = value.get("uri")
    if not isinstance(value, str):  # the converter would turn 42 into "42"
        raise TypeError(f'expected a document uri or {{"uri": uri}}, got {value!r}')
    return DocumentTarget(canonical_uri(value))


def uri_argument(value: Any) -> Any:
    """The converter of a command argument class' uri field (``attrs.field(converter=uri_argument)``): the uri made
    canonical as it is structured."""
    return canonical_uri(value) if isinstance(value, str) else value


def make_converter() -> cattrs.Converter:
    """pygls' converter (lsprotocol's types, JSON-RPC envelopes) plus lenscribe's command argument types."""
    c = default_converter()
    c.register_structure_hook(DocumentTarget, _structure_document_target)
    return c


def structure_arguments(converter: cattrs.Converter, command: str, args: Sequence[Any], cls: type[A]) -> A:
    """A command's positional arguments as the attrs class ``cls``, one per field in order (trailing fields with
    defaults may be left out, extra arguments are ignored); JsonRpcInvalidParams says which one is wrong."""
    names = [f.name for f in attrs.fields(cls)]
    try:
        return converter.structure(dict(zip(names, args, strict=False)), cls)
    except Exception as exc:  # noqa: BLE001 - cattrs' errors, said plainly
        try:
            why = "; ".join(cattrs.transform_error(exc, path="arguments"))
        except Exception:  # noqa: BLE001 - not a cattrs error
            why = str(exc)
        raise JsonRpcInvalidParams(f"{command}({', '.join(names)}): {why}") from exc
