"""train.py's data: the (code, doc) pairs of a data directory, pre-tokenized once into a cache, and the
length-bucketed batches the training loop reads from it.

A data directory holds ``train.jsonl``, ``valid.jsonl`` (and optionally ``test.jsonl``), one object a line with at
least ``code`` and ``doc``. Inputs are ``prepare_code(code)`` tokenized with the CodeT5 tokenizer (``<s> ... </s>``,
cut to ``max_src`` tokens keeping the head and the closing ``</s>``, as the run-time Summarizer does); targets are
``doc`` tokenized the same way (``<s> doc </s>``, at most ``max_tgt`` tokens), as CodeT5's fine-tuning did. The cache
(``prepare``) holds each split as compressed uint16 arrays (+ the valid/test references). Needs numpy and tokenizers
(torch only for ``prefetch``).
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Queue

import numpy as np

from lenscribe.model_input import prepare_code, truncate_ids  # the run-time summarizer's own
from lenscribe.tokenization import DECODER_START_ID, EOS_ID, PAD_ID, VOCAB_SIZE, build_tokenizer

CACHE_FORMAT = "lenscribe-tokenized/2"  # 2: name-sentence targets kept too
SPLITS = ("train", "valid", "test")


def name_sentence(name: str) -> str:
    """The words of a chunk's own name as a sentence: ``dictDecoder.availRead`` -> ``Avail read.`` ('' if none).

    The target of the auxiliary copy task (see ``--aux-name-frac``): every one of its words is in the input, so
    the decoder must read the encoder to predict it, which a docstring's first sentence alone teaches slowly.
    """
    last = name.rsplit(".", 1)[-1]
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", last))
    words = " ".join(words.replace("_", " ").replace("$", " ").split()).lower()
    return f"{words[:1].upper()}{words[1:]}." if words else ""


def read_jsonl(path: Path, languages: frozenset[str] | None = None) -> tuple[list[str], list[str], list[str]]:
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


def parse_languages(arg: str | None) -> list[str] | None:
    """``--languages python,go`` -> ["go", "python"]; None (all) for no or an empty list."""
    if not arg:
        return None
    return sorted({x.strip() for x in arg.split(",") if x.strip()}) or None


def prepare(data_dir: Path, cache_dir: Path, max_src: int, max_tgt: int, max_train: int | None = None,
            seed: int = 0, log: Callable[[str], None] = print, languages: list[str] | None = None) -> dict:
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
        codes, docs, names = read_jsonl(path, wanted)
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


def ensure_cache(data_dir: Path, cache_dir: Path, max_src: int, max_tgt: int, languages: list[str] | None,
                 max_train: int | None, seed: int, log: Callable[[str], None]) -> None:
    """(Re-)prepare ``cache_dir`` from ``data_dir`` unless it already holds these input lengths and languages."""
    meta_path = cache_dir / "meta.json"
    old = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if (old.get("format"), old.get("max_src"), old.get("max_tgt"), old.get("languages")) != (
            CACHE_FORMAT, max_src, max_tgt, languages):
        prepare(data_dir, cache_dir, max_src, max_tgt, max_train, seed, log, languages)


class TokenData:
    """One pre-tokenized split: ragged uint16 arrays + offsets."""

    def __init__(self, cache_dir: Path, split: str):
        z = np.load(cache_dir / f"{split}.npz")
        self.src_ids, self.src_off = z["src_ids"], z["src_off"]
        self.tgt_ids, self.tgt_off = z["tgt_ids"], z["tgt_off"]
        self.src_len = np.diff(self.src_off)
        self.tgt_len = np.diff(self.tgt_off)
        self.name_ids: np.ndarray | None = z["name_ids"] if "name_ids" in z else None
        self.name_off: np.ndarray | None = z["name_off"] if "name_ids" in z else None
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
        if self.name_ids is None or self.name_off is None or self.name_off[i + 1] - self.name_off[i] <= 2:
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


def prefetch(data: TokenData, batches: list[np.ndarray], start: int, pin: bool, depth: int = 6,
             aux_mask: Callable[[int, int], np.ndarray | None] | None = None) -> Iterator[tuple[int, dict]]:
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
