"""An OpenAI-compatible summarizer backend: the model a user already runs (llama.cpp's server, Ollama, LM Studio,
vLLM, ...) summarizes chunks through ``POST {url}/chat/completions``, with the shipped model as the fallback.

Nothing here knows LSP. The engine builds a ``BackendSummarizer`` when ``lenscribe.backend.url`` is set and runs it on
its own scheduler; every chunk it cannot get from the server (refused connection, timeout, HTTP 4xx/5xx, a malformed
or refused reply, a server that never stops sending) is summarized by the local model instead and marked so.

- The request is the versioned prompt of ``lenscribe.prompts`` (its id is part of the cache key: ``summary_id``), at
  temperature 0; the reply goes through ``prompts.clean_reply``.
- Only the configured URL is ever contacted; the API key comes from the environment variable the settings name.
- ``max_concurrent`` bounds the requests in flight (a semaphore over every caller); a watchdog thread ends a request
  whose deadline passed or whose chunk nobody wants any more (its socket is shut down), so a slow or endless server
  never holds a worker past ``timeout``.
- A server's failure is logged once per kind of failure and server run (``BackendSummarizer.errors`` keeps them all).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lenscribe.postprocess import sanitize_summary
from lenscribe.prompts import DEFAULT_PROMPT, Prompt, clean_reply, messages

log = logging.getLogger(__name__)

__all__ = ["BackendConfig", "BackendError", "BackendRequest", "BackendSummarizer", "Cancelled", "OpenAIClient",
           "Written", "LOCAL_FALLBACK"]

MAX_REPLY_BYTES = 1 << 20  # a reply longer than this is not a chat completion of a few dozen tokens
LOCAL_WAIT_S = 120.0  # a fallback waits this long for the local model to finish loading
LOCAL_FALLBACK = "local model (fallback)"


class BackendError(RuntimeError):
    """The server did not give a usable summary; ``kind`` says how (refused, timeout, http, malformed, reply)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Cancelled(RuntimeError):
    """Nobody wants the chunk's summary any more (it was edited away): its request was ended."""


class Written(str):
    """A summary and who wrote it (``written_by``): the backend's model, or ``LOCAL_FALLBACK`` with ``reason``."""

    written_by: str
    summary_id: str | None  # the cache key it belongs under (None: the caller's)
    reason: str | None

    def __new__(cls, text: str, written_by: str, summary_id: str | None = None,
                reason: str | None = None) -> Written:
        self = super().__new__(cls, text)
        self.written_by = written_by
        self.summary_id = summary_id
        self.reason = reason
        return self

    @property
    def fallback(self) -> bool:
        return self.written_by == LOCAL_FALLBACK


@dataclass(frozen=True)
class BackendConfig:
    url: str  # the base URL, e.g. http://127.0.0.1:8080/v1 (the API's root: /chat/completions is appended)
    model: str
    api_key_env: str | None = None  # the environment variable that holds the API key (never the key itself)
    max_concurrent: int = 2
    timeout: float = 30.0  # seconds for one request, connection to last byte

    @classmethod
    def from_settings(cls, settings: Any) -> BackendConfig | None:
        """The configured endpoint, or None (``backend_url`` unset: the local model only, no network)."""
        if not getattr(settings, "backend_url", None) or not getattr(settings, "backend_model", None):
            return None
        return cls(url=settings.backend_url, model=settings.backend_model, api_key_env=settings.backend_api_key_env,
                   max_concurrent=settings.backend_max_concurrent, timeout=settings.backend_timeout_ms / 1000)

    def summary_id(self, prompt: Prompt = DEFAULT_PROMPT) -> str:
        """The cache key part: backend kind, model and prompt id (the chunk hash is the other part)."""
        return f"openai:{self.model}:{prompt.id}"

    @property
    def endpoint(self) -> tuple[str, str, int, str]:
        """(scheme, host, port, path of /chat/completions); raises ValueError for a URL that is not http(s)."""
        u = urllib.parse.urlsplit(self.url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"lenscribe.backend.url must be an http:// or https:// URL, not {self.url!r}")
        port = u.port or (443 if u.scheme == "https" else 80)
        return u.scheme, u.hostname, port, u.path.rstrip("/") + "/chat/completions"


@dataclass
class _Watch:
    sock: socket.socket | None
    deadline: float
    alive: Callable[[], bool]
    reason: str | None = None


