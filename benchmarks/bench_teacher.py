"""How fast the teacher labels: items/s, prompt and generated tokens/s, per teacher x prompt x knob.

    PYTHONPATH=models:server python benchmarks/bench_teacher.py --data .cache/data-all/valid.jsonl -n 24 \\
        --teacher q15=.cache/teacher/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        [--teacher q05=...0.5b...gguf] [--prompt specific-v2 --prompt plain-v2] [--threads 2 --threads 1] \\
        [--code-chars 3000 --code-chars 1500] [--procs 1 --procs 2] [--json OUT.json]

The same ``-n`` functions (a fixed sample of the file, languages in turn) go through every combination, one
combination after the other, each in a fresh process so one model's memory and KV cache do not help the next; the
first item of each combination is a warm-up and not counted. ``--procs 2`` runs two teacher processes side by side,
each with ``threads / 2`` threads on half of the items: llama-cpp-python's high-level API decodes one sequence at a
time, so this is how two sequences share the CPU. Not a timed test: figures depend on the machine and its load
(``uptime`` is printed with them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import random
import time
from pathlib import Path


def sample(path: Path, n: int, seed: int = 0) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_lang: dict[str, list[dict]] = {}
    for r in rows:
        by_lang.setdefault(r["language"], []).append(r)
    rng = random.Random(seed)
    for rs in by_lang.values():
        rng.shuffle(rs)
    out: list[dict] = []
    i = 0
    while len(out) < n and any(i < len(rs) for rs in by_lang.values()):
        out += [rs[i] for rs in by_lang.values() if i < len(rs)]
        i += 1
    return out[:n]


def _run(args: tuple[str, str, int, int, list[dict]]) -> dict:  # code_chars 0: the prompt's own cut
    gguf, prompt_id, threads, code_chars, items = args
    from lenscribe.prompts import PROMPTS
    from lenscribe_training.teacher.runner import Teacher

    prompt = PROMPTS[prompt_id]
    prompt = dataclasses.replace(prompt, max_code_chars=code_chars or prompt.max_code_chars)
    teacher = Teacher.open(Path(gguf), threads)
    teacher.ask(prompt, items[0]["code"], items[0]["language"])  # warm-up
    t0 = time.perf_counter()
    ptok = gtok = refused = 0
    for it in items[1:]:
        a = teacher.ask(prompt, it["code"], it["language"])
        ptok += a.prompt_tokens
        gtok += a.gen_tokens
        refused += a.reply.text is None
    dt = time.perf_counter() - t0
    teacher.close()
    return {"n": len(items) - 1, "seconds": dt, "prompt_tokens": ptok, "gen_tokens": gtok, "refused": refused}


def combo(gguf: str, prompt_id: str, threads: int, code_chars: int, procs: int, items: list[dict]) -> dict:
    ctx = multiprocessing.get_context("spawn")
    per = max(1, threads // procs)
    parts = [items[i::procs] for i in range(procs)]
    t0 = time.perf_counter()
    with ctx.Pool(procs) as pool:
        res = pool.map(_run, [(gguf, prompt_id, per, code_chars, [items[0], *p]) for p in parts])
    wall = time.perf_counter() - t0
    n = sum(r["n"] for r in res)
    busy = max(r["seconds"] for r in res)
    return {"items": n, "items_per_s": n / busy, "s_per_item": busy / n,
            "prompt_tok_per_s": sum(r["prompt_tokens"] for r in res) / busy,
            "gen_tok_per_s": sum(r["gen_tokens"] for r in res) / busy,
            "mean_prompt_tokens": sum(r["prompt_tokens"] for r in res) / n,
            "mean_gen_tokens": sum(r["gen_tokens"] for r in res) / n,
            "refused": sum(r["refused"] for r in res), "wall_s_with_load": wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="a jsonl of functions (language, code)")
    ap.add_argument("-n", type=int, default=24)
    ap.add_argument("--teacher", action="append", required=True, help="NAME=GGUF")
    ap.add_argument("--prompt", action="append", default=None)
    ap.add_argument("--threads", action="append", type=int, default=None)
    ap.add_argument("--code-chars", action="append", type=int, default=None)
    ap.add_argument("--procs", action="append", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    from lenscribe.prompts import DEFAULT_PROMPT

    items = sample(a.data, a.n + 1)
    rows = []
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average), {len(items) - 1} items, {os.cpu_count()} CPUs")
    print(f"{'teacher':<8} {'prompt':<12} {'thr':>3} {'code':>5} {'procs':>5} {'items/s':>8} {'s/item':>7} "
          f"{'prompt t/s':>10} {'gen t/s':>8} {'p tok':>6} {'g tok':>6} {'refused':>7}")
    for spec in a.teacher:
        name, _, gguf = spec.partition("=")
        for prompt_id in a.prompt or [DEFAULT_PROMPT.id]:
            for threads in a.threads or [2]:
                for chars in a.code_chars or [0]:  # 0: the prompt's own cut
                    for procs in a.procs or [1]:
                        r = combo(gguf, prompt_id, threads, chars, procs, items)
                        rows.append({"teacher": name, "prompt": prompt_id, "threads": threads, "code_chars": chars,
                                     "procs": procs, **r})
                        print(f"{name:<8} {prompt_id:<12} {threads:>3} {chars:>5} {procs:>5} "
                              f"{r['items_per_s']:>8.3f} {r['s_per_item']:>7.2f} {r['prompt_tok_per_s']:>10.1f} "
                              f"{r['gen_tok_per_s']:>8.1f} {r['mean_prompt_tokens']:>6.0f} "
                              f"{r['mean_gen_tokens']:>6.1f} {r['refused']:>7}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
