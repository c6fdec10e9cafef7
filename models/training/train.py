#!/usr/bin/env python3
"""Train lenscribe's default summarizer: a small CodeT5-architecture T5ForConditionalGeneration, from scratch.

Data: a directory with ``train.jsonl``, ``valid.jsonl`` (and optionally ``test.jsonl``), one object a line with at
least ``code`` and ``doc``.  Inputs are ``prepare_code(code)`` tokenized with the CodeT5 tokenizer (``<s> ... </s>``,
cut to ``--max-src`` tokens keeping the head and the closing ``</s>``, as the run-time Summarizer does); targets are
``doc`` tokenized the same way (``<s> doc </s>``, at most ``--max-tgt`` tokens), as CodeT5's fine-tuning did.

Sub-commands::

    prepare  --data DIR --cache DIR            pre-tokenize once to compressed uint16 arrays (+ valid/test references)
    train    (--data DIR | --cache DIR) --out DIR [model/optimizer flags] [--time-budget-min M] [--resume]
    pack     MODEL_DIR DEST                    fp16 tar of a model dir split into <=15 MiB parts (for file transfer)
    unpack   SRC DEST                          parts -> a normal fp32 save_pretrained dir

``train`` writes ``OUT/train.log``, ``OUT/checkpoint/`` (resumable: model, optimizer, step, data position, RNG;
every ``--save-every-min`` minutes and at the end), ``OUT/best/`` (best validation smoothed BLEU-4) and finally
``OUT/model/``: a ``save_pretrained`` dir (safetensors) + ``tokenizer.json`` + ``training_run.json``.

torch and transformers are imported lazily: ``prepare`` and ``unpack``'s checks need only tokenizers and numpy.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import math
import os
import platform
import random
import re
import shutil
import sys
import tarfile
import threading
import time
from pathlib import Path
from queue import Queue

import numpy as np

REPO = Path(__file__).resolve().parents[2]
for _p in (REPO / "server", REPO / "models"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from lenscribe.decoding import DEFAULT_NO_REPEAT_NGRAM  # noqa: E402  (validation decodes as the run-time default)
from lenscribe.evaluation.bleu import corpus_bleu as smooth_bleu  # noqa: E402  (CodeXGLUE smooth_bleu, as `lenscribe eval`)
from lenscribe.model_input import prepare_code, truncate_ids  # noqa: E402  (the run-time summarizer's own)
from lenscribe.postprocess import clean_summary  # noqa: E402  (what the run-time Summarizer does to model text)
from lenscribe.tokenization import BOS_ID, DECODER_START_ID, EOS_ID, PAD_ID, VOCAB_SIZE, build_tokenizer  # noqa: E402
from training.embedding_init import words_embedding_init  # noqa: E402,F401  (used by train(); tests reach it here)

NO_REPEAT_NGRAM = DEFAULT_NO_REPEAT_NGRAM



CACHE_FORMAT = "lenscribe-tokenized/2"  # 2: name-sentence targets kept too
SPLITS = ("train", "valid", "test")

# --------------------------------------------------------------------------------------------------------------------
# Pre-tokenization
# --------------------------------------------------------------------------------------------------------------------


def name_sentence(name: str) -> str:
    """The words of a chunk's own name as a sentence: ``dictDecoder.availRead`` -> ``Avail read.`` ('' if none).

    The target of the auxiliary copy task (see ``--aux-name-frac``): every one of its words is in the input, so
    the decoder must read the encoder to predict it, which a docstring's first sentence alone teaches slowly.
    """
    last = name.rsplit(".", 1)[-1]
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", last))
    words = " ".join(words.replace("_", " ").replace("$", " ").split()).lower()
    return f"{words[:1].upper()}{words[1:]}." if words else ""


def _read_jsonl(path: Path, languages: frozenset[str] | None = None) -> tuple[list[str], list[str], list[str]]:
    """Codes (as the model sees them), one-line docs and name sentences; only records of ``languages`` when given."""
    codes, docs, names = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            if languages is not None and obj.get("language") not in languages:
                continue
            code, doc = obj.get("code"), obj.get("doc")
            if not isinstance(code, str) or not isinstance(doc, str) or not code.strip() or not doc.strip():
                continue
            codes.append(prepare_code(code))
            docs.append(" ".join(doc.split()))
            names.append(name_sentence(str(obj.get("name") or "")))
    return codes, docs, names


def _cut(ids: list[int], limit: int) -> list[int]:
    return truncate_ids(ids, limit, EOS_ID)


def _pack_ragged(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(seqs) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(s) for s in seqs])
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.uint16, count=int(off[-1]))
    return flat, off


def _pct(a: np.ndarray, qs=(50, 75, 90, 95, 99)) -> dict[str, float]:
    if len(a) == 0:
        return {}
    return {f"p{q}": float(np.percentile(a, q)) for q in qs} | {"mean": float(a.mean()), "max": int(a.max())}


def _languages(arg: str | None) -> list[str] | None:
    if not arg:
        return None
    return sorted({x.strip() for x in arg.split(",") if x.strip()}) or None


def prepare(data_dir: Path, cache_dir: Path, max_src: int, max_tgt: int, max_train: int | None = None,
            seed: int = 0, log=print, languages: list[str] | None = None) -> dict:
    """Tokenize data_dir/{train,valid,test}.jsonl into cache_dir/{split}.npz (+ refs, meta.json)."""
    assert VOCAB_SIZE <= 65535
    tok = build_tokenizer()
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta: dict = {"format": CACHE_FORMAT, "max_src": max_src, "max_tgt": max_tgt, "data_dir": str(data_dir),
                  "languages": sorted(languages) if languages else None, "splits": {}}
    wanted = frozenset(languages) if languages else None
    for split in SPLITS:
        path = data_dir / f"{split}.jsonl"
        if not path.exists():
            if split == "test":
                continue
            raise FileNotFoundError(path)
        t0 = time.time()
        codes, docs, names = _read_jsonl(path, wanted)
        if split == "train" and max_train and len(codes) > max_train:
            keep = np.sort(np.random.default_rng(seed).permutation(len(codes))[:max_train])
            codes = [codes[i] for i in keep]
            docs = [docs[i] for i in keep]
            names = [names[i] for i in keep]
        src_full = [e.ids for e in tok.encode_batch(codes)]
        tgt_full = [e.ids for e in tok.encode_batch(docs)]
        src_len = np.array([len(s) for s in src_full])
        tgt_len = np.array([len(t) for t in tgt_full])
        src_ids, src_off = _pack_ragged([_cut(s, max_src) for s in src_full])
        tgt_ids, tgt_off = _pack_ragged([_cut(t, max_tgt) for t in tgt_full])
        # an empty name sentence stores just <s></s>: collate falls back to the doc for it
        name_ids, name_off = _pack_ragged([_cut(e.ids, max_tgt) for e in tok.encode_batch(names)])
        np.savez_compressed(cache_dir / f"{split}.npz", src_ids=src_ids, src_off=src_off, tgt_ids=tgt_ids,
                            tgt_off=tgt_off, name_ids=name_ids, name_off=name_off)
        if split != "train":
            with gzip.open(cache_dir / f"{split}_refs.json.gz", "wt", encoding="utf-8") as f:
                json.dump(docs, f)
        stats = {
            "examples": len(codes),
            "src_tokens_untruncated": _pct(src_len),
            "tgt_tokens_untruncated": _pct(tgt_len),
            "src_truncated_frac": {str(n): float((src_len > n).mean()) if len(src_len) else 0.0
                                   for n in (128, 256, 320, 512)},
            "tgt_truncated_frac": {str(n): float((tgt_len > n).mean()) if len(tgt_len) else 0.0
                                   for n in (32, 48, 64)},
            "src_tokens_kept": int(src_off[-1]),
            "tgt_tokens_kept": int(tgt_off[-1]),
            "npz_bytes": (cache_dir / f"{split}.npz").stat().st_size,
        }
        meta["splits"][split] = stats
        log(f"prepare {split}: {json.dumps(stats)} ({time.time() - t0:.1f}s)")
    (cache_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


class TokenData:
    """One pre-tokenized split: ragged uint16 arrays + offsets."""

    def __init__(self, cache_dir: Path, split: str):
        z = np.load(cache_dir / f"{split}.npz")
        self.src_ids, self.src_off = z["src_ids"], z["src_off"]
        self.tgt_ids, self.tgt_off = z["tgt_ids"], z["tgt_off"]
        self.src_len = np.diff(self.src_off)
        self.tgt_len = np.diff(self.tgt_off)
        self.name_ids, self.name_off = (z["name_ids"], z["name_off"]) if "name_ids" in z else (None, None)
        refs = cache_dir / f"{split}_refs.json.gz"
        self.refs: list[str] | None = None
        if refs.exists():
            with gzip.open(refs, "rt", encoding="utf-8") as f:
                self.refs = json.load(f)

    def __len__(self) -> int:
        return len(self.src_len)

    def src(self, i: int) -> np.ndarray:
        return self.src_ids[self.src_off[i] : self.src_off[i + 1]]

    def tgt(self, i: int) -> np.ndarray:
        return self.tgt_ids[self.tgt_off[i] : self.tgt_off[i + 1]]

    def name_tgt(self, i: int) -> np.ndarray | None:
        """The name-sentence target of example i, or None (no name, or a cache prepared before names were kept)."""
        if self.name_ids is None or self.name_off[i + 1] - self.name_off[i] <= 2:
            return None
        return self.name_ids[self.name_off[i] : self.name_off[i + 1]]


def _round_up(n: int, m: int) -> int:
    return (n + m - 1) // m * m


def make_batches(data: TokenData, max_tokens: int, max_batch: int, seed: int, epoch: int,
                 pad_multiple: int = 8, pool_batches: int = 100) -> list[np.ndarray]:
    """Length-bucketed batches: shuffle, sort pools by source length, cut by padded token budget, shuffle batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(data))
    pool = max(1, pool_batches * max_batch)
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(data.src_len[chunk], kind="stable")]
        cur: list[int] = []
        cur_max = 0
        for i in chunk:
            length = _round_up(max(int(data.src_len[i]), int(data.tgt_len[i])), pad_multiple)
            new_max = max(cur_max, length)
            if cur and (new_max * (len(cur) + 1) > max_tokens or len(cur) >= max_batch):
                batches.append(np.array(cur))
                cur, new_max = [], length
            cur.append(int(i))
            cur_max = new_max
        if cur:
            batches.append(np.array(cur))
    perm = rng.permutation(len(batches))
    return [batches[j] for j in perm]


