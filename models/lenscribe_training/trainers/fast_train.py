"""The trainer that uses the hardware: a T5 (lenscribe_training.trainers.t5, attention through
scaled_dot_product_attention), PyTorch's foreach Adafactor, length-bucketed batches collated by data-loader worker
processes into pinned memory, no device-to-host sync inside a step, bf16 autocast; optionally identifier-aware denoising
pretraining (lenscribe_training.trainers.objectives) before fine-tuning, all in one time-budgeted run over a data pack
(lenscribe_training.data.datapack).

    python -m lenscribe_training.trainers.fast_train PACK.npz OUT [--budget-s 420] [--pretrain-frac 0.3]
        [--d-model 384 ...] [--init-onnx models/lenscribe-small | --init-state FILE.pt]

OUT gets ``train.log``, ``run.json`` (config, per-phase history, per-language valid BLEU) and ``model.pt`` (the best
validation model's state dict under transformers' T5 names, fp16 unless --save-dtype float32) with ``config.json``;
``python -m lenscribe_training.export.export_hf OUT DIR`` turns it into a save_pretrained directory for ``lenscribe
model build``. Needs torch and numpy, plus ``tokenizers`` for validation BLEU (decoding the hypotheses); no
transformers.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lenscribe.decoding import DEFAULT_NO_REPEAT_NGRAM, DEFAULT_REPETITION_PENALTY
from lenscribe_training.data.datapack import Pack, Split
from lenscribe_training.runlog import Log
from lenscribe_training.trainers.evaluation import Evaluator
from lenscribe_training.trainers.machine import hardware, pick_device
from lenscribe_training.trainers.objectives import IdentifierTable, mask_identifiers, span_corrupt
from lenscribe_training.trainers.t5 import T5, T5Shape, count_parameters, grow, hf_state, load_hf_state

DECODER_START = 0
TOKENIZER_JSON = Path(__file__).resolve().parents[2] / "lenscribe-small" / "tokenizer.json"


def load_tokenizer():
    """The CodeT5 tokenizer from the shipped model's tokenizer.json: a serialized file loads the same in any
    ``tokenizers`` version (building it from vocab and merges goes through constructors whose arguments change between
    versions, and a lent machine has its own)."""
    from lenscribe.tokenization import load_tokenizer as load

    return load(TOKENIZER_JSON)


@dataclass
class Config:
    # model (ignored when warm-starting: the start's shape is kept)
    d_model: int = 384
    d_kv: int = 64
    d_ff: int = 1536
    enc_layers: int = 6
    dec_layers: int = 3
    heads: int = 6
    dropout: float = 0.1
    embed_init: str = "words"  # or "t5"
    init_onnx: str | None = None  # a built lenscribe model dir (int8 ONNX): warm start from its weights
    init_state: str | None = None  # a model.pt (transformers names) + config.json beside it
    # grow a warm-started model: blocks added on top of each stack, each the identity at first (t5.grow)
    add_encoder_layers: int = 0
    add_decoder_layers: int = 0
    # data
    languages: list[str] | None = None  # default: all in the pack
    lang_alpha: float = 0.5  # sample language l with probability ~ n_l ** alpha (1: as in the data)
    max_tokens: int = 4096  # padded source tokens per batch
    max_batch: int = 1024
    workers: int = 1  # data-loader processes (0: in the training process)
    # schedule
    budget_s: float = 600.0  # wall time of the whole run, evaluations included
    pretrain_frac: float = 0.0  # share of the budget spent on denoising before fine-tuning
    mip_frac: float = 0.5  # share of pretraining rows that get identifier masking (the rest: span corruption)
    lr: float = 1e-2
    pretrain_lr: float = 1e-2
    warmup: int = 200
    label_smoothing: float = 0.1
    clip: float = 1.0
    # evaluation
    eval_per_language: int = 200
    eval_every_s: float = 0.0  # 0: only at the end of each phase
    eval_batch: int = 256
    repetition_penalty: float = DEFAULT_REPETITION_PENALTY  # the shipped decoding (lenscribe.decoding)
    no_repeat_ngram: int = DEFAULT_NO_REPEAT_NGRAM
    # machine
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 on a GPU and on a CPU with native bf16 (AVX512-BF16, AMX), else fp32
    threads: int | None = None
    compile: bool = False
    seed: int = 0
    log_every: int = 50
    save_dtype: str = "float16"
    steps: int | None = None  # stop after this many steps (benchmarks, tests)
    # fine-tune for this many epochs with the learning rate decayed by step, not by the clock (the budget is then
    # only a cap): the same run on a busy CPU gives the same model
    epochs: float | None = None


# --------------------------------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------------------------------


def language_sample(split: Split, langs: list[int], alpha: float, rng: np.random.Generator) -> np.ndarray:
    """One epoch's example indices: as many as the split holds, language l drawn with probability ~ n_l**alpha
    (without replacement while a language has rows enough, then with)."""
    by_lang = {lang: np.flatnonzero(split.lang == lang) for lang in langs}
    by_lang = {k: v for k, v in by_lang.items() if len(v)}
    total = sum(len(v) for v in by_lang.values())
    w = np.array([len(v) ** alpha for v in by_lang.values()], dtype=np.float64)
    w /= w.sum()
    out = []
    for (_lang, idx), p in zip(by_lang.items(), w, strict=True):
        m = int(round(total * p))
        reps, rest = divmod(m, len(idx))
        out += [rng.permutation(idx) for _ in range(reps)] + [rng.permutation(idx)[:rest]]
    return rng.permutation(np.concatenate(out))


def bucket(lengths: np.ndarray, order: np.ndarray, max_tokens: int, max_batch: int, rng: np.random.Generator,
           pool: int = 100, multiple: int = 8) -> list[np.ndarray]:
    """Cut ``order`` into batches of similar source length: pools of ``pool * max_batch`` rows sorted by length,
    each cut where the padded size (rows x longest) would pass ``max_tokens``; batches shuffled."""
    batches = []
    size = max(1, pool * max_batch)
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        padded = (lengths[chunk] + multiple - 1) // multiple * multiple
        i = 0
        while i < len(chunk):
            j = i + 1
            while j < len(chunk) and j - i < max_batch and padded[j] * (j - i + 1) <= max_tokens:
                j += 1
            batches.append(chunk[i:j])
            i = j
    return [batches[k] for k in rng.permutation(len(batches))]


def collate(pairs: list[tuple[list[int] | np.ndarray, list[int] | np.ndarray]], multiple: int = 8) -> dict:
    """(source, target) id rows -> padded int64 input_ids / decoder_input_ids, and the flat positions and ids of the
    real target tokens (computed here, on the host, so the device step never syncs)."""
    s = max(len(a) for a, _ in pairs)
    s = (s + multiple - 1) // multiple * multiple
    t = max(len(b) for _, b in pairs)
    n = len(pairs)
    src = np.zeros((n, s), dtype=np.int64)
    dec = np.zeros((n, t), dtype=np.int64)
    lab = np.zeros((n, t), dtype=np.int64)
    real = np.zeros((n, t), dtype=bool)
    for r, (a, b) in enumerate(pairs):
        src[r, : len(a)] = a
        lab[r, : len(b)] = b
        real[r, : len(b)] = True
        dec[r, 0] = DECODER_START
        dec[r, 1 : len(b)] = b[:-1]
    pos = np.flatnonzero(real.reshape(-1))
    return {"input_ids": src, "decoder_input_ids": dec, "label_pos": pos, "label_ids": lab.reshape(-1)[pos]}


def _rows(a: np.ndarray) -> list[np.ndarray]:
    return [r[: int((r != 0).sum())] for r in a]


class Batches(torch.utils.data.Dataset):
    """Batch j of a phase's plan, collated (in a worker process when the loader has workers)."""

    def __init__(self, plan: list[np.ndarray], kind: str, src: np.ndarray, tgt: np.ndarray | None, seed: int,
                 mip_frac: float = 0.5, table: IdentifierTable | None = None, max_tgt: int = 64):
        self.plan, self.kind, self.src, self.tgt = plan, kind, src, tgt
        self.seed, self.mip_frac, self.table, self.max_tgt = seed, mip_frac, table, max_tgt

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, j: int) -> dict:
        idx = self.plan[j]
        pairs: list[tuple[Any, Any]]
        if self.kind == "finetune":
            assert self.tgt is not None
            pairs = list(zip(_rows(self.src[idx]), _rows(self.tgt[idx]), strict=True))
        else:
            rng = np.random.default_rng([self.seed, j])
            pairs = []
            for row in _rows(self.src[idx]):
                if self.table is not None and rng.random() < self.mip_frac:
                    pairs.append(mask_identifiers(row, rng, self.table, max_tgt=self.max_tgt))
                else:
                    pairs.append(span_corrupt(row, rng, max_tgt=self.max_tgt))
        return {k: torch.from_numpy(v) for k, v in collate(pairs).items()}


