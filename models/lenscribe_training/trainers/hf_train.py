"""train.py's training loop: a T5 (lenscribe_training.trainers.hf_model) on a pre-tokenized cache
(lenscribe_training.data.pairs), driven by a ``TrainConfig`` (the ``train`` sub-command's flags); resumable checkpoints,
warm starts from another run's checkpoint, the name-copy curriculum, validation by
lenscribe_training.trainers.evaluation.

``train(cfg)`` writes ``OUT/train.log``, ``OUT/checkpoint/`` (resumable: model, optimizer, step, data position, RNG;
every ``save_every_min`` minutes and at the end), ``OUT/best/`` (best validation smoothed BLEU-4) and finally
``OUT/model/``: a ``save_pretrained`` dir (safetensors) + ``tokenizer.json`` + ``training_run.json``.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lenscribe.tokenization import build_tokenizer
from lenscribe_training.data.pairs import CACHE_FORMAT, TokenData, ensure_cache, make_batches, parse_languages, prefetch
from lenscribe_training.export.transfer import atomic_dir, swap_in
from lenscribe_training.runlog import Log
from lenscribe_training.trainers import hf_model
from lenscribe_training.trainers.embedding_init import words_embedding_init
from lenscribe_training.trainers.evaluation import evaluate_pairs
from lenscribe_training.trainers.machine import hardware, pick_device

__all__ = ["CACHE_FORMAT", "MODEL_ARGS", "WARM_START_FREE", "TrainConfig", "lr_at", "train"]

MODEL_ARGS = ("d_model", "d_kv", "d_ff", "enc_layers", "dec_layers", "heads", "dropout", "max_src", "max_tgt")
# what a warm start may change: relative position buckets let the same weights read longer or shorter inputs
WARM_START_FREE = ("dropout", "max_src", "max_tgt")


@dataclass(kw_only=True)
class TrainConfig:
    """The ``train`` sub-command's flags (``--max-src`` is ``max_src``); help texts in train.py's parser. A run's
    checkpoint and record keep them as ``args``, with what the run settled: the shape of a warm start's or a resumed
    checkpoint, the cache's input lengths and languages."""

    data: str | None = None  # dir with train/valid/test.jsonl (pre-tokenized into `cache` if needed)
    cache: str | None = None  # pre-tokenized dir (default with `data`: OUT/tokenized)
    out: str
    max_src: int = 256
    max_tgt: int = 48
    max_train_examples: int | None = None
    languages: str | None = None  # comma-separated, with `data`; None: all
    # model
    d_model: int = 384
    d_kv: int | None = None  # None: d_model // heads
    d_ff: int | None = None  # None: 4 * d_model
    enc_layers: int = 6
    dec_layers: int = 3
    heads: int = 6
    dropout: float = 0.1
    size_note: str = ""
    # optimisation
    lr: float = 1e-3
    min_lr_ratio: float = 0.0
    beta2: float = 0.98
    weight_decay: float = 0.01
    warmup: int = 1000
    schedule: str = "linear"  # or "inverse_sqrt"
    schedule_by: str = "auto"  # "time", "steps"; auto: steps when max_steps is set
    label_smoothing: float = 0.1
    optimizer: str = "adamw"  # or "adafactor"
    embed_lr_mult: float = 1.0
    embed_init: str = "t5"  # or "words"
    aux_name_frac: float = 0.0
    aux_name_until: float = 0.3
    clip: float = 1.0
    max_tokens: int = 32768
    max_batch: int = 512
    max_steps: int | None = None
    time_budget_min: float | None = None
    stop_after_steps: int | None = None
    # bookkeeping
    resume: bool = False
    init_from: str | None = None
    grow_dec_layers: int | None = None
    save_every_min: float = 5.0
    log_every: int = 100
    eval_every: int = 1000
    eval_every_min: float | None = None
    eval_examples: int = 500
    test_examples: int = 2000
    eval_batch: int = 250
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 autocast on a GPU
    threads: int | None = None
    seed: int = 0

    @property
    def shape(self) -> hf_model.Shape:
        return hf_model.Shape.of(self)

    def record(self) -> dict:
        """The ``args`` a checkpoint and a training record keep (the parsed command line's keys, ``cmd`` too)."""
        return {"cmd": "train"} | asdict(self)


