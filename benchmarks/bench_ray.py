"""Local vs Ray-local throughput of `lenscribe summarize` on a generated tree, and Ray's overhead (a script, no test).

    python benchmarks/bench_ray.py [--functions 20000] [--model DIR] [--workers 2] [--out FILE.json]

Generates the tree (benchmarks/gentree.py), then runs, each as a user would (a subprocess, --json, no cache):
  * local:       --threads <cores>                      (one process, onnxruntime on every core)
  * local-1t:    --threads 1 (with --with-1t)           (one core)
  * ray:         --executor ray --workers W --threads 1 (a local Ray, W actors of one thread)
and checks that the Ray run's summaries equal the local run's. Ray's overhead is measured three ways: its start-up
(ray.init of a local cluster), the time to the first finished batch (actor start + model load), and the per-batch cost
of Ray Data itself (the same number of blocks and batches through an actor pool that does no work). It also exports
the Ray run's cache as a bundle (bytes per summary) and measures one actor's peak memory (a process that loads the
model and summarizes one batch). Prints a table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gentree import generate_tree  # benchmarks/, the script's own directory, is on sys.path


def summarize(tree: Path, model: Path, *extra: str, cache: Path | None = None) -> tuple[dict, float]:
    args = [sys.executable, "-m", "lenscribe", "summarize", str(tree), "--json", "--model", str(model), *extra]
    args += ["--cache-dir", str(cache)] if cache else ["--no-cache"]
    started = time.perf_counter()
    run = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout), wall


def ray_data_overhead(batches: int, workers: int, per_block: int) -> dict:
    """What Ray Data costs with no model: the same plan (rows of 8 chunks, ``per_block`` rows a block) through an
    actor pool that does nothing. ``run_fixed_s``: one block (the pool's start and the execution's set-up, paid once
    per run); ``per_block_ms``/``per_batch_ms``: what each further block/batch adds."""
    import logging
    import math

    import ray

    class Noop:
        def __call__(self, batch):
            return batch

    started = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
             object_store_memory=512 * 1024 * 1024)
    init_s = time.perf_counter() - started
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    rows = [{"b": i, "texts": json.dumps(["def f(x):\n    return x\n"] * 8)} for i in range(batches)]
    blocks = max(1, math.ceil(batches / per_block))

    def one_pass(items: list, n_blocks: int) -> float:
        ds = ray.data.from_items(items, override_num_blocks=n_blocks)
        ds = ds.map_batches(Noop, batch_size=per_block, compute=ray.data.ActorPoolStrategy(size=workers))
        t = time.perf_counter()
        assert sum(1 for _ in ds.iter_rows()) == len(items)
        return time.perf_counter() - t

    try:
        one_pass(rows, blocks)  # warm-up: worker processes started, modules imported
        fixed = one_pass(rows[:per_block], 1)
        full = one_pass(rows, blocks)
    finally:
        t = time.perf_counter()
        ray.shutdown()
        shutdown_s = time.perf_counter() - t
    per_block_s = max(0.0, full - fixed) / max(1, blocks - 1)
    return {"init_s": init_s, "blocks": blocks, "run_fixed_s": fixed, "full_pass_s": full,
            "per_block_ms": 1000 * per_block_s, "per_batch_ms": 1000 * per_block_s / per_block,
            "shutdown_s": shutdown_s}


def actor_memory(model: Path) -> float:
    """Peak RSS (MiB) of a process that loads the model (one thread) and summarizes one batch of 8: one actor's."""
    code = ("import resource, sys; from lenscribe.summarizer import Summarizer; "
            "s = Summarizer.load(sys.argv[1], threads=1); "
            "s.summarize(['def f%d(x):\\n    return x * %d\\n' % (i, i) for i in range(8)]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    run = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True, check=True)
    return float(run.stdout.strip())


def main() -> None:
    from lenscribe.defaults import resolve_model_dir
    from lenscribe.distributed import BATCHES_PER_BLOCK

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--functions", type=int, default=20_000)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--with-1t", action="store_true", help="also a one-thread local run")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    model = resolve_model_dir(args.model)
    cores = os.cpu_count() or 1
    fig: dict = {"functions": args.functions, "cores": cores, "workers": args.workers, "model": str(model)}
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        tree = Path(tmp) / "tree"
        files = generate_tree(tree, args.functions)
        fig["files"] = len(files)
        print(f"tree: {args.functions} functions in {len(files)} files", flush=True)

        local, wall = summarize(tree, model, "--threads", str(cores))
        fig["local"] = {"wall_s": wall, **local["stats"], "per_s": args.functions / wall,
                        "model_per_s": args.functions / local["stats"]["model_seconds"]}
        print(f"local ({cores} threads): {wall:.1f}s wall, {fig['local']['per_s']:.1f} functions/s", flush=True)
        if args.with_1t:
            one, wall = summarize(tree, model, "--threads", "1")
            fig["local_1t"] = {"wall_s": wall, **one["stats"], "per_s": args.functions / wall,
                               "model_per_s": args.functions / one["stats"]["model_seconds"]}
            print(f"local (1 thread): {wall:.1f}s wall, {fig['local_1t']['per_s']:.1f} functions/s", flush=True)

        cache = Path(tmp) / "ray-cache"
        ray, wall = summarize(tree, model, "--executor", "ray", "--workers", str(args.workers), "--threads", "1",
                              cache=cache)

        def key(out: dict) -> list[tuple[str, str, str]]:
            return [(c["path"], c["name"], c["summary"]) for c in out["chunks"]]

        fig["ray"] = {"wall_s": wall, **ray["stats"], "per_s": args.functions / wall,
                      "model_per_s": args.functions / ray["stats"]["model_seconds"],
                      "equal_to_local": key(ray) == key(local)}
        print(f"ray ({args.workers} actors x 1 thread): {wall:.1f}s wall, {fig['ray']['per_s']:.1f} functions/s, "
              f"equal to local: {fig['ray']['equal_to_local']}; {ray['stats']['ray']}", flush=True)

        bundle = Path(tmp) / "bundle.csb"
        subprocess.run([sys.executable, "-m", "lenscribe", "cache", "export", str(bundle), "--cache-dir", str(cache)],
                       check=True, capture_output=True)
        fig["bundle"] = {"bytes": bundle.stat().st_size, "entries": args.functions,
                         "bytes_per_entry": bundle.stat().st_size / args.functions}
        print(f"bundle: {bundle.stat().st_size} bytes ({fig['bundle']['bytes_per_entry']:.1f} per summary)", flush=True)

    fig["ray_data"] = ray_data_overhead(ray["stats"]["batches"], args.workers, BATCHES_PER_BLOCK)
    print(f"ray data, no-op actors: {fig['ray_data']}", flush=True)
    fig["actor_peak_rss_mib"] = actor_memory(model)
    print(f"one actor's peak RSS: {fig['actor_peak_rss_mib']:.0f} MiB", flush=True)
    text = json.dumps(fig, indent=2, default=str)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