# --------------------------------------------------------------------------------------------------------------------
# Model set-up
# --------------------------------------------------------------------------------------------------------------------


def build_model(cfg: Config, log: Log) -> tuple[T5, dict]:
    grows = cfg.add_encoder_layers or cfg.add_decoder_layers
    if grows and not (cfg.init_onnx or cfg.init_state):
        raise ValueError("add_encoder_layers / add_decoder_layers grow a warm start (init_onnx or init_state)")
    info: dict = {}
    if cfg.init_onnx:
        from lenscribe_training.export.onnx_weights import recover_state_dict

        hf_cfg = json.loads((Path(cfg.init_onnx) / "config.json").read_text())
        shape = T5Shape.from_hf_config(hf_cfg)
        shape = T5Shape(**(asdict(shape) | {"dropout_rate": cfg.dropout}))
        model = T5(shape)
        state, _ = recover_state_dict(Path(cfg.init_onnx), reference=model.state_dict())
        load_hf_state(model, state)
        info["init"] = {"onnx": str(cfg.init_onnx)}
    elif cfg.init_state:
        hf_cfg = json.loads((Path(cfg.init_state).parent / "config.json").read_text())
        shape = T5Shape(**(asdict(T5Shape.from_hf_config(hf_cfg)) | {"dropout_rate": cfg.dropout}))
        model = T5(shape)
        load_hf_state(model, {k: v.float() for k, v in torch.load(cfg.init_state, map_location="cpu").items()})
        info["init"] = {"state": str(cfg.init_state)}
    else:
        shape = T5Shape(d_model=cfg.d_model, d_kv=cfg.d_kv, d_ff=cfg.d_ff, num_layers=cfg.enc_layers,
                        num_decoder_layers=cfg.dec_layers, num_heads=cfg.heads, dropout_rate=cfg.dropout)
        torch.manual_seed(cfg.seed)
        model = T5(shape)
        info["init"] = {"scratch": cfg.embed_init}
        if cfg.embed_init == "words":
            from lenscribe_training.trainers.embedding_init import words_embedding_init

            info["embed_init"] = words_embedding_init(model, load_tokenizer(), cfg.seed)
    if grows:
        model = grow(model, cfg.add_encoder_layers, cfg.add_decoder_layers)
        info["init"]["grown"] = {"encoder": cfg.add_encoder_layers, "decoder": cfg.add_decoder_layers}
    info["shape"] = asdict(model.shape)
    info["parameters"] = count_parameters(model)
    log(f"model: {info['parameters']:,} parameters, {json.dumps(info['init'])}")
    return model, info