def lr_at(cfg: TrainConfig, step: int, progress: float) -> float:
    """Linear warmup over ``warmup`` steps, then linear (or inverse-sqrt) decay. progress in [0, 1]."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup))
    if cfg.schedule == "inverse_sqrt":
        return cfg.lr * min(warm, math.sqrt(max(1, cfg.warmup) / max(step + 1, 1)))
    decay = max(0.0, 1.0 - progress) * (1 - cfg.min_lr_ratio) + cfg.min_lr_ratio
    return cfg.lr * min(warm, decay)


# --------------------------------------------------------------------------------------------------------------------
# Set-up: warm start, data, model, optimizer
# --------------------------------------------------------------------------------------------------------------------


def _warm_start(cfg: TrainConfig, out: Path, log: Log) -> tuple[TrainConfig, dict | None]:
    """A warm start: the weights of another run's checkpoint (its model and data shape too), a fresh optimizer, step
    count and learning-rate schedule; the earlier run's figures are kept in training_run.json. Not on a resume."""
    if not cfg.init_from or (cfg.resume and (out / "checkpoint" / "state.json").exists()):
        return cfg, None
    init_dir = Path(cfg.init_from)
    init_state = json.loads((init_dir / "state.json").read_text())
    # the shape is the checkpoint's; dropout and input lengths are this run's
    cfg = replace(cfg, **{k: init_state["args"][k] for k in MODEL_ARGS if k not in WARM_START_FREE})
    if cfg.grow_dec_layers:  # --grow-dec-layers: deeper than the checkpoint, the new blocks copies of its own
        cfg = replace(cfg, dec_layers=cfg.grow_dec_layers)
    log(f"warm start from {init_dir} (step {init_state['step']}, {init_state['elapsed_s']:.0f}s trained)")
    return cfg, init_state


def _data(cfg: TrainConfig, out: Path, log: Log) -> tuple[TrainConfig, Path, dict]:
    """The cache (prepared from ``data`` when needed) and its meta; the config takes the cache's input lengths and
    languages."""
    cache = Path(cfg.cache) if cfg.cache else None
    if cfg.data:
        cache = cache or out / "tokenized"
        ensure_cache(Path(cfg.data), cache, cfg.max_src, cfg.max_tgt, parse_languages(cfg.languages),
                     cfg.max_train_examples, cfg.seed, log)
    if cache is None:
        raise SystemExit("give --data or --cache")
    meta = json.loads((cache / "meta.json").read_text())
    languages = ",".join(meta["languages"]) if meta.get("languages") else None  # what the cache holds
    return replace(cfg, max_src=meta["max_src"], max_tgt=meta["max_tgt"], languages=languages), cache, meta


def _fresh_state() -> dict:
    return {"step": 0, "epoch": 0, "batch_pos": 0, "elapsed_s": 0.0, "best_bleu": -1.0, "best_step": None,
            "history": [], "examples_seen": 0, "tokens_seen": 0, "sessions": []}


def _warm_start_record(cfg: TrainConfig, init_state: dict) -> dict:
    return {"from": str(cfg.init_from), "steps": init_state["step"], "examples_seen": init_state["examples_seen"],
            "tokens_seen": init_state["tokens_seen"], "train_time_s": round(init_state["elapsed_s"], 1),
            "args": init_state["args"], "embed_init": init_state.get("embed_init"),
            "best_valid_bleu": round(init_state["best_bleu"], 3), "best_step": init_state["best_step"],
            "history": init_state["history"],
            "warm_start": init_state.get("warm_start"),  # the stages before that one, if it was warm-started too
            "recovered": init_state.get("recovered"),  # read back from a built model's int8 ONNX (onnx_weights.py)
            "dec_layers": [init_state["args"]["dec_layers"], cfg.dec_layers]}


def _model(cfg: TrainConfig, ckpt: Path, init_state: dict | None, tok, log: Log) -> tuple[TrainConfig, Any, dict, bool]:
    """(config, model, state, resumed): the checkpoint's on a resume (its shape too), else a new model (seeded) or a
    warm start's."""
    if cfg.resume and (ckpt / "state.json").exists():
        state = json.loads((ckpt / "state.json").read_text())
        cfg = replace(cfg, **{k: state["args"][k] for k in MODEL_ARGS})  # the model and data shape: the checkpoint's
        return cfg, hf_model.model_from_checkpoint(ckpt, cfg.shape), state, True
    state = _fresh_state()
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if init_state is None:
        model = hf_model.new_model(cfg.shape)
        if cfg.embed_init == "words":
            state["embed_init"] = words_embedding_init(model, tok, cfg.seed)
            log(f"embedding init by words: {state['embed_init']}")
    else:
        assert cfg.init_from is not None  # where init_state came from
        model = hf_model.model_from_checkpoint(Path(cfg.init_from), cfg.shape, init_state["args"]["dec_layers"])
        state["warm_start"] = _warm_start_record(cfg, init_state)
    return cfg, model, state, False


