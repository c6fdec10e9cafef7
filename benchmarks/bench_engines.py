"""Peer benchmark: lenscribe against CTranslate2, optimum and transformers on the same weights and the same inputs
(a script, not a test).

    PYTHONPATH=server:models .venv/bin/python benchmarks/bench_engines.py [--functions 200] [--rounds 3]
        [--threads 2] [--engines lenscribe,ct2,optimum,transformers] [--work .cache/bench-engines] [--json FILE]
        [--clock wall|cpu] [--paired] [--baseline REV]

Needs the ``bench`` extra (``pip install -e '.[build,bench]'``: ctranslate2, pinned; never a run-time dependency).
Set-up, kept in ``--work`` (delete it to redo): the shipped model's weights read back to fp32
(``lenscribe_training.export.onnx_weights``), converted by CTranslate2 to its int8 (``compute_type=int8``, per-row
activation scales), and exported by optimum and quantized by onnxruntime's ``quantize_dynamic`` (per-tensor activations:
the layout and quantization lenscribe shipped before issue 25) for ``ORTModelForSeq2SeqLM``; transformers runs the fp32
weights. Every engine gets the same token ids (the functions of an installed package, chunked and cut as lenscribe cuts
them) and decodes greedily with lenscribe's options (32 new tokens, no repeated 3-gram, repetition penalty 1.2).

Rounds are interleaved (engine after engine, each round), medians reported:

- hover: one function per call (batch 1), p50 / p95 ms over every 5th input;
- summaries/s at batch 8 and 32 (inputs sorted by length, as ``lenscribe summarize`` plans them), and for lenscribe
  and CTranslate2 also two concurrent batches of 32 on one thread each (``--threads 2``: lenscribe's server with
  ``workers: 2``, CTranslate2's ``inter_threads=2``);
- agreement: inputs whose token ids equal lenscribe's (batch 1);
- batch independence: inputs whose token ids at batch 8 and at batch 32 equal the engine's own at batch 1;
- peak RSS of ``lenscribe summarize`` over the same functions (a separate process).

The machine's load (``os.getloadavg``) is printed before and after: on a shared machine the figures move with it.
``--clock cpu`` times with this process's CPU time instead of the wall clock (with ``--threads 1``: what each engine
costs per core, which a loaded machine disturbs far less than it disturbs latency).

``--paired`` interleaves finer: every hover call and every batch runs on each engine back to back (in alternating
order), so a swing of the machine's load lands on all engines alike instead of on one engine's turn in a round.
``--baseline REV`` adds the engine ``lenscribe@REV``: ``server/lenscribe/generation.py`` as it was at git revision REV,
on the same model files, for a before/after of a change to the engine (its tokens are checked against today's as any
engine's are: "agree with lenscribe").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lenscribe.chunking import chunk_text
from lenscribe.decoding import DEFAULT_MAX_NEW_TOKENS, DEFAULT_NO_REPEAT_NGRAM, DEFAULT_REPETITION_PENALTY
from lenscribe.defaults import resolve_model_dir
from lenscribe.summarizer import Summarizer

REPO = Path(__file__).resolve().parents[1]
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter
Run = Callable[[list[list[int]]], list[list[int]]]  # token ids in, generated ids out (no start token, no eos)
DECODING = {"max_new_tokens": DEFAULT_MAX_NEW_TOKENS, "no_repeat_ngram_size": DEFAULT_NO_REPEAT_NGRAM,
            "repetition_penalty": DEFAULT_REPETITION_PENALTY}


def functions(n: int, package: str) -> list[str]:
    """The first ``n`` functions and methods of an installed package, as the chunker cuts them."""
    import importlib

    root = Path(importlib.import_module(package).__file__ or "").parent
    out = []
    for path in sorted(root.rglob("*.py")):
        out += [c.text for c in chunk_text(path.read_text(encoding="utf-8"), "python") if c.kind != "class"]
    if len(out) < n:
        raise SystemExit(f"{package} has only {len(out)} functions")
    return out[:n]


# -- set-up ---------------------------------------------------------------------------------------------------------


def readback(model_dir: Path, work: Path) -> Path:
    out = work / "readback"
    if not (out / "model" / "config.json").is_file():
        from lenscribe_training.export.onnx_weights import write_checkpoint

        write_checkpoint(model_dir, out, dropout=0.0)
    return out / "model"


def ct2_model(hf: Path, work: Path) -> Path:
    out = work / "ct2-int8"
    if not (out / "model.bin").is_file():
        import ctranslate2.converters

        ctranslate2.converters.TransformersConverter(str(hf)).convert(str(out), quantization="int8", force=True)
    return out


def optimum_model(hf: Path, work: Path) -> Path:
    out = work / "optimum-int8"
    if (out / "decoder_with_past_model.onnx").is_file():
        return out
    import shutil

    from onnxruntime.quantization import QuantType, quantize_dynamic
    from optimum.exporters.onnx import main_export

    fp32 = work / "optimum-fp32"
    main_export(str(hf), output=str(fp32), task="text2text-generation-with-past", opset=17, device="cpu",
                do_validation=False, library_name="transformers")
    out.mkdir(parents=True, exist_ok=True)
    for f in fp32.iterdir():
        if f.suffix == ".onnx" and "merged" not in f.name:
            quantize_dynamic(f, out / f.name, op_types_to_quantize=["MatMul", "Gather"], weight_type=QuantType.QInt8)
        elif f.suffix != ".onnx":
            shutil.copy(f, out / f.name)
    return out


# -- engines -------------------------------------------------------------------------------------------------------


def lenscribe_engine(model_dir: Path, threads: int) -> Run:
    s = Summarizer.load(model_dir, threads=threads)
    return lambda batch: s.generator.generate(batch, **DECODING)


def lenscribe_at(rev: str, model_dir: Path, threads: int) -> Run:
    """lenscribe's engine (``lenscribe.generation``) as it was at git revision ``rev``, on today's model files."""
    import importlib.util

    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:server/lenscribe/generation.py"], check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader(f"lenscribe_generation_at_{rev}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    exec(compile(source, f"{rev}:server/lenscribe/generation.py", "exec"), module.__dict__)
    s = Summarizer.load(model_dir, threads=threads)
    m = s.manifest
    generator = module.Seq2SeqOnnx(m.path("encoder"), m.path("decoder"), m.architecture, intra_op_threads=threads)
    return lambda batch: generator.generate(batch, **DECODING)


def lenscribe_workers(model_dir: Path, workers: int) -> Callable[[list[list[list[int]]]], list[list[list[int]]]]:
    """The server with ``workers`` workers: one session (one thread per run), batches run concurrently."""
    s = Summarizer.load(model_dir, threads=1)
    pool = ThreadPoolExecutor(workers)
    return lambda batches: list(pool.map(lambda b: s.generator.generate(b, **DECODING), batches))


def ct2_engine(path: Path, tokenizer, threads: int, inter: int = 1):
    import ctranslate2

    translator = ctranslate2.Translator(str(path), device="cpu", compute_type="int8", intra_threads=threads,
                                       inter_threads=inter)
    eos = tokenizer.token_to_id("</s>")

    def decode(results) -> list[list[int]]:
        out = []
        for r in results:
            ids = [tokenizer.token_to_id(t) for t in r.hypotheses[0]]
            out.append([i for i in ids if i != eos])
        return out

    def run(batch: list[list[int]]) -> list[list[int]]:
        tokens = [[tokenizer.id_to_token(i) for i in ids] for ids in batch]
        return decode(translator.translate_batch(
            tokens, beam_size=1, max_decoding_length=DECODING["max_new_tokens"],
            no_repeat_ngram_size=DECODING["no_repeat_ngram_size"],
            repetition_penalty=DECODING["repetition_penalty"], max_batch_size=len(batch)))

    def concurrent(batches: list[list[list[int]]]) -> list[list[list[int]]]:
        pending = [translator.translate_batch([[tokenizer.id_to_token(i) for i in ids] for ids in b], beam_size=1,
                                              max_decoding_length=DECODING["max_new_tokens"],
                                              no_repeat_ngram_size=DECODING["no_repeat_ngram_size"],
                                              repetition_penalty=DECODING["repetition_penalty"],
                                              max_batch_size=len(b), asynchronous=True) for b in batches]
        return [decode([p.result() for p in ps]) for ps in pending]

    return run, concurrent


def hf_engine(model, threads: int, pad_id: int, eos_id: int) -> Run:
    import torch

    torch.set_num_threads(threads)

    def run(batch: list[list[int]]) -> list[list[int]]:
        width = max(len(x) for x in batch)
        ids = torch.tensor([x + [pad_id] * (width - len(x)) for x in batch])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in batch])
        with torch.inference_mode():
            gen = model.generate(input_ids=ids, attention_mask=mask, num_beams=1, do_sample=False, **DECODING)
        return [[t for t in row[1:] if t not in (pad_id, eos_id)] for row in gen.tolist()]

    return run


# -- measuring -----------------------------------------------------------------------------------------------------


def batches(inputs: list[list[int]], size: int) -> list[list[int]]:
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    return [order[s : s + size] for s in range(0, len(order), size)]


def throughput(run: Run, inputs: list[list[int]], size: int) -> tuple[float, list[list[int]]]:
    out: list[list[int]] = [[] for _ in inputs]
    t = clock()
    for idx in batches(inputs, size):
        for i, tokens in zip(idx, run([inputs[i] for i in idx]), strict=True):
            out[i] = tokens
    return len(inputs) / (clock() - t), out


def turns(names: list[str], i: int) -> list[str]:
    """The engines' order for the ``i``-th call of a paired measurement: alternating, so none always goes first."""
    return names if i % 2 == 0 else names[::-1]


