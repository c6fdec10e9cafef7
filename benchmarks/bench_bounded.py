"""Bounded work (issue 24, items 4-5): deeply nested definitions and one huge minified document.

    PYTHONPATH=server python benchmarks/bench_bounded.py nested OUT.js [--functions 5000]
        writes OUT.js: N nested JS functions (5,000: 104 KB), for
        /usr/bin/time -v lenscribe summarize --no-cache OUT.js
    PYTHONPATH=server python benchmarks/bench_bounded.py minified [--mb 20]
        chunks N MB of one-line JS with the server's read options (maxFileBytes raised to fit) while a second thread
        ticks every millisecond, as the server's event loop would: prints the chunking time, what became of the
        document, the longest the ticking thread was held (the GIL) and the peak RSS.

    PYTHONPATH=server python benchmarks/bench_bounded.py server [--mb 20]
        the language server over stdio (maxFileBytes 64 MiB): opens a small document, then N MB of minified JS, and
        at once hovers the small one and opens and hovers a third: the two hover latencies and the peak RSS (VmHWM)
    PYTHONPATH=server python benchmarks/bench_bounded.py reinit [--times 40]
        the language server after N more ``initialize`` requests: their answers, its threads and RSS

    PYTHONPATH=server python benchmarks/bench_bounded.py init --bundle FILE.csb
        the language server's initialize round trip with LENSCRIBE_CACHE_BUNDLE=FILE.csb and a fresh cache (issue 24,
        item 8: a 1e6-entry bundle was imported inside initialize)

Run it on two checkouts (e.g. ``git archive REV server | tar -x -C /tmp/old``, then PYTHONPATH=/tmp/old/server) to
compare.  Timings depend on the machine and its load: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PART = "function a%d(b,c){var d=b+c;if(d>1){return d*2}else{return [1,2,3].map(function(x){return x+d})}};"


def nested_js(n: int) -> str:
    return "".join(f"function f{i:04d}() {{\n" for i in range(n)) + "}\n" * n


def minified(mb: float) -> None:
    from lenscribe.settings import Settings
    from lenscribe.sources import ReadOptions, read_text

    count = int(mb * 1e6 / (len(PART) + 4))
    text = "".join(PART % i for i in range(count))
    options = ReadOptions.from_settings(Settings(max_file_bytes=64 << 20))
    gaps: list[float] = []
    done = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    started = time.perf_counter()
    try:
        src = read_text(text, options, path="big.min.js")
    finally:
        seconds = time.perf_counter() - started
        done.set()
        ticker.join()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(text) / 1e6:.1f} MB: {seconds:.1f}s, {len(src.chunks)} chunks, skipped: {src.skipped}; "
          f"longest hold of the other thread {max(gaps, default=0):.2f}s; peak RSS {rss:.0f} MiB")


class Peer:
    """A bare LSP client over the server's stdio (requests the server sends are answered with null)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "lenscribe", "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next_id = 0

    def send(self, msg: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        out = self.proc.stdout
        assert out is not None
        length = 0
        while (line := out.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(out.read(length))

    def call(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = self.read()
            if "method" in msg and "id" in msg:
                self.send({"id": msg["id"], "result": None})
            elif msg.get("id") == self.next_id:
                return msg

    def open(self, path: Path, text: str, language: str) -> str:
        uri = path.as_uri()
        self.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": language, "version": 1, "text": text}}})
        return uri

    def hover_seconds(self, uri: str) -> float:
        started = time.perf_counter()
        self.call("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}})
        return time.perf_counter() - started

    def status(self, key: str) -> str:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
        return "?"

    def start(self, cache: Path) -> None:
        self.call("initialize", {"processId": os.getpid(), "capabilities": {}, "initializationOptions": {
            "lenscribe": {"cacheDir": str(cache), "maxFileBytes": 64 << 20, "workspaceOnOpen": False}}})
        self.send({"method": "initialized", "params": {}})

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def server(mb: float) -> None:
    small = "def add(a, b):\n    return a + b\n"
    with tempfile.TemporaryDirectory() as tmp:
        peer = Peer()
        try:
            peer.start(Path(tmp) / "cache")
            a = peer.open(Path(tmp) / "a.py", small, "python")
            print(f"hover a.py, first (model load): {peer.hover_seconds(a):.2f}s")
            big = "".join(PART % i for i in range(int(mb * 1e6 / (len(PART) + 4))))
            started = time.perf_counter()
            b = peer.open(Path(tmp) / "big.min.js", big, "javascript")
            time.sleep(0.5)  # the big document is being chunked
            print(f"hover a.py while {len(big) / 1e6:.1f} MB chunk: {peer.hover_seconds(a):.2f}s")
            c = peer.open(Path(tmp) / "c.py", small.replace("add", "sub").replace("+", "-"), "python")
            print(f"open and hover c.py: {peer.hover_seconds(c):.2f}s")
            while True:
                docs = peer.call("workspace/executeCommand", {"command": "lenscribe.stats"})["result"]["documents"]
                if b in docs or time.perf_counter() - started > 600:
                    break
                time.sleep(0.5)
            print(f"big.min.js done after {time.perf_counter() - started:.1f}s: {docs.get(b)}; "
                  f"server VmHWM {peer.status('VmHWM')}, VmRSS {peer.status('VmRSS')}")
        finally:
            peer.close()


def reinit(times: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        peer = Peer()
        try:
            peer.start(Path(tmp) / "cache")
            time.sleep(2)
            print(f"after initialize: threads {peer.status('Threads')}, VmRSS {peer.status('VmRSS')}, "
                  f"fds {len(os.listdir(f'/proc/{peer.proc.pid}/fd'))}")
            answers = [peer.call("initialize", {"processId": os.getpid(), "capabilities": {}}) for _ in range(times)]
            time.sleep(2)
            errors = sorted({str(a.get("error", {}).get("code")) for a in answers})
            print(f"after {times} more: answers {errors}; threads {peer.status('Threads')}, "
                  f"VmRSS {peer.status('VmRSS')}, fds {len(os.listdir(f'/proc/{peer.proc.pid}/fd'))}")
        finally:
            peer.close()


def init(bundle: Path) -> None:
    os.environ["LENSCRIBE_CACHE_BUNDLE"] = str(bundle)
    with tempfile.TemporaryDirectory() as tmp:
        peer = Peer()
        try:
            started = time.perf_counter()
            peer.start(Path(tmp) / "cache")
            print(f"initialize answered after {time.perf_counter() - started:.2f}s")
        finally:
            peer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    n = sub.add_parser("nested")
    n.add_argument("out", type=Path)
    n.add_argument("--functions", type=int, default=5000)
    m = sub.add_parser("minified")
    m.add_argument("--mb", type=float, default=20.0)
    sv = sub.add_parser("server")
    sv.add_argument("--mb", type=float, default=20.0)
    r = sub.add_parser("reinit")
    r.add_argument("--times", type=int, default=40)
    i = sub.add_parser("init")
    i.add_argument("--bundle", type=Path, required=True)
    args = ap.parse_args()
    if args.what == "init":
        init(args.bundle)
    elif args.what == "nested":
        args.out.write_text(nested_js(args.functions))
        print(f"wrote {args.out}: {args.out.stat().st_size} bytes")
    elif args.what == "minified":
        minified(args.mb)
    elif args.what == "server":
        server(args.mb)
    else:
        reinit(args.times)


if __name__ == "__main__":
    main()