# --------------------------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------------------------


class _Run:
    """One sitting of a run: the steps, checkpoints and evaluations, then (unless paused) the final model."""

    def __init__(self, cfg: TrainConfig, out: Path, log: Log):
        self.out, self.log, self.wall0 = out, log, time.time()
        cfg, init_state = _warm_start(cfg, out, log)
        cfg, self.cache, self.meta = _data(cfg, out, log)
        self.train_data = TokenData(self.cache, "train")
        self.valid_data = TokenData(self.cache, "valid")
        self.tok = build_tokenizer()
        self.device, self.amp = pick_device(cfg.device, cfg.precision, cfg.threads)
        self.ckpt = out / "checkpoint"
        cfg, self.model, self.state, self.resumed = _model(cfg, self.ckpt, init_state, self.tok, log)
        self.cfg = cfg
        self.model.to(self.device)
        self.model.train()
        self.n_params = hf_model.count_params(self.model)
        self.opt = hf_model.make_optimizer(self.model, cfg.optimizer, cfg.lr, cfg.beta2, cfg.weight_decay,
                                           cfg.embed_lr_mult)
        if self.resumed:
            self._restore(self.ckpt)
        self.eval_idx = np.random.default_rng(1234).permutation(len(self.valid_data))[: cfg.eval_examples]
        self.budget_s = cfg.time_budget_min * 60 if cfg.time_budget_min else None
        schedule_by = cfg.schedule_by
        if schedule_by == "auto":
            schedule_by = "steps" if cfg.max_steps else "time"
        if schedule_by == "time" and not self.budget_s:
            raise SystemExit("--schedule-by time needs --time-budget-min")
        if schedule_by == "steps" and not cfg.max_steps:
            raise SystemExit("--schedule-by steps needs --max-steps")
        self.schedule_by = schedule_by
        # what progress (0 -> 1) is measured against: max_steps steps, or the time budget in seconds
        self.horizon: float = (cfg.max_steps or 0) if schedule_by == "steps" else (self.budget_s or 0.0)
        state = self.state
        log(f"{'resume' if self.resumed else 'start'}: params={self.n_params:,} device={self.device} amp={self.amp} "
            f"train={len(self.train_data):,} valid={len(self.valid_data):,} eval={len(self.eval_idx)} "
            f"step={state['step']} elapsed={state['elapsed_s']:.0f}s budget={self.budget_s}s schedule={schedule_by}")
        log("args: " + json.dumps(cfg.record(), sort_keys=True))
        self.session = {"start_step": state["step"], "device": hardware(self.device, detail=True),
                        "started": time.time()}
        state["sessions"].append(self.session)
        self.best_sd: dict | None = None  # the best evaluation's weights, on the CPU
        self.t_session = time.time()
        self.elapsed0 = state["elapsed_s"]
        self.progress = 0.0

    def _restore(self, ckpt: Path) -> None:
        self.opt.load_state_dict(torch.load(ckpt / "optim.pt", map_location=self.device))
        rng = torch.load(ckpt / "rng.pt", weights_only=False)
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        if self.device.type == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state(rng["cuda"])

    def elapsed(self) -> float:
        return self.elapsed0 + (time.time() - self.t_session)

    def save_checkpoint(self) -> None:
        tmp = atomic_dir(self.ckpt)
        torch.save(self.model.state_dict(), tmp / "model.pt")
        torch.save(self.opt.state_dict(), tmp / "optim.pt")
        torch.save({"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state() if self.device.type == "cuda" else None}, tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps(self.state | {"args": self.cfg.record()}, indent=1))
        swap_in(tmp, self.ckpt)

    def evaluate(self) -> None:
        cfg, state, log = self.cfg, self.state, self.log
        res = evaluate_pairs(self.model, self.valid_data, self.eval_idx, self.tok, self.device, self.amp,
                             cfg.eval_batch, cfg.max_tgt)
        rec = {"step": state["step"], "elapsed_s": round(self.elapsed(), 1), "valid_loss": round(res["valid_loss"], 4),
               "source_gain": round(res["source_gain"], 4),
               "bleu": round(res["bleu"], 3), "train_loss": round(state.get("last_train_loss", float("nan")), 4)}
        state["history"].append(rec)
        improved = res["bleu"] > state["best_bleu"]
        log(f"eval step {state['step']}: valid_loss {res['valid_loss']:.4f} (+{res['source_gain']:.3f} with another "
            f"example's code) bleu {res['bleu']:.2f} "
            f"({res['eval_s']:.1f}s){' *best*' if improved else ''}")
        for s in res["samples"]:
            log(f"  ref: {s['ref'][:120]!r}\n             hyp: {s['hyp'][:120]!r}")
        if improved:
            state["best_bleu"], state["best_step"] = res["bleu"], state["step"]
            self.best_sd = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            tmp = atomic_dir(self.out / "best")
            self.model.save_pretrained(tmp, safe_serialization=True)
            swap_in(tmp, self.out / "best")

    def aux_mask(self, j: int, n: int) -> np.ndarray | None:
        """Rows given the name-copy target: --aux-name-frac of them at first, falling linearly to none at
        --aux-name-until of training (a curriculum: it teaches cross-attention, then the docstrings take over)."""
        cfg = self.cfg
        if not cfg.aux_name_frac or self.train_data.name_ids is None:
            return None
        p = cfg.aux_name_frac * max(0.0, 1.0 - self.progress / cfg.aux_name_until)
        if p <= 0:
            return None
        return np.random.default_rng([cfg.seed, self.state["epoch"], j, 7]).random(n) < p

    def steps(self) -> str:
        """Train until a stop; returns why (max_steps, time_budget or stop_after_steps). Checkpoints on the way and at
        the stop."""
        cfg, state, log, model, opt, device = self.cfg, self.state, self.log, self.model, self.opt, self.device
        last_save = last_eval = time.time()
        last_log_t = time.time()
        loss_acc = torch.zeros((), device=device)
        loss_n = 0
        tok_acc = 0
        stop = False
        done_reason = ""
        while not stop:
            batches = make_batches(self.train_data, cfg.max_tokens, cfg.max_batch, cfg.seed, state["epoch"])
            for j, b in prefetch(self.train_data, batches, state["batch_pos"], pin=device.type == "cuda",
                                 aux_mask=self.aux_mask):
                progress = (state["step"] if self.schedule_by == "steps" else self.elapsed()) / self.horizon
                self.progress = progress
                lr = lr_at(cfg, state["step"], progress)
                for g in opt.param_groups:
                    g["lr"] = lr * g.get("lr_mult", 1.0)
                b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
                with torch.autocast(device.type, dtype=self.amp, enabled=self.amp is not None):
                    loss, ntok = hf_model.seq2seq_loss(model, b, cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                opt.step()
                state["step"] += 1
                state["batch_pos"] = j + 1
                state["examples_seen"] += len(b["input_ids"])
                state["tokens_seen"] += int(b["attention_mask"].numel()) + ntok
                tok_acc += ntok
                loss_acc += loss.detach()
                loss_n += 1
                step = state["step"]
                if step % cfg.log_every == 0:
                    avg = float(loss_acc) / loss_n
                    state["last_train_loss"] = avg
                    dt = time.time() - last_log_t
                    log(f"step {step} ep {state['epoch']} loss {avg:.4f} lr {lr:.2e} {loss_n / dt:.2f} it/s "
                        f"{tok_acc / dt:,.0f} tgt tok/s elapsed {self.elapsed():.0f}s")
                    loss_acc.zero_()
                    loss_n, tok_acc, last_log_t = 0, 0, time.time()
                if (cfg.eval_every and step % cfg.eval_every == 0) or (
                        cfg.eval_every_min and time.time() - last_eval >= cfg.eval_every_min * 60):
                    self.evaluate()
                    last_eval = time.time()
                if cfg.max_steps and step >= cfg.max_steps:
                    stop, done_reason = True, "max_steps"
                elif self.budget_s and self.elapsed() >= self.budget_s:
                    stop, done_reason = True, "time_budget"
                elif cfg.stop_after_steps and step - self.session["start_step"] >= cfg.stop_after_steps:
                    stop, done_reason = True, "stop_after_steps"  # a pause, for tests and planned interruptions
                if stop or (cfg.save_every_min and time.time() - last_save >= cfg.save_every_min * 60):
                    state["elapsed_s"] = self.elapsed()
                    self.save_checkpoint()
                    last_save = time.time()
                if stop:
                    break
            else:
                state["epoch"] += 1
                state["batch_pos"] = 0
                log(f"epoch {state['epoch']} begins at step {state['step']}")
        if loss_n:
            state["last_train_loss"] = float(loss_acc) / loss_n
        self.session["end_step"] = state["step"]
        self.session["wall_s"] = round(time.time() - self.wall0, 1)
        log(f"stopped ({done_reason}) at step {state['step']}, elapsed {self.elapsed():.0f}s")
        return done_reason

    def test(self) -> dict | None:
        """The best checkpoint on (a slice of) the held-out test split: greedy, the same BLEU (None: no test)."""
        cfg = self.cfg
        if not cfg.test_examples or not (self.cache / "test.npz").exists():
            return None
        if self.best_sd is not None:
            self.model.load_state_dict(self.best_sd)
        else:
            from transformers import T5ForConditionalGeneration

            self.model.load_state_dict(T5ForConditionalGeneration.from_pretrained(self.out / "best").state_dict())
        test_data = TokenData(self.cache, "test")
        test_idx = np.random.default_rng(4321).permutation(len(test_data))[: cfg.test_examples]
        res = evaluate_pairs(self.model, test_data, test_idx, self.tok, self.device, self.amp, cfg.eval_batch,
                             cfg.max_tgt)
        self.log(f"test ({len(test_idx)} examples, best checkpoint): loss {res['valid_loss']:.4f} "
                 f"bleu {res['bleu']:.2f}")
        return {"examples": len(test_idx), "bleu": round(res["bleu"], 3), "loss": round(res["valid_loss"], 4),
                "samples": res["samples"]}

    def record(self, final: Path, done_reason: str, test_result: dict | None) -> dict:
        """training_run.json: the model, the run's arguments, figures and history, the data and the machine."""
        cfg, state, n_params = self.cfg, self.state, self.n_params
        return {
            "format": "lenscribe-training-run/1",
            "model_config": json.loads((final / "config.json").read_text()),
            "parameters": n_params,
            "weights_mib_fp32": round(n_params * 4 / 2**20, 1),
            "weights_mib_16bit": round(n_params * 2 / 2**20, 1),
            "size_choice": cfg.size_note,
            "args": cfg.record(),
            "steps": state["step"],
            "epochs_completed": state["epoch"],
            "examples_seen": state["examples_seen"],
            "tokens_seen": state["tokens_seen"],
            "train_time_s": round(state["elapsed_s"], 1),
            "stopped_by": done_reason,
            "warm_start": state.get("warm_start"),
            "embed_init": state.get("embed_init"),
            "best_valid_bleu": round(state["best_bleu"], 3),
            "best_step": state["best_step"],
            "bleu_definition": "CodeXGLUE smooth_bleu: mean sentence smoothed BLEU-4 x100, PyTorch greedy decoding "
                               f"with no_repeat_ngram_size {hf_model.NO_REPEAT_NGRAM} and the run-time clean-up, "
                               f"{len(self.eval_idx)} fixed valid examples",
            "test": test_result,
            "final_train_loss": state.get("last_train_loss"),
            "history": state["history"],
            "data": {"cache": str(self.cache), "max_src": cfg.max_src, "max_tgt": cfg.max_tgt,
                     "splits": self.meta["splits"]},
            "hardware": self.session["device"],
            "sessions": [{k: v for k, v in s.items() if k != "device"} | {"device": s["device"].get("gpu", "cpu")}
                         for s in state["sessions"]],
        }

    def finish(self, done_reason: str) -> None:
        """The last evaluation and checkpoint, the test, then OUT/model: the best weights, the tokenizer, the record."""
        state, out = self.state, self.out
        if not state["history"] or state["history"][-1]["step"] != state["step"]:
            self.evaluate()
        state["elapsed_s"] = self.elapsed()
        self.save_checkpoint()
        test_result = self.test()
        final = atomic_dir(out / "model")
        for f in (out / "best").iterdir():
            shutil.copy2(f, final / f.name)
        self.tok.save(str(final / "tokenizer.json"))
        (final / "training_run.json").write_text(json.dumps(self.record(final, done_reason, test_result), indent=2))
        swap_in(final, out / "model")
        shutil.copy2(out / "model" / "training_run.json", out / "training_run.json")
        self.log(f"done: best valid BLEU {state['best_bleu']:.2f} at step {state['best_step']}; "
                 f"model in {out / 'model'}")


def train(cfg: TrainConfig) -> dict:
    """Train (or, with ``resume``, go on training) into ``cfg.out``; returns the run's state (steps, history, ...)."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(cfg, out, Log(out / "train.log", clock=True))
    done_reason = run.steps()
    if done_reason == "stop_after_steps":
        run.state["elapsed_s"] = run.elapsed()
        run.save_checkpoint()
        return run.state
    run.finish(done_reason)
    return run.state
