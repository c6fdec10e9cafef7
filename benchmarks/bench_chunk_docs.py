"""What looking for docs costs the chunker: chunk_text with docs off and on, on a few big files.

    python benchmarks/bench_chunk_docs.py [FILE...] [--runs 50]

Default files: the chunker's own languages.py and the VS Code client's extension.ts.  Each file is chunked ``--runs``
times each way, with the server's settings (min_lines 2, max_chars 6000), in ``--rounds`` interleaved rounds after a
warm-up; the best round each way is printed, in CPU seconds of this process (wall time on a shared machine is mostly
other processes' noise).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lenscribe.chunking import chunk_text, language_for_path
from lenscribe.sources import ReadOptions

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [REPO / "server" / "lenscribe" / "chunking" / "languages.py",
                 REPO / "client-vscode" / "src" / "extension.ts"]


def _time(text: str, language: str, runs: int, docs: bool) -> float:
    options = ReadOptions()
    started = time.process_time()
    for _ in range(runs):
        chunk_text(text, language, min_lines=options.min_lines, max_chars=options.max_chars, docs=docs)
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"{'file':<40} {'KB':>6} {'chunks':>6} {'docs':>5} {'off s':>7} {'on s':>7} {'saved':>6}  (CPU s, "
          f"{args.runs} runs, best of {args.rounds})")
    for path in args.files:
        language = language_for_path(path)
        if language is None:
            print(f"{path}: unknown language")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        chunks = chunk_text(text, language, docs=True)  # warm-up: grammar, query, parser
        off = on = float("inf")
        for _ in range(args.rounds):
            off = min(off, _time(text, language, args.runs, docs=False))
            on = min(on, _time(text, language, args.runs, docs=True))
        print(f"{path.name[:40]:<40} {len(text.encode()) / 1024:>6.0f} {len(chunks):>6} "
              f"{sum(1 for c in chunks if c.doc):>5} {off:>7.3f} {on:>7.3f} {1 - off / on:>6.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
