"""Benchmark the language server end to end, over stdio, as an editor sees it.

    .venv/bin/python benchmarks/bench_server.py [--model DIR] [--files 300] [--samples 40] [--workers 1] [--json]

Measures (each with a fresh, private cache dir):

- hover latency, cold: open a document with one new function and hover it at once (chunking + queue + model);
  warm: hover the same functions again (cache);
- code lens latency for a 500-line file: the first answer (pending titles), the time until every lens has its
  summary (refreshes), and a warm answer;
- workspace summarize: a few hundred generated files through ``lenscribe.summarizeWorkspace``: seconds and summaries/s;
- the server's peak RSS (VmHWM).

Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

VERBS = ["parse", "load", "merge", "count", "render", "split", "check", "build", "scale", "send", "find", "sort"]
NOUNS = ["items", "config", "users", "rows", "tokens", "matrix", "events", "paths", "names", "bytes", "nodes"]


def make_function(rng: random.Random, i: int, lines: int = 6) -> str:
    v, n = rng.choice(VERBS), rng.choice(NOUNS)
    body = ["    result = []", f"    for x in {n}:"]
    for j in range(max(1, lines - 4)):
        body.append(f"        if x > {rng.randint(0, 99)}:  # step {j}\n            result.append(x * {i + j})")
    body.append("    return result")
    return f"def {v}_{n}_{i}({n}, limit={rng.randint(1, 9)}):\n" + "\n".join(body)


def make_file(rng: random.Random, start: int, functions: int, lines_each: int = 6) -> str:
    return "import os\n\n\n" + "\n\n\n".join(make_function(rng, start + k, lines_each) for k in range(functions)) + "\n"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.client = LanguageClient("lenscribe-bench", "1")
        self.refreshes = 0
        self.refreshed = asyncio.Event()

        @self.client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def _refresh(params: Any) -> None:
            self.refreshes += 1
            self.refreshed.set()

        @self.client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def _create(params: Any) -> None:
            return None

        @self.client.feature(types.PROGRESS)
        def _progress(params: Any) -> None:
            pass

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: Any) -> None:
            pass

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams) -> None:
            print(f"server says: {params.message}", file=sys.stderr)

    async def start(self) -> None:
        root = self.workdir / "ws"
        root.mkdir(exist_ok=True)
        await self.client.start_io(sys.executable, "-m", "lenscribe", "serve")
        caps = types.ClientCapabilities(
            workspace=types.WorkspaceClientCapabilities(
                code_lens=types.CodeLensWorkspaceClientCapabilities(refresh_support=True)),
            window=types.WindowClientCapabilities(work_done_progress=True),
        )
        options = {"modelDir": str(self.args.model), "cacheDir": str(self.workdir / "cache"),
                   "workspaceOnOpen": False, "debounceMs": 100, "hoverTimeoutMs": 60_000, "lensRefreshMs": 50,
                   "maxFileLines": 100_000, "maxFileBytes": 50_000_000}
        if self.args.workers:
            options["workers"] = self.args.workers
        await self.client.initialize_async(types.InitializeParams(
            capabilities=caps, root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
            initialization_options={"lenscribe": options}))
        self.client.initialized(types.InitializedParams())
        await self.wait(lambda s: s["model"]["state"] in ("ready", "error"))
        s = await self.stats()
        if s["model"]["state"] != "ready":
            raise SystemExit(f"model not usable: {s['model']['error']}")
        self.model = s["model"]

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await asyncio.wait_for(self.client._server.wait(), 10)  # type: ignore[union-attr]
        await self.client.stop()

    async def stats(self) -> dict[str, Any]:
        return await self.client.workspace_execute_command_async(types.ExecuteCommandParams(command="lenscribe.stats"))

    async def wait(self, pred, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            s = await self.stats()
            if pred(s):
                return s
            if time.monotonic() > deadline:
                raise TimeoutError(str(s))
            await asyncio.sleep(0.02)

    async def idle(self) -> dict[str, Any]:
        return await self.wait(lambda s: s["queue"]["queued"] == 0 and s["queue"]["running"] == 0)

    def open(self, name: str, text: str) -> str:
        uri = (self.workdir / "ws" / name).as_uri()
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        return uri

    async def hover(self, uri: str, line: int, col: int) -> types.Hover | None:
        return await self.client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=col)))

    async def lenses(self, uri: str) -> list[types.CodeLens]:
        return await self.client.text_document_code_lens_async(types.CodeLensParams(
            text_document=types.TextDocumentIdentifier(uri=uri))) or []

    # -------------------------------------------------------------------------------------------- measurements

    async def bench_hover(self, rng: random.Random) -> dict[str, Any]:
        cold, warm, uris = [], [], []
        for i in range(self.args.samples):
            text = make_function(rng, 10_000 + i) + "\n"
            t = time.perf_counter()
            uri = self.open(f"hover_{i}.py", text)
            h = await self.hover(uri, 1, 4)
            cold.append(time.perf_counter() - t)
            assert h is not None and "summarizing" not in h.contents.value, h  # type: ignore[union-attr]
            uris.append(uri)
        await self.idle()
        for uri in uris:
            t = time.perf_counter()
            await self.hover(uri, 1, 4)
            warm.append(time.perf_counter() - t)
        return {"cold_p50_ms": 1000 * pct(cold, 0.5), "cold_p95_ms": 1000 * pct(cold, 0.95),
                "warm_p50_ms": 1000 * pct(warm, 0.5), "warm_p95_ms": 1000 * pct(warm, 0.95), "samples": len(cold)}

    async def bench_lenses(self, rng: random.Random) -> dict[str, Any]:
        # ~500 lines: 30 functions of ~16 lines
        text = make_file(rng, 20_000, 30, lines_each=9)
        lines = text.count("\n")
        self.refreshed.clear()
        t = time.perf_counter()
        uri = self.open("lenses.py", text)
        first = await self.lenses(uri)
        first_s = time.perf_counter() - t
        while True:  # until every lens has its summary
            lenses = await self.lenses(uri)
            if lenses and all("summarizing" not in (ls.command.title if ls.command else "") for ls in lenses):
                break
            self.refreshed.clear()
            try:
                await asyncio.wait_for(self.refreshed.wait(), 60)
            except TimeoutError:
                pass
        complete_s = time.perf_counter() - t
        warm = []
        for _ in range(10):
            t = time.perf_counter()
            await self.lenses(uri)
            warm.append(time.perf_counter() - t)
        return {"lines": lines, "lenses": len(first), "first_answer_ms": 1000 * first_s,
                "all_summarized_ms": 1000 * complete_s, "warm_p50_ms": 1000 * pct(warm, 0.5)}

    async def bench_workspace(self, rng: random.Random) -> dict[str, Any]:
        root = self.workdir / "ws" / "proj"
        n_files, per_file = self.args.files, self.args.functions
        for i in range(n_files):
            (root / f"pkg{i % 10}").mkdir(parents=True, exist_ok=True)
            (root / f"pkg{i % 10}" / f"mod_{i}.py").write_text(make_file(rng, 100_000 + i * per_file, per_file))
        before = await self.stats()
        t = time.perf_counter()
        report = await self.client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="lenscribe.summarizeWorkspace"))
        seconds = time.perf_counter() - t
        after = await self.stats()
        summarized = after["chunks_summarized"] - before["chunks_summarized"]
        return {"files": report["files"], "chunks": report["chunks"], "summarized": summarized,
                "seconds": seconds, "summaries_per_s": summarized / seconds if seconds else float("nan"),
                "batches": after["model_runs"] - before["model_runs"]}

    async def run(self) -> dict[str, Any]:
        rng = random.Random(self.args.seed)
        await self.start()
        out: dict[str, Any] = {"model": self.model["id"], "model_load_s": self.model["load_seconds"],
                               "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}
        try:
            out["hover"] = await self.bench_hover(rng)
            out["code_lens_500_lines"] = await self.bench_lenses(rng)
            out["workspace"] = await self.bench_workspace(rng)
            s = await self.stats()
            out["workers"] = s["queue"]["workers"]
            out["batch_size"] = s["queue"]["batch_size"]
            out["peak_rss_mb"] = peak_rss_mb(self.client._server.pid)  # type: ignore[union-attr]
        finally:
            await self.stop()
        return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--files", type=int, default=300, help="generated workspace files (default 300)")
    p.add_argument("--functions", type=int, default=5, help="functions per workspace file (default 5)")
    p.add_argument("--samples", type=int, default=40, help="hover samples (default 40)")
    p.add_argument("--workers", type=int, default=None, help="server workers (default: the server's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON only")
    args = p.parse_args(argv)
    from lenscribe.defaults import resolve_model_dir

    args.model = resolve_model_dir(args.model)
    with tempfile.TemporaryDirectory(prefix="lenscribe-bench-") as tmp:
        result = asyncio.run(Bench(args, Path(tmp)).run())
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    h, lens, ws = result["hover"], result["code_lens_500_lines"], result["workspace"]
    print(f"model {result['model']} (loaded in {result['model_load_s']:.2f}s), {result['cpus']} cpus, "
          f"{result['workers']} worker(s), batch {result['batch_size']}")
    print(f"hover cold  p50 {h['cold_p50_ms']:7.1f} ms  p95 {h['cold_p95_ms']:7.1f} ms  ({h['samples']} samples)")
    print(f"hover warm  p50 {h['warm_p50_ms']:7.1f} ms  p95 {h['warm_p95_ms']:7.1f} ms")
    print(f"code lens ({lens['lines']} lines, {lens['lenses']} lenses): first answer {lens['first_answer_ms']:.1f} ms, "
          f"all summarized {lens['all_summarized_ms']:.0f} ms, warm {lens['warm_p50_ms']:.1f} ms")
    print(f"workspace: {ws['files']} files, {ws['chunks']} chunks, {ws['summarized']} summarized in "
          f"{ws['seconds']:.2f}s = {ws['summaries_per_s']:.1f} summaries/s ({ws['batches']} batches)")
    print(f"server peak RSS {result['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