def collate(data: TokenData, idx: np.ndarray, pad_multiple: int = 8,
            use_name: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Padded int64 arrays: input_ids, attention_mask, decoder_input_ids (start 0 + target[:-1]), and the targets.

    ``use_name[r]`` true: row r's target is its name sentence (the auxiliary copy task) where it has one.
    """
    s_len = _round_up(int(data.src_len[idx].max()), pad_multiple)
    tgts = [data.tgt(i) for i in idx]
    if use_name is not None:
        for r, i in enumerate(idx):
            if use_name[r] and (n := data.name_tgt(i)) is not None:
                tgts[r] = n
    t_len = max(len(t) for t in tgts)
    b = len(idx)
    src = np.zeros((b, s_len), dtype=np.int64)
    labels = np.full((b, t_len), -100, dtype=np.int64)
    dec_in = np.zeros((b, t_len), dtype=np.int64)
    for r, (i, t) in enumerate(zip(idx, tgts, strict=True)):
        s = data.src(i)
        src[r, : len(s)] = s
        labels[r, : len(t)] = t
        dec_in[r, 0] = DECODER_START_ID
        dec_in[r, 1 : len(t)] = t[:-1]
    flat = labels.reshape(-1)
    pos = np.flatnonzero(flat != -100)
    # label_pos / label_ids: the real target tokens, found on the CPU so the GPU step needs no host sync
    return {"input_ids": src, "attention_mask": (src != PAD_ID).astype(np.int64), "decoder_input_ids": dec_in,
            "label_pos": pos.astype(np.int64), "label_ids": flat[pos]}


# --------------------------------------------------------------------------------------------------------------------
# Model, optimizer, evaluation
# --------------------------------------------------------------------------------------------------------------------


def make_config(args):
    from transformers import T5Config

    return T5Config(
        vocab_size=VOCAB_SIZE,
        d_model=args.d_model,
        d_kv=args.d_kv or args.d_model // args.heads,
        d_ff=args.d_ff or 4 * args.d_model,
        num_layers=args.enc_layers,
        num_decoder_layers=args.dec_layers,
        num_heads=args.heads,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=args.dropout,
        layer_norm_epsilon=1e-6,
        initializer_factor=1.0,
        feed_forward_proj="relu",
        is_encoder_decoder=True,
        use_cache=True,
        tie_word_embeddings=True,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        bos_token_id=BOS_ID,
        decoder_start_token_id=DECODER_START_ID,
    )


def model_from_checkpoint(ckpt: Path, shape, grow_from_dec_layers: int | None = None):
    """A T5 of ``shape``'s model arguments (make_config) holding the weights of a train.py checkpoint's model.pt.

    ``grow_from_dec_layers``: the checkpoint has that many decoder blocks and ``shape`` more; the new blocks start as
    copies of the old ones stacked on top (grow_decoder)."""
    import torch
    from transformers import T5ForConditionalGeneration

    model = T5ForConditionalGeneration(make_config(shape))
    weights = torch.load(ckpt / "model.pt", map_location="cpu")
    if grow_from_dec_layers is not None and grow_from_dec_layers != shape.dec_layers:
        weights = grow_decoder(weights, grow_from_dec_layers, shape.dec_layers)
    model.load_state_dict(weights)
    return model


def grow_decoder(weights: dict, old_layers: int, new_layers: int) -> dict:
    """A state dict with ``new_layers`` decoder blocks from one with ``old_layers``: block j (j >= old_layers) is a copy
    of block j % old_layers, so the old stack is repeated on top of itself (progressive stacking, as in Gong et al.
    2019 for BERT). Only block 0 holds T5's relative attention bias; the copies share it like every later block."""
    if new_layers < old_layers:
        raise ValueError(f"cannot shrink the decoder from {old_layers} to {new_layers} blocks")
    out = dict(weights)
    for j in range(old_layers, new_layers):
        src = f"decoder.block.{j % old_layers}."
        for k, v in weights.items():
            if k.startswith(src) and "relative_attention_bias" not in k:
                out[f"decoder.block.{j}." + k[len(src):]] = v.clone()
    return out


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() yields the tied embedding once


def seq2seq_loss(model, batch, label_smoothing: float):
    """Cross entropy over real target tokens only (the vocab projection skips padding); returns (loss, n_tokens)."""
    import torch.nn.functional as F

    enc = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    dec = model.decoder(input_ids=batch["decoder_input_ids"], encoder_hidden_states=enc,
                        encoder_attention_mask=batch["attention_mask"], use_cache=False).last_hidden_state
    h = dec.reshape(-1, dec.shape[-1]).index_select(0, batch["label_pos"])
    if model.config.tie_word_embeddings:
        h = h * (model.config.d_model ** -0.5)
    logits = model.lm_head(h).float()
    loss = F.cross_entropy(logits, batch["label_ids"], label_smoothing=label_smoothing)
    return loss, int(batch["label_ids"].shape[0])


def greedy_decode(model, data: TokenData, indices: np.ndarray, device, amp_dtype, max_new_tokens: int,
                  batch_size: int) -> list[list[int]]:
    import torch

    out: list[list[int]] = [[] for _ in indices]
    order = np.argsort(data.src_len[indices], kind="stable")
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        for start in range(0, len(order), batch_size):
            pos = order[start : start + batch_size]
            b = collate(data, indices[pos])
            ids = torch.from_numpy(b["input_ids"]).to(device)
            mask = torch.from_numpy(b["attention_mask"]).to(device)
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, num_beams=1,
                                 do_sample=False, no_repeat_ngram_size=NO_REPEAT_NGRAM,
                                 decoder_start_token_id=DECODER_START_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID,
                                 past_key_values=fresh_cache())
            for p, row in zip(pos, gen.tolist(), strict=True):
                row = row[1:]  # decoder start
                if EOS_ID in row:
                    row = row[: row.index(EOS_ID)]
                out[p] = [t for t in row if t not in (PAD_ID, BOS_ID)]
    model.train()
    return out


