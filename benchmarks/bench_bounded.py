"""Bounded work (issue 24, items 4-5): deeply nested definitions and one huge minified document.

    PYTHONPATH=server python benchmarks/bench_bounded.py nested OUT.js [--functions 5000]
        writes OUT.js: N nested JS functions (5,000: 104 KB), for
        /usr/bin/time -v lenscribe summarize --no-cache OUT.js
    PYTHONPATH=server python benchmarks/bench_bounded.py minified [--mb 20]
        chunks N MB of one-line JS with the server's read options (maxFileBytes raised to fit) while a second thread
        ticks every millisecond, as the server's event loop would: prints the chunking time, what became of the
        document, the longest the ticking thread was held (the GIL) and the peak RSS.

Run it on two checkouts (e.g. ``git archive REV server | tar -x -C /tmp/old``, then PYTHONPATH=/tmp/old/server) to
compare.  Timings depend on the machine and its load: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from pathlib import Path

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    n = sub.add_parser("nested")
    n.add_argument("out", type=Path)
    n.add_argument("--functions", type=int, default=5000)
    m = sub.add_parser("minified")
    m.add_argument("--mb", type=float, default=20.0)
    args = ap.parse_args()
    if args.what == "nested":
        args.out.write_text(nested_js(args.functions))
        print(f"wrote {args.out}: {args.out.stat().st_size} bytes")
    else:
        minified(args.mb)


if __name__ == "__main__":
    main()
