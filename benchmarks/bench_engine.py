"""Benchmark the run-time engine on any model directory (a script, not a test).

    python benchmarks/bench_engine.py [--model DIR] [--repeat 5]

Prints: encoder ms at 256 and 512 input tokens, ms per decoded token (cached decoder step), end-to-end ms for a
40-line function, summaries/s at 1, 2 and 4 workers (one chunk per call), summaries/s of one worker handed batches
of ``--batch`` chunks per call (as the server's scheduler does), peak RSS and model size on disk.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lenscribe.decoding import GenerationOptions
from lenscribe.defaults import resolve_model_dir
from lenscribe.generation import default_intra_op_threads
from lenscribe.summarizer import Summarizer

FUNCTION_40 = '''def load_config(path, defaults=None, env=None):
    settings = dict(defaults or {})
    env = env if env is not None else {}
    if not path:
        return settings
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise ValueError(f"{path}:{number}: expected key = value")
            key, value = (part.strip() for part in line.split("=", 1))
            if value.startswith("$"):
                value = env.get(value[1:], "")
            if value.lower() in ("true", "yes", "on"):
                value = True
            elif value.lower() in ("false", "no", "off"):
                value = False
            else:
                try:
                    value = int(value)
                except ValueError:
                    try:
                        value = float(value)
                    except ValueError:
                        pass
            if key in settings and isinstance(settings[key], list):
                settings[key].append(value)
            else:
                settings[key] = value
    for key, value in env.items():
        if key.startswith("APP_"):
            settings[key[4:].lower()] = value
    missing = [k for k in ("name", "port") if k not in settings]
    if missing:
        raise KeyError("missing settings: " + ", ".join(missing))
    settings["port"] = int(settings["port"])
    settings["loaded_from"] = str(path)
    return settings
'''


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.2f} ms (p50 of {len(samples)})"


def bench_encoder(s: Summarizer, tokens: int, repeat: int) -> list[float]:
    ids = np.full((1, tokens), 500, dtype=np.int64)
    ids[0, 0], ids[0, -1] = 1, 2
    mask = np.ones_like(ids)
    s.generator.encode(ids, mask)  # warm up
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        s.generator.encode(ids, mask)
        out.append(time.perf_counter() - t)
    return out


def bench_decoder_step(s: Summarizer, repeat: int, steps: int = 32) -> list[float]:
    g = s.generator
    cross, mask = g._encode_each([s.encode(FUNCTION_40)[0]])
    out = []
    for _ in range(repeat):
        start = np.full((1, 1), g.arch.decoder_start_token_id, dtype=np.int64)
        logits, past = g._step(start, cross, mask, None)
        t = time.perf_counter()
        for _ in range(steps):
            nxt = logits[:, -1, :].argmax(-1).astype(np.int64).reshape(-1, 1)
            logits, past = g._step(nxt, cross, mask, past)
        out.append((time.perf_counter() - t) / steps)
    return out


def bench_end_to_end(s: Summarizer, repeat: int) -> tuple[list[float], str]:
    summary = s.summarize([FUNCTION_40])[0]
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        s.summarize([FUNCTION_40])
        out.append(time.perf_counter() - t)
    return out, summary


def variants(n: int) -> list[str]:
    return [FUNCTION_40.replace("load_config", f"load_config_{i}") for i in range(n)]


def bench_workers(model_dir: Path, workers: int, n: int, opts: GenerationOptions) -> float:
    s = Summarizer.load(model_dir, threads=default_intra_op_threads(workers), options=opts)
    codes = variants(n)
    s.summarize(codes[:1])
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda c: s.summarize([c]), codes))
    return n / (time.perf_counter() - t)


def bench_batched(model_dir: Path, batch: int, n: int, opts: GenerationOptions) -> float:
    """One worker, ``batch`` chunks per summarize() call (the server's scheduler hands out batches like this)."""
    s = Summarizer.load(model_dir, threads=default_intra_op_threads(1), options=opts)
    codes = [FUNCTION_40.replace("load_config", f"load_config_{i}")[: 400 + 40 * (i % 8)] for i in range(n)]
    s.summarize(codes[:1])
    t = time.perf_counter()
    for start in range(0, n, batch):
        s.summarize(codes[start : start + batch])
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--throughput-n", type=int, default=16, help="summaries per worker-count run")
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8, help="chunks per summarize() call for the batched line")
    ap.add_argument("--only-throughput", action="store_true", help="only the throughput lines")
    args = ap.parse_args()
    model_dir = resolve_model_dir(args.model)
    opts = GenerationOptions(num_beams=args.beams)
    s = Summarizer.load(model_dir, options=opts)
    files = s.manifest.files
    size = sum(f["size"] for f in files.values())
    print(f"model            {s.model_id}  ({model_dir})")
    per_file = ", ".join(f"{k}={v['size'] / 1e6:.1f}MB" for k, v in files.items())
    print(f"size on disk     {size / 1e6:.1f} MB  " + per_file)
    print(f"threads          {s.generator.encoder.get_session_options().intra_op_num_threads} intra-op")
    rate = bench_batched(model_dir, args.batch, args.throughput_n, opts)
    print(f"throughput       {rate:6.2f} summaries/s with 1 worker, {args.batch} chunks per call")
    if args.only_throughput:
        return
    for tokens in (256, 512):
        if tokens <= s.manifest.architecture.max_input_tokens:
            print(f"encoder {tokens:>3} tok  {ms(bench_encoder(s, tokens, args.repeat))}")
    print(f"decoder step     {ms(bench_decoder_step(s, args.repeat))} per token (KV cache)")
    e2e, summary = bench_end_to_end(s, args.repeat)
    print(f"40-line function {ms(e2e)} end to end ({len(s.encode(FUNCTION_40)[0])} input tokens)")
    print(f"  summary: {summary!r}")
    for workers in (1, 2, 4):
        rate = bench_workers(model_dir, workers, args.throughput_n, opts)
        print(f"throughput       {rate:6.2f} summaries/s with {workers} worker(s)")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS         {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