def fresh_cache():
    """An empty KV cache that grows with the decoder: transformers sizes its default one by T5's num_layers (the
    encoder's), so generate() fails on a decoder deeper than the encoder (--grow-dec-layers)."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    return EncoderDecoderCache(DynamicCache(), DynamicCache())


def teacher_forced_loss(model, data: TokenData, src_idx: np.ndarray, tgt_idx: np.ndarray, device, amp_dtype,
                        batch_size: int) -> float:
    """Mean token cross entropy of the targets of ``tgt_idx`` given the sources of ``src_idx`` (row by row)."""
    import torch

    model.eval()
    tot, n = 0.0, 0
    with torch.no_grad(), torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        for start in range(0, len(tgt_idx), batch_size):
            b = collate(data, tgt_idx[start : start + batch_size])
            if src_idx is not tgt_idx:
                src = collate(data, src_idx[start : start + batch_size])
                b["input_ids"], b["attention_mask"] = src["input_ids"], src["attention_mask"]
            loss, k = seq2seq_loss(model, {k: torch.from_numpy(v).to(device) for k, v in b.items()}, 0.0)
            tot += float(loss) * k
            n += k
    model.train()
    return tot / max(n, 1)


def evaluate(model, data: TokenData, indices: np.ndarray, tok, device, amp_dtype, args) -> dict:
    t0 = time.time()
    order = indices[np.argsort(data.src_len[indices], kind="stable")]
    loss = teacher_forced_loss(model, data, order, order, device, amp_dtype, args.eval_batch)
    # the same targets with each one's neighbour's code: how much the model's predictions depend on its input
    shuffled = teacher_forced_loss(model, data, np.roll(order, 1), order, device, amp_dtype, args.eval_batch)
    hyp_ids = greedy_decode(model, data, indices, device, amp_dtype, args.max_tgt, args.eval_batch)
    # scored as the editor shows them: the run-time post-processing, its two lines read as one
    hyps = [clean_summary(tok.decode(h, skip_special_tokens=True)).replace("\n", " ") for h in hyp_ids]
    if data.refs is not None:
        refs = [data.refs[i] for i in indices]
    else:
        refs = [tok.decode(data.tgt(i).tolist(), skip_special_tokens=True).strip() for i in indices]
    return {"valid_loss": loss, "source_gain": shuffled - loss, "bleu": smooth_bleu(refs, hyps),
            "eval_s": time.time() - t0,
            "samples": [{"ref": r, "hyp": h} for r, h in list(zip(refs, hyps, strict=True))[:3]]}


# --------------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------------


class Logger:
    def __init__(self, path: Path | None):
        self.f = open(path, "a", encoding="utf-8") if path else None

    def __call__(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()


def _atomic_dir(final: Path):
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _swap_in(tmp: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def hardware_info(device) -> dict:
    import torch
    import transformers

    info = {"device": str(device), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__, "cpu_count": os.cpu_count()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info |= {"gpu": p.name, "gpu_memory_gib": round(p.total_memory / 2**30, 1), "cuda": torch.version.cuda}
    return info


def lr_at(args, step: int, progress: float) -> float:
    """Linear warmup over --warmup steps, then linear (or inverse-sqrt) decay. progress in [0, 1]."""
    warm = min(1.0, (step + 1) / max(1, args.warmup))
    if args.schedule == "inverse_sqrt":
        return args.lr * min(warm, math.sqrt(max(1, args.warmup) / max(step + 1, 1)))
    decay = max(0.0, 1.0 - progress) * (1 - args.min_lr_ratio) + args.min_lr_ratio
    return args.lr * min(warm, decay)


def _prefetch(data: TokenData, batches: list[np.ndarray], start: int, pin: bool, depth: int = 6, aux_mask=None):
    """Background thread collating batches[start:] into (pinned) CPU tensors; ``aux_mask(j, n)`` picks the rows of
    batch j that get the auxiliary name target (None: none)."""
    import torch

    q: Queue = Queue(maxsize=depth)

    def work():
        for j in range(start, len(batches)):
            use_name = aux_mask(j, len(batches[j])) if aux_mask else None
            b = {k: torch.from_numpy(v) for k, v in collate(data, batches[j], use_name=use_name).items()}
            if pin:
                b = {k: v.pin_memory() for k, v in b.items()}
            q.put((j, b))
        q.put(None)

    threading.Thread(target=work, daemon=True).start()
    while True:
        item = q.get()
        if item is None:
            return
        yield item


def train(args) -> dict:
    import torch
    from transformers import T5ForConditionalGeneration

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = Logger(out / "train.log")
    wall0 = time.time()

    init_state = None
    if args.init_from and not (args.resume and (out / "checkpoint" / "state.json").exists()):
        # a warm start: the weights of another run's checkpoint (its model and data shape too), a fresh optimizer,
        # step count and learning-rate schedule; the earlier run's figures are kept in training_run.json
        init_dir = Path(args.init_from)
        init_state = json.loads((init_dir / "state.json").read_text())
        grow_to = args.grow_dec_layers
        for k in MODEL_ARGS:
            if k not in WARM_START_FREE:  # the shape is the checkpoint's; dropout and input lengths are this run's
                setattr(args, k, init_state["args"][k])
        if grow_to:  # --grow-dec-layers: deeper than the checkpoint, the new blocks copies of its own
            args.dec_layers = grow_to
        log(f"warm start from {init_dir} (step {init_state['step']}, {init_state['elapsed_s']:.0f}s trained)")

    cache = Path(args.cache) if args.cache else None
    if args.data:
        cache = cache or out / "tokenized"
        meta_path = cache / "meta.json"
        langs = _languages(args.languages)
        old = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        ok = (old.get("format"), old.get("max_src"), old.get("max_tgt"), old.get("languages")) == (
            CACHE_FORMAT, args.max_src, args.max_tgt, langs)
        if not ok:
            prepare(Path(args.data), cache, args.max_src, args.max_tgt, args.max_train_examples, args.seed, log,
                    langs)
    if cache is None:
        raise SystemExit("give --data or --cache")
    meta = json.loads((cache / "meta.json").read_text())
    args.max_src, args.max_tgt = meta["max_src"], meta["max_tgt"]
    args.languages = ",".join(meta["languages"]) if meta.get("languages") else None  # what the cache holds
    train_data = TokenData(cache, "train")
    valid_data = TokenData(cache, "valid")
    tok = build_tokenizer()

    from training.fast_train import pick_device

    device, amp_dtype = pick_device(args.device, args.precision, args.threads)

    ckpt = out / "checkpoint"
    resume = args.resume and (ckpt / "state.json").exists()
    if resume:
        state = json.loads((ckpt / "state.json").read_text())
        saved = state["args"]
        for k in MODEL_ARGS:  # the model and data shape come from the checkpoint
            setattr(args, k, saved[k])
        model = model_from_checkpoint(ckpt, args)
    else:
        state = {"step": 0, "epoch": 0, "batch_pos": 0, "elapsed_s": 0.0, "best_bleu": -1.0, "best_step": None,
                 "history": [], "examples_seen": 0, "tokens_seen": 0, "sessions": []}
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        if init_state is None:
            model = T5ForConditionalGeneration(make_config(args))
            if args.embed_init == "words":
                state["embed_init"] = words_embedding_init(model, tok, args.seed)
                log(f"embedding init by words: {state['embed_init']}")
        else:
            model = model_from_checkpoint(Path(args.init_from), args, init_state["args"]["dec_layers"])
            state["warm_start"] = {
                "from": str(args.init_from), "steps": init_state["step"], "examples_seen": init_state["examples_seen"],
                "tokens_seen": init_state["tokens_seen"], "train_time_s": round(init_state["elapsed_s"], 1),
                "args": init_state["args"], "embed_init": init_state.get("embed_init"),
                "best_valid_bleu": round(init_state["best_bleu"], 3), "best_step": init_state["best_step"],
                "history": init_state["history"],
                "warm_start": init_state.get("warm_start"),  # the stages before that one, if it was warm-started too
                "recovered": init_state.get("recovered"),  # read back from a built model's int8 ONNX (onnx_weights.py)
                "dec_layers": [init_state["args"]["dec_layers"], args.dec_layers]}
    model.to(device)
    model.train()
    n_params = count_params(model)

    decay, no_decay, embed = [], [], []
    for name, p in model.named_parameters():
        if p is model.shared.weight:
            embed.append(p)
        elif p.ndim < 2 or "layer_norm" in name or "relative_attention_bias" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    # T5's tied embedding starts at std 1 and its logits are scaled by d_model**-0.5: T5 trained it with Adafactor,
    # whose steps grow with a parameter's scale; with AdamW's fixed step it learns ~sqrt(d_model) times slower than
    # the rest unless its learning rate is raised (--embed-lr-mult)
    groups = [{"params": decay, "weight_decay": args.weight_decay, "lr_mult": 1.0},
              {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
              {"params": embed, "weight_decay": 0.0, "lr_mult": args.embed_lr_mult}]
    if args.optimizer == "adafactor":
        # T5's own optimizer: factored second moments, steps scaled by each parameter's RMS (scale_parameter), which
        # suits T5's unscaled attention and std-1 embedding; the learning rate is relative (T5 pre-trained at 1e-2)
        from transformers.optimization import Adafactor

        opt = Adafactor(groups, lr=args.lr, scale_parameter=True, relative_step=False, warmup_init=False,
                        clip_threshold=1.0)
    else:
        opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, args.beta2), eps=1e-8, fused=True)
    if resume:
        opt.load_state_dict(torch.load(ckpt / "optim.pt", map_location=device))
        rng = torch.load(ckpt / "rng.pt", weights_only=False)
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        if device.type == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state(rng["cuda"])

    eval_idx = np.random.default_rng(1234).permutation(len(valid_data))[: args.eval_examples]
    budget_s = args.time_budget_min * 60 if args.time_budget_min else None
    schedule_by = args.schedule_by
    if schedule_by == "auto":
        schedule_by = "steps" if args.max_steps else "time"
    if schedule_by == "time" and not budget_s:
        raise SystemExit("--schedule-by time needs --time-budget-min")
    if schedule_by == "steps" and not args.max_steps:
        raise SystemExit("--schedule-by steps needs --max-steps")

    log(f"{'resume' if resume else 'start'}: params={n_params:,} device={device} amp={amp_dtype} "
        f"train={len(train_data):,} valid={len(valid_data):,} eval={len(eval_idx)} step={state['step']} "
        f"elapsed={state['elapsed_s']:.0f}s budget={budget_s}s schedule={schedule_by}")
    log("args: " + json.dumps(vars(args), sort_keys=True))
    session = {"start_step": state["step"], "device": hardware_info(device), "started": time.time()}
    state["sessions"].append(session)

    def save_checkpoint():
        tmp = _atomic_dir(ckpt)
        torch.save(model.state_dict(), tmp / "model.pt")
        torch.save(opt.state_dict(), tmp / "optim.pt")
        torch.save({"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None}, tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps(state | {"args": vars(args)}, indent=1))
        _swap_in(tmp, ckpt)

    def do_eval():
        res = evaluate(model, valid_data, eval_idx, tok, device, amp_dtype, args)
        rec = {"step": state["step"], "elapsed_s": round(elapsed(), 1), "valid_loss": round(res["valid_loss"], 4),
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
            best_state["sd"] = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            tmp = _atomic_dir(out / "best")
            model.save_pretrained(tmp, safe_serialization=True)
            _swap_in(tmp, out / "best")

    best_state: dict = {}
    t_session = time.time()
    elapsed0 = state["elapsed_s"]

    def elapsed() -> float:
        return elapsed0 + (time.time() - t_session)

    live = {"progress": 0.0}

    def aux_mask(j: int, n: int) -> np.ndarray | None:
        """Rows given the name-copy target: --aux-name-frac of them at first, falling linearly to none at
        --aux-name-until of training (a curriculum: it teaches cross-attention, then the docstrings take over)."""
        if not args.aux_name_frac or train_data.name_ids is None:
            return None
        p = args.aux_name_frac * max(0.0, 1.0 - live["progress"] / args.aux_name_until)
        if p <= 0:
            return None
        return np.random.default_rng([args.seed, state["epoch"], j, 7]).random(n) < p

    last_save = last_eval = time.time()
    last_log_t = time.time()
    loss_acc = torch.zeros((), device=device)
    loss_n = 0
    tok_acc = 0
    stop = False
    done_reason = ""
    while not stop:
        batches = make_batches(train_data, args.max_tokens, args.max_batch, args.seed, state["epoch"])
        for j, b in _prefetch(train_data, batches, state["batch_pos"], pin=device.type == "cuda", aux_mask=aux_mask):
            progress = state["step"] / args.max_steps if schedule_by == "steps" else elapsed() / budget_s
            live["progress"] = progress
            lr = lr_at(args, state["step"], progress)
            for g in opt.param_groups:
                g["lr"] = lr * g.get("lr_mult", 1.0)
            b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss, ntok = seq2seq_loss(model, b, args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            state["step"] += 1
            state["batch_pos"] = j + 1
            state["examples_seen"] += len(b["input_ids"])
            state["tokens_seen"] += int(b["attention_mask"].numel()) + ntok
            tok_acc += ntok
            loss_acc += loss.detach()
            loss_n += 1
            step = state["step"]
            if step % args.log_every == 0:
                avg = float(loss_acc) / loss_n
                state["last_train_loss"] = avg
                dt = time.time() - last_log_t
                log(f"step {step} ep {state['epoch']} loss {avg:.4f} lr {lr:.2e} {loss_n / dt:.2f} it/s "
                    f"{tok_acc / dt:,.0f} tgt tok/s elapsed {elapsed():.0f}s")
                loss_acc.zero_()
                loss_n, tok_acc, last_log_t = 0, 0, time.time()
            if (args.eval_every and step % args.eval_every == 0) or (
                    args.eval_every_min and time.time() - last_eval >= args.eval_every_min * 60):
                do_eval()
                last_eval = time.time()
            if args.max_steps and step >= args.max_steps:
                stop, done_reason = True, "max_steps"
            elif budget_s and elapsed() >= budget_s:
                stop, done_reason = True, "time_budget"
            elif args.stop_after_steps and step - session["start_step"] >= args.stop_after_steps:
                stop, done_reason = True, "stop_after_steps"  # a pause, for tests and planned interruptions
            if stop or (args.save_every_min and time.time() - last_save >= args.save_every_min * 60):
                state["elapsed_s"] = elapsed()
                save_checkpoint()
                last_save = time.time()
            if stop:
                break
        else:
            state["epoch"] += 1
            state["batch_pos"] = 0
            log(f"epoch {state['epoch']} begins at step {state['step']}")
    if loss_n:
        state["last_train_loss"] = float(loss_acc) / loss_n
    session["end_step"] = state["step"]
    session["wall_s"] = round(time.time() - wall0, 1)
    log(f"stopped ({done_reason}) at step {state['step']}, elapsed {elapsed():.0f}s")
    if done_reason == "stop_after_steps":
        state["elapsed_s"] = elapsed()
        save_checkpoint()
        return state

    if not state["history"] or state["history"][-1]["step"] != state["step"]:
        do_eval()
    state["elapsed_s"] = elapsed()
    save_checkpoint()

    test_result = None
    if args.test_examples and (cache / "test.npz").exists():
        # The best checkpoint on (a slice of) the held-out test split: greedy, the same BLEU.
        if best_state.get("sd") is not None:
            model.load_state_dict(best_state["sd"])
        else:
            model.load_state_dict(T5ForConditionalGeneration.from_pretrained(out / "best").state_dict())
        test_data = TokenData(cache, "test")
        test_idx = np.random.default_rng(4321).permutation(len(test_data))[: args.test_examples]
        res = evaluate(model, test_data, test_idx, tok, device, amp_dtype, args)
        test_result = {"examples": len(test_idx), "bleu": round(res["bleu"], 3), "loss": round(res["valid_loss"], 4),
                       "samples": res["samples"]}
        log(f"test ({len(test_idx)} examples, best checkpoint): loss {res['valid_loss']:.4f} bleu {res['bleu']:.2f}")

    final = _atomic_dir(out / "model")
    for f in (out / "best").iterdir():
        shutil.copy2(f, final / f.name)
    tok.save(str(final / "tokenizer.json"))
    run = {
        "format": "lenscribe-training-run/1",
        "model_config": json.loads((final / "config.json").read_text()),
        "parameters": n_params,
        "weights_mib_fp32": round(n_params * 4 / 2**20, 1),
        "weights_mib_16bit": round(n_params * 2 / 2**20, 1),
        "size_choice": args.size_note,
        "args": vars(args),
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
        "bleu_definition": "CodeXGLUE smooth_bleu: mean sentence smoothed BLEU-4 x100, PyTorch greedy decoding with "
                           f"no_repeat_ngram_size {NO_REPEAT_NGRAM} and the run-time clean-up, {len(eval_idx)} fixed "
                           "valid examples",
        "test": test_result,
        "final_train_loss": state.get("last_train_loss"),
        "history": state["history"],
        "data": {"cache": str(cache), "max_src": args.max_src, "max_tgt": args.max_tgt, "splits": meta["splits"]},
        "hardware": session["device"],
        "sessions": [{k: v for k, v in s.items() if k != "device"} | {"device": s["device"].get("gpu", "cpu")}
                     for s in state["sessions"]],
    }
    (final / "training_run.json").write_text(json.dumps(run, indent=2))
    _swap_in(final, out / "model")
    shutil.copy2(out / "model" / "training_run.json", out / "training_run.json")
    log(f"done: best valid BLEU {state['best_bleu']:.2f} at step {state['best_step']}; model in {out / 'model'}")
    return state


def load_for_scoring(path: Path):
    """A save_pretrained dir, or a train.py checkpoint dir (model.pt + state.json), as a T5 model on the CPU."""
    from transformers import T5ForConditionalGeneration

    if (path / "state.json").exists() and (path / "model.pt").exists():
        saved = argparse.Namespace(**json.loads((path / "state.json").read_text())["args"])
        return model_from_checkpoint(path, saved)
    return T5ForConditionalGeneration.from_pretrained(path)


def score(model_path: Path, cache: Path, split: str, examples: int, eval_batch: int,
          save_model: Path | None = None) -> dict:
    """Loss and BLEU (as validation computes them) of a checkpoint on a fixed slice of a pre-tokenized split, to pick
    between runs; ``save_model`` also writes it as a save_pretrained dir with the tokenizer
    (for `lenscribe model build`).
    """
    import torch

    model = load_for_scoring(model_path)
    meta = json.loads((cache / "meta.json").read_text())
    data = TokenData(cache, split)
    seed = 1234 if split == "valid" else 4321  # the slices train() evaluates on
    idx = np.random.default_rng(seed).permutation(len(data))[:examples]
    ns = argparse.Namespace(eval_batch=eval_batch, max_tgt=meta["max_tgt"])
    tok = build_tokenizer()
    res = evaluate(model, data, idx, tok, torch.device("cpu"), None, ns)
    if save_model is not None:
        model.save_pretrained(save_model, safe_serialization=True)
        tok.save(str(save_model / "tokenizer.json"))
    return {"model": str(model_path), "split": split, "examples": len(idx), "loss": round(res["valid_loss"], 4),
            "source_gain": round(res["source_gain"], 4),
            "bleu": round(res["bleu"], 3), "samples": res["samples"]}


MODEL_ARGS = ("d_model", "d_kv", "d_ff", "enc_layers", "dec_layers", "heads", "dropout", "max_src", "max_tgt")
# what a warm start may change: relative position buckets let the same weights read longer or shorter inputs
WARM_START_FREE = ("dropout", "max_src", "max_tgt")


# --------------------------------------------------------------------------------------------------------------------
# Transfer: fp16 tar split into parts, and back
# --------------------------------------------------------------------------------------------------------------------


SKIP_IN_PACK = ("model.safetensors.index.json", "tokenizer.json")  # the tokenizer is rebuilt by unpack


def pack(model_dir: Path, dest: Path, part_mib: float = 15.0, dtype: str = "float16", extra: list[Path] = ()) -> dict:
    import torch
    from safetensors.torch import load_file, save

    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(model_dir.glob("*.safetensors"))
    tensors: dict = {}
    for f in files:
        tensors |= load_file(str(f))
    tdtype = getattr(torch, dtype)
    for k, v in tensors.items():
        if v.is_floating_point():
            if dtype == "float16" and float(v.abs().max()) > 60000:
                raise ValueError(f"{k} does not fit float16")
            tensors[k] = v.to(tdtype).contiguous()
    blob = io.BytesIO()
    with tarfile.open(fileobj=blob, mode="w") as tar:
        def add(name: str, data: bytes):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))

        add("model.safetensors", save(tensors, metadata={"format": "pt"}))
        for f in sorted(model_dir.iterdir()):
            if f.suffix != ".safetensors" and f.is_file() and f.name not in SKIP_IN_PACK:
                add(f.name, f.read_bytes())
        for f in extra:
            if Path(f).exists():
                add(Path(f).name, Path(f).read_bytes())
    data = blob.getvalue()
    part = int(part_mib * 2**20)
    names = []
    for i in range(0, len(data), part):
        name = f"model.tar.part{i // part:02d}"
        (dest / name).write_bytes(data[i : i + part])
        names.append(name)
    info = {"parts": names, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "dtype": dtype}
    (dest / "pack.json").write_text(json.dumps(info, indent=1))
    return info


def unpack(src: Path, dest: Path) -> None:
    import torch
    from transformers import T5ForConditionalGeneration

    info = json.loads((src / "pack.json").read_text())
    data = b"".join((src / n).read_bytes() for n in info["parts"])
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise ValueError("pack sha256 mismatch")
    tmp = dest.with_name(dest.name + ".unpack")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp, filter="data")
    model = T5ForConditionalGeneration.from_pretrained(tmp, dtype=torch.float32)
    final = _atomic_dir(dest)
    model.save_pretrained(final, safe_serialization=True)
    build_tokenizer().save(str(final / "tokenizer.json"))
    for f in tmp.iterdir():
        if f.suffix != ".safetensors" and not (final / f.name).exists():
            shutil.copy2(f, final / f.name)
    _swap_in(final, dest)
    shutil.rmtree(tmp)


# --------------------------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    pp = sub.add_parser("prepare", help="pre-tokenize JSONL to a compact cache")
    pp.add_argument("--data", required=True)
    pp.add_argument("--cache", required=True)
    pp.add_argument("--max-src", type=int, default=256)
    pp.add_argument("--max-tgt", type=int, default=48)
    pp.add_argument("--max-train-examples", type=int, default=None)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--languages", default=None, help="comma-separated languages to keep (default: all)")

    t = sub.add_parser("train", help="train (or --resume) a model")
    t.add_argument("--data", help="dir with train/valid/test.jsonl (pre-tokenized into --cache if needed)")
    t.add_argument("--cache", help="pre-tokenized dir (prepare's output)")
    t.add_argument("--out", required=True)
    t.add_argument("--max-src", type=int, default=256)
    t.add_argument("--max-tgt", type=int, default=48)
    t.add_argument("--max-train-examples", type=int, default=None)
    t.add_argument("--languages", default=None, help="with --data: comma-separated languages to keep (default: all)")
    # model
    t.add_argument("--d-model", type=int, default=384)
    t.add_argument("--d-kv", type=int, default=None, help="default d_model // heads")
    t.add_argument("--d-ff", type=int, default=None, help="default 4 * d_model")
    t.add_argument("--enc-layers", type=int, default=6)
    t.add_argument("--dec-layers", type=int, default=3)
    t.add_argument("--heads", type=int, default=6)
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--size-note", default="", help="why this size (recorded in training_run.json)")
    # optimisation
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--min-lr-ratio", type=float, default=0.0)
    t.add_argument("--beta2", type=float, default=0.98)
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--warmup", type=int, default=1000)
    t.add_argument("--schedule", choices=["linear", "inverse_sqrt"], default="linear")
    t.add_argument("--schedule-by", choices=["auto", "time", "steps"], default="auto",
                   help="linear decay over --max-steps, or over --time-budget-min of wall time (auto: steps if set)")
    t.add_argument("--label-smoothing", type=float, default=0.1)
    t.add_argument("--optimizer", choices=["adamw", "adafactor"], default="adamw")
    t.add_argument("--embed-lr-mult", type=float, default=1.0,
                   help="learning-rate multiplier of the tied embedding "
                        "(16 = sqrt(d_model 256) makes up for its scale)")
    t.add_argument("--embed-init", choices=["t5", "words"], default="t5",
                   help="words: tokens spelling the same word share a start vector, identifiers start as their words")
    t.add_argument("--aux-name-frac", type=float, default=0.0,
                   help="fraction of examples whose target is their name's words (a copy task), at the start")
    t.add_argument("--aux-name-until", type=float, default=0.3,
                   help="training progress (0-1) at which --aux-name-frac has fallen linearly to 0")
    t.add_argument("--clip", type=float, default=1.0)
    t.add_argument("--max-tokens", type=int, default=32768, help="padded source tokens per batch")
    t.add_argument("--max-batch", type=int, default=512)
    t.add_argument("--max-steps", type=int, default=None)
    t.add_argument("--time-budget-min", type=float, default=None, help="total training wall time, across resumes")
    t.add_argument("--stop-after-steps", type=int, default=None, help="pause (checkpoint, exit) after N more steps")
    # bookkeeping
    t.add_argument("--resume", action="store_true")
    t.add_argument("--init-from", default=None, metavar="CHECKPOINT_DIR",
                   help="start from the weights of another run's OUT/checkpoint (fresh optimizer and schedule), or "
                        "of a built model read back by onnx_weights.py")
    t.add_argument("--grow-dec-layers", type=int, default=None, metavar="N",
                   help="with --init-from: a decoder of N blocks, the ones past the checkpoint's copies of its own")
    t.add_argument("--save-every-min", type=float, default=5.0)
    t.add_argument("--log-every", type=int, default=100)
    t.add_argument("--eval-every", type=int, default=1000)
    t.add_argument("--eval-every-min", type=float, default=None, help="also evaluate every M minutes")
    t.add_argument("--eval-examples", type=int, default=500)
    t.add_argument("--test-examples", type=int, default=2000, help="final BLEU of the best model on test (0: skip)")
    t.add_argument("--eval-batch", type=int, default=250)
    t.add_argument("--device", default="auto")
    t.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                   help="auto: bf16 autocast on GPU; bf16 pays on CPUs with AMX or AVX512-BF16")
    t.add_argument("--threads", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)

    sc = sub.add_parser("score", help="loss and BLEU of a checkpoint or model dir on a pre-tokenized split")
    sc.add_argument("model", help="a save_pretrained dir or a train.py checkpoint dir")
    sc.add_argument("--cache", required=True, help="pre-tokenized dir (prepare's output, e.g. OUT/tokenized)")
    sc.add_argument("--split", default="valid", choices=list(SPLITS))
    sc.add_argument("--examples", type=int, default=400)
    sc.add_argument("--eval-batch", type=int, default=250)
    sc.add_argument("--save-model", default=None, help="also write it as a save_pretrained dir with the tokenizer")

    pk = sub.add_parser("pack", help="fp16 tar of a model dir, split into parts")
    pk.add_argument("model_dir")
    pk.add_argument("dest")
    pk.add_argument("--part-mib", type=float, default=15.0)
    pk.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    pk.add_argument("--extra", nargs="*", default=[], help="more files to put in the tar (logs)")

    up = sub.add_parser("unpack", help="parts -> fp32 save_pretrained dir")
    up.add_argument("src")
    up.add_argument("dest")
    return p


def main(argv: list[str] | None = None):
    args = build_parser().parse_args(argv)
    if args.cmd == "prepare":
        return prepare(Path(args.data), Path(args.cache), args.max_src, args.max_tgt, args.max_train_examples,
                       args.seed, languages=_languages(args.languages))
    if args.cmd == "train":
        return train(args)
    if args.cmd == "score":
        res = score(Path(args.model), Path(args.cache), args.split, args.examples, args.eval_batch,
                    Path(args.save_model) if args.save_model else None)
        print(json.dumps(res))
        return res
    if args.cmd == "pack":
        info = pack(Path(args.model_dir), Path(args.dest), args.part_mib, args.dtype, [Path(e) for e in args.extra])
        print(json.dumps(info))
        return info
    if args.cmd == "unpack":
        return unpack(Path(args.src), Path(args.dest))


if __name__ == "__main__":
    main()