class OpenAIClient:
    """``complete(messages)``: one chat completion's text from the configured server, at most ``max_concurrent`` at a
    time; raises BackendError or Cancelled."""

    POLL_S = 0.05

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.scheme, self.host, self.port, self.path = config.endpoint
        self._slots = threading.BoundedSemaphore(config.max_concurrent)
        self._lock = threading.Lock()
        self._watched: dict[int, _Watch] = {}
        self._watchdog: threading.Thread | None = None
        self._closed = False
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests ever in flight at once (never above max_concurrent)
        self.requests = 0

    def _api_key(self) -> str | None:
        env = self.config.api_key_env
        return os.environ.get(env) if env else None

    def _watch(self, w: _Watch) -> int:
        with self._lock:
            key = id(w)
            self._watched[key] = w
            if self._watchdog is None or not self._watchdog.is_alive():
                self._watchdog = threading.Thread(target=self._watch_loop, name="lenscribe-backend-watchdog",
                                                  daemon=True)
                self._watchdog.start()
            return key

    def _unwatch(self, key: int) -> None:
        with self._lock:
            self._watched.pop(key, None)

    def _watch_loop(self) -> None:
        while True:
            time.sleep(self.POLL_S)
            with self._lock:
                if self._closed:
                    return
                watches = list(self._watched.values())
            now = time.monotonic()
            for w in watches:
                if w.reason is not None:
                    continue
                if now > w.deadline:
                    w.reason = "timeout"
                elif not _alive(w.alive):
                    w.reason = "cancelled"
                else:
                    continue
                if w.sock is not None:
                    try:
                        w.sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once
                    except OSError:
                        pass

    def close(self) -> None:
        with self._lock:
            self._closed = True
            watches = list(self._watched.values())
        for w in watches:
            w.reason = w.reason or "cancelled"
            if w.sock is not None:
                try:
                    w.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def complete(self, msgs: list[dict[str, str]], max_tokens: int, alive: Callable[[], bool] = lambda: True) -> str:
        deadline = time.monotonic() + self.config.timeout
        # waiting for a slot counts against the deadline too, and a chunk edited away stops waiting
        while not self._slots.acquire(timeout=self.POLL_S):
            if self._closed or not _alive(alive):
                raise Cancelled("no longer wanted")
            if time.monotonic() > deadline:
                raise BackendError("timeout", f"no free request slot within {self.config.timeout:g}s")
        try:
            with self._lock:
                self.in_flight += 1
                self.requests += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self._request(msgs, max_tokens, alive, deadline)
        finally:
            with self._lock:
                self.in_flight -= 1
            self._slots.release()

    def _request(self, msgs: list[dict[str, str]], max_tokens: int, alive: Callable[[], bool],
                 deadline: float) -> str:
        body = json.dumps({"model": self.config.model, "messages": msgs, "temperature": 0, "max_tokens": max_tokens,
                           "stream": False}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key := self._api_key():
            headers["Authorization"] = f"Bearer {key}"
        conn_cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(self.host, self.port, timeout=max(0.1, deadline - time.monotonic()))
        w = _Watch(None, deadline, alive)
        handle = self._watch(w)
        try:
            try:
                conn.connect()
                w.sock = conn.sock
                if w.reason is not None:  # expired while connecting
                    raise OSError(w.reason)
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = bytearray()
                while chunk := resp.read(65536):
                    data += chunk
                    if len(data) > MAX_REPLY_BYTES:
                        raise BackendError("malformed", f"reply longer than {MAX_REPLY_BYTES} bytes")
                if w.reason is not None:  # the watchdog ended it: what was read is cut short
                    raise OSError(w.reason)
            except BackendError:
                raise
            except (OSError, http.client.HTTPException) as err:
                if w.reason == "cancelled":
                    raise Cancelled("no longer wanted") from None
                if w.reason == "timeout" or isinstance(err, TimeoutError):
                    raise BackendError("timeout", f"no complete reply within {self.config.timeout:g}s") from None
                if isinstance(err, ConnectionRefusedError):
                    raise BackendError("refused", f"connection refused by {self.host}:{self.port}") from None
                raise BackendError("connection", f"{type(err).__name__}: {err}") from None
        finally:
            self._unwatch(handle)
            conn.close()
        if resp.status >= 400:
            snippet = bytes(data[:200]).decode("utf-8", "replace").strip()
            raise BackendError("http", f"HTTP {resp.status} {resp.reason}: {snippet}")
        return _content(bytes(data))


def _alive(alive: Callable[[], bool]) -> bool:
    try:
        return bool(alive())
    except Exception:  # noqa: BLE001 - a broken predicate must not stop the watchdog
        return True


def _content(data: bytes) -> str:
    """choices[0].message.content of a chat completion; BackendError("malformed") for anything else."""
    try:
        reply = json.loads(data)
        content = reply["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise BackendError("malformed", f"not a chat completion: {data[:120]!r}") from None
    if not isinstance(content, str):
        raise BackendError("malformed", "the reply's content is not text")
    return content


@dataclass(frozen=True)
class BackendRequest:
    """One chunk for the backend: its code, language and kind, and whether anyone still wants it."""

    code: str
    language: str
    kind: str = "function"
    alive: Callable[[], bool] = lambda: True


class BackendSummarizer:
    """Chunks -> summaries through the server, each falling back to ``local`` (a function: codes -> summaries, or
    None while there is no local model) when the server fails it. Results are ``Written`` strings saying who wrote
    them; a fallback names the local model's cache key (``local_id()``) so it is cached there, never under
    ``summary_id``."""

    def __init__(self, config: BackendConfig, local: Callable[[], Callable[[list[str]], list[str]] | None],
                 local_id: Callable[[], str | None], prompt: Prompt = DEFAULT_PROMPT,
                 client: OpenAIClient | None = None) -> None:
        self.config = config
        self.prompt = prompt
        self.summary_id = config.summary_id(prompt)
        self.client = client or OpenAIClient(config)
        self._local = local
        self._local_id = local_id
        self._lock = threading.Lock()
        self.errors: dict[str, int] = {}  # kind of failure -> how many chunks fell back for it (logged once each)
        self.fallbacks = 0
        self.refused: dict[str, int] = {}  # replies clean_reply refused, by reason

    @property
    def name(self) -> str:
        return self.config.model

    def ask(self, request: BackendRequest) -> str:
        """The server's cleaned summary of one chunk; raises BackendError (kind "reply" for a refused reply)."""
        text = self.client.complete(messages(self.prompt, request.code, request.language, request.kind),
                                    self.prompt.max_tokens, request.alive)
        reply = clean_reply(sanitize_summary(text), self.prompt)  # a server's text is untrusted, as a model's
        if reply.text is None:
            with self._lock:
                self.refused[reply.refused or "?"] = self.refused.get(reply.refused or "?", 0) + 1
            raise BackendError("reply", f"reply refused ({reply.refused}): {text[:80]!r}")
        return reply.text

    def summarize(self, requests: list[Any]) -> list[str]:
        return [self.summarize_one(r) for r in requests]

    def summarize_one(self, request: Any) -> Written:
        if isinstance(request, str):
            request = BackendRequest(request, "")
        try:
            return Written(self.ask(request), self.name)
        except BackendError as err:
            self._report(err)
            return self.fallback(request.code, f"{err.kind}: {err}", request.alive)

    def fallback(self, code: str, reason: str, alive: Callable[[], bool] = lambda: True) -> Written:
        """The local model's summary, marked; waits (at most ``LOCAL_WAIT_S``) for a local model still loading."""
        deadline = time.monotonic() + LOCAL_WAIT_S
        while True:
            try:
                local, local_id = self._local(), self._local_id()
            except Exception as err:  # noqa: BLE001 - e.g. the local model failed to load
                raise BackendError("fallback", f"{reason}; and the local model is unavailable: {err}") from None
            if local is not None and local_id is not None:
                break
            if self.client._closed or not _alive(alive):
                raise Cancelled("no longer wanted")
            if time.monotonic() > deadline:
                raise BackendError("fallback", f"{reason}; and the local model is not loaded")
            time.sleep(0.05)
        with self._lock:
            self.fallbacks += 1
        return Written(local([code])[0], LOCAL_FALLBACK, summary_id=local_id, reason=reason)

    def _report(self, err: BackendError) -> None:
        with self._lock:
            first = err.kind not in self.errors
            self.errors[err.kind] = self.errors.get(err.kind, 0) + 1
        if first and err.kind != "reply":
            log.warning("summarizer backend %s (%s): %s; the local model summarizes instead (reported once)",
                        self.config.url, self.config.model, err)
        elif first:
            log.info("summarizer backend %s: %s; the local model summarizes such chunks", self.config.url, err)

    def stats(self) -> dict[str, Any]:
        c = self.client
        return {"url": self.config.url, "model": self.config.model, "summary_id": self.summary_id,
                "requests": c.requests, "in_flight": c.in_flight, "max_in_flight": c.max_in_flight,
                "max_concurrent": self.config.max_concurrent, "fallbacks": self.fallbacks,
                "errors": dict(self.errors), "refused": dict(self.refused)}

    def stop(self) -> None:
        self.client.close()
