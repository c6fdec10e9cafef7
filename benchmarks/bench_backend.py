"""Benchmark the summarizer backend beside the local model, same functions, same run (a script, not a test).

    PYTHONPATH=server:models:tests python benchmarks/bench_backend.py \
        --gguf .cache/teacher/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf [--n 40] [--threads 2] [--concurrency 1]
    ... --url URL --model NAME      (a server already running instead of --gguf)

Starts ``python -m llama_cpp.server`` on 127.0.0.1 with the GGUF (``--threads`` threads: 2 = this machine's cores;
or uses ``--url``/``--model``, a server already running), takes ``--n`` functions and classes of the repository's own
source (lenscribe.sources, as the server chunks them; the same ones for both), and summarizes each one:

- through the backend (``lenscribe.backend.BackendSummarizer``: the shared prompt, temperature 0, the clean-up), with
  ``--concurrency`` requests in flight, nothing cached;
- with the shipped local model (``Summarizer``, greedy), one chunk per call, on the same cores.

Prints per-summary latency p50/p95, summaries/s, how many of the server's replies the clean-up refused (those fall
back to the local model), and a few summaries of both side by side. Note the machine's load (``uptime``) with the
figures: a shared machine's other work slows both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def functions(n: int) -> list:
    from lenscribe.sources import ReadOptions, read_file

    out = []
    for path in sorted((ROOT / "server" / "lenscribe").rglob("*.py")):
        for c in read_file(path, ReadOptions(min_lines=4)).chunks:
            if 4 <= c.text.count("\n") <= 60:
                out.append(c)
    step = max(1, len(out) // n)
    return out[::step][:n]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def report(name: str, lat: list[float], wall: float) -> None:
    print(f"{name:<28} p50 {pct(lat, 0.5) * 1000:7.0f} ms   p95 {pct(lat, 0.95) * 1000:7.0f} ms   "
          f"{len(lat) / wall:6.2f} summaries/s   ({len(lat)} in {wall:.1f}s)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gguf", type=Path, help="a GGUF to serve with llama_cpp.server (e.g. the 0.5B teacher)")
    p.add_argument("--url", help="an OpenAI-compatible server already running (instead of --gguf)")
    p.add_argument("--model", default="qwen2.5-coder-0.5b", help="the model name (alias) to ask for")
    p.add_argument("--n", type=int, default=40, help="functions to summarize (default 40)")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp and onnxruntime threads (default 2)")
    p.add_argument("--concurrency", type=int, default=1, help="backend requests in flight (default 1)")
    p.add_argument("--show", type=int, default=5, help="summaries to print side by side")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per backend request (default 900)")
    args = p.parse_args()
    if not args.url and not args.gguf:
        p.error("--gguf or --url")

    from lenscribe.backend import BackendConfig, BackendRequest, BackendSummarizer
    from lenscribe.defaults import resolve_model_dir
    from lenscribe.summarizer import Summarizer
    from llama_server import LlamaServer  # tests/llama_server.py (PYTHONPATH): starts and stops llama_cpp.server

    chunks = functions(args.n)
    local = Summarizer.load(resolve_model_dir(None), threads=args.threads)
    server = None
    if args.url is None:
        server = LlamaServer(args.gguf, alias=args.model, threads=args.threads, log=Path(os.devnull))
        server.start()
        args.url = server.url
    try:
        backend = BackendSummarizer(
            BackendConfig(args.url, args.model, max_concurrent=args.concurrency, timeout=args.timeout),
            local=lambda: local.summarize, local_id=lambda: local.summary_id)
        print(f"{len(chunks)} functions of server/lenscribe; backend {args.model} at {args.url} "
              f"({args.threads} threads, {args.concurrency} in flight); local {local.summary_id}; "
              f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        backend.summarize_one(BackendRequest(chunks[0].text, chunks[0].language, chunks[0].kind))  # warm-up
        local.summarize([chunks[0].text])

        def through_backend(c) -> tuple[float, str]:
            t = time.perf_counter()
            text = backend.summarize_one(BackendRequest(c.text, c.language, c.kind))
            print(f"  backend {c.qualname}: {time.perf_counter() - t:.1f}s", file=sys.stderr, flush=True)
            return time.perf_counter() - t, text

        before = dict(backend.refused)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            remote = list(pool.map(through_backend, chunks))
        remote_wall = time.perf_counter() - started

        here: list[tuple[float, str]] = []
        started = time.perf_counter()
        for c in chunks:
            t = time.perf_counter()
            text = local.summarize([c.text])[0]
            here.append((time.perf_counter() - t, text))
        local_wall = time.perf_counter() - started

        report(f"backend {args.model}", [t for t, _ in remote], remote_wall)
        report(f"local {local.model_id[:20]}", [t for t, _ in here], local_wall)
        refused = {k: v - before.get(k, 0) for k, v in backend.refused.items() if v - before.get(k, 0)}
        fell_back = sum(1 for _, text in remote if getattr(text, "fallback", False))
        print(f"backend replies refused by the clean-up (fell back to the local model): {fell_back} {refused or ''}")
        print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for c, (_, r), (_, h) in list(zip(chunks, remote, here, strict=True))[: args.show]:
            print(f"\n{c.qualname}\n  backend: {r}\n  local:   {' '.join(h.split())}")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
