"""Validation as both trainers score it: greedy decoding with the shipped decoding's rules, the run-time clean-up of
the text (``lenscribe.postprocess.clean_summary``, its two lines read as one) and the smoothed BLEU-4 that
``lenscribe eval`` reports (CodeXGLUE's smooth_bleu).

``summaries`` decodes fixed examples in batches of similar source length and turns the ids into text; on top of it
``Evaluator`` scores fast_train's model per language on a data pack's split (lenscribe_training.trainers.t5's greedy,
the shipped repetition penalty too) and ``evaluate_pairs`` scores train.py's transformers model on a pre-tokenized split
(lenscribe_training.data.pairs; with its teacher-forced loss); ``score`` is ``train.py score``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lenscribe.evaluation.bleu import corpus_bleu as smooth_bleu  # CodeXGLUE smooth_bleu, as `lenscribe eval`
from lenscribe.postprocess import clean_summary  # what the run-time Summarizer does to model text
from lenscribe.tokenization import BOS_ID, EOS_ID, PAD_ID, build_tokenizer
from lenscribe_training.data.pairs import TokenData, collate
from lenscribe_training.trainers import hf_model

__all__ = ["Evaluator", "evaluate_pairs", "score", "smooth_bleu", "summaries", "summary_text"]


def summary_text(tok, ids: Sequence[int]) -> str:
    """A generated id row as the editor shows it: cut at the first EOS, pad/bos/eos dropped, decoded without special
    tokens, cleaned by the run-time post-processing, its two lines read as one."""
    ids = list(ids)
    if EOS_ID in ids:
        ids = ids[: ids.index(EOS_ID)]
    text = tok.decode([t for t in ids if t not in (PAD_ID, BOS_ID, EOS_ID)], skip_special_tokens=True)
    return clean_summary(text.strip()).replace("\n", " ")


def summaries(tok, generate: Callable[[np.ndarray], Sequence[Sequence[int]]], src_len: np.ndarray,
              indices: np.ndarray, batch_size: int) -> list[str]:
    """The summaries of examples ``indices``, in that order: ``generate(rows)`` decodes batches of ``batch_size``
    examples of similar source length (``src_len[indices]`` sorted, stably) into id rows."""
    out = [""] * len(indices)
    order = np.argsort(src_len[indices], kind="stable")
    for start in range(0, len(order), batch_size):
        pos = order[start : start + batch_size]
        for p, row in zip(pos, generate(indices[pos]), strict=True):
            out[p] = summary_text(tok, row)
    return out


# --------------------------------------------------------------------------------------------------------------------
# fast_train: a data pack's split, per language
# --------------------------------------------------------------------------------------------------------------------


class Evaluator:
    """Greedy decoding with the shipped decoding's rules, the run-time clean-up, smoothed BLEU-4 per language, on up
    to ``per_language`` fixed examples of each language of a pack's split."""

    def __init__(self, pack, split: str, per_language: int, langs: list[int], tok, seed: int = 1234):
        self.tok = tok
        self.data = pack.splits[split]
        self.names = pack.languages
        rng = np.random.default_rng(seed)
        self.idx = {lang: np.sort(rng.permutation(np.flatnonzero(self.data.lang == lang))[:per_language])
                    for lang in langs}
        self.idx = {k: v for k, v in self.idx.items() if len(v)}

    def __call__(self, model, cfg, device, amp) -> dict:
        """``cfg``: fast_train's Config (eval_batch, no_repeat_ngram, repetition_penalty)."""
        import torch

        data = self.data

        def generate(rows: np.ndarray) -> list[list[int]]:
            width = int(data.src_len[rows].max())
            ids = torch.from_numpy(data.src[rows, :width].astype(np.int64)).to(device)
            return model.greedy(ids, data.tgt.shape[1], cfg.no_repeat_ngram, cfg.repetition_penalty).tolist()

        model.eval()
        out: dict = {"bleu": {}, "samples": {}}
        t0 = time.time()
        with torch.no_grad(), torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            for lang, idx in self.idx.items():
                order = idx[np.argsort(data.src_len[idx], kind="stable")]
                hyps = summaries(self.tok, generate, data.src_len, order, cfg.eval_batch)
                refs = [data.refs[i] for i in order] if data.refs else None
                name = self.names[lang]
                out["bleu"][name] = round(smooth_bleu(refs, hyps), 3) if refs else None
                out["samples"][name] = [{"ref": r, "hyp": h} for r, h in list(zip(refs or [], hyps, strict=False))[:2]]
        # the mean over languages with a real slice (a language with a few dozen valid rows is noise)
        vals = [v for k, v in out["bleu"].items() if v is not None and len(self.idx[self.names.index(k)]) >= 100]
        vals = vals or [v for v in out["bleu"].values() if v is not None]
        out["mean_bleu"] = round(float(np.mean(vals)), 3) if vals else 0.0
        out["eval_s"] = round(time.time() - t0, 1)
        model.train()
        return out