# --------------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str  # "pretrain" or "finetune"
    budget_s: float
    lr: float
    history: list = field(default_factory=list)
    steps: int = 0
    src_tokens: int = 0
    tgt_tokens: int = 0
    seconds: float = 0.0
    epoch_steps: int = 0  # batches in the first epoch


def run_phase(phase: Phase, model: T5, opt, cfg: Config, pack: Pack, langs: list[int], device, amp, log: Log,
              evaluate, on_eval, table: IdentifierTable | None, deadline: float) -> None:
    train = pack.splits["train"]
    rng = np.random.default_rng([cfg.seed, 0 if phase.name == "finetune" else 1])
    step_fn = model.loss
    if cfg.compile:
        step_fn = torch.compile(model.loss, dynamic=True)
    t_start = time.time()
    end = min(deadline, t_start + phase.budget_s)
    epoch = 0
    loss_acc = torch.zeros((), device=device)
    n_acc, t_log = 0, time.time()
    tok_log = 0
    last_eval = time.time()
    done = False
    total_steps = 0  # set by --epochs: the schedule and the stop count steps
    if phase.name == "pretrain":
        code = train.src[np.isin(train.lang, langs)]
        if pack.code_src is not None:
            code = np.concatenate([code, pack.code_src])
        lengths = (code != 0).sum(1)
    while not done:
        if phase.name == "finetune":
            order = language_sample(train, langs, cfg.lang_alpha, rng)
            plan = bucket(train.src_len, order, cfg.max_tokens, cfg.max_batch, rng)
            ds = Batches(plan, "finetune", train.src, train.tgt, seed=cfg.seed + epoch)
            if epoch == 0:
                phase.epoch_steps = len(plan)
                total_steps = max(1, round(cfg.epochs * len(plan))) if cfg.epochs else 0
        else:
            plan = bucket(lengths, rng.permutation(len(code)), cfg.max_tokens, cfg.max_batch, rng)
            ds = Batches(plan, "pretrain", code, None, seed=cfg.seed * 1000 + epoch, mip_frac=cfg.mip_frac,
                         table=table)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, shuffle=False, num_workers=cfg.workers,
                                             pin_memory=device.type == "cuda",
                                             prefetch_factor=4 if cfg.workers else None,
                                             persistent_workers=False)
        for b in loader:
            now = time.time()
            progress = (phase.steps / total_steps if total_steps
                        else (now - t_start) / max(1e-9, end - t_start))
            warm = min(1.0, (phase.steps + 1) / max(1, cfg.warmup))
            lr = phase.lr * min(warm, max(0.0, 1.0 - progress))
            for g in opt.param_groups:
                g["lr"] = lr
            b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                loss = step_fn(b["input_ids"], b["decoder_input_ids"], b["label_pos"], b["label_ids"],
                               cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip, foreach=device.type == "cuda" or None)
            opt.step()
            phase.steps += 1
            loss_acc += loss.detach()
            n_acc += 1
            ntgt = int(b["label_ids"].shape[0])  # a host-side shape: no sync
            nsrc = int(b["input_ids"].numel())
            phase.tgt_tokens += ntgt
            phase.src_tokens += nsrc
            tok_log += ntgt
            if phase.steps % cfg.log_every == 0:
                dt = time.time() - t_log
                avg = float(loss_acc) / n_acc  # the one sync, every log_every steps
                phase.history.append({"step": phase.steps, "t": round(time.time() - t_start, 1),
                                      "loss": round(avg, 4), "tgt_tok_s": round(tok_log / dt)})
                log(f"{phase.name} step {phase.steps} ep {epoch} loss {avg:.4f} lr {lr:.2e} "
                    f"{n_acc / dt:.2f} it/s {tok_log / dt:,.0f} tgt tok/s")
                loss_acc.zero_()
                n_acc, tok_log, t_log = 0, 0, time.time()
            if (time.time() >= end or (cfg.steps and phase.steps >= cfg.steps)
                    or (total_steps and phase.steps >= total_steps)):
                done = True
                break
            if evaluate and cfg.eval_every_s and time.time() - last_eval >= cfg.eval_every_s:
                on_eval(phase, evaluate(model, cfg, device, amp))
                last_eval = time.time()
        epoch += 1
    phase.seconds = round(time.time() - t_start, 1)


