"""`codesum summarize PATH... [--json]`: chunk files and print each function/class with its summary, no editor needed."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from codesum.defaults import default_model_dir

MAX_FILE_BYTES = 2_000_000
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", "build", "dist"}


@dataclass
class FileChunks:
    path: Path
    chunks: list
    error: str | None = None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summarize", help="summarize every function and class of files or directories")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.add_argument("--min-lines", type=int, default=2, help="skip chunks shorter than this (default 2)")
    p.add_argument("--beams", type=int, default=1, help="beam width (1 = greedy, fastest)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    p.set_defaults(func=run)


def iter_files(paths: list[Path]):
    from codesum.chunking import language_for_path

    for root in paths:
        if root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
                for name in sorted(filenames):
                    path = Path(dirpath) / name
                    if language_for_path(path):
                        yield path
        else:
            yield root


def read_chunks(path: Path, min_lines: int) -> FileChunks:
    from codesum.chunking import ChunkingError, chunk_text, language_for_path

    language = language_for_path(path)
    if language is None:
        return FileChunks(path, [], "unknown language")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return FileChunks(path, [], f"larger than {MAX_FILE_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as e:
        return FileChunks(path, [], str(e.strerror or e))
    if b"\0" in raw[:8192]:
        return FileChunks(path, [], "binary file")
    text = raw.decode("utf-8", errors="replace")
    try:
        return FileChunks(path, chunk_text(text, language, min_lines=min_lines))
    except ChunkingError as e:
        return FileChunks(path, [], str(e))


def run(args: argparse.Namespace) -> int:
    from codesum.summarizer import GenerationOptions, ModelError, Summarizer

    model_dir = args.model or default_model_dir()
    try:
        summarizer = Summarizer.load(
            model_dir,
            threads=args.threads,
            options=GenerationOptions(num_beams=args.beams, max_new_tokens=args.max_new_tokens),
        )
    except ModelError as e:
        print(f"codesum: {e}", file=sys.stderr)
        return 2
    files = [read_chunks(p, args.min_lines) for p in iter_files(args.paths)]
    for f in files:
        if f.error:
            print(f"codesum: skipped {f.path}: {f.error}", file=sys.stderr)
    all_chunks = [c for f in files for c in f.chunks]
    started = time.perf_counter()
    summaries = summarizer.summarize([c.text for c in all_chunks]) if all_chunks else []
    elapsed = time.perf_counter() - started
    by_chunk = dict(zip((id(c) for c in all_chunks), summaries))
    if args.json:
        out = [
            {
                "path": str(f.path),
                "language": c.language,
                "kind": c.kind,
                "name": c.qualname,
                "start_line": c.start[0] + 1,
                "end_line": c.end[0] + 1,
                "summary": by_chunk[id(c)],
            }
            for f in files
            for c in f.chunks
        ]
        json.dump({"model": summarizer.model_id, "chunks": out}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for f in files:
            if not f.chunks:
                continue
            print(f.path)
            for c in f.chunks:
                print(f"  {c.start[0] + 1}-{c.end[0] + 1}  {c.kind} {c.qualname}")
                for line in (by_chunk[id(c)] or "(no summary)").splitlines():
                    print(f"      {line}")
        if all_chunks:
            print(f"{len(all_chunks)} chunks in {elapsed:.2f}s ({summarizer.model_id})", file=sys.stderr)
    return 0