def paired_throughput(runs: dict[str, Run], inputs: list[list[int]], size: int,
                      first: int) -> dict[str, tuple[float, list[list[int]]]]:
    """``throughput`` of every engine, batch by batch: each batch runs on every engine back to back."""
    out: dict[str, list[list[int]]] = {name: [[] for _ in inputs] for name in runs}
    spent = dict.fromkeys(runs, 0.0)
    for j, idx in enumerate(batches(inputs, size)):
        for name in turns(list(runs), first + j):
            t = clock()
            got = runs[name]([inputs[i] for i in idx])
            spent[name] += clock() - t
            for i, tokens in zip(idx, got, strict=True):
                out[name][i] = tokens
    return {name: (len(inputs) / spent[name], out[name]) for name in runs}


def concurrent_throughput(run_many, inputs: list[list[int]], size: int, workers: int) -> float:
    plan = batches(inputs, size)
    t = clock()
    for start in range(0, len(plan), workers):
        run_many([[inputs[i] for i in idx] for idx in plan[start : start + workers]])
    return len(inputs) / (clock() - t)


def peak_rss_mb(model_dir: Path, codes: list[str], work: Path, threads: int) -> float:
    src = work / "inputs"
    src.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(0, len(codes), 50):
        files.append(src / f"f{i // 50:02}.py")
        files[-1].write_text("\n\n\n".join(codes[i : i + 50]) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "server"), str(REPO / "models")])}
    # the child reports its own high-water mark (Linux): a forked child's rusage would count this process's pages
    # The files are named one by one: a folder is read by the workspace's ignore rules, and the default --work,
    # .cache/, is git-ignored (the run then summarized nothing and measured ~42 MB).
    code = ("import runpy, sys\nsys.argv = ['lenscribe', *sys.argv[1:]]\ntry:\n    runpy.run_module('lenscribe', "
            "run_name='__main__')\nexcept SystemExit as e:\n    if e.code:\n        raise\nprint(next(line.split()[1] "
            "for line in open('/proc/self/status') if line.startswith('VmHWM')), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, "summarize", *map(str, files), "--model", str(model_dir),
                           "--no-cache", "--json", "--threads", str(threads)], check=True, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--functions", type=int, default=200)
    p.add_argument("--package", default="pygls", help="the installed package whose functions are summarized")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--engines", default="lenscribe,ct2,optimum,transformers")
    p.add_argument("--work", type=Path, default=REPO / ".cache" / "bench-engines")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    p.add_argument("--paired", action="store_true", help="interleave engines call by call, not round by round")
    p.add_argument("--baseline", default=None, metavar="REV",
                   help="also run lenscribe's engine as it was at this git revision (lenscribe@REV)")
    a = p.parse_args()
    global clock
    clock = CLOCKS[a.clock]
    model_dir = resolve_model_dir(a.model)
    names = a.engines.split(",")
    s = Summarizer.load(model_dir, threads=a.threads)
    codes = functions(a.functions, a.package)
    inputs = [s.encode(c)[0] for c in codes]
    arch = s.manifest.architecture
    a.work.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}; {len(inputs)} functions of {a.package}, threads {a.threads}, "
          f"{a.clock} clock", flush=True)

    engines: dict[str, Run] = {"lenscribe": lenscribe_engine(model_dir, a.threads)}
    if a.baseline:
        engines[f"lenscribe@{a.baseline}"] = lenscribe_at(a.baseline, model_dir, a.threads)
    concurrent: dict[str, Callable] = {}
    if "lenscribe" in names and a.threads > 1:
        concurrent["lenscribe"] = lenscribe_workers(model_dir, a.threads)
    hf = readback(model_dir, a.work) if set(names) - {"lenscribe"} else None
    if "ct2" in names and hf is not None:
        engines["ct2"], _ = ct2_engine(ct2_model(hf, a.work), s.tokenizer, a.threads)
        if a.threads > 1:
            _, concurrent["ct2"] = ct2_engine(ct2_model(hf, a.work), s.tokenizer, 1, inter=a.threads)
    if "optimum" in names and hf is not None:
        import onnxruntime as ort
        from optimum.onnxruntime import ORTModelForSeq2SeqLM

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = a.threads
        model = ORTModelForSeq2SeqLM.from_pretrained(optimum_model(hf, a.work), use_merged=False, session_options=opts)
        engines["optimum"] = hf_engine(model, a.threads, arch.pad_token_id, arch.eos_token_id)
    if "transformers" in names and hf is not None:
        from transformers import T5ForConditionalGeneration

        model = T5ForConditionalGeneration.from_pretrained(hf).eval()
        engines["transformers"] = hf_engine(model, a.threads, arch.pad_token_id, arch.eos_token_id)

    hover_set = inputs[::5]
    res: dict[str, dict] = {n: {"hover": [], 8: [], 32: [], "concurrent": []} for n in engines}
    tokens: dict[str, dict[int, list[list[int]]]] = {n: {} for n in engines}
    for r in range(a.rounds):
        if a.paired:
            for j, ids in enumerate(hover_set):
                for name in turns(list(engines), r + j):
                    t = clock()
                    engines[name]([ids])
                    res[name]["hover"].append(clock() - t)
            for size in (8, 32):
                for name, (rate, out) in paired_throughput(engines, inputs, size, r).items():
                    res[name][size].append(rate)
                    tokens[name].setdefault(size, out)
        for name, run in engines.items():
            if not a.paired:
                for ids in hover_set:
                    t = clock()
                    run([ids])
                    res[name]["hover"].append(clock() - t)
                for size in (8, 32):
                    rate, out = throughput(run, inputs, size)
                    res[name][size].append(rate)
                    tokens[name].setdefault(size, out)
            if name in concurrent:
                res[name]["concurrent"].append(concurrent_throughput(concurrent[name], inputs, 32, a.threads))
            if r == 0:
                tokens[name][1] = [run([ids])[0] for ids in inputs]
        print(f"round {r + 1}/{a.rounds} done", flush=True)

    ref = tokens["lenscribe"][1]
    table = {}
    for name, v in res.items():
        own = tokens[name]
        hover = np.array(v["hover"]) * 1000
        table[name] = {
            "hover_p50_ms": round(float(np.percentile(hover, 50)), 1),
            "hover_p95_ms": round(float(np.percentile(hover, 95)), 1),
            "per_s_batch8": round(statistics.median(v[8]), 1),
            "per_s_batch32": round(statistics.median(v[32]), 1),
            "per_s_2x32_concurrent": round(statistics.median(v["concurrent"]), 1) if v["concurrent"] else None,
            "agree_with_lenscribe": sum(x == y for x, y in zip(own[1], ref, strict=True)),
            "same_at_batch8": sum(x == y for x, y in zip(own[8], own[1], strict=True)),
            "same_at_batch32": sum(x == y for x, y in zip(own[32], own[1], strict=True)),
        }
    rss = peak_rss_mb(model_dir, codes, a.work, a.threads)
    print(f"load average after: {os.getloadavg()}")
    n = len(inputs)
    print(f"\n| engine | hover p50 / p95 ms | /s batch 8 | /s batch 32 | /s 2 x batch 32, 1 thread each "
          f"| agree with lenscribe (of {n}) | same at batch 8 / 32 as alone (of {n}) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, t in table.items():
        conc = t["per_s_2x32_concurrent"] if t["per_s_2x32_concurrent"] is not None else "-"
        print(f"| {name} | {t['hover_p50_ms']} / {t['hover_p95_ms']} | {t['per_s_batch8']} | {t['per_s_batch32']} "
              f"| {conc} | {t['agree_with_lenscribe']} | {t['same_at_batch8']} / {t['same_at_batch32']} |")
    print(f"\nlenscribe summarize over the same functions: peak RSS {rss:.0f} MB")
    if a.json:
        a.json.write_text(json.dumps({"engines": table, "peak_rss_mb": round(rss), "functions": n, "clock": a.clock,
                                      "paired": a.paired, "baseline": a.baseline, "threads": a.threads,
                                      "load": os.getloadavg()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