def train(pack_path: Path, out: Path, cfg: Config) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "train.log")
    t0 = time.time()
    deadline = t0 + cfg.budget_s
    device, amp = pick_device(cfg.device, cfg.precision, cfg.threads, cpu_bf16=True)
    torch.manual_seed(cfg.seed)
    pack = Pack(pack_path)
    langs = [pack.languages.index(x) for x in (cfg.languages or pack.languages)]
    log(f"pack {pack_path}: languages {pack.languages}, train {len(pack.splits['train']):,}, device {device}, "
        f"amp {amp}, config {json.dumps(asdict(cfg))}")
    model, info = build_model(cfg, log)
    model.to(device).train()
    opt = torch.optim.Adafactor(model.parameters(), lr=cfg.lr, foreach=device.type == "cuda" or None)
    evaluate = (Evaluator(pack, "valid", cfg.eval_per_language, langs, load_tokenizer()) if cfg.eval_per_language
                else None)
    best: dict[str, Any] = {"score": -1.0, "state": None, "eval": None}

    def on_eval(phase: Phase, res: dict) -> None:
        res = res | {"phase": phase.name, "step": phase.steps, "t": round(time.time() - t0, 1)}
        phase.history.append({"eval": res})
        log(f"eval {phase.name} step {phase.steps}: mean BLEU {res['mean_bleu']:.2f} {json.dumps(res['bleu'])} "
            f"({res['eval_s']}s)")
        for lang, samples in res["samples"].items():
            for sm in samples[:1]:
                log(f"  {lang}: ref {sm['ref'][:90]!r} hyp {sm['hyp'][:90]!r}")
        if phase.name == "finetune" and res["mean_bleu"] > best["score"]:
            best.update(score=res["mean_bleu"], eval=res,
                        state=hf_state(model, getattr(torch, cfg.save_dtype)))

    phases = []
    if cfg.pretrain_frac > 0:
        table = None
        if cfg.mip_frac > 0:
            table = IdentifierTable(load_tokenizer().get_vocab())
        pre = Phase("pretrain", cfg.budget_s * cfg.pretrain_frac, cfg.pretrain_lr)
        phases.append(pre)
        run_phase(pre, model, opt, cfg, pack, langs, device, amp, log, None, on_eval, table, deadline)
        opt = torch.optim.Adafactor(model.parameters(), lr=cfg.lr, foreach=device.type == "cuda" or None)
    # fine-tuning gets what is left, less a reserve for the final evaluation
    reserve = 0.0
    if evaluate:
        reserve = min(60.0, 0.08 * cfg.budget_s)
    fine = Phase("finetune", max(1.0, deadline - time.time() - reserve), cfg.lr)
    phases.append(fine)
    run_phase(fine, model, opt, cfg, pack, langs, device, amp, log, evaluate, on_eval, None, deadline - reserve)
    if evaluate:
        on_eval(fine, evaluate(model, cfg, device, amp))
    else:
        best["state"] = hf_state(model, getattr(torch, cfg.save_dtype))
    torch.save(best["state"], out / "model.pt")
    (out / "config.json").write_text(json.dumps(T5Shape(**info["shape"]).hf_config(), indent=1))
    run = {"format": "lenscribe-fast-training-run/1", "config": asdict(cfg), "model": info,
           "hardware": hardware(device), "wall_s": round(time.time() - t0, 1),
           "best_valid": best["eval"], "languages": [pack.languages[i] for i in langs],
           "data": {"pack": str(pack_path), "max_src": pack.max_src, "max_tgt": pack.max_tgt},
           "phases": [asdict(p) | {"tgt_tok_per_s": round(p.tgt_tokens / max(p.seconds, 1e-9)),
                                   "src_tok_per_s": round(p.src_tokens / max(p.seconds, 1e-9))} for p in phases]}
    (out / "run.json").write_text(json.dumps(run, indent=1))
    log(f"done in {run['wall_s']}s: best valid mean BLEU {best['score']:.2f}; "
        + ", ".join(f"{p.name} {p.steps} steps {p.tgt_tokens / max(p.seconds, 1e-9):,.0f} tgt tok/s" for p in phases))
    return run


def config_from_args(argv: list[str] | None = None) -> tuple[Path, Path, Config]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pack", type=Path)
    p.add_argument("out", type=Path)
    defaults = Config()
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif f.name == "languages":
            p.add_argument(flag, default=None, type=lambda s: [x for x in s.split(",") if x])
        else:
            kind = {"int": int, "float": float}.get(str(f.type).split(" |")[0], str)
            p.add_argument(flag, type=kind, default=default)
    a = vars(p.parse_args(argv))
    pack, out = a.pop("pack"), a.pop("out")
    return pack, out, Config(**a)


def main(argv: list[str] | None = None) -> int:
    pack, out, cfg = config_from_args(argv)
    train(pack, out, cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

