"""A small OpenAI-compatible chat server on 127.0.0.1 (the standard library's http.server) that misbehaves on request:
the exact failures a summarizer backend must survive, which a real server cannot be made to produce on cue.

    with FakeOpenAI() as srv:            # srv.url: http://127.0.0.1:PORT/v1
        srv.mode = "ok" | "http500" | "http404" | "malformed" | "slow" | "endless" | "hold" | "code" | "evil"
        srv.requests                     # the JSON bodies received (and srv.headers their headers)
        srv.max_concurrent               # the most requests it had open at once
        srv.release.set()                # "hold": answer the held requests

``closed_port()`` is a loopback port nobody listens on (connection refused).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(content: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "model": "fake",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}]}).encode()


def reply_for(body: dict[str, Any]) -> str:
    """The fake model's answer: names the first line of the code it was shown, so a test can tell chunks apart."""
    user = body["messages"][-1]["content"]
    code = user.split("```\n", 1)[1]
    return f"This function handles {code.splitlines()[0].strip().rstrip(':')!r} carefully."


class FakeOpenAI:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self.open = 0
        self.max_concurrent = 0
        self.aborted = 0  # "hold" requests whose client went away before the answer
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append(dict(self.headers))
                    fake.open += 1
                    fake.max_concurrent = max(fake.max_concurrent, fake.open)
                    self.counted = True
                try:
                    fake.answer(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    fake._closed(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        mode = self.mode
        if h.path != "/v1/chat/completions":
            return self._send(h, 404, b'{"error": "not found"}')
        if mode in ("http500", "http404"):
            return self._send(h, int(mode[4:]), b'{"error": {"message": "boom"}}')
        if mode == "malformed":
            return self._send(h, 200, b'{"choices": [')
        if mode == "evil":  # bidi override, zero-width space, a markdown link
            return self._send(h, 200, completion("Reads the \u202efile\u200b at [path](command:evil.run)."))
        if mode == "code":
            return self._send(h, 200, completion("```python\ndef f():\n    pass\n```"))
        if mode == "slow":
            time.sleep(3.0)
        if mode == "hold":
            while not self.release.wait(0.05):
                if _peer_closed(h.connection):
                    with self._lock:
                        self.aborted += 1
                    return None
        if mode == "endless":  # a chunked body that never ends
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            piece = b" " * 512
            for _ in range(100_000):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                h.wfile.flush()
                time.sleep(0.01)
            return None
        return self._send(h, 200, completion(reply_for(body)))

    def _closed(self, h: BaseHTTPRequestHandler) -> None:
        """A request stops counting as open once; before its answer goes out, since the client may send its next
        request as soon as it has read the answer, before this handler's thread runs again."""
        with self._lock:
            if getattr(h, "counted", False):
                h.counted = False  # type: ignore[attr-defined]
                self.open -= 1

    def _send(self, h: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
        self._closed(h)
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _peer_closed(sock: socket.socket) -> bool:
    """Has the client closed or shut down its end (a read would see EOF)?"""
    import select

    r, _, _ = select.select([sock], [], [], 0)
    if not r:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
