#!/usr/bin/env python
"""Training throughput: today's trainer (transformers' T5ForConditionalGeneration, transformers' Adafactor, the loss of
train.py: lenscribe_training.trainers.hf_model) against the fast one (lenscribe_training.trainers.t5 with
scaled_dot_product_attention, torch's foreach Adafactor: fast_train.py), on the same batches, the same model shape and
the same precision. Prints target and source tokens per second.

    PYTHONPATH=models:server python benchmarks/bench_train.py [--pack PACK.npz] [--shape small|gpu]
        [--steps 20] [--max-tokens N] [--threads N] [--precision auto|bf16|fp32] [--rounds N]
        [--only fast|baseline] [--compile]

``--precision auto`` runs each trainer as it trains (lenscribe_training.trainers.machine.pick_device): bf16 on a GPU for
both; on a CPU fp32 for today's trainer, bf16 for the fast one where the CPU has native bf16 (AVX512-BF16, AMX).
``bf16`` / ``fp32`` compare both in the same precision. ``--rounds N`` alternates the trainers N times and reports each
one's median (a shared 2-core VM drifts by 10-20% between runs).

Batches come from a data pack's train split (length-bucketed as fast_train cuts them) or, without --pack, from
random tokens with the Python train split's length profile. ``--shape small`` is the shipped model (d256, 4+2
blocks) at 4,096 padded source tokens a batch (the CPU stages' setting); ``--shape gpu`` is d384 6+3 at 65,536.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from lenscribe_training.trainers.fast_train import bucket, collate
from lenscribe_training.trainers.t5 import T5, T5Shape, load_hf_state

SHAPES = {
    "small": (T5Shape(d_model=256, d_kv=64, d_ff=1024, num_layers=4, num_decoder_layers=2, num_heads=4), 4096),
    "gpu": (T5Shape(d_model=384, d_kv=64, d_ff=1536, num_layers=6, num_decoder_layers=3, num_heads=6), 65536),
}


def batches(pack: str | None, max_tokens: int, n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    if pack:
        from lenscribe_training.data.datapack import Pack

        tr = Pack(pack).splits["train"]
        src, tgt = tr.src, tr.tgt
    else:  # lengths like the Python train split at 128 source tokens (median ~110, a third cut at 128)
        m = 20000
        sl = np.clip(rng.lognormal(4.6, 0.5, m).astype(int), 8, 128)
        tl = np.clip(rng.lognormal(2.6, 0.4, m).astype(int), 4, 48)
        src = np.zeros((m, 128), np.uint16)
        tgt = np.zeros((m, 48), np.uint16)
        for i in range(m):
            src[i, : sl[i]] = rng.integers(5, 32000, sl[i])
            tgt[i, : tl[i]] = rng.integers(5, 32000, tl[i])
    lengths = (src != 0).sum(1)
    plan = bucket(lengths, rng.permutation(len(src)), max_tokens, 4096, rng)[:n]
    out = []
    for idx in plan:
        rows = [(s[s != 0], t[t != 0]) for s, t in zip(src[idx], tgt[idx], strict=True)]
        out.append({k: torch.from_numpy(v) for k, v in collate(rows).items()})
    return out


def make(kind: str, shape: T5Shape, device: torch.device, compile_: bool):
    """(model, optimizer, loss function of a batch) of one trainer."""
    torch.manual_seed(0)
    if kind == "fast":
        model = T5(shape).to(device).train()
        opt = torch.optim.Adafactor(model.parameters(), lr=1e-3, foreach=True)
        fn = torch.compile(model.loss, dynamic=True) if compile_ else model.loss

        def step(b):
            return fn(b["input_ids"], b["decoder_input_ids"], b["label_pos"], b["label_ids"], 0.1)
    else:
        from transformers import T5Config, T5ForConditionalGeneration
        from transformers.optimization import Adafactor

        from lenscribe_training.trainers.hf_model import seq2seq_loss

        model = T5ForConditionalGeneration(T5Config(**shape.hf_config())).to(device).train()
        load_hf_state(T5(shape), model.state_dict())  # same architecture, same names
        opt = Adafactor(model.parameters(), lr=1e-3, scale_parameter=True, relative_step=False, warmup_init=False)

        def step(b):  # train.py's loss (trainers.hf_model), the padding mask as train.py's batches carry it
            return seq2seq_loss(model, b | {"attention_mask": (b["input_ids"] != 0).long()}, 0.1)[0]

    return model, opt, step


def train_step(model, opt, step, b: dict, device: torch.device, amp) -> torch.Tensor:
    b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
        loss = step(b)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def run(kind: str, shape: T5Shape, data: list[dict], device: torch.device, amp, warmup: int, compile_: bool) -> dict:
    model, opt, step = make(kind, shape, device, compile_)
    tgt = src = 0
    t0 = None
    for i, b in enumerate(data):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        loss = train_step(model, opt, step, b, device, amp)
        if i >= warmup:
            tgt += int(b["label_ids"].shape[0])
            src += int((b["input_ids"] != 0).sum()) if device.type == "cpu" else int(b["input_ids"].numel())
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    steps = len(data) - warmup
    return {"trainer": kind, "steps": steps, "s_per_step": round(dt / steps, 4), "tgt_tok_s": round(tgt / dt),
            "src_tok_s": round(src / dt), "final_loss": round(float(loss.detach()), 3)}


def profile(shape: T5Shape, data: list[dict], device: torch.device, amp, compile_: bool) -> dict:
    """The share of wall time the GPU spends in kernels over the fast trainer's steps, and the top kernels."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model, opt, step = make("fast", shape, device, compile_)
    for b in data[:3]:
        train_step(model, opt, step, b, device, amp)
    torch.cuda.synchronize()
    with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        for b in data[3:]:
            train_step(model, opt, step, b, device, amp)
        torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    events = prof.key_averages()

    def dev(e) -> float:
        return float(getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0.0))

    # kernels only: an operator's row repeats the device time of the kernels it launched
    kernels = [e for e in events if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA]
    busy = sum(dev(e) for e in kernels) / 1e6
    top = sorted(kernels, key=dev, reverse=True)[:8]
    return {"profile_steps": len(data) - 3, "wall_s": round(wall, 3), "gpu_kernel_s": round(busy, 3),
            "gpu_busy_frac": round(busy / wall, 3),
            "top_kernels": [{"name": e.key[:60], "ms": round(dev(e) / 1e3, 1)} for e in top]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", default=None)
    p.add_argument("--shape", choices=sorted(SHAPES), default=None, help="default: gpu on a GPU, small otherwise")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--only", choices=["fast", "baseline"], default=None)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--profile", action="store_true", help="on a GPU: also profile the fast trainer's steps")
    a = p.parse_args()
    from lenscribe_training.trainers.machine import pick_device

    device, fast_amp = pick_device("auto", a.precision, a.threads, cpu_bf16=True)
    _, base_amp = pick_device("auto", a.precision, a.threads)
    amps = {"baseline": base_amp, "fast": fast_amp}
    shape, max_tokens = SHAPES[a.shape or ("gpu" if device.type == "cuda" else "small")]
    max_tokens = a.max_tokens or max_tokens
    data = batches(a.pack, max_tokens, a.steps + a.warmup)
    info = {"device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{torch.get_num_threads()}",
            "shape": a.shape or ("gpu" if device.type == "cuda" else "small"), "max_tokens": max_tokens,
            "amp": {k: str(v) for k, v in amps.items()}, "torch": torch.__version__}
    print(json.dumps(info))
    kinds = [a.only] if a.only else ["baseline", "fast"]
    rounds: dict[str, list[dict]] = {k: [] for k in kinds}
    for _ in range(max(1, a.rounds)):
        for kind in kinds:
            try:
                r = run(kind, shape, data, device, amps[kind], a.warmup, a.compile and kind == "fast")
            except Exception as e:  # e.g. another transformers version on a lent machine
                r = {"trainer": kind, "error": f"{type(e).__name__}: {e}"}
            rounds[kind].append(r | {"amp": str(amps[kind])})
            print(json.dumps(rounds[kind][-1]), flush=True)
    medians = {}
    for kind, rs in rounds.items():
        ok = sorted((r for r in rs if "tgt_tok_s" in r), key=lambda r: r["tgt_tok_s"])
        if ok:
            medians[kind] = ok[len(ok) // 2]["tgt_tok_s"]
    if len(medians) == 2:
        print(json.dumps({"median_tgt_tok_s": medians,
                          "speedup_tgt_tok_s": round(medians["fast"] / medians["baseline"], 2)}))
    if a.profile and device.type == "cuda":
        print(json.dumps(profile(shape, data, device, fast_amp, a.compile)), flush=True)


if __name__ == "__main__":
    main()