# --------------------------------------------------------------------------------------------------------------------
# train.py: a pre-tokenized split
# --------------------------------------------------------------------------------------------------------------------


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
            loss, k = hf_model.seq2seq_loss(model, {k: torch.from_numpy(v).to(device) for k, v in b.items()}, 0.0)
            tot += float(loss) * k
            n += k
    model.train()
    return tot / max(n, 1)


def evaluate_pairs(model, data: TokenData, indices: np.ndarray, tok, device, amp_dtype, eval_batch: int,
                   max_tgt: int) -> dict:
    """Loss, source gain, BLEU and three samples of train.py's model on examples ``indices`` of a split."""
    import torch

    t0 = time.time()
    order = indices[np.argsort(data.src_len[indices], kind="stable")]
    loss = teacher_forced_loss(model, data, order, order, device, amp_dtype, eval_batch)
    # the same targets with each one's neighbour's code: how much the model's predictions depend on its input
    shuffled = teacher_forced_loss(model, data, np.roll(order, 1), order, device, amp_dtype, eval_batch)

    def generate(rows: np.ndarray) -> list[list[int]]:
        b = collate(data, rows)
        ids = torch.from_numpy(b["input_ids"]).to(device)
        mask = torch.from_numpy(b["attention_mask"]).to(device)
        return hf_model.greedy(model, ids, mask, max_tgt)

    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        hyps = summaries(tok, generate, data.src_len, indices, eval_batch)
    model.train()
    if data.refs is not None:
        refs = [data.refs[i] for i in indices]
    else:
        refs = [tok.decode(data.tgt(i).tolist(), skip_special_tokens=True).strip() for i in indices]
    return {"valid_loss": loss, "source_gain": shuffled - loss, "bleu": smooth_bleu(refs, hyps),
            "eval_s": time.time() - t0,
            "samples": [{"ref": r, "hyp": h} for r, h in list(zip(refs, hyps, strict=True))[:3]]}


def score(model_path: Path, cache: Path, split: str, examples: int, eval_batch: int,
          save_model: Path | None = None) -> dict:
    """Loss and BLEU (as validation computes them) of a checkpoint on a fixed slice of a pre-tokenized split, to pick
    between runs; ``save_model`` also writes it as a save_pretrained dir with the tokenizer
    (for `lenscribe model build`).
    """
    import torch

    model = hf_model.load_for_scoring(model_path)
    meta = json.loads((cache / "meta.json").read_text())
    data = TokenData(cache, split)
    seed = 1234 if split == "valid" else 4321  # the slices train() evaluates on
    idx = np.random.default_rng(seed).permutation(len(data))[:examples]
    tok = build_tokenizer()
    res = evaluate_pairs(model, data, idx, tok, torch.device("cpu"), None, eval_batch, meta["max_tgt"])
    if save_model is not None:
        model.save_pretrained(save_model, safe_serialization=True)
        tok.save(str(save_model / "tokenizer.json"))
    return {"model": str(model_path), "split": split, "examples": len(idx), "loss": round(res["valid_loss"], 4),
            "source_gain": round(res["source_gain"], 4),
            "bleu": round(res["bleu"], 3), "samples": res["samples"]}
